"""The camera's clock against the station's: read at each dock, set when configured.

Cameras keep local time without a zone; ours are read and set in the cameras' zone
(Asia/Shanghai), whatever the station's own time zone is. The offset is device time minus
station time: positive when the camera runs ahead. A recording's true time is its device
time minus the offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from devices.adapters.base import CameraAdapter
from wire.zones import DEVICE_ZONE


def read_clock_offset(
    adapter: CameraAdapter, *, now: datetime | None = None, zone: tzinfo = DEVICE_ZONE
) -> timedelta:
    """Device time minus station time, the device's local time read in `zone`.

    `now` is the station time at the read (timezone-aware; default: the middle of the
    read). Raises UnsupportedOperation when the camera cannot report its clock,
    DeviceTimeout / ProtocolError / DeviceError when it does not answer or answers wrongly,
    and ValueError for a naive `now`.
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError("read_clock_offset: `now` must be timezone-aware")
    before = datetime.now(UTC)
    device_local = adapter.read_clock()
    station = now if now is not None else before + (datetime.now(UTC) - before) / 2
    return device_local.replace(tzinfo=zone) - station


def sync_clock(
    adapter: CameraAdapter, *, now: datetime | None = None, zone: tzinfo = DEVICE_ZONE
) -> datetime:
    """Set the camera's clock to the station's (`now`, default the current time) in `zone`;
    returns the local time sent. Raises like `CameraAdapter.set_clock`.

    Read the offset first: files already on the camera were stamped by the old clock.
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError("sync_clock: `now` must be timezone-aware")
    local = (now or datetime.now(UTC)).astimezone(zone).replace(tzinfo=None, microsecond=0)
    adapter.set_clock(local)
    return local
