"""Clips made by ffmpeg once per test session (a few seconds, low resolution, ~2 s in all)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulation import footage

CLIP_CREATION_TIME = datetime(2024, 3, 15, 8, 30, 0, tzinfo=UTC)
"""The creation_time written into `Clips.h264_mp4` and `Clips.hevc_mp4`."""


@dataclass(frozen=True)
class Clips:
    """Generated footage; treat the files as read-only (they are shared by the session)."""

    h264_mp4: Path
    """2 s, 320x240 H.264 + AAC, moov at the end, creation_time = CLIP_CREATION_TIME."""
    mjpeg_avi: Path
    """2 s, 320x240 MJPEG + PCM 16 kHz in AVI."""
    hevc_mp4: Path
    """2 s, 320x240 H.265 + AAC, creation_time = CLIP_CREATION_TIME."""
    wav: Path
    """2 s mono PCM 16 kHz."""
    jpg: Path
    """640x480 JPEG photo."""
    truncated_mp4: Path
    """H.264 + AAC MP4 cut before its moov (a camera that lost power)."""


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    """Camera-like clips generated once per session."""
    d = tmp_path_factory.mktemp("clips")
    return Clips(
        h264_mp4=footage.h264_aac_mp4(d / "VID_0001.MP4", creation_time=CLIP_CREATION_TIME),
        mjpeg_avi=footage.mjpeg_pcm_avi(d / "REC_0002.AVI"),
        hevc_mp4=footage.hevc_mp4(d / "VID_0003.MP4", creation_time=CLIP_CREATION_TIME),
        wav=footage.wav(d / "AUD_0004.WAV"),
        jpg=footage.jpeg(d / "IMG_0005.JPG"),
        truncated_mp4=footage.truncated_mp4(d / "VID_0006.MP4"),
    )
