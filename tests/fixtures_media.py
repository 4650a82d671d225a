"""Clips made by ffmpeg once per test session (a few seconds, low resolution, ~3 s in all)."""

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
    high10_mp4: Path
    """2 s, 320x240 10-bit H.264 (High 10) + AAC: H.264 that browsers do not decode."""
    aac_m4a: Path
    """2 s AAC 48 kHz mono in an M4A."""
    index_without_data_mp4: Path
    """H.264 + AAC MP4, index first, cut right after its moov: frames listed, no media data."""
    dv: Path
    """1 s PAL DV (720x576) + 48 kHz stereo PCM, as a DV camcorder writes it (.DV)."""
    mts: Path
    """1 s 320x240 H.264 + AC-3 in an AVCHD-style transport stream (.MTS)."""
    threegp: Path
    """1 s 176x144 H.264 + 8 kHz AAC in 3GP."""
    flv: Path
    """1 s 320x240 H.264 + AAC in FLV."""
    mkv: Path
    """1 s 320x240 H.264 + Opus in Matroska."""
    mpeg_ps: Path
    """1 s 320x240 MPEG-2 + MP2 in an MPEG program stream (.MPG)."""
    raw_h264: Path
    """1 s 320x240 raw H.264 elementary stream (a DVR's .h264; its kind by name is OTHER)."""
    dav: Path
    """1 s 320x240 H.264 in Dahua DHAV chunks (.dav; OTHER by name, ffprobe opens it)."""
    dav_unreadable: Path
    """64 KiB of random bytes named .dav: a recorder's file ffprobe cannot open."""


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
        high10_mp4=footage.h264_high10_mp4(d / "VID_0021.MP4"),
        aac_m4a=footage.aac_m4a(d / "AUD_0022.M4A"),
        index_without_data_mp4=footage.index_without_data_mp4(d / "VID_0023.MP4"),
        dv=footage.dv_pcm(d / "CAM_0007.DV"),
        mts=footage.h264_ac3_mts(d / "00008.MTS"),
        threegp=footage.h264_aac_3gp(d / "VID_0009.3GP"),
        flv=footage.h264_aac_flv(d / "REC_0010.FLV"),
        mkv=footage.h264_opus_mkv(d / "REC_0011.MKV"),
        mpeg_ps=footage.mpeg2_mp2_ps(d / "MOV_0012.MPG"),
        raw_h264=footage.raw_h264(d / "ch01_20240308083000.h264"),
        dav=footage.dhav(d / "ch02_20240308083000.dav"),
        dav_unreadable=footage.random_bytes(d / "ch03_20240308083000.dav", seed=3),
    )
