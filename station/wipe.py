"""Wipe after verify: a file leaves the camera only after its original is verified in object
storage and registered, and after the bytes still on the camera are checked to be exactly
the registered ones. Each wipe goes into the media's chain of custody."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from ingest.scan import scan_volume
from station.api_client import ApiClient, ApiError
from station.facts import WipeFacts
from station.journal import FileState, Journal, JournalRow
from storage.durable import fsync_path, sha256_file
from wire.media_kinds import MediaKind

log = logging.getLogger(__name__)


@dataclass
class WipeSummary:
    wiped: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) of registered files left on the device."""
    changed: list[str] = field(default_factory=list)
    """Paths whose bytes on the device are no longer the registered ones: to import anew."""


def wipe_registered(
    volume: Path, device_key: str, *, journal: Journal, api: ApiClient, station_id: str
) -> WipeSummary:
    """Delete from `volume` every file of the device registered from this station, once its
    bytes on the device are checked against the registered SHA-256 (a file undocked before
    it was registered is wiped at its next dock). Never raises for one file."""
    summary = WipeSummary()
    rows = []
    for row in journal.registered_on(device_key):
        if _recorded_by_camera(row):
            rows.append(row)
        else:
            log.info(
                "%s on device %s: kept as evidence and left on the device", row.path, device_key
            )
    if not rows:
        return summary
    on_volume = {(f.rel_path, f.size, f.mtime_ns): f.path for f in scan_volume(volume).found}
    for row in rows:
        path = on_volume.get((row.path, row.size, row.mtime_ns))
        if path is None:
            wiping_at = row.facts.wipe.wiping_at if row.facts.wipe else None
            if wiping_at is not None:  # deleted by a wipe cut off before it was recorded
                _released(row, wiping_at, summary, journal=journal, api=api, station_id=station_id)
            continue  # else gone from the device, or rewritten since: not the registered file
        try:
            same = sha256_file(path) == row.sha256
        except OSError as exc:
            summary.kept.append((row.path, f"cannot read it on the device: {exc.strerror}"))
            continue
        if not same:
            _changed(row, summary, journal=journal, api=api, station_id=station_id)
            continue
        at = datetime.now(UTC)
        # Journalled before the delete: a crash between the delete and `released` must not
        # lose the wipe from the media's custody (the next dock records it, above).
        wiping = WipeFacts(wiping_at=at)
        journal.note(row.id, lambda f: replace(f, wipe=wiping))  # noqa: B023 (called at once)
        try:
            path.unlink()
        except OSError as exc:  # a volume mounted read-only keeps its files
            journal.note(row.id, lambda f: replace(f, wipe=None))
            summary.kept.append((row.path, f"cannot delete it on the device: {exc.strerror}"))
            continue
        try:
            fsync_path(path.parent)
        except OSError as exc:  # deleted all the same (the device may have gone meanwhile)
            log.warning("wiped %s but could not sync its folder: %s", row.path, exc)
        _released(row, at, summary, journal=journal, api=api, station_id=station_id)
    for path_on_device, why in summary.kept:
        log.warning("kept %s on device %s: %s", path_on_device, device_key, why)
    return summary


def _recorded_by_camera(row: JournalRow) -> bool:
    """Footage and what travels with it leave the camera; a file of another kind is kept as
    evidence but stays on the camera: it may be the camera's own (an operation log)."""
    probed, staged = row.facts.probe, row.facts.staged
    if staged is not None and staged.sidecar_of is not None:
        return True
    return probed is None or probed.kind is not MediaKind.OTHER


def _changed(
    row: JournalRow, summary: WipeSummary, *, journal: Journal, api: ApiClient, station_id: str
) -> None:
    """The device holds other bytes under a registered file's name, size and time (rewritten
    in place, or tampered with): they are imported anew, the registered medium's custody
    says so, and neither is wiped now."""
    why = "its bytes on the device differ from the registered original"
    summary.kept.append((row.path, why))
    summary.changed.append(row.path)
    journal.supersede(row.id, why)
    assert row.media_id is not None and row.sha256 is not None
    try:
        api.report_wipe(
            row.media_id,
            at=datetime.now(UTC),
            device_id=_device_id(row),
            path=row.path,
            sha256=row.sha256,
            station_id=station_id,
            failed_because=why,
        )
    except ApiError as exc:  # the changed bytes are imported all the same; this is a note
        log.warning("could not note in custody that %s changed on the device: %s", row.path, exc)


def _released(
    row: JournalRow,
    at: datetime,
    summary: WipeSummary,
    *,
    journal: Journal,
    api: ApiClient,
    station_id: str,
) -> None:
    row = journal.advance(
        row.id, FileState.RELEASED, replace(row.facts, wipe=WipeFacts(wiping_at=at, wiped_at=at))
    )
    summary.wiped.append(row.path)
    report_wipe(row, journal=journal, api=api, station_id=station_id)


def report_wipe(row: JournalRow, *, journal: Journal, api: ApiClient, station_id: str) -> bool:
    """Tell the api about a wipe; False when it must be retried later (the journal knows)."""
    assert row.media_id is not None and row.sha256 is not None
    assert row.facts.wipe is not None and row.facts.wipe.wiped_at is not None
    try:
        api.report_wipe(
            row.media_id,
            at=row.facts.wipe.wiped_at,
            device_id=_device_id(row),
            path=row.path,
            sha256=row.sha256,
            station_id=station_id,
        )
    except ApiError as exc:
        log.warning("wipe of %s not yet in custody (%s); will retry", row.path, exc)
        journal.fail(row.id, f"wipe not yet recorded in custody: {exc}")  # backs off
        return False
    journal.note(row.id, lambda f: replace(f, wipe=replace(f.wipe or WipeFacts(), reported=True)))
    return True


def _device_id(row: JournalRow) -> str:
    """The device id the medium is registered under."""
    if row.facts.registered is not None and row.facts.registered.device_id:
        return row.facts.registered.device_id
    return row.facts.dock.device_id or row.device_key
