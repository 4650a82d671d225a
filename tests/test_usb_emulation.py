"""The emulated pyusb backend under pyusb's own code: find, descriptors, strings, transfers."""

from __future__ import annotations

import errno

import pytest
import usb.core
import usb.util

from devices.usb_enum import (
    CLASS_MASS_STORAGE,
    UsbIdentity,
    find_usb_device,
    list_usb_devices,
    system_backend,
)
from simulation.emulated_cameras import EmulatedAmbarellaCamera, EmulatedMassStorageCamera
from simulation.emulated_usb import EmulatedUsbBackend


@pytest.fixture
def amba() -> EmulatedAmbarellaCamera:
    return EmulatedAmbarellaCamera(serial="AMBA0042")


@pytest.fixture
def backend(amba: EmulatedAmbarellaCamera) -> EmulatedUsbBackend:
    return EmulatedUsbBackend([amba, EmulatedMassStorageCamera(serial="MSC7")])


def _find(backend: EmulatedUsbBackend, **match: int) -> usb.core.Device:
    device = usb.core.find(backend=backend, **match)
    assert isinstance(device, usb.core.Device)
    return device


def test_find_matches_descriptor_fields_through_pyusb(backend: EmulatedUsbBackend) -> None:
    device = _find(backend, idVendor=0x4255, idProduct=0x0001)
    assert (device.bLength, device.bcdUSB, device.bNumConfigurations) == (18, 0x0200, 1)
    assert (device.bus, device.address) == (1, 2)
    assert usb.core.find(backend=backend, idVendor=0xDEAD) is None
    everything = list(usb.core.find(find_all=True, backend=backend))
    assert [d.idVendor for d in everything] == [0x4255, 0x1209]
    storage_only = usb.core.find(
        find_all=True,
        backend=backend,
        custom_match=lambda d: (
            usb.util.find_descriptor(d[0], bInterfaceClass=CLASS_MASS_STORAGE) is not None
        ),
    )
    assert [d.idVendor for d in storage_only] == [0x1209]


def test_string_descriptors_are_read_with_get_descriptor(backend: EmulatedUsbBackend) -> None:
    device = _find(backend, idVendor=0x4255)
    assert device.langids == (0x0409,)
    assert usb.util.get_string(device, device.iSerialNumber) == "AMBA0042"
    assert (device.manufacturer, device.product) == ("Ambarella", "Law Enforcement Recorder")
    raw = device.ctrl_transfer(0x80, 0x06, usb.util.DESC_TYPE_DEVICE << 8, 0, 18)
    assert bytes(raw[8:12]) == bytes([0x55, 0x42, 0x01, 0x00])  # idVendor, idProduct LE
    usb.util.dispose_resources(device)
    assert backend.open_handles == 0


def test_a_device_without_serial_has_no_serial_string() -> None:
    backend = EmulatedUsbBackend([EmulatedMassStorageCamera(serial=None)])
    device = _find(backend)
    assert device.iSerialNumber == 0
    assert usb.util.get_string(device, device.iSerialNumber) is None


def test_unsupported_control_requests_stall(backend: EmulatedUsbBackend) -> None:
    device = _find(backend, idVendor=0x4255)
    with pytest.raises(usb.core.USBError) as stalled:
        device.ctrl_transfer(0xC0, 0x42, 0, 0, 8)  # a vendor request nobody answers
    assert stalled.value.errno == errno.EPIPE
    usb.util.dispose_resources(device)


def test_configuration_interfaces_and_endpoints_iterate(backend: EmulatedUsbBackend) -> None:
    device = _find(backend, idVendor=0x4255)
    interface = device.get_active_configuration()[(0, 0)]
    assert interface.bInterfaceClass == 0xFF
    out_ep = usb.util.find_descriptor(
        interface,
        custom_match=lambda e: (
            usb.util.endpoint_direction(e.bEndpointAddress) == usb.util.ENDPOINT_OUT
        ),
    )
    assert out_ep is not None
    assert (out_ep.bEndpointAddress, usb.util.endpoint_type(out_ep.bmAttributes)) == (
        0x01,
        usb.util.ENDPOINT_TYPE_BULK,
    )
    assert [e.bEndpointAddress for e in interface] == [0x01, 0x81]
    usb.util.dispose_resources(device)


def test_bulk_write_and_read_claim_the_interface_and_release_it(
    backend: EmulatedUsbBackend, amba: EmulatedAmbarellaCamera
) -> None:
    device = _find(backend, idVendor=0x4255)
    assert device.write(0x01, b"@Ver;8;00000000;#", 500) == 17
    assert backend.claimed_interfaces == 1
    # A short read gets the first bytes; the rest comes with the next read, as packets do.
    first = device.read(0x81, 4, 500)
    rest = device.read(0x81, 64, 500)
    assert bytes(first + rest) == b"@Ver;OK;#"
    assert amba.last_timeout_ms == 500
    usb.util.dispose_resources(device)
    assert (backend.open_handles, backend.claimed_interfaces) == (0, 0)


def test_a_device_that_does_not_answer_times_out(
    backend: EmulatedUsbBackend, amba: EmulatedAmbarellaCamera
) -> None:
    device = _find(backend, idVendor=0x4255)
    with pytest.raises(usb.core.USBTimeoutError):
        device.read(0x81, 64, 250)  # nothing was asked: nothing to read
    amba.responsive = False
    with pytest.raises(usb.core.USBTimeoutError):
        device.write(0x01, b"@Ver;8;00000000;#", 300)
    assert amba.last_timeout_ms == 300
    usb.util.dispose_resources(device)


def test_an_unplugged_device_is_gone(
    backend: EmulatedUsbBackend, amba: EmulatedAmbarellaCamera
) -> None:
    device = _find(backend, idVendor=0x4255)
    backend.unplug(amba)
    with pytest.raises(usb.core.USBError) as gone:
        device.write(0x01, b"@Ver;8;00000000;#", 100)
    assert gone.value.errno == errno.ENODEV
    assert usb.core.find(backend=backend, idVendor=0x4255) is None
    usb.util.dispose_resources(device)


def test_list_usb_devices_reads_identities_and_releases_handles(
    backend: EmulatedUsbBackend,
) -> None:
    assert list_usb_devices(backend) == [
        UsbIdentity(0x4255, 0x0001, "AMBA0042", "Ambarella", "Law Enforcement Recorder", 1, 2),
        UsbIdentity(0x1209, 0x0002, "MSC7", "Generic", "Body Camera Storage", 1, 3),
    ]
    assert backend.open_handles == 0
    list_usb_devices(backend, timeout_ms=123)
    assert {d.last_timeout_ms for d in backend.devices} == {123}  # strings read with it


def test_find_usb_device_matches_serial_or_bus_address(backend: EmulatedUsbBackend) -> None:
    by_serial = find_usb_device(UsbIdentity(0x1209, 0x0002, "MSC7"), backend)
    assert by_serial is not None and by_serial[1].serial == "MSC7"
    by_address = find_usb_device(UsbIdentity(0x1209, 0x0002, None, bus=1, address=3), backend)
    assert by_address is not None and by_address[0].idProduct == 0x0002
    assert find_usb_device(UsbIdentity(0x1209, 0x0002, "OTHER"), backend) is None
    assert find_usb_device(UsbIdentity(0x1209, 0x0002, None), backend) is None  # nothing to match


def test_the_system_usb_library_lists_without_failing() -> None:
    # The real libusb path (Debian's libusb-1.0-0 when installed; without it, no devices):
    # there is no USB hardware on this machine kind, and no camera in any case.
    devices = list_usb_devices(system_backend())
    assert all(d.vid != 0x4255 for d in devices)
