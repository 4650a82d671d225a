"""Early warnings (预警), as pure functions over what the catalogue knows now. A warning is
open while its cause lasts and is gone from the next answer once the cause goes: nothing
is stored, so nothing needs clearing by hand.

Kinds:
- `device_not_docked`: a camera whose officer took part in an event, not docked since that
  event for longer than the deadline (DOMAIN.md: alert on devices not docked more than 24 h
  after use; the events are when we know an officer was on duty).
- `event_unrecorded`: an event that had to be recorded, past its due time without footage.
- `stored_late`: footage registered more than the deadline after it was recorded (one
  warning per device, open for the look-back window after the late dock).
- `device_clock_off`: a camera whose clock was off by more than the limit at its last dock.
- `station_silent`: a station that missed two heartbeats in a row (one late beat is
  jitter, not silence).
- `station_low_disk`: a station with less free disk than the limit.
- `station_alarm`: an alarm a station reports in its heartbeat.
- `fixity_failed`: a stored original whose last fixity check found other bytes than were
  registered, or none (open until a later check finds them whole).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from rules.compliance import EventResult

WarningKind = Literal[
    "device_not_docked",
    "event_unrecorded",
    "stored_late",
    "device_clock_off",
    "station_silent",
    "station_low_disk",
    "station_alarm",
    "fixity_failed",
]
WARNING_KINDS: tuple[WarningKind, ...] = get_args(WarningKind)

SILENT_AFTER_BEATS = 2


@dataclass(frozen=True)
class Warning:
    kind: WarningKind
    subject: str
    """What it is about: a device id, `CASE_NO/EVENT_ID`, a station id."""
    since: datetime
    unit_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    window: timedelta
    """How far back events and late docks are looked at."""
    clock_off: timedelta
    low_disk_fraction: float


@dataclass(frozen=True)
class DeviceFacts:
    device_id: str
    unit_id: str | None
    officer_id: str | None
    deadline: timedelta
    """Its unit's storage deadline."""
    last_docked: datetime | None
    """When footage from it was last registered."""
    last_clock_offset_s: float | None
    """The clock offset the station measured at that dock."""
    last_use: datetime | None
    """The end of the latest event its officer took part in."""
    last_use_event: str | None = None


def device_warnings(devices: Iterable[DeviceFacts], now: datetime, limits: Limits) -> list[Warning]:
    found = []
    for d in devices:
        if d.last_use is not None and (d.last_docked is None or d.last_docked < d.last_use):
            due = d.last_use + d.deadline
            if now > due:
                found.append(Warning("device_not_docked", d.device_id, due, d.unit_id, {
                    "officer_id": d.officer_id, "last_use_event": d.last_use_event,
                    "last_use": d.last_use.isoformat(),
                    "last_docked": d.last_docked.isoformat() if d.last_docked else None,
                }))  # fmt: skip
        offset = d.last_clock_offset_s
        if (
            d.last_docked is not None
            and offset is not None
            and abs(offset) > limits.clock_off.total_seconds()
        ):
            found.append(Warning("device_clock_off", d.device_id, d.last_docked, d.unit_id,
                                 {"clock_offset_s": offset}))  # fmt: skip
    return found


@dataclass(frozen=True)
class LateDock:
    """A medium registered after its deadline."""

    device_id: str
    unit_id: str | None
    media_id: str
    recorded_end: datetime
    registered_at: datetime


def late_warnings(late: Iterable[LateDock]) -> list[Warning]:
    """One warning per device: since its first late registration, with how many and the
    worst delay."""
    by_device: dict[str, list[LateDock]] = {}
    for dock in late:
        by_device.setdefault(dock.device_id, []).append(dock)
    found = []
    for device, docks in sorted(by_device.items()):
        worst = max(d.registered_at - d.recorded_end for d in docks)
        found.append(Warning("stored_late", device, min(d.registered_at for d in docks),
                             docks[0].unit_id, {"media": len(docks),
                             "worst_delay_s": worst.total_seconds(),
                             "media_ids": sorted(d.media_id for d in docks)[:50]}))  # fmt: skip
    return found


@dataclass(frozen=True)
class StationFacts:
    station_id: str
    last_heartbeat: datetime
    interval: timedelta
    total_bytes: int | None
    used_bytes: int | None
    alarms: list[dict[str, Any]]


def silent(station: StationFacts, now: datetime) -> bool:
    return now - station.last_heartbeat > SILENT_AFTER_BEATS * station.interval


def station_warnings(
    stations: Iterable[StationFacts], now: datetime, limits: Limits
) -> list[Warning]:
    found = []
    for s in stations:
        if silent(s, now):
            found.append(Warning("station_silent", s.station_id, s.last_heartbeat, None,
                                 {"interval_s": s.interval.total_seconds()}))  # fmt: skip
        if s.total_bytes and s.used_bytes is not None:
            free = 1 - s.used_bytes / s.total_bytes
            if free < limits.low_disk_fraction:
                found.append(Warning("station_low_disk", s.station_id, s.last_heartbeat, None,
                                     {"free_fraction": round(free, 4),
                                      "free_bytes": s.total_bytes - s.used_bytes}))  # fmt: skip
        for alarm in s.alarms:
            since = _moment(alarm.get("since")) or s.last_heartbeat
            found.append(Warning("station_alarm", f"{s.station_id}/{alarm.get('code', '?')}",
                                 since, None, dict(alarm)))  # fmt: skip
    return found


@dataclass(frozen=True)
class FixityFailure:
    media_id: str
    unit_id: str | None
    outcome: str
    """`mismatch` or `missing` (rules/fixity.FixityOutcome)."""
    since: datetime
    checked_at: datetime
    expected_sha256: str
    actual_sha256: str | None


def fixity_warnings(failures: Iterable[FixityFailure]) -> list[Warning]:
    return [
        Warning(
            "fixity_failed",
            f.media_id,
            f.since,
            f.unit_id,
            {
                "outcome": f.outcome,
                "checked_at": f.checked_at.isoformat(),
                "expected_sha256": f.expected_sha256,
                "actual_sha256": f.actual_sha256,
            },
        )  # fmt: skip
        for f in failures
    ]


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None
    return None


def event_warnings(results: Iterable[EventResult], now: datetime) -> list[Warning]:
    """Events that had to be recorded, past their due time with no footage."""
    return [
        Warning(
            "event_unrecorded",
            f"{r.event.case_no}/{r.event.event_id}",
            r.due_at,
            r.event.unit_id,
            {
                "activity": r.event.activity,
                "officer_ids": list(r.event.officer_ids),
                "room_id": r.event.room_id,
                "start": r.event.start.isoformat(),
                "end": r.event.end.isoformat(),
            },
        )  # fmt: skip
        for r in results
        if r.status == "missing" and r.requirement != "none" and now > r.due_at
    ]
