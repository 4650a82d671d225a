"""After a device's files are registered: group its segments into recordings (自动合成),
merge each recording's proxies, and register the recording with the api.

    registered rows of a device → group_segments → PUT /api/v1/recordings/{id} (at once)
        … every part's proxy made → download them → merge_proxies → upload the merged
        proxy → PUT /api/v1/recordings/{id} again, with it

The originals are never touched, and a recording never waits for its proxies to be known:
the api has it as soon as its parts are registered. The journal's `recordings` table
remembers which parts the api holds and whether with the merged proxy; its id derives from
its first part's SHA-256, so a re-run after a crash registers the same recording again,
harmlessly. One recording's failure is logged and retried at the next call; it never stops
the others.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import IngestError
from ingest.merge import MergeResult, merge_proxies
from ingest.segments import Recording, Segment, group_segments
from station.api_client import ApiClient
from station.facts import DerivedStage
from station.journal import Journal, JournalRow
from station.pipeline import BROWSER_SAFE
from storage.durable import sha256_file
from storage.object_store import ObjectStore, merged_proxy_key

log = logging.getLogger(__name__)

RECORDING_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:evidence-station:recording")
"""Recording ids are uuid5(RECORDING_NAMESPACE, first part's sha256)."""

# Docks and the retry loop may assemble at once; one at a time keeps two merges of the same
# recording out of each other's work folder (a merge by stream copy takes seconds).
_ONE_AT_A_TIME = threading.Lock()


def recording_id(first_part_sha256: str) -> str:
    return str(uuid.uuid5(RECORDING_NAMESPACE, first_part_sha256))


@dataclass
class Assembled:
    registered: list[str] = field(default_factory=list)
    """Ids of the recordings registered by this call."""
    failed: list[str] = field(default_factory=list)
    """Ids of recordings that could not be registered now (logged; to be tried again)."""


def assemble(
    device_key: str, journal: Journal, store: ObjectStore, api: ApiClient, workdir: Path
) -> Assembled:
    """Register the recordings of `device_key`'s registered files that the api does not hold
    yet with exactly their current parts: at once without a merged proxy, and again with one
    once every part's browser copy is made (or no longer will be). Never raises for a
    recording that fails: it is logged and listed in `failed`, to be tried again later."""
    with _ONE_AT_A_TIME:
        rows = {
            row.media_id: row
            for row in journal.imported_on(device_key)
            if row.media_id and not _is_sidecar(row)
        }
        try:
            recordings = group_segments(_segment(row) for row in rows.values())
        except ValueError:
            log.exception("the files of device %s could not be grouped into recordings", device_key)
            return Assembled()
        done = Assembled()
        for recording in recordings:
            if len(recording.parts) < 2:
                continue
            parts = [rows[part.key] for part in recording.parts]
            assert parts[0].sha256 is not None  # registered rows have one
            rec_id = recording_id(parts[0].sha256)
            part_ids = [part.key for part in recording.parts]
            proxies = [_proxy_of(journal, part) for part in parts]
            settled = all(state != _WAITING for state, _ in proxies)
            known = journal.recording_state(rec_id)
            if known is not None and known[0] == part_ids and (known[1] or not settled):
                continue
            keys = [key for _, key in proxies]
            mergeable = [k for k in keys if k is not None] if settled else []
            try:
                merged = _register(
                    rec_id,
                    recording,
                    parts,
                    mergeable if len(mergeable) == len(keys) else None,
                    store,
                    api,
                    workdir / rec_id,
                )
            except Exception as exc:  # one recording must not stop the others; retried later
                log.warning("recording %s of device %s not registered: %s", rec_id, device_key, exc)
                done.failed.append(rec_id)
                continue
            # Final once settled: a part whose proxy failed never gets one, and a merge that
            # ffmpeg refused is not tried again for the same parts.
            journal.recording_registered(rec_id, part_ids, merged=settled or merged)
            done.registered.append(rec_id)
        return done


_WAITING = "waiting"


def _proxy_of(journal: Journal, row: JournalRow) -> tuple[str, str | None]:
    """("waiting", None) while a part's browser copy may still come; else ("settled", its
    H.264/AAC proxy key or None)."""
    job = journal.derived_of(row.id)
    if job is None:
        return "settled", None
    if job.stage is not DerivedStage.DONE or not job.facts.attached:
        return _WAITING, None
    key = next((r.key for r in job.facts.renditions if r.name in BROWSER_SAFE), None)
    return "settled", key


def _is_sidecar(row: JournalRow) -> bool:
    return row.facts.staged is not None and row.facts.staged.sidecar_of is not None


def _segment(row: JournalRow) -> Segment:
    assert row.media_id is not None
    registered, probed = row.facts.registered, row.facts.probe
    start = registered.recorded_start if registered else None
    if start is not None and start.utcoffset() is None:
        start = None  # a time without a zone would be a guess: the file stays alone
    return Segment(
        key=row.media_id,
        device_key=row.device_key,
        path=row.path,
        kind=probed.kind if probed else row.kind,
        start=start,
        duration_s=probed.duration_s if probed else None,
        owner=row.facts.dock.officer_id or "",
    )


def _register(
    rec_id: str,
    recording: Recording,
    parts: list[JournalRow],
    proxy_keys: list[str] | None,
    store: ObjectStore,
    api: ApiClient,
    workdir: Path,
) -> bool:
    """Register the recording, with its merged proxy when `proxy_keys` (every part's) are
    given and ffmpeg joins them; returns whether it had one."""
    merged: tuple[MergeResult, str] | None = None
    shutil.rmtree(workdir, ignore_errors=True)  # what a crash left
    workdir.mkdir(parents=True)
    try:
        if proxy_keys is not None:
            merged = _merge(rec_id, proxy_keys, store, workdir)
        dock = parts[0].facts.dock
        registered = parts[0].facts.registered
        api.register_recording(
            rec_id,
            station_id=dock.station_id,
            device_id=registered.device_id if registered else dock.device_id,
            parts=[(str(part.media_id), str(part.sha256)) for part in parts],
            joins=[(join.before, join.after, join.gap_s) for join in recording.joins],
            merged_proxy_key=merged[1] if merged else None,
            merged_proxy_content_type=merged[0].content_type if merged else None,
            merge_method=merged[0].method if merged else None,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return merged is not None


def _merge(
    rec_id: str, keys: list[str], store: ObjectStore, workdir: Path
) -> tuple[MergeResult, str] | None:
    """Download the parts' proxies, join them and upload the result; returns it with its
    key, or None when ffmpeg cannot join them (the recording is registered without one).
    Storage errors propagate: they pass, and the recording is tried again."""
    paths = []
    for i, key in enumerate(keys):
        path = workdir / f"part{i:04d}.mp4"
        with path.open("wb") as f:
            for chunk in store.open_range(key):
                f.write(chunk)
        paths.append(path)
    try:
        result = merge_proxies(paths, workdir / "merged.mp4")
    except IngestError as exc:
        log.warning("recording %s: its proxies could not be merged: %s", rec_id, exc)
        return None
    sha256 = sha256_file(result.path)
    key = merged_proxy_key(sha256, result.content_type)
    store.put_file(key, result.path, sha256=sha256, content_type=result.content_type)
    return result, key


class Recordings:
    """`assemble` bound to one station's journal, store, api and work folder (for the agent),
    remembering the devices whose recordings failed so that `retry` tries them again."""

    def __init__(self, journal: Journal, store: ObjectStore, api: ApiClient, workdir: Path) -> None:
        self._journal = journal
        self._store = store
        self._api = api
        self._workdir = workdir
        self._lock = threading.Lock()
        self._unfinished: set[str] = set()

    def assemble(self, device_key: str) -> Assembled:
        done = assemble(device_key, self._journal, self._store, self._api, self._workdir)
        with self._lock:
            if done.failed:
                self._unfinished.add(device_key)
            else:
                self._unfinished.discard(device_key)
        return done

    def assemble_all(self) -> None:
        """Every device's recordings (at start-up: what a restart left unfinished)."""
        for device_key in self._journal.devices_imported():
            self.assemble(device_key)

    def retry(self) -> None:
        """The devices whose recordings failed last time, again."""
        with self._lock:
            unfinished = sorted(self._unfinished)
        for device_key in unfinished:
            self.assemble(device_key)
