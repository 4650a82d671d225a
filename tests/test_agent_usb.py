"""The station agent, in process, with a camera that shows its volume only after a USB login.

An emulated Ambarella camera (clock 7 minutes fast) sits on an emulated USB bus. The agent's
own loops find it, log in, read its clock offset, set its clock (sync_clock) and switch it to
mass storage; the switch "mounts" its volume under the mount root, related to the USB device
through a fake sysfs and mountinfo. The dock is then identified, imported, registered with the
api and wiped after verify, all through `Agent.run`: every file keeps the offset read before
the sync, and the registry's device and officer.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import station.agent
from api.app import create_app
from api.settings import ApiSettings
from devices.identify import identify_dock
from devices.usb_enum import UsbIdentity
from simulation.emulated_cameras import EmulatedAmbarellaCamera, EmulatedCamera
from simulation.emulated_usb import EmulatedUsbBackend
from station.agent import Agent
from station.api_client import ApiClient
from station.importer import Importer
from station.journal import Journal
from station.settings import StationSettings
from station.status import DockState, StatusBoard
from storage.catalogue.db import session_scope, upgrade
from storage.catalogue.tokens import create_token
from storage.object_store import open_store
from tests.fixtures_media import Clips
from tests.pipelines import pipeline_for
from tests.station_processes import wait_for
from tests.test_sysfs import FakeSysfs

USB_SERIAL = "AMBA0042"
CAMERA_ID = "13010000001510000042"  # the camera's own ID (Gdv)
DEVICE_ID = "BC-0042"  # the registry's
OFFICER_ID = "010042"
FAST = timedelta(minutes=7)
LABEL = "AMBA CAM"  # a volume label with a space: mountinfo escapes it
WAIT_S = 30.0


@dataclass
class Api:
    station: TestClient  # the station's token
    admin: TestClient


@pytest.fixture
def api(tmp_path: Path, local_store_url: str) -> Iterator[Api]:
    database_url = f"sqlite:///{tmp_path / 'catalogue' / 'station.db'}"
    upgrade(database_url)
    with session_scope(database_url) as session:
        station_token = create_token(session, role="station", station_id="st-usb", name="dock-usb")
        admin_token = create_token(session, role="admin", name="admin")
    app = create_app(
        ApiSettings(database_url=database_url, storage_url=local_store_url),
        store=open_store(local_store_url),
    )
    with TestClient(app, headers={"Authorization": f"Bearer {station_token}"}) as http:
        admin = TestClient(app, headers={"Authorization": f"Bearer {admin_token}"})
        yield Api(http, admin)
        admin.close()


def registered(admin: TestClient, n: int) -> list[dict[str, Any]] | None:
    """The camera's `n` footage media once registered (its log is registered too, as other)."""
    every = admin.get("/api/v1/media", params={"limit": 100}).json()["items"]
    items: list[dict[str, Any]] = [m for m in every if m["kind"] != "other"]
    return items if len(items) == n else None


def media_files(volume: Path) -> list[str]:
    return sorted(p.name for p in volume.rglob("*") if p.is_file() and p.suffix != ".log")


def test_a_camera_prepared_over_usb_keeps_its_dock_clock_offset_on_every_file(
    tmp_path: Path,
    api: Api,
    local_store_url: str,
    clips: Clips,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The agent looks for cameras to prepare every USB_EVERY_S (2 s); a shorter period keeps
    # the test quick without changing the code path.
    monkeypatch.setattr(station.agent, "USB_EVERY_S", 0.2)
    base = tmp_path.resolve()  # mountinfo holds real paths
    response = api.admin.put(
        f"/api/v1/devices/{DEVICE_ID}",
        json={
            "kind": "body_camera",
            "serial": CAMERA_ID,  # IT registers the ID the camera tells, not its USB iSerial
            "status": "active",
            "unit_id": "U1",
            "officer_id": OFFICER_ID,
        },
    )
    assert response.status_code == 201, response.text

    mount_root = base / "media"
    mount_root.mkdir()
    volume = mount_root / LABEL
    sysfs = FakeSysfs(base)
    mounted = threading.Event()

    def mount(camera: EmulatedCamera) -> None:
        """The camera switched to mass storage: the kernel sees a disk, it is mounted."""
        if mounted.is_set():
            return
        identity = UsbIdentity(
            camera.vid, camera.pid, camera.serial, bus=camera.bus, address=camera.address
        )
        _, partition = sysfs.add_usb_disk(identity)
        aside = base / "building" / LABEL  # built aside, renamed: the volume appears whole
        (aside / "DCIM" / "100MEDIA").mkdir(parents=True)
        for i in (1, 2):
            clip = aside / "DCIM" / "100MEDIA" / f"V_{i:04d}.MP4"
            shutil.copy(clips.h264_mp4, clip)
            with clip.open("ab") as f:  # distinct bytes, as distinct recordings have
                f.write(i.to_bytes(4, "big"))
        (aside / "RECORD").mkdir()
        shutil.copy(clips.wav, aside / "RECORD" / "R_0001.WAV")
        (aside / "device.log").write_text("power on\n")
        sysfs.mount(partition, volume, "/dev/sdb1")
        os.rename(aside, volume)
        mounted.set()

    camera = EmulatedAmbarellaCamera(
        device_id=CAMERA_ID, serial=USB_SERIAL, clock_offset=FAST, on_mass_storage=mount
    )
    backend = EmulatedUsbBackend([camera])

    settings = StationSettings(
        storage_url=local_store_url,
        api_token="unused",  # the api client below is in-process
        id="st-usb",
        state_dir=base / "state",
        mount_roots=str(mount_root),
        export_dirs="",
        wipe="after_verified",
        import_mode="auto",
        status_port=0,
        settle_s=0.3,
        sync_clock=True,  # the files must keep the offset read before this sync
    )
    board = StatusBoard()
    stop = threading.Event()
    started = time.monotonic()
    with (
        Journal(settings.state_dir / "journal.db") as journal,
        Importer(
            pipeline_for(
                journal,
                settings.state_dir / "staging",
                open_store(local_store_url),
                ApiClient(api.station),
            )
        ) as importer,
    ):
        agent = Agent(
            settings=settings,
            journal=journal,
            importer=importer,
            api=ApiClient(api.station),
            board=board,
            usb_backend=backend,
            identify=functools.partial(
                identify_dock, sysfs_root=sysfs.root, mounts_file=sysfs.mountinfo
            ),
        )
        runner = threading.Thread(target=agent.run, args=(stop,), name="agent under test")
        runner.start()
        try:
            assert mounted.wait(WAIT_S), "the agent never switched the camera to mass storage"
            docks = wait_for(
                "the dock done",
                lambda: [
                    d
                    for d in board.snapshot()
                    if d["dock_id"] == str(volume) and d["state"] is DockState.DONE
                ],
                WAIT_S,
            )
            items = wait_for("3 media registered", lambda: registered(api.admin, 3), WAIT_S)
        finally:
            stop.set()
            runner.join(timeout=20)
        assert not runner.is_alive()
    elapsed = time.monotonic() - started

    # The camera was logged in to, its clock read then set, and it was switched, over USB.
    names = [c.split(";")[0] for c in camera.commands]
    assert names[:1] == ["@Ver"] and camera.logged_in
    assert {"@Gdv", "@Gdt", "@Sdt", "@Stm", "@ATH"} <= set(names)
    assert names.index("@Gdt") < names.index("@Sdt") < names.index("@ATH")
    assert camera.mass_storage and len(camera.interfaces) == 2
    assert camera.clock_sets and abs(camera.clock_offset.total_seconds()) <= 2  # synced
    # The dock took the identity prepared before the switch: nothing more was said to the
    # camera (a fresh read at the dock would have found the synced clock, offset ~0).
    assert names[-1] == "@ATH"
    assert backend.open_handles == 0 and backend.claimed_interfaces == 0

    # The dock: identified through the adapter, registered, wiped.
    (dock,) = docks
    assert dock["identified_by"] == "usb_adapter"
    assert (dock["device_serial"], dock["device_id"], dock["officer_id"]) == (
        CAMERA_ID,
        DEVICE_ID,
        OFFICER_ID,
    )
    assert dock["registered"] is True and dock["wiped"] == 3, dock["errors"]

    # Every file keeps the offset read at the dock, the camera's ID and the registry's device.
    assert sorted(m["original_name"] for m in items) == ["R_0001.WAV", "V_0001.MP4", "V_0002.MP4"]
    for media in items:
        assert media["clock_offset_s"] == pytest.approx(FAST.total_seconds(), abs=3), media
        assert media["device_serial"] == CAMERA_ID
        assert media["device_id"] == DEVICE_ID and media["officer_id"] == OFFICER_ID
        assert media["unit_id"] == "U1" and media["device_registered"] is True
        custody = api.admin.get(f"/api/v1/media/{media['id']}/custody").json()["events"]
        assert "wiped_from_device" in [e["event"] for e in custody], custody

    # Wiped from the camera after verify; what is not footage stays.
    assert media_files(volume) == []
    assert (volume / "device.log").read_text() == "power on\n"
    assert elapsed < 20, f"took {elapsed:.1f} s"
