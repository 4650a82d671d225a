"""What early warnings read from the catalogue (rules/warnings.py judges it): devices with
their last dock, officers' latest events, late registrations (stations: station_repo)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.catalogue.models import Case, CaseEvent, Device, DeviceStatus, Media


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    kind: str
    unit_id: str | None
    officer_id: str | None
    last_docked: datetime | None
    last_clock_offset_s: float | None


def active_devices(session: Session, units: Collection[str] | None) -> list[DeviceRow]:
    """Active devices (of `units`, when given), each with its last dock: one index probe
    per device on media (device_id, ingested_at)."""
    last = (
        select(Media.ingested_at, Media.clock_offset_s)
        .where(Media.device_id == Device.device_id)
        .order_by(Media.ingested_at.desc())
        .limit(1)
        .correlate(Device)
    )
    stmt = select(
        Device.device_id,
        Device.kind,
        Device.unit_id,
        Device.officer_id,
        last.with_only_columns(Media.ingested_at).scalar_subquery(),
        last.with_only_columns(Media.clock_offset_s).scalar_subquery(),
    ).where(Device.status == DeviceStatus.ACTIVE)
    if units is not None:
        stmt = stmt.where(Device.unit_id.in_(sorted(units)))
    return [DeviceRow(*row) for row in session.execute(stmt.order_by(Device.device_id))]


def last_events_by_officer(
    session: Session, since: datetime, until: datetime, units: Collection[str] | None
) -> dict[str, tuple[datetime, str]]:
    """For each officer of an event that ended in `[since, until]`, of a case of `units`
    (None: any): the latest end and `CASE_NO/EVENT_ID` of that event."""
    latest: dict[str, tuple[datetime, str]] = {}
    stmt = (
        select(CaseEvent.officer_ids, CaseEvent.end_at, CaseEvent.case_no, CaseEvent.event_id)
        .join(Case, Case.case_no == CaseEvent.case_no)
        .where(CaseEvent.end_at >= since, CaseEvent.end_at <= until)
    )
    if units is not None:
        stmt = stmt.where(Case.unit_id.in_(sorted(units)))
    rows = session.execute(stmt)
    for officers, end, case_no, event_id in rows:
        for officer in officers or ():
            if officer not in latest or latest[officer][0] < end:
                latest[officer] = (end, f"{case_no}/{event_id}")
    return latest


@dataclass(frozen=True)
class Registration:
    media_id: str
    device_id: str
    unit_id: str | None
    recorded_end: datetime
    registered_at: datetime


def registrations_since(
    session: Session, since: datetime, units: Collection[str] | None
) -> list[Registration]:
    """Media registered since `since` with a recorded time (the ingested_at index)."""
    stmt = select(
        Media.id, Media.device_id, Media.unit_id, Media.recorded_end, Media.recorded_start,
        Media.ingested_at,
    ).where(Media.ingested_at >= since, Media.recorded_start.is_not(None))  # fmt: skip
    if units is not None:
        stmt = stmt.where(Media.unit_id.in_(sorted(units)))
    found = []
    for media_id, device, unit, end, start, registered in session.execute(stmt):
        recorded = end if end is not None else start
        assert recorded is not None
        found.append(Registration(media_id, device, unit, recorded, registered))
    return found
