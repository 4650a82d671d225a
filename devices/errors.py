"""Errors of the device layer. pyusb's USBError is translated into these at the adapter.

Every message names the device (VID:PID, serial or volume) and, where it helps, what the
operator can do (re-dock, check the password, update the vendor plug-in).
"""

from __future__ import annotations

import errno

import usb.core


class DeviceError(Exception):
    """A docked device could not be found, opened or spoken to."""


class DeviceTimeout(DeviceError):
    """The device did not answer within the USB timeout."""


class ProtocolError(DeviceError):
    """The device answered, but not as its protocol says (refused, malformed or unexpected)."""


class UnsupportedOperation(DeviceError):
    """The camera's protocol has no such command (e.g. a clock read on plain mass storage)."""


def translate_usb_error(exc: usb.core.USBError, what: str) -> DeviceError:
    """The DeviceError for a pyusb error met while doing `what` (to `raise ... from exc`)."""
    if isinstance(exc, usb.core.USBTimeoutError) or exc.errno == errno.ETIMEDOUT:
        return DeviceTimeout(f"{what}: the device did not answer in time ({exc.strerror})")
    if exc.errno == errno.ENODEV:
        return DeviceError(f"{what}: the device is gone (undocked?); dock it again")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DeviceError(
            f"{what}: no permission to open the USB device; the station's udev rule must "
            "grant the agent's user access"
        )
    return DeviceError(f"{what}: USB error {exc.strerror or exc}")
