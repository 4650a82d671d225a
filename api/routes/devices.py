"""The device registry: IT registers devices; a station asks which device a docked serial is.

Roles: it_admin and admin register and read; a station may only look a device up by serial.
An it_admin bound to a unit lists, reads and registers only that unit's devices: it can
neither read another unit's device (404) nor change it, file a device under another unit,
or register an unregistered camera whose footage another unit (or no unit) holds (403): it
cannot move a camera, and the camera's future footage, into its unit.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Response, status

from api.deps import (
    DEVICE_ADMINS,
    DEVICE_LOOKUP,
    CurrentToken,
    SessionDep,
    roles,
    secured_router,
)
from api.schemas import DeviceIn, DeviceOut, DevicePage, UnregisteredDeviceOut, UnregisteredDevices
from storage.catalogue import device_repo
from storage.catalogue.device_repo import DeviceFields, SerialTaken

router = secured_router("/api/v1/devices", ["devices"])

# A device of this id would be hidden behind GET /api/v1/devices/unregistered.
_RESERVED_IDS = frozenset({"unregistered"})

DeviceIdPath = Annotated[str, Path(min_length=1, max_length=128)]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such device"}}


@router.get("", **roles(*DEVICE_LOOKUP))
def find_devices(
    session: SessionDep,
    token: CurrentToken,
    serial: Annotated[str | None, Query(description="the serial a docked device reported")] = None,
    unit_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=device_repo.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> DevicePage:
    """Registered devices matching every filter given, by device_id.

    A station must give `serial` and nothing else: it may ask which device it has docked,
    not browse the registry.
    """
    if token.role == "station" and (serial is None or unit_id is not None or cursor is not None):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="a station may only look a device up by serial: GET /api/v1/devices?serial=...",
        )
    within = None if token.role == "station" else token.units
    if unit_id is not None and within is not None and unit_id not in within:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this token sees only the devices of unit {token.unit_id!r} and below it",
        )
    page = device_repo.find_devices(
        session, serial=serial, unit_id=unit_id, within=within, limit=limit, after=cursor
    )
    return DevicePage(items=[DeviceOut.of(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/unregistered", **roles(*DEVICE_ADMINS))
def unregistered_devices(session: SessionDep, token: CurrentToken) -> UnregisteredDevices:
    """Device ids that media were registered with but that no registered device has: the
    cameras IT must register (or relink), most recently seen first; for a unit-bound token,
    those in its unit's media."""
    return UnregisteredDevices(
        items=[
            UnregisteredDeviceOut.model_validate(row, from_attributes=True)
            for row in device_repo.unregistered(session, within=token.units)
        ]
    )


@router.get("/{device_id}", responses=_NOT_FOUND, **roles(*DEVICE_ADMINS))
def get_device(device_id: DeviceIdPath, session: SessionDep, token: CurrentToken) -> DeviceOut:
    device = device_repo.get_device(session, device_id)
    if device is None or not token.sees_unit(device.unit_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no device {device_id!r}")
    return DeviceOut.of(device)


@router.put(
    "/{device_id}",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "replaced an existing device"},
        409: {"description": "another device has this serial"},
        422: {"description": "invalid kind, status or field"},
    },
    **roles(*DEVICE_ADMINS),
)
def put_device(
    device_id: DeviceIdPath,
    body: DeviceIn,
    session: SessionDep,
    token: CurrentToken,
    response: Response,
) -> DeviceOut:
    """Create (201) or replace (200) a device. Its unit and officer need not be known yet."""
    if device_id in _RESERVED_IDS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"{device_id!r} is reserved and cannot be a device id",
        )
    if token.units is not None:
        existing = device_repo.get_device(session, device_id)
        if (
            not token.sees_unit(body.unit_id)
            or (existing is not None and not token.sees_unit(existing.unit_id))
            or device_repo.seen_outside(session, device_id, body.serial, token.units)
        ):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this token registers only devices of unit {token.unit_id!r} and "
                "the units below it; "
                "a device of another unit is changed by that unit's IT or an it_admin "
                "without a unit",
            )
    fields = DeviceFields(
        kind=body.kind,
        status=body.status,
        serial=body.serial,
        unit_id=body.unit_id,
        officer_id=body.officer_id,
    )
    try:
        device, created = device_repo.put_device(session, device_id, fields)
    except SerialTaken as exc:
        detail = (
            str(exc)
            if token.unit_id is None
            else f"serial {body.serial!r} belongs to another device already"
        )
        raise HTTPException(status.HTTP_409_CONFLICT, detail=detail) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return DeviceOut.of(device)
