"""Stations' heartbeats (POST /api/v1/stations/{id}/heartbeat) and their last state
(GET /api/v1/stations), as management platforms exchange them (DOMAIN.md): online, total
and used storage, docked devices, alarms, version. A station silent for two of its
intervals, or low on disk, is an early warning (rules/warnings.py).

Why two intervals and not one: a heartbeat arrives a little after its interval (the
request itself takes time, the agent's clock drifts), and one can be lost to a single
timeout, a restart of the agent or of the api. One missed beat is noise; two in a row
mean the station or its link is down. Each station states its own interval in its
heartbeat, so a station that beats every 5 minutes is not called silent after 2.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import SQLAlchemyError

from api.custody_log import caller
from api.deps import STATIONS, CurrentToken, SessionDep, roles, secured_router
from api.problems import unavailable
from api.schemas import UtcTime
from api.stations import speaking_for
from rules.warnings import SILENT_AFTER_BEATS, StationFacts, silent
from storage.catalogue import device_repo, station_repo
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Station, utc_now
from wire.moments import Moment
from wire.text import Code, DeviceRef, Id, Title

router: APIRouter = secured_router("/api/v1/stations", ["stations"])

STATION_READERS = ("it_admin", "supervisor", "admin")
StationId = Annotated[str, Path(min_length=1, max_length=128, description="a station's id")]


class DockedDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: DeviceRef
    serial: DeviceRef | None = None
    officer_id: Id | None = None
    state: Code | None = Field(default=None, description="e.g. importing, safe_to_undock")


class Alarm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="e.g. low_disk, upload_failing")
    message: Title = Field(description="what the station shows, in Chinese")
    since: Moment | None = None


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    online: bool = True
    storage_total_bytes: int | None = Field(default=None, ge=0, le=10**18)
    storage_used_bytes: int | None = Field(default=None, ge=0, le=10**18)
    docked_devices: list[DockedDevice] = Field(default_factory=list, max_length=64)
    alarms: list[Alarm] = Field(default_factory=list, max_length=64)
    version: Code | None = None
    interval_s: float = Field(default=60, ge=5, le=86400, allow_inf_nan=False,
                              description="when the next heartbeat is due")  # fmt: skip

    @model_validator(mode="after")
    def _used_within_total(self) -> HeartbeatIn:
        total, used = self.storage_total_bytes, self.storage_used_bytes
        if total is not None and used is not None and used > total:
            raise ValueError("storage_used_bytes is more than storage_total_bytes")
        return self


class StationOut(BaseModel):
    station_id: str
    online: bool
    storage_total_bytes: int | None
    storage_used_bytes: int | None
    free_fraction: float | None
    docked_devices: list[DockedDevice]
    alarms: list[Alarm]
    version: str | None
    heartbeat_interval_s: float
    first_heartbeat_at: UtcTime
    last_heartbeat_at: UtcTime
    silent_for_s: float = Field(description="seconds since its last heartbeat")
    silent: bool = Field(description=f"missed {SILENT_AFTER_BEATS} heartbeats in a row")
    client: str | None = Field(description="the address the last heartbeat came from")

    @classmethod
    def of(
        cls, station: Station, shown: Callable[[str], bool] = lambda _device: True
    ) -> StationOut:
        now = utc_now()
        total, used = station.storage_total_bytes, station.storage_used_bytes
        facts = StationFacts(station.station_id, station.last_heartbeat_at,
                             timedelta(seconds=station.heartbeat_interval_s), total, used,
                             list(station.alarms))  # fmt: skip
        return cls(
            station_id=station.station_id, online=station.online,
            storage_total_bytes=total, storage_used_bytes=used,
            free_fraction=(total - used) / total if total and used is not None else None,
            docked_devices=[DockedDevice.model_validate(d) for d in station.docked_devices
                            if shown(d["device_id"])],
            alarms=[Alarm.model_validate(a) for a in station.alarms],
            version=station.version, heartbeat_interval_s=station.heartbeat_interval_s,
            first_heartbeat_at=station.first_heartbeat_at,
            last_heartbeat_at=station.last_heartbeat_at,
            silent_for_s=(now - station.last_heartbeat_at).total_seconds(),
            silent=silent(facts, now), client=station.client,
        )  # fmt: skip


class StationsOut(BaseModel):
    items: list[StationOut]


@router.post("/{station_id}/heartbeat", **roles(*STATIONS))
def heartbeat(
    station_id: StationId, body: HeartbeatIn, request: Request, session: SessionDep,
    token: CurrentToken,
) -> StationOut:  # fmt: skip
    """Record the station's state now; the answer is what the platform keeps of it."""
    speaking_for(token, station_id)
    beat = station_repo.Heartbeat(
        online=body.online,
        storage_total_bytes=body.storage_total_bytes,
        storage_used_bytes=body.storage_used_bytes,
        docked_devices=[d.model_dump(exclude_none=True) for d in body.docked_devices],
        alarms=[a.model_dump(mode="json", exclude_none=True) for a in body.alarms],
        version=body.version,
        interval_s=body.interval_s,
    )
    try:
        station = station_repo.record_heartbeat(
            session, station_id, beat, now=utc_now(), client=caller(request, token).client
        )
    except CatalogueError as exc:
        raise unavailable("the heartbeat could not be recorded", exc) from exc
    return StationOut.of(station)


@router.get("", **roles(*STATION_READERS))
def list_stations(session: SessionDep, token: CurrentToken) -> StationsOut:
    """Every station that ever sent a heartbeat, by id, with its last state. Stations serve
    any unit, so a unit-bound caller sees them all, but of the devices docked at them only
    those filed under its units (not which officer of another unit docked what)."""
    try:
        stations = station_repo.list_stations(session)
        docked = {d["device_id"] for s in stations for d in s.docked_devices}
        units = device_repo.units_of(session, docked) if token.units is not None else {}
    except SQLAlchemyError as exc:
        raise unavailable("the stations could not be read", exc) from exc

    def shown(device_id: str) -> bool:
        return token.units is None or (device_id in units and token.sees_unit(units[device_id]))

    return StationsOut(items=[StationOut.of(s, shown) for s in stations])
