"""Stations as their heartbeats describe them (the last heartbeat of each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Station


@dataclass(frozen=True)
class Heartbeat:
    online: bool
    storage_total_bytes: int | None
    storage_used_bytes: int | None
    docked_devices: list[dict[str, Any]]
    alarms: list[dict[str, Any]]
    version: str | None
    interval_s: float


def record_heartbeat(
    session: Session, station_id: str, beat: Heartbeat, *, now: datetime, client: str | None
) -> Station:
    """Keep `beat` as the station's last state; commit. Raises CatalogueError."""
    try:
        return _record(session, station_id, beat, now=now, client=client)
    except IntegrityError:
        # Its first heartbeat sent twice at once (a retry that crossed the first): the
        # other one made the row, which this second attempt updates.
        session.rollback()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not record the heartbeat of {station_id!r}: {exc}") from exc
    try:
        return _record(session, station_id, beat, now=now, client=client)
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not record the heartbeat of {station_id!r}: {exc}") from exc


def _record(
    session: Session, station_id: str, beat: Heartbeat, *, now: datetime, client: str | None
) -> Station:
    station = session.get(Station, station_id, with_for_update=True)
    if station is None:
        station = Station(station_id=station_id, first_heartbeat_at=now)
        session.add(station)
    station.online = beat.online
    station.storage_total_bytes = beat.storage_total_bytes
    station.storage_used_bytes = beat.storage_used_bytes
    station.docked_devices = beat.docked_devices
    station.alarms = beat.alarms
    station.version = beat.version
    station.heartbeat_interval_s = beat.interval_s
    station.last_heartbeat_at = now
    station.client = client
    session.commit()
    return station


def list_stations(session: Session) -> list[Station]:
    """Every station that ever sent a heartbeat, by id, each as its last heartbeat left it."""
    return list(session.scalars(select(Station).order_by(Station.station_id)))
