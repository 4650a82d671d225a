"""Who is docked: identify_dock, prepare_camera and the clock offset, on emulated cameras."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

import pytest
import usb.core

from devices.adapters import AdapterOptions, AdapterRegistry, CameraAdapter, CameraInfo
from devices.adapters.ambarella import AmbarellaAdapter
from devices.clock import read_clock_offset, sync_clock
from devices.errors import DeviceError, ProtocolError, UnsupportedOperation
from devices.identify import DockIdentity, find_cameras_to_prepare, identify_dock, prepare_camera
from devices.usb_enum import UsbIdentity
from simulation.emulated_cameras import (
    EmulatedAmbarellaCamera,
    EmulatedCamera,
    EmulatedGat947Camera,
    EmulatedMassStorageCamera,
    emulation_registry,
)
from simulation.emulated_usb import EmulatedDevice, EmulatedUsbBackend
from tests.test_sysfs import FakeSysfs

STATION_NOW = datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC)  # 14:00 in Shanghai


class Dock:
    """An emulated USB bus and a fake sysfs: plug a camera, mount its volume."""

    def __init__(self, base: Path) -> None:
        self.backend = EmulatedUsbBackend()
        self.sysfs = FakeSysfs(base)
        self.media = base / "media"
        self._disks = 0

    def plug(self, camera: EmulatedDevice) -> EmulatedDevice:
        return self.backend.plug(camera)

    def mount(self, camera: EmulatedDevice, label: str) -> Path:
        """Mount the camera's volume at media/<label>, related to it through sysfs."""
        self._disks += 1
        name = "sd" + "bcdefgh"[self._disks - 1]
        identity = UsbIdentity(
            camera.vid, camera.pid, camera.serial, bus=camera.bus, address=camera.address
        )
        _, partition = self.sysfs.add_usb_disk(
            identity,
            name=name,
            minor=16 * self._disks,
            port=f"1-{self._disks + 1}",
            scsi_host=5 + self._disks,
        )
        volume = self.media / label
        volume.mkdir(parents=True)
        self.sysfs.mount(partition, volume, f"/dev/{name}1")
        return volume

    def identify(
        self,
        volume: Path,
        *,
        registry: AdapterRegistry | None = None,
        options: AdapterOptions | None = None,
        prepared: Iterable[DockIdentity] = (),
    ) -> DockIdentity:
        return identify_dock(
            volume,
            backend=self.backend,
            registry=registry or emulation_registry(),
            options=options,
            prepared=prepared,
            sysfs_root=self.sysfs.root,
            mounts_file=self.sysfs.mountinfo,
            now=STATION_NOW,
        )


@pytest.fixture
def dock(tmp_path: Path) -> Dock:
    return Dock(tmp_path)


# -- identify_dock -----------------------------------------------------------------------


def test_a_volume_nothing_relates_is_identified_by_its_folder_name(dock: Dock) -> None:
    volume = dock.media / "ZFY-DEMO-0001"
    volume.mkdir(parents=True)
    assert dock.identify(volume) == DockIdentity(device_serial="ZFY-DEMO-0001", how="volume_name")


def test_plain_mass_storage_is_identified_by_its_usb_serial(dock: Dock) -> None:
    camera = dock.plug(EmulatedMassStorageCamera(serial="MSC0042"))
    volume = dock.mount(camera, "NO NAME")
    identity = dock.identify(volume)
    assert (identity.device_serial, identity.how, identity.adapter) == (
        "MSC0042",
        "usb_serial",
        "generic",
    )
    assert (identity.vid, identity.pid, identity.clock_offset) == (0x1209, 0x0002, None)


def test_mass_storage_without_serial_falls_back_to_the_volume_name(dock: Dock) -> None:
    camera = dock.plug(EmulatedMassStorageCamera(serial=None))
    identity = dock.identify(dock.mount(camera, "CAM-7"))
    assert (identity.device_serial, identity.how, identity.vid) == ("CAM-7", "volume_name", 0x1209)


def test_an_ambarella_camera_tells_its_id_and_clock_offset(dock: Dock) -> None:
    camera = EmulatedAmbarellaCamera(
        device_id="13010000001510000009",
        serial="AMBA0009",
        clock_offset=timedelta(minutes=7, seconds=3),
        station_clock=lambda: STATION_NOW,
    )
    dock.plug(camera)
    camera.switch_to_mass_storage()
    identity = dock.identify(dock.mount(camera, "AMBA"))
    assert identity == DockIdentity(
        device_serial="13010000001510000009",  # its own ID first: cheap models share iSerials
        how="usb_adapter",
        adapter="ambarella",
        device_id="13010000001510000009",
        vid=0x4255,
        pid=0x0001,
        usb_serial="AMBA0009",
        clock_offset=timedelta(minutes=7, seconds=3),
    )
    # Identifying never changes the camera: no clock set, no mode switch.
    assert [c[:4] for c in camera.commands] == ["@Ver", "@Gdv", "@Gdt"]
    assert (dock.backend.open_handles, dock.backend.claimed_interfaces) == (0, 0)


def test_without_usb_serial_the_cameras_own_id_is_the_serial(dock: Dock) -> None:
    camera = dock.plug(EmulatedAmbarellaCamera(serial=None, device_id="13010000001510000077"))
    identity = dock.identify(dock.mount(camera, "AMBA"))  # related by bus and address
    assert (identity.device_serial, identity.usb_serial, identity.how) == (
        "13010000001510000077",
        None,
        "usb_adapter",
    )


@pytest.mark.parametrize("shared", ["0123456789ABCDEF", "000000000000", " ", "FFFFFFFF", "1234"])
def test_a_usb_serial_that_says_nothing_is_not_an_identity(dock: Dock, shared: str) -> None:
    camera = dock.plug(EmulatedMassStorageCamera(serial=shared))
    identity = dock.identify(dock.mount(camera, "2A1F-0C3D"))
    assert (identity.device_serial, identity.how, identity.ambiguous) == (
        "2A1F-0C3D",
        "volume_name",
        None,
    )


def test_a_volume_label_many_devices_share_is_an_ambiguous_identity(dock: Dock) -> None:
    camera = dock.plug(EmulatedMassStorageCamera(serial=None))
    identity = dock.identify(dock.mount(camera, "NO NAME"))
    assert (identity.device_serial, identity.how) == ("NO NAME", "volume_name")
    assert identity.ambiguous is not None


def test_a_gat947_camera_tells_officer_and_unit(dock: Dock) -> None:
    camera = EmulatedGat947Camera(
        clock_offset=timedelta(hours=-2), station_clock=lambda: STATION_NOW
    )
    dock.plug(camera)
    identity = dock.identify(dock.mount(camera, "ZFY"))
    assert (identity.how, identity.adapter, identity.device_serial) == (
        "usb_adapter",
        "gat947-emulated",
        "A000001",
    )
    assert (identity.device_id, identity.officer_id, identity.officer_name) == (
        "A000001",
        "010001",
        "张三",
    )
    assert (identity.unit_code, identity.unit_name, identity.model_code) == (
        "130100000000",
        "石家庄市公安局",
        "ZFY01",
    )
    assert identity.clock_offset == timedelta(hours=-2)


def test_a_camera_that_does_not_answer_falls_back_to_its_usb_serial(
    dock: Dock, caplog: pytest.LogCaptureFixture
) -> None:
    camera = EmulatedAmbarellaCamera(serial="AMBA0013")
    dock.plug(camera)
    camera.responsive = False
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        identity = dock.identify(dock.mount(camera, "AMBA"), options=AdapterOptions(timeout_ms=80))
    assert time.monotonic() - started < 2
    assert (identity.device_serial, identity.how, identity.adapter) == (
        "AMBA0013",
        "usb_serial",
        "generic",
    )
    assert camera.last_timeout_ms == 80
    assert "did not answer" in caplog.text
    assert (dock.backend.open_handles, dock.backend.claimed_interfaces) == (0, 0)


def test_a_refused_password_or_a_missing_clock_is_survived(dock: Dock) -> None:
    refusing = EmulatedAmbarellaCamera(serial="AMBA-PW", password="00001111")
    clockless = EmulatedAmbarellaCamera(serial="AMBA-NC", knows_clock=False)
    for camera in (refusing, clockless):
        dock.plug(camera)
    assert dock.identify(dock.mount(refusing, "A")).how == "usb_serial"
    identity = dock.identify(dock.mount(clockless, "B"))
    assert (identity.how, identity.clock_offset) == ("usb_adapter", None)


def test_a_camera_in_sysfs_but_gone_from_usb_keeps_its_sysfs_serial(dock: Dock) -> None:
    camera = EmulatedAmbarellaCamera(serial="AMBA0021")
    dock.plug(camera)
    volume = dock.mount(camera, "AMBA")
    dock.backend.unplug(camera)
    identity = dock.identify(volume)
    assert (identity.device_serial, identity.how, identity.vid) == (
        "AMBA0021",
        "usb_serial",
        0x4255,
    )


class _BuggyAdapter(CameraAdapter):
    name = "buggy"
    usb_ids = frozenset({(0x4255, 0x0001)})

    @classmethod
    def open(cls, device: usb.core.Device, options: AdapterOptions) -> Self:
        return cls()

    def read_info(self) -> CameraInfo:
        raise KeyError("vendor bug")

    def close(self) -> None:
        pass


def test_a_plugin_bug_never_escapes_identify_dock(
    dock: Dock, caplog: pytest.LogCaptureFixture
) -> None:
    camera = dock.plug(EmulatedAmbarellaCamera(serial="AMBA0031"))
    with caplog.at_level(logging.ERROR):
        identity = dock.identify(dock.mount(camera, "A"), registry=AdapterRegistry([_BuggyAdapter]))
    assert identity.how == "usb_serial"
    assert "vendor bug" in caplog.text


def test_the_system_usb_backend_is_used_by_default(dock: Dock) -> None:
    # backend=None: the real libusb path, which finds no camera here, so the sysfs serial serves.
    camera = EmulatedAmbarellaCamera(serial="AMBA0041")
    camera.bus, camera.address = 1, 2
    volume = dock.mount(camera, "A")
    identity = identify_dock(
        volume, sysfs_root=dock.sysfs.root, mounts_file=dock.sysfs.mountinfo, now=STATION_NOW
    )
    assert (identity.device_serial, identity.how) == ("AMBA0041", "usb_serial")


def test_the_caller_may_name_the_usb_device_when_sysfs_cannot(tmp_path: Path) -> None:
    backend = EmulatedUsbBackend([EmulatedAmbarellaCamera(serial="AMBA0051")])
    volume = tmp_path / "ZFY-DEMO-0001"
    volume.mkdir()
    identity = identify_dock(
        volume,
        backend=backend,
        usb_identity=UsbIdentity(0x4255, 0x0001, "AMBA0051"),
        mounts_file=tmp_path / "no-mountinfo",
    )
    assert (identity.how, identity.device_id) == ("usb_adapter", "13010000001510000001")
    assert identity.clock_offset is not None and abs(identity.clock_offset) < timedelta(seconds=2)


# -- preparing cameras that show their volume only after a login -------------------------


def test_prepare_reads_the_offset_before_syncing_and_the_dock_keeps_it(dock: Dock) -> None:
    volumes: list[Path] = []

    def mount(camera: EmulatedCamera) -> None:
        volumes.append(dock.mount(camera, "AMBA"))

    camera = EmulatedAmbarellaCamera(
        serial="AMBA0061",
        clock_offset=timedelta(seconds=95),
        station_clock=lambda: STATION_NOW,
        on_mass_storage=mount,
    )
    dock.plug(camera)
    registry = emulation_registry()
    waiting = find_cameras_to_prepare(backend=dock.backend, registry=registry)
    assert [w.serial for w in waiting] == ["AMBA0061"]

    prepared = prepare_camera(
        waiting[0], backend=dock.backend, registry=registry, sync_time=True, now=STATION_NOW
    )
    assert (prepared.how, prepared.clock_offset, prepared.clock_synced) == (
        "usb_adapter",
        timedelta(seconds=95),
        True,
    )
    assert [c[:4] for c in camera.commands] == ["@Ver", "@Gdv", "@Gdt", "@Sdt", "@Stm", "@ATH"]
    assert camera.local_time() == datetime(2026, 11, 27, 14, 0, 0)  # now in step
    assert find_cameras_to_prepare(backend=dock.backend, registry=registry) == []

    # The volume appeared: the files on it were stamped with the clock 95 s ahead.
    (volume,) = volumes
    assert dock.identify(volume, prepared=[prepared]) == prepared
    assert dock.identify(volume).clock_offset == timedelta(0)  # why `prepared` matters


def test_prepare_a_gat947_camera_without_time_sync(dock: Dock) -> None:
    camera = EmulatedGat947Camera(
        clock_offset=timedelta(minutes=-1), station_clock=lambda: STATION_NOW
    )
    dock.plug(camera)
    (waiting,) = find_cameras_to_prepare(backend=dock.backend, registry=emulation_registry())
    prepared = prepare_camera(waiting, backend=dock.backend, registry=emulation_registry())
    assert camera.mass_storage and camera.clock_sets == []
    assert (prepared.officer_id, prepared.clock_synced) == ("010001", False)


def test_prepare_raises_device_errors_the_agent_can_report(dock: Dock) -> None:
    registry = emulation_registry()
    generic = dock.plug(EmulatedMassStorageCamera(serial="MSC1"))
    with pytest.raises(DeviceError, match="no camera adapter"):
        prepare_camera(
            UsbIdentity(generic.vid, generic.pid, "MSC1"), backend=dock.backend, registry=registry
        )
    with pytest.raises(DeviceError, match="no longer connected"):
        prepare_camera(UsbIdentity(0x4255, 0x0001, "GONE"), backend=dock.backend, registry=registry)
    refusing = dock.plug(EmulatedAmbarellaCamera(serial="AMBA-PW", password="99999999"))
    with pytest.raises(ProtocolError):
        prepare_camera(
            UsbIdentity(0x4255, 0x0001, "AMBA-PW"), backend=dock.backend, registry=registry
        )
    assert isinstance(refusing, EmulatedAmbarellaCamera) and not refusing.mass_storage
    with pytest.raises(DeviceError, match="buggy failed"):
        prepare_camera(
            UsbIdentity(0x4255, 0x0001, "AMBA-PW"),
            backend=dock.backend,
            registry=AdapterRegistry([_BuggyAdapter]),
        )


def test_prepare_switches_even_when_the_clock_cannot_be_read(dock: Dock) -> None:
    camera = dock.plug(EmulatedAmbarellaCamera(serial="AMBA-NC", knows_clock=False))
    prepared = prepare_camera(
        UsbIdentity(0x4255, 0x0001, "AMBA-NC"),
        backend=dock.backend,
        registry=emulation_registry(),
        sync_time=True,
    )
    assert (prepared.clock_offset, prepared.clock_synced) == (None, True)
    assert isinstance(camera, EmulatedAmbarellaCamera) and camera.mass_storage


# -- the clock ---------------------------------------------------------------------------


def _ambarella(backend: EmulatedUsbBackend) -> AmbarellaAdapter:
    device = usb.core.find(backend=backend, idVendor=0x4255)
    assert isinstance(device, usb.core.Device)
    return AmbarellaAdapter.open(device, AdapterOptions())


@pytest.mark.parametrize(
    "offset", [timedelta(0), timedelta(seconds=-95), timedelta(hours=8), timedelta(days=-3650)]
)
def test_clock_offset_is_device_minus_station_in_shanghai_time(offset: timedelta) -> None:
    backend = EmulatedUsbBackend(
        [EmulatedAmbarellaCamera(clock_offset=offset, station_clock=lambda: STATION_NOW)]
    )
    with _ambarella(backend) as adapter:
        assert read_clock_offset(adapter, now=STATION_NOW) == offset


def test_the_station_time_zone_does_not_change_the_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        fixed = EmulatedAmbarellaCamera(station_clock=lambda: STATION_NOW)
        with _ambarella(EmulatedUsbBackend([fixed])) as adapter:
            assert read_clock_offset(adapter, now=STATION_NOW) == timedelta(0)
            assert sync_clock(adapter, now=STATION_NOW) == datetime(2026, 11, 27, 14, 0, 0)
        assert fixed.local_time() == datetime(2026, 11, 27, 14, 0, 0)  # 14:00 Shanghai, not NY
        running = EmulatedAmbarellaCamera(clock_offset=timedelta(minutes=5))
        with _ambarella(EmulatedUsbBackend([running])) as adapter:
            offset = read_clock_offset(adapter)  # the station's own clock
        assert abs(offset - timedelta(minutes=5)) < timedelta(seconds=2)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_clock_needs_an_aware_now_and_a_camera_that_can_tell() -> None:
    backend = EmulatedUsbBackend([EmulatedAmbarellaCamera()])
    with _ambarella(backend) as adapter, pytest.raises(ValueError, match="timezone-aware"):
        read_clock_offset(adapter, now=datetime(2026, 11, 27, 14, 0))

    class NoClock(_BuggyAdapter):
        def read_info(self) -> CameraInfo:
            return CameraInfo()

    with pytest.raises(UnsupportedOperation):
        read_clock_offset(NoClock())


def test_a_camera_clock_is_read_and_set_in_the_station_device_zone(dock: Dock) -> None:
    """STATION_DEVICE_ZONE reaches the clock: a camera kept in UTC is read and set in UTC (read
    in Asia/Shanghai it would seem eight hours slow, and be set eight hours wrong)."""
    camera = EmulatedAmbarellaCamera(
        serial="AMBA0071",
        clock_offset=timedelta(seconds=30),
        station_clock=lambda: STATION_NOW,
        on_mass_storage=lambda c: None,
    )
    camera.zone = UTC
    dock.plug(camera)
    registry = emulation_registry()
    (waiting,) = find_cameras_to_prepare(backend=dock.backend, registry=registry)
    prepared = prepare_camera(
        waiting, backend=dock.backend, registry=registry, sync_time=True, now=STATION_NOW, zone=UTC
    )
    assert prepared.clock_offset == timedelta(seconds=30)
    assert prepared.clock_set_at == STATION_NOW.astimezone(UTC)
    assert camera.local_time() == STATION_NOW.astimezone(UTC).replace(tzinfo=None)
