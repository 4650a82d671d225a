"""Units' equipment standards, and the devices and docks the equipment report counts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from rules.equipment import DeviceUse, Standard
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Device, DeviceStatus, Media, UnitStandard


def standards(session: Session) -> dict[str, list[Standard]]:
    """Every unit's own standards (a bureau has a few dozen rows)."""
    found: dict[str, list[Standard]] = {}
    for row in session.scalars(select(UnitStandard).order_by(UnitStandard.device_kind)):
        found.setdefault(row.unit_id, []).append(
            Standard(row.device_kind, row.per, row.ratio, row.unit_id)
        )
    return found


def put_standards(
    session: Session,
    unit_id: str,
    rows: Sequence[tuple[str, str, float]],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Replace the unit's standards with `rows` of (device kind, per, ratio); commit.
    Raises CatalogueError."""
    try:
        session.execute(delete(UnitStandard).where(UnitStandard.unit_id == unit_id))
        session.add_all(
            UnitStandard(unit_id=unit_id, device_kind=kind, per=per, ratio=ratio,
                         updated_at=now, updated_by=actor)
            for kind, per, ratio in rows
        )  # fmt: skip
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not save the standards of unit {unit_id!r}: {exc}") from exc


def active_device_use(
    session: Session, units: Collection[str], start: datetime, end: datetime
) -> list[DeviceUse]:
    """The active devices of `units`, each with its last dock and whether it docked footage
    in `[start, end)`: two index probes per device on media (device_id, ingested_at)."""
    last = (
        select(func.max(Media.ingested_at))
        .where(Media.device_id == Device.device_id)
        .correlate(Device)
        .scalar_subquery()
    )
    docked = (
        exists()
        .where(Media.device_id == Device.device_id, Media.ingested_at >= start,
               Media.ingested_at < end)
        .correlate(Device)
    )  # fmt: skip
    stmt = (
        select(Device.device_id, Device.kind, Device.unit_id, last, docked)
        .where(Device.status == DeviceStatus.ACTIVE, Device.unit_id.in_(sorted(units)))
        .order_by(Device.device_id)
    )
    return [
        DeviceUse(device, kind, unit, last_at, bool(in_period))
        for device, kind, unit, last_at, in_period in session.execute(stmt)
    ]
