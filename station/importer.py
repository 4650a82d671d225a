"""One-touch import of a docked volume: every media file ends registered, or with a reason.

The life of each file follows the journal (station/journal.py):

    scan → stage (copy + SHA-256, one pass) → process (probe, proxy, thumbnail)
         → upload (original verified by the store, then proxy and thumbnail) → register

Two copier threads read the device, largest files first; once every file is staged the
device is safe to undock. Worker threads process, upload and register staged files
meanwhile, at lower priority, so transcoding never holds the officer at the dock. Files
staged by an earlier import whose device has gone are finished from the station's disk.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

from ingest.copy_and_hash import BUFFERS, CHUNK_SIZE, copy_and_hash
from ingest.derive import derive
from ingest.errors import CopyError
from ingest.file_names import NameFacts, parse_name
from ingest.recorded_time import RecordedTimes, correct_times
from ingest.scan import INCOMPLETE_REASONS, FoundFile, ScanResult, SkippedEntry, scan_volume
from station.api_client import ApiClient
from station.journal import FileState, Journal, JournalRow
from storage.object_store import ObjectStore, original_key, proxy_key, thumbnail_key
from wire.media_kinds import MediaKind
from wire.registration import IngestRecord, TimeFacts
from wire.zones import DEVICE_ZONE

log = logging.getLogger(__name__)

# Keep this much free on the station disk beyond the file being copied: a full disk would
# stop the journal and every other dock.
FREE_SPACE_MARGIN = 512 * 1024 * 1024
# Cameras store footage on flash, which serves two sequential readers as fast as one; two
# copiers let two cores hash (SHA-256 of one stream is sequential, ~1 GB/s per core).
COPIERS = 2
WORKERS = 2
# Copy buffers of all docks together stay within this many bytes: one dock copies with the
# full pipeline (BUFFERS of CHUNK_SIZE); many at once with smaller chunks, never fewer than
# three each, so that reading, hashing and writing still overlap.
BUFFER_BUDGET = 24 * CHUNK_SIZE
MIN_CHUNK = 512 * 1024


def _recorded_times(
    row: JournalRow, name: NameFacts, clock_offset_s: float | None, zone: tzinfo
) -> RecordedTimes:
    """When the file was recorded, from every time the device gave, clock-corrected."""
    creation = row.facts["creation_time"]
    assert row.staged_at is not None
    return correct_times(
        container_time=datetime.fromisoformat(creation) if creation else None,
        name_time=name.timestamp,
        file_mtime=datetime.fromtimestamp(row.mtime_ns / 1e9, UTC),
        duration_s=row.facts["duration_s"],
        clock_offset_s=clock_offset_s,
        zone=zone,
        docked_at=row.staged_at,
    )


def _proxy_room(kind: str, size: int) -> int:
    # A remuxed proxy is as large as its original, a transcode (at most 1080p) rarely larger;
    # photos get only a thumbnail.
    return size if kind in (MediaKind.VIDEO, MediaKind.AUDIO) else 0


def _lower_priority() -> None:
    """Processing threads (and the ffmpeg they start, which inherits it) run at lower
    priority than copying: the officer waits for copying, nobody waits for a proxy."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class StationDiskFull(CopyError):
    """Not enough free space on the station disk to stage a file; the device is untouched."""


@dataclass(frozen=True)
class ImportOptions:
    """What the dock knows about the device and its footage; kept with every file staged."""

    device_id: str
    station_id: str
    officer_id: str | None = None
    case_no: str | None = None
    device_serial: str | None = None
    device_registered: bool | None = None
    """Whether the registry knows the device; None when the station could not ask."""
    clock_offset_s: float | None = None
    """Device clock minus station clock, read at this dock."""

    @property
    def device_key(self) -> str:
        """What the journal knows the device by: its serial, stable whether or not the
        registry could be asked at this dock; else its id."""
        return self.device_serial or self.device_id


class ImportObserver(Protocol):
    """Progress of an import, for the terminal or the agent's status page."""

    def planned(self, scan: ScanResult, todo: list[JournalRow]) -> None: ...
    def copying(self, row: JournalRow) -> None: ...
    def copied_bytes(self, row: JournalRow, n: int) -> None: ...
    def reached(self, row: JournalRow, state: FileState) -> None: ...
    def failed(self, row: JournalRow, error: Exception) -> None: ...
    def safe_to_undock(self) -> None: ...
    def keep_docked(self, not_copied: list[JournalRow]) -> None: ...


@dataclass
class FileOutcome:
    rel_path: str
    state: FileState
    media_id: str | None = None
    error: Exception | None = None
    device_key: str | None = None


@dataclass
class ImportReport:
    outcomes: list[FileOutcome]
    skipped: list[SkippedEntry]
    already_imported: int = 0
    safe_to_undock_s: float | None = None
    registered_s: float | None = None

    @property
    def ok(self) -> bool:
        """Every media file is registered and nothing that may hold footage was unreadable."""
        return all(o.state is FileState.REGISTERED for o in self.outcomes) and not any(
            s.reason in INCOMPLETE_REASONS for s in self.skipped
        )


class Importer:
    """Imports volumes and finishes staged files. One per station: docks may call run() from
    their own threads at once; processing (ffmpeg, upload, register) shares one pool."""

    def __init__(
        self,
        *,
        journal: Journal,
        staging_root: Path,
        store: ObjectStore,
        api: ApiClient,
        clock: Callable[[], float] = time.monotonic,
        zone: tzinfo = DEVICE_ZONE,
    ) -> None:
        self._journal = journal
        self._zone = zone
        self._staging_root = staging_root
        self._store = store
        self._api = api
        self._clock = clock
        self._workers = ThreadPoolExecutor(WORKERS, "process", initializer=_lower_priority)
        self._lock = threading.Lock()
        # Disk space promised per journal row: a copy under way, and the browser copy
        # (proxy) a staged recording will need until it is processed; a restart finds the
        # staged ones again.
        self._reserved: dict[int, int] = {
            row.id: _proxy_room(row.kind, row.size)
            for row in journal.pending()
            if row.state is FileState.STAGED
        }
        self._in_flight: set[int] = set()
        self._copying = 0

    def sweep_staging(self) -> None:
        """At start-up: remove what a crash left on the station disk that no journal row
        needs (partial copies, folders of registered files). Run before any import."""
        if not self._staging_root.is_dir():
            return
        for folder in self._staging_root.iterdir():
            for part in folder.glob("*.part"):
                part.unlink(missing_ok=True)  # never a whole copy: that is renamed into place
            try:
                row = self._journal.get(int(folder.name))
            except (ValueError, KeyError):
                row = None
            if row is None or row.state in (FileState.REGISTERED, FileState.RELEASED):
                shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        # Queued work is dropped, not drained: its rows keep their journal state and resume.
        self._workers.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Importer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        volume: Path,
        options: ImportOptions,
        observer: ImportObserver,
        *,
        select: Callable[[FoundFile], bool] | None = None,
        finish_leftovers: bool = False,
    ) -> ImportReport:
        """Import every media file under `volume` (those `select` accepts); with
        `finish_leftovers`, also finish files staged earlier from other devices (the agent
        leaves those to its retry loop). Never raises for one file's fault.
        """
        started = self._clock()
        scan = scan_volume(volume)
        chosen = [f for f in scan.found if select is None or select(f)]
        rows = [
            self._journal.discover(options.device_key, f.rel_path, f.size, f.mtime_ns, f.kind)
            for f in chosen
        ]
        found = {row.id: f for row, f in zip(rows, chosen, strict=True)}
        claimed = [c for row in rows if (c := self._claim(row.id)) is not None]
        leftover = (
            [c for r in self._journal.pending() if r.id not in found and (c := self._claim(r.id))]
            if finish_leftovers
            else []
        )
        try:
            docked = [self._check_staged_copy(row) for row in claimed]
        except BaseException:
            self._release(claimed + leftover)
            raise
        todo = docked + leftover
        report = ImportReport(
            outcomes=[], skipped=scan.skipped, already_imported=len(rows) - len(claimed)
        )
        observer.planned(scan, todo)
        outcomes: dict[int, FileOutcome] = {}

        def settle(row: JournalRow, error: Exception | None = None) -> None:
            with self._lock:
                outcomes[row.id] = FileOutcome(
                    row.path, row.state, row.media_id, error, row.device_key
                )
                self._in_flight.discard(row.id)
            if error is not None:
                try:
                    self._journal.fail(row.id, str(error))
                except Exception:  # the journal's disk is full too: the row keeps its state
                    log.exception("could not record the failure of %s", row.path)
                observer.failed(row, error)

        def finish(row: JournalRow) -> None:
            try:
                row = self._finish(row, observer)
            except Exception as exc:  # one file's fault never stops the others
                log.exception("import of %s stopped at %s", row.path, row.state)
                settle(self._journal.get(row.id), exc)
            else:
                settle(row)

        def stage(row: JournalRow) -> Future[None] | None:
            if row.state is FileState.DISCOVERED:
                try:
                    row = self._stage(row, found[row.id], options, observer)
                except Exception as exc:
                    settle(row, exc)
                    return None
            return self._workers.submit(finish, row)

        processing = [self._workers.submit(finish, row) for row in leftover]
        with ThreadPoolExecutor(COPIERS, thread_name_prefix="copy") as copiers:
            # Largest first, so the two copiers finish together instead of one copying the
            # last big file alone.
            by_size = sorted(docked, key=lambda row: row.size, reverse=True)
            staging = [copiers.submit(stage, row) for row in by_size]
            processing += [f for s in staging if (f := s.result()) is not None]
        not_copied = [r for r in docked if self._journal.get(r.id).state is FileState.DISCOVERED]
        if not_copied or any(s.reason in INCOMPLETE_REASONS for s in scan.skipped):
            observer.keep_docked(not_copied)
        else:
            report.safe_to_undock_s = self._clock() - started
            observer.safe_to_undock()
        for future in processing:
            future.result()
        report.registered_s = self._clock() - started
        report.outcomes = [outcomes[row.id] for row in todo]
        return report

    def finish_pending(self, observer: ImportObserver) -> list[FileOutcome]:
        """Finish staged files whose retry is due (the offline queue): upload and register
        what waits on the station disk, on the (low-priority) processing pool. Rows another
        dock is working on are left to it."""
        rows = [c for r in self._journal.pending(due_only=True) if (c := self._claim(r.id))]

        def retry(row: JournalRow) -> FileOutcome:
            try:
                done = self._finish(row, observer)
                return FileOutcome(done.path, done.state, done.media_id, None, done.device_key)
            except Exception as exc:
                log.warning("retry of %s failed at %s: %s", row.path, row.state, exc)
                failed = self._journal.fail(row.id, str(exc))
                observer.failed(failed, exc)
                return FileOutcome(failed.path, failed.state, None, exc, failed.device_key)
            finally:
                self._release([row])

        return [f.result() for f in [self._workers.submit(retry, row) for row in rows]]

    def _claim(self, row_id: int) -> JournalRow | None:
        """The row, current, when this caller may work on it: nobody else is, and it is not
        registered already (a row read before another thread finished it is stale)."""
        with self._lock:
            if row_id in self._in_flight:
                return None
            row = self._journal.get(row_id)
            if row.state in (FileState.REGISTERED, FileState.RELEASED):
                return None
            self._in_flight.add(row_id)
            return row

    def _release(self, rows: list[JournalRow]) -> None:
        with self._lock:
            self._in_flight.difference_update(r.id for r in rows)

    def _workdir(self, row: JournalRow) -> Path:
        return self._staging_root / str(row.id)

    def _check_staged_copy(self, row: JournalRow) -> JournalRow:
        """A row past `discovered` whose staged copy is gone (station disk replaced, state
        folder cleaned) is copied again while its device is docked."""
        if row.state in (FileState.DISCOVERED, FileState.UPLOADED):
            return row  # uploaded: the store has it, registering needs no staged copy
        if (self._workdir(row) / row.facts["staged_name"]).is_file():
            return row
        log.warning("staged copy of %s (row %d) is missing; copying it again", row.path, row.id)
        return self._journal.restage(row.id, "staged copy missing on the station disk")

    def _reserve(self, row: JournalRow, size: int) -> None:
        """Claim disk space for a copy and its later proxy, counting what other threads
        and staged files have claimed."""
        need = size + _proxy_room(row.kind, size)
        with self._lock:
            free = shutil.disk_usage(self._staging_root).free - sum(self._reserved.values())
            if free < need + FREE_SPACE_MARGIN:
                raise StationDiskFull(
                    f"station disk has {max(free, 0) // 2**20} MiB free, {row.path} needs "
                    f"{need // 2**20} MiB with its browser copy plus a reserve; free space "
                    "on the station, then dock again"
                )
            self._reserved[row.id] = need

    def _stage(
        self, row: JournalRow, found: FoundFile, options: ImportOptions, observer: ImportObserver
    ) -> JournalRow:
        """Copy the file off the device into staging, hashing it, durably; then record it."""
        workdir = self._workdir(row)
        workdir.mkdir(parents=True, exist_ok=True)
        self._reserve(row, found.size)
        with self._lock:
            self._copying += 1
            share = BUFFER_BUDGET // self._copying
        buffers = max(3, min(BUFFERS, share // CHUNK_SIZE))
        chunk_size = max(MIN_CHUNK, min(CHUNK_SIZE, share // buffers))
        try:
            observer.copying(row)
            staged = copy_and_hash(
                found.path,
                workdir / ("original" + found.path.suffix.lower()[:8]),
                expect_size=found.size,
                expect_mtime_ns=found.mtime_ns,
                on_progress=lambda n: observer.copied_bytes(row, n),
                chunk_size=chunk_size,
                buffers=buffers,
            )
        finally:
            with self._lock:
                self._reserved.pop(row.id, None)
                self._copying -= 1
        with self._lock:  # the copy is on disk now; its proxy is still to come
            self._reserved[row.id] = _proxy_room(row.kind, found.size)
        # What the dock knew is kept with the file: it may be registered by a later run.
        dock = {
            "device_id": options.device_id,
            "station_id": options.station_id,
            "officer_id": options.officer_id,
            "case_no": options.case_no,
            "device_serial": options.device_serial,
            "device_registered": options.device_registered,
            "clock_offset_s": options.clock_offset_s,
        }
        row = self._journal.advance(
            row.id,
            FileState.STAGED,
            sha256=staged.sha256,
            facts={"staged_name": staged.path.name, "dock": dock},
        )
        observer.reached(row, FileState.STAGED)
        return row

    def _finish(self, row: JournalRow, observer: ImportObserver) -> JournalRow:
        if row.state is FileState.STAGED:
            try:
                row = self._process(row)
            finally:
                with self._lock:
                    self._reserved.pop(row.id, None)
            observer.reached(row, FileState.PROCESSED)
        if row.state is FileState.PROCESSED:
            row = self._upload(row)
            observer.reached(row, FileState.UPLOADED)
        if row.state is FileState.UPLOADED:
            row = self._register(row)
            observer.reached(row, FileState.REGISTERED)
        return row

    def _process(self, row: JournalRow) -> JournalRow:
        workdir = self._workdir(row)
        derived = derive(workdir / row.facts["staged_name"], MediaKind(row.kind), workdir)
        probed = derived.probe
        facts = {
            "playable": derived.playable,
            "unplayable_reason": derived.unplayable_reason,
            "proxy_name": derived.proxy_path.name if derived.proxy_path else None,
            "proxy_content_type": derived.proxy_content_type,
            "thumbnail_name": derived.thumbnail_path.name if derived.thumbnail_path else None,
            "duration_s": probed.duration_s if probed else None,
            "container": probed.format_name if probed else None,
            "width": probed.video.width if probed and probed.video else None,
            "height": probed.video.height if probed and probed.video else None,
            "video_codec": probed.video.codec_name if probed and probed.video else None,
            "audio_codec": probed.audio.codec_name if probed and probed.audio else None,
            "creation_time": probed.creation_time.isoformat()
            if probed and probed.creation_time
            else None,
        }
        row = self._journal.advance(row.id, FileState.PROCESSED, facts=facts)
        return row

    def _upload(self, row: JournalRow) -> JournalRow:
        assert row.sha256 is not None
        workdir = self._workdir(row)
        facts = row.facts
        original = original_key(row.sha256)
        self._store.put_file(
            original,
            workdir / facts["staged_name"],
            sha256=row.sha256,
            content_type="application/octet-stream",
        )
        keys: dict[str, str | None] = {
            "uploaded_at": datetime.now(UTC).isoformat(),
            "original_key": original,
            "proxy_key": None,
            "thumbnail_key": None,
        }
        if facts["proxy_name"]:
            key = proxy_key(row.sha256, facts["proxy_content_type"])
            path = workdir / facts["proxy_name"]
            self._store.put_file(key, path, sha256=None, content_type=facts["proxy_content_type"])
            keys["proxy_key"] = key
        if facts["thumbnail_name"]:
            key = thumbnail_key(row.sha256)
            path = workdir / facts["thumbnail_name"]
            self._store.put_file(key, path, sha256=None, content_type="image/jpeg")
            keys["thumbnail_key"] = key
        row = self._journal.advance(row.id, FileState.UPLOADED, facts=keys)
        return row

    def _resolve_device(self, dock: dict[str, Any]) -> dict[str, Any]:
        """The registry could not be asked at the dock (api down): ask now, so the footage
        goes under the registered device and officer rather than its bare serial."""
        if dock.get("device_registered") is not None or not dock.get("device_serial"):
            return dock
        device = self._api.find_device(dock["device_serial"])  # ApiError: retried later
        if device is None:
            return {**dock, "device_registered": False}
        return {
            **dock,
            "device_id": device.device_id,
            "officer_id": dock["officer_id"] or device.officer_id,
            "device_registered": True,
        }

    def _register(self, row: JournalRow) -> JournalRow:
        assert row.sha256 is not None and row.staged_at is not None
        facts = row.facts
        dock = self._resolve_device(facts["dock"])
        name = parse_name(row.path)
        times = _recorded_times(row, name, dock.get("clock_offset_s"), self._zone)
        record = IngestRecord(
            sha256=row.sha256,
            size_bytes=row.size,
            kind=MediaKind(row.kind),
            original_name=row.path.rsplit("/", 1)[-1],
            original_path=row.path,
            device_id=dock.get("device_id") or row.device_key,
            officer_id=dock["officer_id"],
            station_id=dock["station_id"],
            case_no=dock["case_no"],
            device_serial=dock.get("device_serial"),
            device_registered=dock.get("device_registered"),
            clock_offset_s=dock.get("clock_offset_s"),
            recorded_start=times.start,
            recorded_end=times.end,
            time_source=times.source,
            recorded_start_raw=times.raw_start,
            time_facts=TimeFacts(
                container_time_raw=times.container_time_raw,
                name_time_raw=times.name_time_raw,
                file_mtime_raw=times.file_mtime_raw,
                clock_corrected=times.clock_corrected,
                note=times.note,
            ),
            important=name.important,
            duration_s=facts["duration_s"],
            width=facts["width"],
            height=facts["height"],
            video_codec=facts["video_codec"],
            audio_codec=facts["audio_codec"],
            container=facts["container"],
            playable=facts["playable"],
            unplayable_reason=facts["unplayable_reason"],
            original_key=facts["original_key"],
            proxy_key=facts["proxy_key"],
            proxy_content_type=facts["proxy_content_type"] if facts["proxy_key"] else None,
            thumbnail_key=facts["thumbnail_key"],
            file_mtime=datetime.fromtimestamp(row.mtime_ns / 1e9, UTC),
            staged_at=row.staged_at,
            uploaded_at=datetime.fromisoformat(facts["uploaded_at"])
            if "uploaded_at" in facts
            else None,
        )
        media_id = self._api.register(record)
        # Kept for grouping the device's segments into recordings (station/recordings.py).
        row = self._journal.advance(
            row.id,
            FileState.REGISTERED,
            media_id=media_id,
            facts={"recorded_start": times.start.isoformat(), "important": record.important},
        )
        # The store and the catalogue hold it now; the station's copy has done its job.
        shutil.rmtree(self._workdir(row), ignore_errors=True)
        return row
