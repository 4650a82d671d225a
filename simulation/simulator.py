"""A simulated body camera: the volume a docked camera shows, with realistic footage and layout.

The footage is generated with ffmpeg (a few seconds each, so the demo starts quickly) and
named the way cameras name files: device id, officer number and local time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulation import footage
from wire.zones import DEVICE_ZONE


@dataclass(frozen=True)
class SimulatedCamera:
    device_id: str = "13010000001510000001"  # GB/T 28181-style: area code, type 151 (camera)
    officer_id: str = "010001"
    label: str = "ZFY-DEMO-0001"


@dataclass(frozen=True)
class _Clip:
    folder: str
    offset: timedelta
    seconds: float
    ext: str
    make: Callable[[Path, datetime, float], Path]


_CLIPS = [
    # One recording split into two segments, back to back, as cameras split long recordings.
    _Clip("DCIM/100MEDIA", timedelta(0), 10, "MP4",
          lambda p, at, s: footage.h264_aac_mp4(p, seconds=s, size="640x360", creation_time=at)),
    _Clip("DCIM/100MEDIA", timedelta(seconds=10), 6, "MP4",
          lambda p, at, s: footage.h264_aac_mp4(p, seconds=s, size="640x360", creation_time=at)),
    # A cheap model's MJPEG/PCM AVI, which browsers cannot play: the proxy is transcoded.
    _Clip("DCIM/100MEDIA", timedelta(minutes=20), 4, "AVI",
          lambda p, at, s: footage.mjpeg_pcm_avi(p, seconds=s, size="640x360")),
    _Clip("RECORD", timedelta(minutes=30), 5, "WAV", lambda p, at, s: footage.wav(p, seconds=s)),
    _Clip("PHOTO", timedelta(minutes=35), 0, "JPG", lambda p, at, s: footage.jpeg(p, size="1280x720")),
]  # fmt: skip


def build_camera_volume(
    mount_root: Path, camera: SimulatedCamera, *, shift_start: datetime | None = None
) -> Path:
    """Create `mount_root/<label>` laid out like a docked camera and return it.

    The volume is built aside and renamed into place, so it appears whole, as a mount does.
    """
    start = (shift_start or datetime.now(UTC) - timedelta(hours=1)).astimezone(DEVICE_ZONE)
    start = start.replace(microsecond=0)
    mount_root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{camera.label}.", dir=mount_root))
    try:
        for n, clip in enumerate(_CLIPS, start=1):
            at = start + clip.offset
            name = f"{camera.device_id}_{camera.officer_id}_{at:%Y%m%d_%H%M%S}_{n:04d}.{clip.ext}"
            dst = building / clip.folder / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            clip.make(dst, at, clip.seconds)
            # Cameras close a file when its recording ends: that is its modification time.
            ended = (at + timedelta(seconds=clip.seconds)).timestamp()
            os.utime(dst, (ended, ended))
        (building / "LOG").mkdir()
        (building / "LOG" / "device.log").write_text(f"{start.isoformat()} power on\n")
        (building / "SYSTEM.INI").write_text(
            f"[device]\nid={camera.device_id}\nofficer={camera.officer_id}\n"
        )
        volume = mount_root / camera.label
        building.rename(volume)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return volume
