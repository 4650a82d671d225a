"""Camera adapters over the emulated cameras, through pyusb: Ambarella ASCII, GA/T 947, registry."""

from __future__ import annotations

import logging
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import usb.core

from devices.adapters import AdapterOptions, AdapterRegistry, CameraAdapter, CameraInfo
from devices.adapters.ambarella import AmbarellaAdapter, command, parse_answer
from devices.adapters.gat947 import ZfyInfo, check_password
from devices.adapters.registry import ENTRY_POINT_GROUP, default_registry, load_registry
from devices.errors import DeviceError, DeviceTimeout, ProtocolError
from simulation.emulated_cameras import (
    EmulatedAmbarellaCamera,
    EmulatedCamera,
    EmulatedGat947Camera,
    emulation_registry,
)
from simulation.emulated_usb import EmulatedUsbBackend
from simulation.gat947_emulated import EmulatedGat947Adapter

STATION_NOW = datetime(2026, 11, 27, 6, 0, 0, tzinfo=UTC)  # 14:00 in Shanghai


def _device(backend: EmulatedUsbBackend, vid: int) -> usb.core.Device:
    device = usb.core.find(backend=backend, idVendor=vid)
    assert isinstance(device, usb.core.Device)
    return device


# -- Ambarella ---------------------------------------------------------------------------


def test_ambarella_commands_are_the_documented_ascii() -> None:
    assert command("Ver", "00000000") == b"@Ver;8;00000000;#"
    assert command("Sdt", "20261127") == b"@Sdt;8;20261127;#"
    assert command("Stm", "14000000", length=6) == b"@Stm;6;14000000;#"
    assert command("Gdv", "12345678") == b"@Gdv;8;12345678;#"
    assert command("ATH", "12345678") == b"@ATH;8;12345678;#"
    with pytest.raises(ValueError):
        command("Gdv", "12;#4")  # a password must not break the framing


def test_ambarella_answers_are_parsed_and_refusals_raise() -> None:
    assert parse_answer(b"@Ver;OK;#", "Ver") == ["OK"]
    assert parse_answer(b"@Gdv;20;13010000001510000001#\x00\x00", "Gdv") == [
        "20",
        "13010000001510000001",
    ]
    with pytest.raises(ProtocolError, match="refused"):
        parse_answer(b"@Gdv;ERROR;#", "Gdv")
    with pytest.raises(ProtocolError, match="another command"):
        parse_answer(b"@Ver;OK;#", "Gdv")
    with pytest.raises(ProtocolError, match="malformed"):
        parse_answer(b"Ver OK", "Ver")


def test_ambarella_adapter_logs_in_reads_id_and_clock() -> None:
    camera = EmulatedAmbarellaCamera(
        device_id="13010000001510000007",
        clock_offset=timedelta(seconds=-95),
        station_clock=lambda: STATION_NOW,
    )
    backend = EmulatedUsbBackend([camera])
    with AmbarellaAdapter.open(_device(backend, 0x4255), AdapterOptions()) as adapter:
        assert camera.logged_in and camera.commands == ["@Ver;8;00000000;#"]
        assert adapter.read_info() == CameraInfo(device_id="13010000001510000007")
        # Local (Shanghai) time, 95 s behind the station.
        assert adapter.read_clock() == datetime(2026, 11, 27, 13, 58, 25)
    assert camera.commands[1:] == ["@Gdv;8;12345678;#", "@Gdt;8;00000000;#"]
    assert (backend.open_handles, backend.claimed_interfaces) == (0, 0)


def test_ambarella_set_clock_sends_date_then_time_from_one_instant() -> None:
    camera = EmulatedAmbarellaCamera(
        clock_offset=timedelta(days=-400), station_clock=lambda: STATION_NOW
    )
    backend = EmulatedUsbBackend([camera])
    with AmbarellaAdapter.open(_device(backend, 0x4255), AdapterOptions()) as adapter:
        adapter.set_clock(datetime(2026, 11, 27, 14, 0, 0, 999))
    assert camera.commands[-2:] == ["@Sdt;8;20261127;#", "@Stm;6;14000000;#"]
    assert camera.local_time() == datetime(2026, 11, 27, 14, 0, 0)


def test_ambarella_switch_to_mass_storage_shows_the_volume() -> None:
    mounted: list[EmulatedCamera] = []
    camera = EmulatedAmbarellaCamera(on_mass_storage=mounted.append)
    backend = EmulatedUsbBackend([camera])
    device = _device(backend, 0x4255)
    assert AmbarellaAdapter.needs_preparation(device)
    with AmbarellaAdapter.open(device, AdapterOptions()) as adapter:
        adapter.switch_to_mass_storage()
    assert camera.mass_storage and mounted == [camera]
    assert not AmbarellaAdapter.needs_preparation(_device(backend, 0x4255))


def test_ambarella_wrong_password_is_a_protocol_error_and_nothing_switches() -> None:
    mounted: list[EmulatedCamera] = []
    camera = EmulatedAmbarellaCamera(password="87654321", on_mass_storage=mounted.append)
    backend = EmulatedUsbBackend([camera])
    with AmbarellaAdapter.open(_device(backend, 0x4255), AdapterOptions()) as adapter:
        with pytest.raises(ProtocolError, match="refused"):
            adapter.read_info()
        with pytest.raises(ProtocolError):
            adapter.switch_to_mass_storage()
    assert not camera.mass_storage and mounted == []
    # With the unit's password configured, it works.
    options = AdapterOptions(passwords={"ambarella": "87654321"})
    with AmbarellaAdapter.open(_device(backend, 0x4255), options) as adapter:
        adapter.switch_to_mass_storage()
    assert camera.mass_storage


def test_ambarella_camera_without_clock_command_refuses_the_read() -> None:
    backend = EmulatedUsbBackend([EmulatedAmbarellaCamera(knows_clock=False)])
    with (
        AmbarellaAdapter.open(_device(backend, 0x4255), AdapterOptions()) as adapter,
        pytest.raises(ProtocolError),
    ):
        adapter.read_clock()


def test_a_camera_that_does_not_answer_times_out_with_the_configured_timeout() -> None:
    camera = EmulatedAmbarellaCamera()
    camera.responsive = False
    backend = EmulatedUsbBackend([camera])
    with pytest.raises(DeviceTimeout, match="did not answer"):
        AmbarellaAdapter.open(_device(backend, 0x4255), AdapterOptions(timeout_ms=150))
    assert camera.last_timeout_ms == 150
    assert (backend.open_handles, backend.claimed_interfaces) == (0, 0)


def test_a_camera_unplugged_mid_session_is_a_device_error_not_a_timeout() -> None:
    camera = EmulatedAmbarellaCamera()
    backend = EmulatedUsbBackend([camera])
    with AmbarellaAdapter.open(_device(backend, 0x4255), AdapterOptions()) as adapter:
        backend.unplug(camera)
        with pytest.raises(DeviceError, match="gone") as raised:
            adapter.read_info()
    assert not isinstance(raised.value, DeviceTimeout)
    assert isinstance(raised.value.__cause__, usb.core.USBError)


# -- GA/T 947 ----------------------------------------------------------------------------


def test_zfy_record_is_fixed_width_gbk() -> None:
    info = ZfyInfo("A000001", "010001", "张三", "130100000000", "石家庄市公安局")
    raw = info.to_bytes()
    assert len(raw) == 8 + 7 + 33 + 13 + 33
    assert raw[15:19] == "张三".encode("gbk") and raw[19] == 0
    assert ZfyInfo.from_bytes(raw) == info
    with pytest.raises(ValueError, match="at most 6"):
        ZfyInfo("A000001", "0100011", "张三", "1", "x").to_bytes()
    with pytest.raises(ProtocolError):
        ZfyInfo.from_bytes(raw[:40])
    with pytest.raises(ValueError):
        check_password("12345")


def test_gat947_adapter_reads_officer_and_unit_through_the_sdk() -> None:
    camera = EmulatedGat947Camera(station_clock=lambda: STATION_NOW, battery_percent=64)
    backend = EmulatedUsbBackend([camera])
    with EmulatedGat947Adapter.open(_device(backend, 0x1209), AdapterOptions()) as adapter:
        assert adapter.read_info() == CameraInfo(
            device_id="A000001",
            officer_id="010001",
            officer_name="张三",
            unit_code="130100000000",
            unit_name="石家庄市公安局",
            model_code="ZFY01",
        )
        assert adapter.battery_percent() == 64
        assert adapter.read_clock() == datetime(2026, 11, 27, 14, 0, 0)
    assert (backend.open_handles, backend.claimed_interfaces) == (0, 0)


def test_gat947_adapter_writes_zfy_syncs_time_and_switches() -> None:
    mounted: list[EmulatedCamera] = []
    camera = EmulatedGat947Camera(
        clock_offset=timedelta(hours=-3),
        station_clock=lambda: STATION_NOW,
        on_mass_storage=mounted.append,
    )
    backend = EmulatedUsbBackend([camera])
    new_owner = ZfyInfo("A000001", "020002", "李四", "130100000000", "石家庄市公安局")
    with EmulatedGat947Adapter.open(_device(backend, 0x1209), AdapterOptions()) as adapter:
        adapter.write_zfy_info(new_owner)
        adapter.set_clock(datetime(2026, 11, 27, 14, 0, 0, 500))
        adapter.switch_to_mass_storage()
    assert camera.zfy == new_owner
    assert camera.clock_sets == [datetime(2026, 11, 27, 14, 0, 0)]
    assert camera.local_time() == datetime(2026, 11, 27, 14, 0, 0)
    assert mounted == [camera]


def test_gat947_wrong_password_is_refused_and_names_the_remedy() -> None:
    backend = EmulatedUsbBackend([EmulatedGat947Camera(password="246810")])
    device = _device(backend, 0x1209)
    with (
        EmulatedGat947Adapter.open(device, AdapterOptions()) as adapter,
        pytest.raises(ProtocolError, match="password"),
    ):
        adapter.read_info()
    options = AdapterOptions(passwords={"gat947-emulated": "246810"})
    with EmulatedGat947Adapter.open(device, options) as adapter:
        assert adapter.read_info().officer_id == "010001"


# -- registry ----------------------------------------------------------------------------


def test_registry_finds_adapters_by_vid_pid_and_refuses_clashes() -> None:
    registry = AdapterRegistry([AmbarellaAdapter])
    assert registry.lookup(0x4255, 0x0001) is AmbarellaAdapter
    assert registry.lookup(0x1209, 0x0947) is None

    class OtherAmbarella(AmbarellaAdapter):
        name = "other"

    with pytest.raises(ValueError, match="already served"):
        registry.register(OtherAmbarella)
    assert registry.with_adapters(OtherAmbarella).lookup(0x4255, 0x0001) is OtherAmbarella
    assert registry.lookup(0x4255, 0x0001) is AmbarellaAdapter  # the copy changed, not this


def test_default_registry_has_ambarella_but_not_the_emulated_gat947() -> None:
    assert default_registry().lookup(0x4255, 0x0001) is AmbarellaAdapter
    assert default_registry().lookup(0x1209, 0x0947) is None
    assert emulation_registry().lookup(0x1209, 0x0947) is EmulatedGat947Adapter


def _install_plugin(site: Path, dist: str, entry_points: dict[str, str], module: str) -> None:
    """A real installed distribution (dist-info with entry_points.txt) on a sys.path entry."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    (site / f"{dist}.py").write_text(textwrap.dedent(module))


def test_plugins_load_from_entry_points_and_a_broken_one_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_plugin(
        tmp_path,
        "acme_zfy",
        {"acme": "acme_zfy:AcmeAdapter", "broken": "acme_zfy:Missing"},
        """
        from simulation.gat947_emulated import EmulatedGat947Adapter
        from devices.adapters.ambarella import AmbarellaAdapter

        class AcmeAdapter(EmulatedGat947Adapter):
            name = "acme"
            usb_ids = frozenset({(0x1234, 0x0001), (0x4255, 0x0001)})
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with caplog.at_level(logging.ERROR):
            registry = load_registry()
    finally:
        sys.modules.pop("acme_zfy", None)
    acme = registry.lookup(0x1234, 0x0001)
    assert acme is not None and acme.name == "acme"
    assert issubclass(acme, CameraAdapter)
    assert registry.lookup(0x4255, 0x0001) is acme  # a plug-in may take over a built-in
    assert "acme_zfy:Missing" in caplog.text
