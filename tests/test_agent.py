"""The station agent as a real process: docking, registry, wipe after verify, many at once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tests.station_processes import Station, wait_for


def camera(clips, n: int = 1) -> Callable[[Path], None]:  # noqa: ANN001
    """A camera volume: `n` H.264 clips, a WAV, a photo and a log file."""

    def build(volume: Path) -> None:
        (volume / "DCIM").mkdir()
        for i in range(n):
            shutil.copy(clips.h264_mp4, volume / "DCIM" / f"V_{i:04d}.MP4")
            # Distinct bytes per copy, as distinct recordings have.
            with (volume / "DCIM" / f"V_{i:04d}.MP4").open("ab") as f:
                f.write(i.to_bytes(4, "big"))
        (volume / "RECORD").mkdir()
        shutil.copy(clips.wav, volume / "RECORD" / "R_0001.WAV")
        shutil.copy(clips.jpg, volume / "P_0001.JPG")
        (volume / "device.log").write_text("power on\n")

    return build


def media_files(volume: Path) -> list[str]:
    return sorted(p.name for p in volume.rglob("*") if p.is_file() and p.suffix != ".log")


def test_registered_camera_is_imported_then_wiped_after_verify(station: Station, clips) -> None:  # noqa: ANN001
    station.register_device("BC-0001", "ZFY-0001", unit_id="U1", officer_id="010001")
    station.start_agent()
    volume = station.dock(camera(clips, n=2), "ZFY-0001")

    # The camera's log is kept as evidence (kind other) but stays on the camera: only footage
    # (and what travels with it) leaves it.
    wait_for("5 files registered", lambda: len(station.media()) == 5)
    wait_for("the camera wiped", lambda: media_files(volume) == [])
    assert (volume / "device.log").exists()
    assert sorted(m["kind"] for m in station.media()) == [
        "audio",
        "other",
        "photo",
        "video",
        "video",
    ]

    media = station.media()
    assert {m["device_id"] for m in media} == {"BC-0001"}
    assert {m["officer_id"] for m in media} == {"010001"}
    assert {m["unit_id"] for m in media} == {"U1"}
    video = next(m for m in media if m["kind"] == "video")
    custody = station.admin.get(f"/api/v1/media/{video['id']}/custody").json()["events"]
    assert "wiped_from_device" in [e["event"] for e in custody]

    dock = wait_for(
        "the dock done", lambda: [d for d in station.status() or [] if d["state"] == "done"]
    )
    assert dock[0]["wiped"] == 4 and dock[0]["registered"] is True


def test_unregistered_camera_is_imported_flagged_and_never_wiped(station: Station, clips) -> None:  # noqa: ANN001
    station.start_agent()
    volume = station.dock(camera(clips), "NO-NAME-CAM")

    wait_for("4 files registered", lambda: len(station.media()) == 4)
    dock = wait_for(
        "the dock done", lambda: [d for d in station.status() or [] if d["state"] == "done"]
    )
    assert dock[0]["registered"] is False
    assert media_files(volume) == ["P_0001.JPG", "R_0001.WAV", "V_0000.MP4"]
    flagged = station.admin.get("/api/v1/devices/unregistered").json()["items"]
    assert [(f["device_id"], f["media_count"]) for f in flagged] == [("NO-NAME-CAM", 4)]


def test_never_wipe_policy_keeps_registered_footage(tmp_path: Path, clips) -> None:  # noqa: ANN001
    station = Station(tmp_path, STATION_WIPE="never")
    station.start_api()
    try:
        station.register_device("BC-0002", "ZFY-0002")
        station.start_agent()
        volume = station.dock(camera(clips), "ZFY-0002")
        wait_for("4 files registered", lambda: len(station.media()) == 4)
        wait_for(
            "the dock done", lambda: [d for d in station.status() or [] if d["state"] == "done"]
        )
        assert len(media_files(volume)) == 3
    finally:
        station.stop()


def test_a_camera_known_only_by_a_shared_volume_label_is_never_wiped(
    station: Station,
    clips,  # noqa: ANN001
) -> None:
    # IT registered a device by the label its volume carries, but many cameras carry it.
    station.register_device("BC-0003", "NO NAME")
    station.start_agent()
    volume = station.dock(camera(clips), "NO NAME")
    wait_for("4 files registered", lambda: len(station.media()) == 4)
    dock = wait_for(
        "the dock done", lambda: [d for d in station.status() or [] if d["state"] == "done"]
    )
    assert len(media_files(volume)) == 3
    assert any("身份无法唯一确认" in e for e in dock[0]["errors"]), dock[0]["errors"]
