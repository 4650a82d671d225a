"""The one interface every camera adapter implements, and the USB plumbing they share.

An adapter speaks one protocol family to one docked camera (Ambarella ASCII commands, a
GA/T 947-style SDK, a vendor's own). It is opened on a pyusb device found by VID/PID, used as
a context manager, and closed again; it never keeps the device between docks. pyusb errors
are translated into `devices.errors` here, at the border.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

import usb.core
import usb.util

from devices.errors import DeviceError, ProtocolError, UnsupportedOperation, translate_usb_error
from devices.usb_enum import CLASS_MASS_STORAGE, DEFAULT_TIMEOUT_MS


@dataclass(frozen=True)
class CameraInfo:
    """What a camera says about itself; None where its protocol does not tell."""

    device_id: str | None = None
    officer_id: str | None = None
    officer_name: str | None = None
    unit_code: str | None = None
    unit_name: str | None = None
    model_code: str | None = None  # e.g. GA/T 947 GetIDCode: maker + model


@dataclass(frozen=True)
class AdapterOptions:
    """How to talk to cameras: the USB timeout of each transfer and the unit's passwords
    by adapter name (an adapter uses its factory default when none is given)."""

    timeout_ms: int = DEFAULT_TIMEOUT_MS
    passwords: Mapping[str, str] = field(default_factory=dict)

    def password(self, adapter: str, default: str) -> str:
        return self.passwords.get(adapter, default)


class CameraAdapter(ABC):
    """One camera spoken to over USB.

    Subclasses set `name` (stored with every file as the adapter used) and `usb_ids` (the
    VID/PID pairs they serve, for the registry), and implement `open` and `read_info`. The
    clock and mode commands are optional: the defaults raise UnsupportedOperation.
    Every method may raise DeviceError (DeviceTimeout when the camera does not answer in
    time, ProtocolError when it answers wrongly or refuses).
    """

    name: ClassVar[str]
    usb_ids: ClassVar[frozenset[tuple[int, int]]] = frozenset()

    @classmethod
    @abstractmethod
    def open(cls, device: usb.core.Device, options: AdapterOptions) -> Self:
        """Start a session with the camera behind `device` (log in where the protocol asks)."""

    @classmethod
    def needs_preparation(cls, device: usb.core.Device) -> bool:
        """Whether the camera must be switched (`switch_to_mass_storage`) before it shows its
        volume. Decided from descriptors only, without talking to the camera."""
        return False

    @abstractmethod
    def read_info(self) -> CameraInfo:
        """The camera's own identity: device id, officer, unit, as far as it tells."""

    def read_clock(self) -> datetime:
        """The camera's clock as it shows it: naive local time (cameras keep local time)."""
        raise UnsupportedOperation(f"{self.name} cameras cannot report their clock")

    def set_clock(self, local_time: datetime) -> None:
        """Set the camera's clock to `local_time` (naive, the camera's local time)."""
        raise UnsupportedOperation(f"{self.name} cameras cannot have their clock set")

    def switch_to_mass_storage(self) -> None:
        """Make the camera show its volume to the station."""
        raise UnsupportedOperation(f"{self.name} cameras have no mass-storage switch")

    @abstractmethod
    def close(self) -> None:
        """Release the device. Never raises."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def offers_mass_storage(device: usb.core.Device) -> bool:
    """Whether the device's first configuration has a mass-storage interface (descriptors
    only: no transfer to the camera)."""
    try:
        return any(intf.bInterfaceClass == CLASS_MASS_STORAGE for intf in device[0])
    except (usb.core.USBError, IndexError):
        return False


class UsbBulkChannel:
    """A pair of bulk endpoints of one camera, with a timeout on every transfer.

    pyusb claims the endpoints' interface on first use; `close` releases it and the handle.
    """

    def __init__(
        self, device: usb.core.Device, *, out_ep: int, in_ep: int, timeout_ms: int, what: str
    ) -> None:
        self._device = device
        self._out = out_ep
        self._in = in_ep
        self._timeout_ms = timeout_ms
        self.what = what
        self._configured = False

    def write(self, data: bytes) -> None:
        self._ensure_configured()
        try:
            written = self._device.write(self._out, data, self._timeout_ms)
        except usb.core.USBError as exc:
            raise translate_usb_error(exc, f"{self.what}: sending a command") from exc
        except ValueError as exc:  # pyusb: the camera has no such endpoint
            raise ProtocolError(f"{self.what}: no bulk endpoint {self._out:#04x}") from exc
        if written != len(data):
            raise DeviceError(f"{self.what}: sent {written} of {len(data)} bytes")

    def read(self, size: int) -> bytes:
        self._ensure_configured()
        try:
            return bytes(self._device.read(self._in, size, self._timeout_ms))
        except usb.core.USBError as exc:
            raise translate_usb_error(exc, f"{self.what}: reading the answer") from exc
        except ValueError as exc:
            raise ProtocolError(f"{self.what}: no bulk endpoint {self._in:#04x}") from exc

    def close(self) -> None:
        with contextlib.suppress(usb.core.USBError):  # the device is gone: nothing to release
            usb.util.dispose_resources(self._device)

    def _ensure_configured(self) -> None:
        if self._configured:
            return
        try:
            try:
                self._device.get_active_configuration()
            except usb.core.USBError:
                self._device.set_configuration()  # unconfigured: take the first one
        except usb.core.USBError as exc:
            raise translate_usb_error(exc, f"{self.what}: configuring the device") from exc
        self._configured = True
