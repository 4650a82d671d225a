"""A simulated body camera: the volume a docked camera shows, with realistic footage and layout.

Footage is generated with ffmpeg once and cached; each simulated dock copies it into a fresh
volume folder under a mount root, named the way cameras name their files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices import footage
from ingest.recorded_time import DEVICE_ZONE

ClipMaker = Callable[[Path], Path]


@dataclass(frozen=True)
class SimulatedCamera:
    device_id: str = "13010000001510000001"  # GB/T 28181-style: area code, type 151 (camera)
    officer_id: str = "010001"
    label: str = "ZFY-DEMO-0001"


def _cached(cache_dir: Path, name: str, make: ClipMaker) -> Path:
    path = cache_dir / name
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{name}.tmp{path.suffix}"
        make(tmp)
        tmp.rename(path)
    return path


def build_camera_volume(
    mount_root: Path, cache_dir: Path, camera: SimulatedCamera, *, shift_end: datetime | None = None
) -> Path:
    """Create `mount_root/<label>` laid out like a docked camera and return it.

    Holds two H.264/AAC segments of one recording, an MJPEG/PCM clip from the camera's
    low-power mode, an audio recording, a photo, and the log and config files cameras keep.
    """
    end = (shift_end or datetime.now(UTC)).astimezone(DEVICE_ZONE).replace(microsecond=0)
    start = end - timedelta(hours=1)
    volume = mount_root / camera.label
    clips = [
        (
            "DCIM/100MEDIA",
            start,
            "MP4",
            lambda p: footage.h264_aac_mp4(p, seconds=10, size="640x360"),
        ),
        (
            "DCIM/100MEDIA",
            start + timedelta(seconds=10),
            "MP4",
            lambda p: footage.h264_aac_mp4(p, seconds=6, size="640x360"),
        ),
        (
            "DCIM/100MEDIA",
            start + timedelta(minutes=20),
            "AVI",
            lambda p: footage.mjpeg_pcm_avi(p, seconds=4, size="640x360"),
        ),
        ("RECORD", start + timedelta(minutes=30), "WAV", lambda p: footage.wav(p, seconds=5)),
        ("PHOTO", start + timedelta(minutes=35), "JPG", lambda p: footage.jpeg(p, size="1280x720")),
    ]
    for n, (folder, at, ext, make) in enumerate(clips, start=1):
        cached = _cached(cache_dir, f"clip{n}.{ext.lower()}", make)
        stamp = at.strftime("%Y%m%d_%H%M%S")
        dst = volume / folder / f"{camera.device_id}_{camera.officer_id}_{stamp}_{n:04d}.{ext}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, dst)
        os.utime(dst, (at.timestamp(), at.timestamp()))
    (volume / "LOG").mkdir(parents=True, exist_ok=True)
    (volume / "LOG" / "device.log").write_text(f"{end.isoformat()} power off\n")
    (volume / "SYSTEM.INI").write_text(
        f"[device]\nid={camera.device_id}\nofficer={camera.officer_id}\n"
    )
    return volume
