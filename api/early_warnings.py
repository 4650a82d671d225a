"""The open early warnings (rules/warnings.py) of some units, from the catalogue as it is
now: read by GET /api/v1/warnings and by /metrics."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from api.routes.recording_rules import effective_rules
from api.settings import ApiSettings
from rules.compliance import report
from rules.warnings import (
    DeviceFacts,
    FixityFailure,
    LateDock,
    Limits,
    StationFacts,
    Warning,
    device_warnings,
    event_warnings,
    fixity_warnings,
    late_warnings,
    station_warnings,
)
from storage.catalogue import compliance_repo, fixity_repo, station_repo, warnings_repo
from storage.catalogue.models import DeviceKind

DOCKED_KINDS = (DeviceKind.BODY_CAMERA, DeviceKind.HANDHELD_TERMINAL)
"""Devices an officer carries and docks (an interview room's recorder exports instead)."""

LONGEST_EVENT = timedelta(hours=8)  # rules/association.py refuses longer event windows


def limits_of(settings: ApiSettings) -> Limits:
    return Limits(
        window=timedelta(seconds=settings.warning_window_s),
        clock_off=timedelta(seconds=settings.warning_clock_off_s),
        low_disk_fraction=settings.warning_low_disk_fraction,
    )


def open_warnings(
    session: Session, now: datetime, limits: Limits, units: Collection[str] | None
) -> list[Warning]:
    """Every open warning about `units` (None: all) and every station's, oldest first."""
    since = now - limits.window
    devices = warnings_repo.active_devices(session, units)
    events = compliance_repo.events_starting(session, since - LONGEST_EVENT, now, units)
    rules = effective_rules(session, {d.unit_id for d in devices} | {e.unit_id for e in events})
    registrations = warnings_repo.registrations_since(session, since, units)
    rules.update(effective_rules(session, {r.unit_id for r in registrations} - set(rules)))
    used = warnings_repo.last_events_by_officer(session, since, now, units)

    facts = []
    for d in devices:
        use = used.get(d.officer_id) if d.officer_id and d.kind in DOCKED_KINDS else None
        facts.append(DeviceFacts(
            device_id=d.device_id, unit_id=d.unit_id, officer_id=d.officer_id,
            deadline=rules[d.unit_id].deadline.value, last_docked=d.last_docked,
            last_clock_offset_s=d.last_clock_offset_s,
            last_use=use[0] if use else None, last_use_event=use[1] if use else None,
        ))  # fmt: skip
    late = [
        LateDock(r.device_id, r.unit_id, r.media_id, r.recorded_end, r.registered_at)
        for r in registrations
        if r.registered_at - r.recorded_end > rules[r.unit_id].deadline.value
    ]
    ended = [e for e in events if e.end >= since]
    footage = compliance_repo.footage_touching(
        session,
        min((e.start for e in ended), default=now),
        max((e.end for e in ended), default=now),
        officer_ids={o for e in ended for o in e.officer_ids},
        device_ids={e.room_id for e in ended if e.room_id is not None},
    )
    stations = [
        StationFacts(s.station_id, s.last_heartbeat_at, timedelta(seconds=s.heartbeat_interval_s),
                     s.storage_total_bytes, s.storage_used_bytes, list(s.alarms or ()))
        for s in station_repo.list_stations(session)
    ]  # fmt: skip
    fixity = [
        FixityFailure(f.media_id, f.unit_id, f.outcome.value, f.since, f.checked_at, f.sha256,
                      f.actual_sha256)
        for f in fixity_repo.failing(session, units)
    ]  # fmt: skip
    found = (
        device_warnings(facts, now, limits)
        + event_warnings(report(ended, footage, rules.__getitem__), now)
        + late_warnings(late)
        + station_warnings(stations, now, limits)
        + fixity_warnings(fixity)
    )
    return sorted(found, key=lambda w: (w.since, w.kind, w.subject))
