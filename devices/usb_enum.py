"""USB devices as the station sees them: VID, PID, serial, found with pyusb.

The backend is a seam: `None` means the system's libusb (found once per process), tests and
the simulator pass an `EmulatedUsbBackend`. Nothing here keeps a device open: strings are read
and the handle is released again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import usb.backend
import usb.core
import usb.util

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 2000
CLASS_MASS_STORAGE = 0x08  # USB interface classes
CLASS_VENDOR_SPECIFIC = 0xFF


@dataclass(frozen=True)
class UsbIdentity:
    """What USB tells about a device, without speaking its protocol.

    `bus`/`address` identify it only while it stays plugged in; `serial` (the iSerialNumber
    string) survives re-plugging but cheap devices leave it out or share one value.
    """

    vid: int
    pid: int
    serial: str | None
    manufacturer: str | None = None
    product: str | None = None
    bus: int | None = None
    address: int | None = None

    @property
    def vid_pid(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}"

    def same_device(self, other: UsbIdentity) -> bool:
        """Whether both describe one device: same VID:PID and serial, or same bus address
        when a serial is missing on either side."""
        if (self.vid, self.pid) != (other.vid, other.pid):
            return False
        if self.serial is not None and other.serial is not None:
            return self.serial == other.serial
        if None in (self.bus, self.address, other.bus, other.address):
            return False
        return (self.bus, self.address) == (other.bus, other.address)

    def __str__(self) -> str:
        return f"USB {self.vid_pid} serial {self.serial or '(none)'}"


@functools.cache
def system_backend() -> usb.backend.IBackend | None:
    """The system's libusb backend (libusb 1.0, OpenUSB, libusb 0.1 in that order), or None
    when no USB library is installed: then no USB device is ever found."""
    import usb.backend.libusb0 as libusb0
    import usb.backend.libusb1 as libusb1
    import usb.backend.openusb as openusb

    for module in (libusb1, openusb, libusb0):
        backend = module.get_backend()
        if backend is not None:
            return backend
    log.warning("no USB library (libusb) found: docked cameras are identified by volume only")
    return None


def list_usb_devices(
    backend: usb.backend.IBackend | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[UsbIdentity]:
    """Every USB device present, with its strings where the device gives them.

    Never raises for one device's failure: a device whose strings cannot be read (no
    permission, not answering) is listed without them.
    """
    return [identity for _, identity in iter_usb_devices(backend, timeout_ms=timeout_ms)]


def find_usb_device(
    wanted: UsbIdentity,
    backend: usb.backend.IBackend | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> tuple[usb.core.Device, UsbIdentity] | None:
    """The pyusb device that `wanted` describes (see `UsbIdentity.same_device`) and what it
    says about itself, or None when it is not (or no longer) connected."""
    found = iter_usb_devices(backend, timeout_ms=timeout_ms, vid=wanted.vid, pid=wanted.pid)
    for device, identity in found:
        if identity.same_device(wanted):
            return device, identity
    return None


def usb_identity(device: usb.core.Device, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> UsbIdentity:
    """Read a pyusb device's identity; strings it cannot give are None. Releases the handle."""
    device.default_timeout = timeout_ms
    try:
        return UsbIdentity(
            vid=device.idVendor,
            pid=device.idProduct,
            serial=_string(device, device.iSerialNumber),
            manufacturer=_string(device, device.iManufacturer),
            product=_string(device, device.iProduct),
            bus=device.bus,
            address=device.address,
        )
    finally:
        usb.util.dispose_resources(device)


def iter_usb_devices(
    backend: usb.backend.IBackend | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    vid: int | None = None,
    pid: int | None = None,
) -> Iterator[tuple[usb.core.Device, UsbIdentity]]:
    """Each present pyusb device (optionally only VID:PID `vid`:`pid`) with its identity."""
    backend = backend if backend is not None else system_backend()
    if backend is None:
        return
    try:
        found = list(usb.core.find(find_all=True, backend=backend))
    except usb.core.USBError as exc:
        log.warning("cannot list USB devices: %s", exc)
        return
    for device in found:
        if vid is not None and (device.idVendor, device.idProduct) != (vid, pid):
            continue
        yield device, usb_identity(device, timeout_ms=timeout_ms)


def _string(device: usb.core.Device, index: int) -> str | None:
    if not index:
        return None
    try:
        value = usb.util.get_string(device, index)
    except (usb.core.USBError, ValueError, NotImplementedError) as exc:
        # No permission, no language ids, or not answering: the string is simply unknown.
        log.debug(
            "USB %04x:%04x string %d unreadable: %s", device.idVendor, device.idProduct, index, exc
        )
        return None
    if not isinstance(value, str):
        return None
    return value.strip() or None
