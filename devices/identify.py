"""Who is docked: the one entry point the station agent calls per dock.

    volume --sysfs--> USB VID/PID/serial --registry--> adapter --> camera's own identity + clock
      |                     |                              |
      | nothing relates     | no adapter / it fails        +--> how = "usb_adapter"
      v                     v
    how = "volume_name"   how = "usb_serial" (or "volume_name" when the serial says nothing)

The camera's own ID (what the camera reports when spoken to: the ID the platform knows it
by) comes first, because cheap cameras of one model often share one USB iSerial; the USB
serial serves when the camera cannot be spoken to, and the volume's folder name last.

Cameras that show their volume only after a login (Ambarella, GA/T 947-style) are first
found by `find_cameras_to_prepare` and switched by `prepare_camera`, which also reads the
clock offset before any time sync; pass its results to `identify_dock` as `prepared` so the
files of that dock keep the offset their timestamps were made with.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Literal

import usb.backend

from devices.adapters.base import AdapterOptions, CameraAdapter, CameraInfo
from devices.adapters.registry import AdapterRegistry, default_registry
from devices.clock import read_clock_offset, sync_clock
from devices.errors import DeviceError, UnsupportedOperation
from devices.sysfs import volume_usb_serial
from devices.usb_enum import DEFAULT_TIMEOUT_MS, UsbIdentity, find_usb_device, iter_usb_devices
from wire.zones import DEVICE_ZONE

log = logging.getLogger(__name__)

HowIdentified = Literal["usb_adapter", "usb_serial", "volume_name"]
GENERIC_ADAPTER = "generic"  # plain mass storage: nothing spoken to the camera


@dataclass(frozen=True)
class DockIdentity:
    """Who a docked device is, and how we know; stored with every file of the dock.

    `device_serial` is the key the registry and the journal know the device by: the
    camera's own ID when it told one, else its USB serial, else the volume's folder name
    (CONTRACT.md). `clock_offset` is device time minus station time before any sync at this
    dock (None: not known), the device's local time read in Asia/Shanghai. `ambiguous` says
    why the key may name more than one device (then the device is never wiped at this dock).
    """

    device_serial: str
    how: HowIdentified
    adapter: str = GENERIC_ADAPTER
    device_id: str | None = None
    officer_id: str | None = None
    officer_name: str | None = None
    unit_code: str | None = None
    unit_name: str | None = None
    model_code: str | None = None
    vid: int | None = None
    pid: int | None = None
    usb_serial: str | None = None
    clock_offset: timedelta | None = None
    clock_set_at: datetime | None = None
    """When the station set the camera's clock (after reading the offset), station time UTC."""

    @property
    def clock_synced(self) -> bool:
        return self.clock_set_at is not None

    ambiguous: str | None = None

    def is_usb_device(self, usb_identity: UsbIdentity) -> bool:
        """Whether this identity was taken from that USB device (same VID:PID and serial)."""
        return self.usb_serial is not None and (self.vid, self.pid, self.usb_serial) == (
            usb_identity.vid,
            usb_identity.pid,
            usb_identity.serial,
        )


def identify_dock(
    volume: Path,
    *,
    backend: usb.backend.IBackend | None = None,
    usb_identity: UsbIdentity | None = None,
    prepared: Iterable[DockIdentity] = (),
    registry: AdapterRegistry | None = None,
    options: AdapterOptions | None = None,
    sysfs_root: Path = Path("/sys"),
    mounts_file: Path = Path("/proc/self/mountinfo"),
    now: datetime | None = None,
    zone: tzinfo = DEVICE_ZONE,
) -> DockIdentity:
    """Identify the device whose volume is mounted at `volume`. Never raises.

    `usb_identity` is the USB device behind the volume when the caller knows it (the
    simulator); otherwise sysfs is asked. A camera prepared at this dock (`prepared`, from
    `prepare_camera`) is recognised by its USB serial and returned as it was then. Otherwise
    the adapter registered for its VID/PID (`registry`, default: built-ins + plug-ins) reads
    its identity and clock, each USB transfer limited to `options.timeout_ms`; a camera that
    has no adapter, is gone, refuses or does not answer is identified by its USB serial, or
    by the volume's folder name when nothing relates the volume to a USB device. It never
    changes the camera (no time sync, no mode switch). The camera's clock is read in `zone`
    (STATION_DEVICE_ZONE).
    """
    found = usb_identity or volume_usb_serial(
        volume, sysfs_root=sysfs_root, mounts_file=mounts_file
    )
    if found is None:
        return _generic(volume, None)
    for identity in prepared:
        if identity.is_usb_device(found):
            return identity
    try:
        spoken = _identify_by_adapter(
            found,
            volume=volume,
            backend=backend,
            registry=registry or default_registry(),
            options=options or AdapterOptions(),
            now=now,
            zone=zone,
        )
    except DeviceError as exc:
        log.warning("%s: %s; identified without the camera's help", volume, exc)
        spoken = None
    except Exception:  # a vendor plug-in's bug must not stop the import
        log.exception("%s: camera adapter failed for %s; identified without it", volume, found)
        spoken = None
    return spoken if spoken is not None else _generic(volume, found)


def find_cameras_to_prepare(
    *,
    backend: usb.backend.IBackend | None = None,
    registry: AdapterRegistry | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> list[UsbIdentity]:
    """Docked cameras that must be switched (`prepare_camera`) before they show a volume.

    Decided from USB descriptors alone; never raises for one device's failure.
    """
    registry = registry or default_registry()
    waiting = []
    for device, identity in iter_usb_devices(backend, timeout_ms=timeout_ms):
        adapter = registry.lookup(identity.vid, identity.pid)
        try:
            if adapter is not None and adapter.needs_preparation(device):
                waiting.append(identity)
        except Exception:  # a plug-in's bug: that camera is skipped, the others are not
            log.exception("camera adapter %s failed to inspect %s", adapter, identity)
    return waiting


def prepare_camera(
    usb_identity: UsbIdentity,
    *,
    backend: usb.backend.IBackend | None = None,
    registry: AdapterRegistry | None = None,
    options: AdapterOptions | None = None,
    sync_time: bool = False,
    now: datetime | None = None,
    zone: tzinfo = DEVICE_ZONE,
) -> DockIdentity:
    """Log in to the camera, read its identity and clock offset, set its clock to the
    station's if `sync_time`, and switch it to mass storage so its volume appears. The
    camera keeps local time in `zone` (STATION_DEVICE_ZONE).

    Returns the identity to pass to `identify_dock(prepared=...)` once the volume is
    mounted: its `clock_offset` is the one before the sync, which the camera's files were
    stamped with. A failed clock read or sync is logged and does not stop the switch.
    Raises DeviceError (DeviceTimeout, ProtocolError) when there is no adapter for the
    camera, it is gone, or it refuses or does not answer the login or the switch.
    """
    registry = registry or default_registry()
    options = options or AdapterOptions()
    adapter_cls = registry.lookup(usb_identity.vid, usb_identity.pid)
    if adapter_cls is None:
        raise DeviceError(f"{usb_identity}: no camera adapter serves this device")
    located = find_usb_device(usb_identity, backend, timeout_ms=options.timeout_ms)
    if located is None:
        raise DeviceError(f"{usb_identity}: no longer connected; dock the camera again")
    device, seen = located
    try:
        with adapter_cls.open(device, options) as adapter:
            info = adapter.read_info()
            offset = _clock_offset(adapter, now, seen, zone)
            set_at = _sync(adapter, now, seen, zone) if sync_time else None
            adapter.switch_to_mass_storage()
    except DeviceError:
        raise
    except Exception as exc:  # a plug-in's bug, reported like any camera failure
        raise DeviceError(f"{seen}: camera adapter {adapter_cls.name} failed: {exc!r}") from exc
    log.info("%s: prepared by %s (clock offset %s)", seen, adapter_cls.name, offset)
    return _from_adapter(
        adapter_cls.name,
        seen,
        info,
        offset,
        fallback_serial=seen.vid_pid,
        fallback_ambiguous="the camera told no ID and USB no serial",
        clock_set_at=set_at,
    )


def _identify_by_adapter(
    found: UsbIdentity,
    *,
    volume: Path,
    backend: usb.backend.IBackend | None,
    registry: AdapterRegistry,
    options: AdapterOptions,
    now: datetime | None,
    zone: tzinfo,
) -> DockIdentity | None:
    adapter_cls = registry.lookup(found.vid, found.pid)
    if adapter_cls is None:
        return None
    located = find_usb_device(found, backend, timeout_ms=options.timeout_ms)
    if located is None:
        raise DeviceError(f"{found}: not found on USB (unplugged, or no permission)")
    device, seen = located
    with adapter_cls.open(device, options) as adapter:
        info = adapter.read_info()
        offset = _clock_offset(adapter, now, seen, zone)
    usb_seen = UsbIdentity(
        seen.vid, seen.pid, found.serial or seen.serial, seen.manufacturer, seen.product
    )
    return _from_adapter(
        adapter_cls.name,
        usb_seen,
        info,
        offset,
        fallback_serial=volume.name,
        fallback_ambiguous=_generic(volume, None).ambiguous,
    )


def _clock_offset(
    adapter: CameraAdapter, now: datetime | None, seen: UsbIdentity, zone: tzinfo
) -> timedelta | None:
    try:
        return read_clock_offset(adapter, now=now, zone=zone)
    except UnsupportedOperation:
        return None
    except DeviceError as exc:
        log.warning("%s: clock not read (%s); its files keep their own times", seen, exc)
        return None


def _sync(
    adapter: CameraAdapter, now: datetime | None, seen: UsbIdentity, zone: tzinfo
) -> datetime | None:
    """Set the camera's clock; the station time (UTC) it was set to, or None if it failed."""
    at = now or datetime.now(UTC)
    try:
        sync_clock(adapter, now=at, zone=zone)
    except DeviceError as exc:
        log.warning("%s: clock not set (%s)", seen, exc)
        return None
    return at.astimezone(UTC)


def _from_adapter(
    adapter: str,
    usb_identity: UsbIdentity,
    info: CameraInfo,
    offset: timedelta | None,
    *,
    fallback_serial: str,
    fallback_ambiguous: str | None,
    clock_set_at: datetime | None = None,
) -> DockIdentity:
    known = info.device_id or _meaningful(usb_identity.serial)
    return DockIdentity(
        device_serial=known or fallback_serial,
        ambiguous=None if known else fallback_ambiguous,
        how="usb_adapter",
        adapter=adapter,
        device_id=info.device_id,
        officer_id=info.officer_id,
        officer_name=info.officer_name,
        unit_code=info.unit_code,
        unit_name=info.unit_name,
        model_code=info.model_code,
        vid=usb_identity.vid,
        pid=usb_identity.pid,
        usb_serial=usb_identity.serial,
        clock_offset=offset,
        clock_set_at=clock_set_at,
    )


# Volume labels that many devices carry: a folder named after one does not single out a device.
_SHARED_LABELS = frozenset(
    {"NO NAME", "NO_NAME", "NONAME", "UNTITLED", "DISK", "USB", "UDISK", "REMOVABLE", "CAMERA"}
)


def _meaningful(serial: str | None) -> str | None:
    """The USB serial, unless it is one that says nothing: empty, one repeated character
    (`000000`, `FFFFFFFF`) or a counting placeholder (`0123456789ABCDEF`), which cheap camera
    firmware ships in every unit."""
    if serial is None or not serial.strip():
        return None
    compact = serial.strip().upper()
    if len(set(compact)) == 1 or compact in "0123456789ABCDEF" or compact in "123456789":
        return None
    return serial


def _generic(volume: Path, found: UsbIdentity | None) -> DockIdentity:
    serial = _meaningful(found.serial) if found is not None else None
    if found is not None and serial is not None:
        return DockIdentity(
            device_serial=serial, how="usb_serial", vid=found.vid, pid=found.pid, usb_serial=serial
        )
    return DockIdentity(
        device_serial=volume.name,
        how="volume_name",
        vid=found.vid if found else None,
        pid=found.pid if found else None,
        ambiguous="volume label shared by many devices"
        if volume.name.strip().upper() in _SHARED_LABELS
        else None,
    )
