"""A pyusb backend with emulated devices, so the real pyusb code runs without USB hardware.

`EmulatedUsbBackend` implements pyusb's `usb.backend.IBackend`: `usb.core.find(backend=...)`,
`usb.util.get_string`, `dev.write`/`dev.read` and `dev.ctrl_transfer` all run pyusb's own code
down to the backend, where `EmulatedDevice` objects answer instead of libusb. Cameras that speak
a protocol live in `simulation.emulated_cameras`.

What is emulated: descriptors (device, one configuration, interfaces, endpoints), standard
GET_DESCRIPTOR control requests (device and string descriptors), bulk transfers, handles and
interface claims (counted, so tests can check that nothing is left open), unplugging, and
timeouts (raised at once as libusb would after the timeout, so tests stay fast; the timeout
the caller asked for is recorded). Not emulated: isochronous/interrupt transfers, alternate
settings beyond 0, more than one configuration, kernel drivers (never active).
"""

from __future__ import annotations

import array
import errno
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import usb.backend
import usb.core
import usb.util

from devices.usb_enum import CLASS_MASS_STORAGE

BULK = usb.util.ENDPOINT_TYPE_BULK
_GET_DESCRIPTOR = 0x06
_LANGID_EN_US = 0x0409
_SPEED_HIGH = 3  # libusb's LIBUSB_SPEED_HIGH (480 Mbit/s), as pyusb reports it


@dataclass(frozen=True)
class EndpointSpec:
    address: int  # bit 7 set: IN (device to host)
    attributes: int = BULK
    max_packet_size: int = 512


@dataclass(frozen=True)
class InterfaceSpec:
    number: int
    interface_class: int
    subclass: int = 0
    protocol: int = 0
    endpoints: tuple[EndpointSpec, ...] = ()


def mass_storage_interface(number: int, out_ep: int, in_ep: int) -> InterfaceSpec:
    """A USB mass-storage interface (SCSI transparent command set, bulk-only transport)."""
    return InterfaceSpec(
        number, CLASS_MASS_STORAGE, 0x06, 0x50, (EndpointSpec(out_ep), EndpointSpec(in_ep))
    )


class EmulatedDevice:
    """One emulated USB device: its descriptors and strings, and how it answers bulk transfers.

    Subclasses override `bulk_out` (host writes) and `bulk_in` (host reads; return None when
    the device has nothing to send, which the host sees as a timeout). Set `responsive` to
    False to make every bulk transfer time out, as a hung camera does.
    """

    def __init__(
        self,
        *,
        vid: int,
        pid: int,
        interfaces: Iterable[InterfaceSpec],
        serial: str | None = None,
        manufacturer: str | None = None,
        product: str | None = None,
        bcd_device: int = 0x0100,
    ) -> None:
        self.vid = vid
        self.pid = pid
        self.serial = serial
        self.manufacturer = manufacturer
        self.product = product
        self.bcd_device = bcd_device
        self.interfaces: tuple[InterfaceSpec, ...] = tuple(interfaces)
        self.responsive = True
        self.bus: int | None = None  # set when plugged into a backend
        self.address: int | None = None
        self.last_timeout_ms: int | None = None

    def bulk_out(self, endpoint: int, data: bytes) -> None:
        raise usb.core.USBError("Pipe error", errno=errno.EPIPE)

    def bulk_in(self, endpoint: int, size: int) -> bytes | None:
        raise usb.core.USBError("Pipe error", errno=errno.EPIPE)

    def strings(self) -> list[str | None]:
        """String descriptors by index - 1 (0 is the language table)."""
        return [self.manufacturer, self.product, self.serial]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.vid:04x}:{self.pid:04x} serial={self.serial!r}>"


@dataclass
class _Descriptor:
    """Attributes pyusb copies from a backend descriptor (named as in the USB spec)."""

    bLength: int
    bDescriptorType: int
    extra_descriptors: list[int] = field(default_factory=list)


@dataclass
class _DeviceDescriptor(_Descriptor):
    bcdUSB: int = 0x0200
    bDeviceClass: int = 0
    bDeviceSubClass: int = 0
    bDeviceProtocol: int = 0
    bMaxPacketSize0: int = 64
    idVendor: int = 0
    idProduct: int = 0
    bcdDevice: int = 0
    iManufacturer: int = 0
    iProduct: int = 0
    iSerialNumber: int = 0
    bNumConfigurations: int = 1
    bus: int | None = None
    address: int | None = None
    port_number: int | None = None
    port_numbers: tuple[int, ...] | None = None
    speed: int | None = _SPEED_HIGH


@dataclass
class _ConfigurationDescriptor(_Descriptor):
    wTotalLength: int = 0
    bNumInterfaces: int = 0
    bConfigurationValue: int = 1
    iConfiguration: int = 0
    bmAttributes: int = 0x80  # bus powered
    bMaxPower: int = 250  # 500 mA


@dataclass
class _InterfaceDescriptor(_Descriptor):
    bInterfaceNumber: int = 0
    bAlternateSetting: int = 0
    bNumEndpoints: int = 0
    bInterfaceClass: int = 0
    bInterfaceSubClass: int = 0
    bInterfaceProtocol: int = 0
    iInterface: int = 0


@dataclass
class _EndpointDescriptor(_Descriptor):
    bEndpointAddress: int = 0
    bmAttributes: int = BULK
    wMaxPacketSize: int = 512
    bInterval: int = 0
    bRefresh: int = 0
    bSynchAddress: int = 0


@dataclass(eq=False)
class _Handle:
    device: EmulatedDevice
    claimed: set[int] = field(default_factory=set)


class EmulatedUsbBackend(usb.backend.IBackend):
    """A pyusb backend whose devices are `EmulatedDevice` objects. Thread-safe.

    `plug()`/`unplug()` change what is connected; `open_handles` and `claimed_interfaces`
    let tests check that callers released what they opened.
    """

    def __init__(self, devices: Iterable[EmulatedDevice] = ()) -> None:
        self._lock = threading.RLock()
        self._devices: list[EmulatedDevice] = []
        self._handles: set[_Handle] = set()
        self._next_address = 2  # 1 is the root hub's
        for device in devices:
            self.plug(device)

    # -- what tests and the simulator use ------------------------------------------------

    def plug(self, device: EmulatedDevice) -> EmulatedDevice:
        with self._lock:
            device.bus, device.address = 1, self._next_address
            self._next_address += 1
            self._devices.append(device)
        return device

    def unplug(self, device: EmulatedDevice) -> None:
        with self._lock:
            self._devices.remove(device)

    @property
    def devices(self) -> tuple[EmulatedDevice, ...]:
        with self._lock:
            return tuple(self._devices)

    @property
    def open_handles(self) -> int:
        with self._lock:
            return len(self._handles)

    @property
    def claimed_interfaces(self) -> int:
        with self._lock:
            return sum(len(h.claimed) for h in self._handles)

    # -- IBackend: descriptors -----------------------------------------------------------

    def enumerate_devices(self) -> list[EmulatedDevice]:
        return list(self.devices)

    def get_parent(self, dev: EmulatedDevice) -> None:
        return None  # the root hub is not emulated

    def get_device_descriptor(self, dev: EmulatedDevice) -> _DeviceDescriptor:
        strings = dev.strings()
        return _DeviceDescriptor(
            bLength=18,
            bDescriptorType=usb.util.DESC_TYPE_DEVICE,
            idVendor=dev.vid,
            idProduct=dev.pid,
            bcdDevice=dev.bcd_device,
            iManufacturer=1 if strings[0] is not None else 0,
            iProduct=2 if strings[1] is not None else 0,
            iSerialNumber=3 if strings[2] is not None else 0,
            bus=dev.bus,
            address=dev.address,
            port_number=dev.address,
            port_numbers=(dev.address,) if dev.address is not None else None,
        )

    def get_configuration_descriptor(
        self, dev: EmulatedDevice, config: int
    ) -> _ConfigurationDescriptor:
        if config != 0:
            raise IndexError(f"configuration {config} out of range")
        return _ConfigurationDescriptor(
            bLength=9,
            bDescriptorType=usb.util.DESC_TYPE_CONFIG,
            wTotalLength=9 + sum(9 + 7 * len(i.endpoints) for i in dev.interfaces),
            bNumInterfaces=len(dev.interfaces),
        )

    def get_interface_descriptor(
        self, dev: EmulatedDevice, intf: int, alt: int, config: int
    ) -> _InterfaceDescriptor:
        spec = self._interface(dev, intf, alt, config)
        return _InterfaceDescriptor(
            bLength=9,
            bDescriptorType=usb.util.DESC_TYPE_INTERFACE,
            bInterfaceNumber=spec.number,
            bNumEndpoints=len(spec.endpoints),
            bInterfaceClass=spec.interface_class,
            bInterfaceSubClass=spec.subclass,
            bInterfaceProtocol=spec.protocol,
        )

    def get_endpoint_descriptor(
        self, dev: EmulatedDevice, ep: int, intf: int, alt: int, config: int
    ) -> _EndpointDescriptor:
        endpoints = self._interface(dev, intf, alt, config).endpoints
        if not 0 <= ep < len(endpoints):
            raise IndexError(f"endpoint {ep} out of range")
        spec = endpoints[ep]
        return _EndpointDescriptor(
            bLength=7,
            bDescriptorType=usb.util.DESC_TYPE_ENDPOINT,
            bEndpointAddress=spec.address,
            bmAttributes=spec.attributes,
            wMaxPacketSize=spec.max_packet_size,
        )

    # -- IBackend: handles and configuration ---------------------------------------------

    def open_device(self, dev: EmulatedDevice) -> _Handle:
        with self._lock:
            self._check_present(dev)
            handle = _Handle(dev)
            self._handles.add(handle)
            return handle

    def close_device(self, dev_handle: _Handle) -> None:
        with self._lock:
            self._handles.discard(dev_handle)

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        self._check_present(dev_handle.device)
        if config_value not in (0, 1):
            raise usb.core.USBError("Entity not found", errno=errno.ENOENT)

    def get_configuration(self, dev_handle: _Handle) -> int:
        self._check_present(dev_handle.device)
        return 1  # configured by the host at enumeration, as Linux does

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._interface(dev_handle.device, intf, altsetting, 0)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        with self._lock:
            self._check_present(dev_handle.device)
            if not any(i.number == intf for i in dev_handle.device.interfaces):
                raise usb.core.USBError("Entity not found", errno=errno.ENOENT)
            dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        with self._lock:
            dev_handle.claimed.discard(intf)

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._check_present(dev_handle.device)

    def reset_device(self, dev_handle: _Handle) -> None:
        self._check_present(dev_handle.device)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return False

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        return None

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        return None

    # -- IBackend: transfers -------------------------------------------------------------

    def bulk_write(
        self, dev_handle: _Handle, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        device = self._ready(dev_handle, intf, timeout)
        device.bulk_out(ep, data.tobytes())
        return len(data) * data.itemsize

    def bulk_read(
        self, dev_handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        device = self._ready(dev_handle, intf, timeout)
        answer = device.bulk_in(ep, len(buff))
        if answer is None:
            raise _timeout()
        answer = answer[: len(buff)]
        buff[: len(answer)] = array.array("B", answer)
        return len(answer)

    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        device = dev_handle.device
        self._check_present(device)
        device.last_timeout_ms = timeout
        standard_in = usb.util.build_request_type(
            usb.util.CTRL_IN, usb.util.CTRL_TYPE_STANDARD, usb.util.CTRL_RECIPIENT_DEVICE
        )
        if (bmRequestType, bRequest) != (standard_in, _GET_DESCRIPTOR):
            raise usb.core.USBError("Pipe error", errno=errno.EPIPE)  # a stall: unsupported
        descriptor = self._descriptor_bytes(device, wValue >> 8, wValue & 0xFF, wIndex)
        answer = descriptor[: len(data)]
        data[: len(answer)] = array.array("B", answer)
        return len(answer)

    # -- helpers -------------------------------------------------------------------------

    def _descriptor_bytes(
        self, device: EmulatedDevice, kind: int, index: int, langid: int
    ) -> bytes:
        if kind == usb.util.DESC_TYPE_DEVICE:
            d = self.get_device_descriptor(device)
            return bytes(
                [18, 1, 0x00, 0x02, 0, 0, 0, 64]
                + list(device.vid.to_bytes(2, "little"))
                + list(device.pid.to_bytes(2, "little"))
                + list(device.bcd_device.to_bytes(2, "little"))
                + [d.iManufacturer, d.iProduct, d.iSerialNumber, 1]
            )
        if kind == usb.util.DESC_TYPE_STRING:
            if index == 0:
                return bytes([4, usb.util.DESC_TYPE_STRING]) + _LANGID_EN_US.to_bytes(2, "little")
            strings = device.strings()
            if langid != _LANGID_EN_US or index > len(strings) or strings[index - 1] is None:
                raise usb.core.USBError("Pipe error", errno=errno.EPIPE)
            encoded = str(strings[index - 1]).encode("utf-16-le")[:252]
            return bytes([2 + len(encoded), usb.util.DESC_TYPE_STRING]) + encoded
        raise usb.core.USBError("Pipe error", errno=errno.EPIPE)

    def _interface(self, dev: EmulatedDevice, intf: int, alt: int, config: int) -> InterfaceSpec:
        # pyusb iterates alternate settings until IndexError, as libusb's backend raises.
        if config != 0 or alt != 0 or not 0 <= intf < len(dev.interfaces):
            raise IndexError(f"interface ({intf}, {alt}) of configuration {config} out of range")
        return dev.interfaces[intf]

    def _check_present(self, dev: EmulatedDevice) -> None:
        with self._lock:
            if dev not in self._devices:
                raise usb.core.USBError(
                    "No such device (it may have been disconnected)", errno=errno.ENODEV
                )

    def _ready(self, dev_handle: _Handle, intf: int, timeout: int) -> EmulatedDevice:
        device = dev_handle.device
        self._check_present(device)
        device.last_timeout_ms = timeout
        if intf not in dev_handle.claimed:
            raise usb.core.USBError("Resource busy (interface not claimed)", errno=errno.EBUSY)
        if not device.responsive:
            raise _timeout()
        return device


def _timeout() -> usb.core.USBTimeoutError:
    return usb.core.USBTimeoutError("Operation timed out", error_code=-7, errno=errno.ETIMEDOUT)
