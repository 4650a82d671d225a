"""Thumbnails: one 320 px JPEG frame of videos and photos, none for audio."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from ingest.errors import FfmpegTimeout, TranscodeError
from ingest.probe import ProbeResult, StreamInfo, probe
from ingest.thumbnail import make_thumbnail, thumbnail_argv, thumbnail_seek_s
from simulation.footage import h264_aac_mp4, mjpeg_avi_corrupt_from
from tests.fixtures_media import Clips
from wire.media_kinds import MediaKind


def _probe(duration_s: float | None, video: bool = True) -> ProbeResult:
    return ProbeResult(
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration_s=duration_s,
        video=StreamInfo(0, "h264", 1920, 1080) if video else None,
        audio=StreamInfo(1, "aac"),
        creation_time=None,
        creation_time_raw=None,
    )


@pytest.mark.parametrize(
    ("duration_s", "kind", "expected"),
    [
        (600.0, MediaKind.VIDEO, 1.0),  # about a second in, past black first frames
        (1.2, MediaKind.VIDEO, 0.6),  # mid-point of a short clip
        (None, MediaKind.VIDEO, 0.0),  # duration unknown: the first frame
        (0.04, MediaKind.PHOTO, 0.0),
        (600.0, MediaKind.AUDIO, None),
    ],
)
def test_where_the_thumbnail_frame_is_taken(
    duration_s: float | None, kind: MediaKind, expected: float | None
) -> None:
    assert thumbnail_seek_s(_probe(duration_s), kind) == expected


def test_a_video_file_with_no_picture_gets_no_thumbnail() -> None:
    assert thumbnail_seek_s(_probe(60.0, video=False), MediaKind.VIDEO) is None


def test_argv_seeks_before_the_input_and_scales_to_320_wide_with_an_even_height() -> None:
    argv = thumbnail_argv(Path("/s/VID.MP4"), Path("/d/t.jpg"), MediaKind.VIDEO, 1.0)
    joined = " ".join(argv)
    assert argv.index("-ss") < argv.index("-i")
    assert argv[argv.index("-ss") + 1] == "1.000"
    assert "-protocol_whitelist file" in joined and "-format_whitelist" in argv
    assert "-i file:/s/VID.MP4" in joined
    assert argv[argv.index("-vf") + 1] == "scale=w=320:h=-2"
    assert "-frames:v 1" in joined and "-c:v mjpeg" in joined
    assert argv[-1] == "file:/d/t.jpg"


def test_photo_argv_does_not_seek_and_reads_a_single_image() -> None:
    argv = thumbnail_argv(Path("/s/IMG.JPG"), Path("/d/t.jpg"), MediaKind.PHOTO, 0.0)
    assert "-ss" not in argv
    assert " ".join(argv).count("-f image2 -pattern_type none -i file:/s/IMG.JPG") == 1


@pytest.mark.parametrize(
    ("clip", "kind", "size"),
    [
        ("h264_mp4", MediaKind.VIDEO, (320, 240)),
        ("mjpeg_avi", MediaKind.VIDEO, (320, 240)),
        ("jpg", MediaKind.PHOTO, (320, 240)),
    ],
)
def test_thumbnail_is_a_320_px_jpeg(
    clips: Clips, tmp_path: Path, clip: str, kind: MediaKind, size: tuple[int, int]
) -> None:
    src = getattr(clips, clip)
    dst = tmp_path / "thumb.jpg"
    assert make_thumbnail(src, dst, probe(src), kind) == dst
    assert dst.read_bytes()[:3] == b"\xff\xd8\xff"
    result = probe(dst, kind=MediaKind.PHOTO)
    assert result.video is not None and (result.video.width, result.video.height) == size
    assert [p.name for p in tmp_path.iterdir()] == ["thumb.jpg"]


def test_audio_gets_no_thumbnail_and_nothing_is_written(clips: Clips, tmp_path: Path) -> None:
    assert make_thumbnail(clips.wav, tmp_path / "t.jpg", probe(clips.wav), MediaKind.AUDIO) is None
    assert list(tmp_path.iterdir()) == []


def test_a_duration_that_lies_falls_back_to_the_first_frame(tmp_path: Path) -> None:
    src = h264_aac_mp4(tmp_path / "SHORT.MP4", seconds=0.4)
    lying = dataclasses.replace(probe(src), duration_s=30.0)  # seek 1 s: past the last frame
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(src, dst, lying, MediaKind.VIDEO) == dst
    assert dst.stat().st_size > 0


def test_frames_that_do_not_decode_at_the_seek_point_fall_back_to_the_first_frame(
    tmp_path: Path,
) -> None:
    """Seeking into the zeroed half makes ffmpeg fail (exit 69), not just write nothing."""
    src = mjpeg_avi_corrupt_from(tmp_path / "REC_0015.AVI", corrupt_from_s=0.5, seconds=2)
    probed = probe(src)
    assert thumbnail_seek_s(probed, MediaKind.VIDEO) == 1.0  # inside the corrupt part
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(src, dst, probed, MediaKind.VIDEO) == dst
    assert dst.read_bytes()[:3] == b"\xff\xd8\xff"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REC_0015.AVI", "t.jpg"]


def test_a_timeout_is_not_retried(clips: Clips, tmp_path: Path) -> None:
    """A FIFO nobody writes to hangs ffmpeg in open(); a retry would only hang as long again."""
    src = tmp_path / "VID_0016.MP4"
    os.mkfifo(src)
    started = time.monotonic()
    with pytest.raises(FfmpegTimeout, match="VID_0016.MP4"):
        make_thumbnail(src, tmp_path / "t.jpg", probe(clips.h264_mp4), MediaKind.VIDEO, timeout_s=1)
    assert time.monotonic() - started < 2  # two attempts would take at least 2 s
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VID_0016.MP4"]


def test_a_thumbnail_that_cannot_be_saved_is_a_transcode_error_naming_the_file(
    clips: Clips, tmp_path: Path
) -> None:
    dst = tmp_path / "t.jpg"
    dst.mkdir()
    (dst / "in-the-way").touch()  # os.replace cannot put a file over a non-empty folder
    src = clips.h264_mp4
    with pytest.raises(TranscodeError, match="VID_0001.MP4: the thumbnail could not be saved"):
        make_thumbnail(src, dst, probe(src), MediaKind.VIDEO)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jpg"]


def test_an_undecodable_file_raises_and_leaves_nothing_under_the_final_name(
    clips: Clips, tmp_path: Path
) -> None:
    garbage = tmp_path / "VID.MP4"
    garbage.write_bytes(bytes(5000))
    with pytest.raises(TranscodeError, match="VID.MP4"):
        make_thumbnail(garbage, tmp_path / "t.jpg", probe(clips.h264_mp4), MediaKind.VIDEO)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VID.MP4"]
