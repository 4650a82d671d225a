"""The device registry: IT's devices, who media are attributed to, and devices IT must see to.

Serials are unique by a constraint, not by looking first: `put_device` always writes and,
when the constraint refuses, names the device that holds the serial.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Device, DeviceKind, DeviceStatus, Media, utc_now

MAX_PAGE = 500


class SerialTaken(CatalogueError):
    """Another device is registered with this serial already."""

    def __init__(self, serial: str, owner: str) -> None:
        super().__init__(
            f"serial {serial!r} belongs to device {owner!r} already: change or clear that "
            "device's serial first"
        )
        self.serial = serial
        self.owner = owner


@dataclass(frozen=True)
class DeviceFields:
    """Everything a PUT sets on a device; a field left None is cleared."""

    kind: DeviceKind
    status: DeviceStatus
    serial: str | None = None
    unit_id: str | None = None
    officer_id: str | None = None


def put_device(
    session: Session, device_id: str, fields: DeviceFields, *, now: datetime | None = None
) -> tuple[Device, bool]:
    """Create or replace the device `device_id`; return (device, created) and commit.

    `updated_at` moves only when something changed, so a script that re-sends the whole
    registry every night leaves it alone. Raises SerialTaken when another device has the
    serial, CatalogueError when the write fails otherwise.
    """
    now = now or utc_now()
    for _attempt in range(2):
        device = session.get(Device, device_id)
        created = device is None
        if device is None:
            device = Device(device_id=device_id, created_at=now, updated_at=now)
            session.add(device)
        values = {
            "kind": fields.kind.value,
            "status": fields.status.value,
            "serial": fields.serial,
            "unit_id": fields.unit_id,
            "officer_id": fields.officer_id,
        }
        changed = any(getattr(device, name) != value for name, value in values.items())
        for name, value in values.items():
            setattr(device, name, value)
        if changed and not created:
            device.updated_at = now
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            if fields.serial is not None:
                owner = _serial_owner(session, fields.serial, other_than=device_id)
                if owner is not None:
                    raise SerialTaken(fields.serial, owner) from exc
            if not created:
                raise CatalogueError(f"could not save device {device_id!r}: {exc.orig}") from exc
            # Another PUT created this device a moment ago: replace what it wrote.
            continue
        return device, created
    raise CatalogueError(f"could not save device {device_id!r}: it kept changing underneath")


def _serial_owner(session: Session, serial: str, *, other_than: str) -> str | None:
    return session.scalars(
        select(Device.device_id).where(Device.serial == serial, Device.device_id != other_than)
    ).first()


def get_device(session: Session, device_id: str) -> Device | None:
    return session.get(Device, device_id)


@dataclass(frozen=True)
class DevicePage:
    items: list[Device]
    next_cursor: str | None
    """The device_id to continue after; None at the end."""


def find_devices(
    session: Session,
    *,
    serial: str | None = None,
    unit_id: str | None = None,
    within: frozenset[str] | None = None,
    limit: int = MAX_PAGE,
    after: str | None = None,
) -> DevicePage:
    """One page of devices matching every filter given (`within`: filed under one of these
    units), by device_id, after `after`.

    Raises ValueError for a bad limit.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    stmt = select(Device)
    if serial is not None:
        stmt = stmt.where(Device.serial == serial)
    if unit_id is not None:
        stmt = stmt.where(Device.unit_id == unit_id)
    if within is not None:
        stmt = stmt.where(Device.unit_id.in_(sorted(within)))
    if after is not None:
        stmt = stmt.where(Device.device_id > after)
    rows = list(session.scalars(stmt.order_by(Device.device_id).limit(limit + 1)))
    items = rows[:limit]
    return DevicePage(items, items[-1].device_id if len(rows) > limit else None)


def units_of(session: Session, device_ids: Collection[str]) -> dict[str, str | None]:
    """The unit each registered device of `device_ids` is filed under."""
    ids = sorted(device_ids)
    found: dict[str, str | None] = {}
    for i in range(0, len(ids), 500):
        rows = session.execute(
            select(Device.device_id, Device.unit_id).where(Device.device_id.in_(ids[i : i + 500]))
        )
        found.update({device: unit for device, unit in rows})
    return found


@dataclass(frozen=True)
class Attribution:
    """The unit and officer a new medium is filed under."""

    unit_id: str | None
    officer_id: str | None


def attribute(
    device: Device | None, *, officer_id: str | None, station_unit_id: str | None
) -> Attribution:
    """Who a medium from `device` belongs to (`device` None: not in the registry).

    Officer: the one the station names (chosen at the dock, or bound to the import) wins;
    otherwise the officer the device is issued to. Cameras are often pooled, and the person
    at the dock knows better than the registry who wore it today.
    Unit: the device's unit wins; otherwise the unit of the station's token. A camera is
    owned by its unit, and its footage stays that unit's evidence even when it is docked at
    a station of another unit (a shared or borrowed dock).
    The device's status does not matter: footage of a camera reported lost or in repair is
    still that unit's evidence.
    """
    if device is None:
        return Attribution(unit_id=station_unit_id, officer_id=officer_id)
    return Attribution(
        unit_id=device.unit_id or station_unit_id,
        officer_id=officer_id or device.officer_id,
    )


@dataclass(frozen=True)
class UnregisteredDevice:
    """A device id (and serial) that media name but the registry does not know."""

    device_id: str
    serial: str | None
    first_seen: datetime
    """When the first of its media was registered."""
    last_seen: datetime
    media_count: int
    station_ids: list[str]
    serial_registered_as: str | None
    """A registered device that has this serial now: its media still carry the old id."""


def seen_outside(
    session: Session, device_id: str, serial: str | None, units: frozenset[str]
) -> bool:
    """Whether media filed under a unit not in `units`, or under none, name this device id
    or serial: the camera has been some other unit's (or nobody's known) so far."""
    names = [Media.device_id == device_id]
    if serial is not None:
        names.append(Media.device_serial == serial)
    found = session.scalars(
        select(Media.id)
        .where(or_(*names), or_(Media.unit_id.is_(None), Media.unit_id.not_in(sorted(units))))
        .limit(1)
    ).first()
    return found is not None


def unregistered(
    session: Session, within: frozenset[str] | None = None
) -> list[UnregisteredDevice]:
    """Device ids seen in media that match no registered device, most recently seen first;
    only in media filed under the units `within`, when given.

    Decided against the registry as it is now (not the `device_registered` the station
    sent): a device drops off the list as soon as IT registers it under that id.
    """
    unknown = ~exists().where(Device.device_id == Media.device_id)
    if within is not None:
        unknown = and_(unknown, Media.unit_id.in_(sorted(within)))
    first_seen = func.min(Media.ingested_at)
    last_seen = func.max(Media.ingested_at)
    groups = session.execute(
        select(Media.device_id, Media.device_serial, first_seen, last_seen, func.count())
        .where(unknown)
        .group_by(Media.device_id, Media.device_serial)
        .order_by(last_seen.desc(), Media.device_id)
    ).all()
    stations: dict[tuple[str, str | None], list[str]] = {}
    for device_id, serial, station_id in session.execute(
        select(Media.device_id, Media.device_serial, Media.station_id)
        .where(unknown)
        .distinct()
        .order_by(Media.station_id)
    ):
        stations.setdefault((device_id, serial), []).append(station_id)
    serials = {serial for _, serial, *_ in groups if serial is not None}
    registered_as: dict[str | None, str] = {}
    if serials:
        for serial, device_id in session.execute(
            select(Device.serial, Device.device_id).where(Device.serial.in_(serials))
        ):
            registered_as[serial] = device_id
    return [
        UnregisteredDevice(
            device_id=device_id,
            serial=serial,
            first_seen=first,
            last_seen=last,
            media_count=count,
            station_ids=stations.get((device_id, serial), []),
            serial_registered_as=registered_as.get(serial) if serial is not None else None,
        )
        for device_id, serial, first, last, count in groups
    ]
