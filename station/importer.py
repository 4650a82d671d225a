"""One-touch import of a docked volume: scheduling the steps of station/pipeline.py.

    scan → stage (two copiers, largest first) → probe → upload → register
                                                            └→ derived backlog (station/backlog.py)

Two copier threads read the device within a station-wide buffer budget; once every file is
staged the device is safe to undock. Worker threads take staged files through the evidence
steps meanwhile. Nothing derived (proxy, thumbnail, merge) stands between a file and its
registration. Files staged by an earlier import whose device has gone are finished from the
station's disk. This module decides only who does what when: claims, disk reservation,
buffer budget, pools.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ingest.copy_and_hash import BUFFERS, CHUNK_SIZE
from ingest.errors import CopyError
from ingest.scan import INCOMPLETE_REASONS, FoundFile, ScanResult, SkippedEntry, scan_volume
from station.facts import ClockSet, DerivedStage, DockFacts
from station.journal import FileState, JournalRow
from station.pipeline import Pipeline, advance_evidence, stage
from station.receipts import DockOfReceipt, Receipt, ReceiptBook
from storage.durable import sha256_file
from wire.media_kinds import MediaKind

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
QUARANTINE = "quarantine"
"""Folder under the state dir for staged bytes no journal row claims (never deleted)."""


def _proxy_room(kind: str, size: int) -> int:
    # A remuxed proxy is as large as its original, a transcode (at most 1080p) rarely larger;
    # photos get only a thumbnail. A file of unknown type may turn out to be video.
    return 0 if kind == MediaKind.PHOTO else size


def _lower_priority() -> None:
    """Evidence workers (and the ffprobe they start, which inherits it) run below copying:
    the officer waits for copying."""
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)


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
    clock_set_at: datetime | None = None
    """When the station set the device's clock at this dock (after reading the offset)."""

    @property
    def device_key(self) -> str:
        """What the journal knows the device by: its serial, stable whether or not the
        registry could be asked at this dock; else its id."""
        return self.device_serial or self.device_id

    def dock_facts(self) -> DockFacts:
        clock_set = None
        if self.clock_set_at is not None:
            clock_set = ClockSet(offset_before_s=self.clock_offset_s, set_at=self.clock_set_at)
        return DockFacts(
            device_id=self.device_id,
            station_id=self.station_id,
            officer_id=self.officer_id,
            case_no=self.case_no,
            device_serial=self.device_serial,
            device_registered=self.device_registered,
            clock_offset_s=self.clock_offset_s,
            clock_set=clock_set,
        )


class ImportObserver(Protocol):
    """Progress of an import, for the terminal or the agent's status page."""

    def planned(self, scan: ScanResult, todo: list[JournalRow]) -> None: ...
    def copying(self, row: JournalRow) -> None: ...
    def copied_bytes(self, row: JournalRow, n: int) -> None: ...
    def reached(self, row: JournalRow, state: FileState) -> None: ...
    def failed(self, row: JournalRow, error: Exception) -> None: ...
    def safe_to_undock(self, receipt: Receipt | None) -> None:
        """Every file is staged; `receipt` is the dock's signed receipt, if one was made."""

    def keep_docked(self, not_copied: list[JournalRow]) -> None: ...


@dataclass
class FileOutcome:
    rel_path: str
    state: FileState
    media_id: str | None = None
    error: Exception | None = None
    device_key: str | None = None
    row_id: int | None = None


@dataclass
class ImportReport:
    outcomes: list[FileOutcome]
    skipped: list[SkippedEntry]
    already_imported: int = 0
    safe_to_undock_s: float | None = None
    originals_registered_s: float | None = None
    """From the start until the last original was registered (or had failed)."""
    originals_registered_at: datetime | None = None
    quarantined: list[str] = field(default_factory=list)
    receipt: Receipt | None = None
    """The dock's signed receipt, once every file was staged."""

    @property
    def ok(self) -> bool:
        """Every file is registered and nothing that may hold footage was unreadable."""
        return all(o.state is FileState.REGISTERED for o in self.outcomes) and not any(
            s.reason in INCOMPLETE_REASONS for s in self.skipped
        )


class Importer:
    """Imports volumes and finishes staged files. One per station: docks may call run() from
    their own threads at once; the evidence steps share one pool."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        on_registered: Callable[[JournalRow], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        receipts: ReceiptBook | None = None,
    ) -> None:
        """`receipts`: where each dock's receipt is signed and kept once every file of it is
        staged (none without)."""
        self._p = pipeline
        self._receipts = receipts
        self._journal = pipeline.journal
        self._staging_root = pipeline.staging_root
        self._on_registered = on_registered
        self._clock = clock
        self._workers = ThreadPoolExecutor(WORKERS, "evidence", initializer=_lower_priority)
        self._lock = threading.Lock()
        # Disk space promised to copies under way (the file and its later proxy); what staged
        # and registered files still need is in the journal (proxy_room_promised).
        self._reserved: dict[int, int] = {}
        self._in_flight: set[int] = set()
        self._copying = 0

    @property
    def receipts(self) -> ReceiptBook | None:
        """Where this importer keeps dock receipts (sent to the api by `send_pending`)."""
        return self._receipts

    def copying(self) -> bool:
        """Whether a dock is copying now (derived work waits for it: see Backlog)."""
        with self._lock:
            return self._copying > 0

    def sweep_staging(self) -> list[str]:
        """At start-up, before any import: remove partial copies and the folders of files
        whose work is done (their staged copy checked to be the registered bytes); move
        staged bytes no journal row claims (a lost, replaced or restored journal, or a crash
        between a copy and its journal entry) to the quarantine folder, never deleting them.
        Returns what was moved."""
        moved: list[str] = []
        if not self._staging_root.is_dir():
            return moved
        for entry in self._staging_root.iterdir():
            if entry.is_dir():
                for part in entry.glob("*.part"):
                    part.unlink(missing_ok=True)  # never a whole copy: that is renamed in place
            try:
                row = self._journal.get(int(entry.name))
            except (ValueError, KeyError):
                row = None
            job = self._journal.derived_of(row.id) if row is not None else None
            done = job is not None and job.stage is DerivedStage.DONE and job.facts.attached
            if entry.is_dir() and not any(entry.iterdir()):
                entry.rmdir()
            elif row is None or not self._holds_its_copy(entry, row, hash_it=done):
                moved.append(self._quarantine(entry))
            elif done:
                shutil.rmtree(entry, ignore_errors=True)
        return moved

    def _holds_its_copy(self, folder: Path, row: JournalRow, *, hash_it: bool) -> bool:
        """Whether `folder` is this row's staging folder: its staged copy, with the row's
        size and, with `hash_it` (a folder about to be removed), its SHA-256. A journal
        restored from an old backup may know the folder's number for another file."""
        if row.facts.staged is None or not folder.is_dir():
            return False
        staged = folder / row.facts.staged.name
        try:
            if staged.stat().st_size != row.size:
                return False
        except FileNotFoundError:
            # Registered rows may have lost it legitimately (uploaded: the store has it).
            return row.state in (FileState.UPLOADED, FileState.REGISTERED, FileState.RELEASED)
        return not hash_it or sha256_file(staged) == row.sha256

    def _quarantine(self, folder: Path) -> str:
        """Staged bytes that no journal row claims may be the only copy of evidence: kept,
        out of the way, for someone to look at."""
        target_root = self._staging_root.parent / QUARANTINE
        target_root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = target_root / f"{stamp}-staging-{folder.name}"
        folder.rename(target)
        log.warning(
            "staged files in %s belong to no journal row (journal lost or replaced?): moved to "
            "%s for someone to look at; nothing was deleted",
            folder,
            target,
        )
        return str(target)

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
        """Import every file under `volume` (those `select` accepts); with
        `finish_leftovers`, also finish files staged earlier from other devices (the agent
        leaves those to its retry loop). Never raises for one file's fault.
        """
        started, docked_at = self._clock(), datetime.now(UTC)
        scan = scan_volume(volume)
        chosen = [f for f in scan.found if select is None or select(f)]
        rows = [
            self._journal.discover(options.device_key, f.rel_path, f.size, f.mtime_ns, f.kind)
            for f in chosen
        ]
        found = {row.id: f for row, f in zip(rows, chosen, strict=True)}
        row_of_path = {f.rel_path: row.id for row, f in zip(rows, chosen, strict=True)}
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
        dock = options.dock_facts()

        def settle(row: JournalRow, error: Exception | None = None) -> None:
            with self._lock:
                outcomes[row.id] = FileOutcome(
                    row.path, row.state, row.media_id, error, row.device_key, row.id
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
                log.warning("import of %s stopped at %s: %s", row.path, row.state, exc)
                settle(self._journal.get(row.id), exc)
            else:
                settle(row)

        def sidecar_of(f: FoundFile) -> int | None:
            return row_of_path.get(f.sidecar_of) if f.sidecar_of else None

        processing: list[Future[None]] = [self._workers.submit(finish, r) for r in leftover]
        sidecars: list[JournalRow] = []
        queued = threading.Lock()

        def copy(row: JournalRow) -> None:
            """Stage one file and hand it on at once, so small files are registered while
            the big one is still copying."""
            if row.state is FileState.DISCOVERED:
                source = found[row.id]
                try:
                    row = self._stage(row, source, dock, sidecar_of(source), observer)
                except Exception as exc:
                    settle(row, exc)
                    return
            with queued:
                if row.id in found and found[row.id].sidecar_of:
                    sidecars.append(row)  # registered once its medium's SHA-256 is known
                else:
                    processing.append(self._workers.submit(finish, row))

        with ThreadPoolExecutor(COPIERS, thread_name_prefix="copy") as copiers:
            # Largest first, so the two copiers finish together instead of one copying the
            # last big file alone.
            by_size = sorted(docked, key=lambda row: row.size, reverse=True)
            for copied in [copiers.submit(copy, row) for row in by_size]:
                copied.result()
        processing += [self._workers.submit(finish, row) for row in sidecars]
        not_copied = [r for r in docked if self._journal.get(r.id).state is FileState.DISCOVERED]
        if not_copied or any(s.reason in INCOMPLETE_REASONS for s in scan.skipped):
            observer.keep_docked(not_copied)
        else:
            report.safe_to_undock_s = self._clock() - started
            before = [r for r in rows if r.id not in {c.id for c in claimed}]
            report.receipt = self._sign_receipt(options, docked, before, scan, docked_at)
            observer.safe_to_undock(report.receipt)
        for future in processing:
            future.result()
        report.originals_registered_s = self._clock() - started
        report.originals_registered_at = datetime.now(UTC)
        report.outcomes = [outcomes[row.id] for row in todo]
        return report

    def _sign_receipt(
        self,
        options: ImportOptions,
        docked: list[JournalRow],
        before: list[JournalRow],
        scan: ScanResult,
        docked_at: datetime,
    ) -> Receipt | None:
        if self._receipts is None:
            return None
        dock = DockOfReceipt(
            station_id=options.station_id,
            device_id=options.device_id,
            device_serial=options.device_serial,
            officer_id=options.officer_id,
            case_no=options.case_no,
            clock_offset_s=options.clock_offset_s,
            docked_at=docked_at,
        )
        try:
            return self._receipts.sign(
                dock,
                [self._journal.get(r.id) for r in docked],
                [self._journal.get(r.id) for r in before],
                scan.skipped,
                now=datetime.now(UTC),
            )
        except OSError:  # the station disk: the import goes on, the officer gets no receipt
            log.exception("could not keep the dock receipt of %s", options.device_id)
            return None

    def finish_pending(self, observer: ImportObserver) -> list[FileOutcome]:
        """Finish staged files whose retry is due (the offline queue): upload and register
        what waits on the station disk, on the evidence pool. Rows another dock is working
        on are left to it."""
        rows = [c for r in self._journal.pending(due_only=True) if (c := self._claim(r.id))]

        def retry(row: JournalRow) -> FileOutcome:
            try:
                done = self._finish(row, observer)
                return FileOutcome(
                    done.path, done.state, done.media_id, None, done.device_key, done.id
                )
            except Exception as exc:
                log.warning("retry of %s failed at %s: %s", row.path, row.state, exc)
                failed = self._journal.fail(row.id, str(exc))
                observer.failed(failed, exc)
                return FileOutcome(failed.path, failed.state, None, exc, failed.device_key, row.id)
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

    def _check_staged_copy(self, row: JournalRow) -> JournalRow:
        """A row past `discovered` whose staged copy is gone (station disk replaced, state
        folder cleaned) is copied again while its device is docked."""
        if row.state in (FileState.DISCOVERED, FileState.UPLOADED):
            return row  # uploaded: the store has it, registering needs no staged copy
        if self._p.staged_path(row).is_file():
            return row
        log.warning("staged copy of %s (row %d) is missing; copying it again", row.path, row.id)
        return self._journal.restage(row.id, "staged copy missing on the station disk")

    def _reserve(self, row: JournalRow, size: int) -> None:
        """Claim disk space for a copy and its later proxy, counting what other copies under
        way and the staged and registered files' proxies still to be made will need."""
        need = size + _proxy_room(row.kind, size)
        promised = self._journal.proxy_room_promised()
        with self._lock:
            free = shutil.disk_usage(self._staging_root).free - sum(self._reserved.values())
            free -= promised
            if free < need + FREE_SPACE_MARGIN:
                raise StationDiskFull(
                    f"station disk has {max(free, 0) // 2**20} MiB free, {row.path} needs "
                    f"{need // 2**20} MiB with its browser copy plus a reserve; free space "
                    "on the station, then dock again"
                )
            self._reserved[row.id] = need

    def _stage(
        self,
        row: JournalRow,
        found: FoundFile,
        dock: DockFacts,
        sidecar_of: int | None,
        observer: ImportObserver,
    ) -> JournalRow:
        self._staging_root.mkdir(parents=True, exist_ok=True)
        self._reserve(row, found.size)
        with self._lock:
            self._copying += 1
            share = BUFFER_BUDGET // self._copying
        buffers = max(3, min(BUFFERS, share // CHUNK_SIZE))
        chunk_size = max(MIN_CHUNK, min(CHUNK_SIZE, share // buffers))
        try:
            observer.copying(row)
            row = stage(
                self._p,
                row,
                found,
                dock,
                sidecar_of=sidecar_of,
                chunk_size=chunk_size,
                buffers=buffers,
                on_progress=lambda n: observer.copied_bytes(row, n),
            )
        finally:
            with self._lock:
                self._reserved.pop(row.id, None)
                self._copying -= 1
        observer.reached(row, FileState.STAGED)
        return row

    def _finish(self, row: JournalRow, observer: ImportObserver) -> JournalRow:
        def on_step(advanced: JournalRow) -> None:
            observer.reached(advanced, advanced.state)
            if advanced.state is FileState.REGISTERED and self._on_registered is not None:
                self._on_registered(advanced)

        return advance_evidence(self._p, row, on_step)
