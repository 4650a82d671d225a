"""Playability: a browser copy is called playable only when its stream really decodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.encoders import PRESETS
from ingest.playability import check_argv, check_playable, decode_argv
from ingest.probe import probe
from ingest.renditions import make_quick, make_transcode
from simulation.footage import mjpeg_avi_corrupt_from
from tests.fixtures_media import Clips
from wire.media_kinds import MediaKind

VIDEO, AUDIO = MediaKind.VIDEO, MediaKind.AUDIO

# --- the pure argv: cheap whatever the length --------------------------------------------------


def test_the_index_check_reads_one_packet_of_the_kinds_stream() -> None:
    argv = check_argv(Path("/r/rendition-h264.mp4"), VIDEO)
    joined = " ".join(argv)
    assert argv[0] == "ffprobe"
    assert "-count_packets -read_intervals %+#1 -select_streams V:0" in joined
    assert "stream=codec_type,nb_frames,nb_read_packets,duration" in joined
    assert "-protocol_whitelist file" in joined and "-format_whitelist" in argv
    assert argv[-2:] == ["-i", "file:/r/rendition-h264.mp4"]
    audio = check_argv(Path("/r/a.m4a"), AUDIO)
    assert audio[audio.index("-select_streams") + 1] == "a:0"


@pytest.mark.parametrize(
    ("kind", "stream", "frames"), [(VIDEO, "0:V:0", "-frames:v"), (AUDIO, "0:a:0", "-frames:a")]
)
def test_a_decode_check_seeks_and_decodes_one_frame_only(
    kind: MediaKind, stream: str, frames: str
) -> None:
    argv = decode_argv(Path("/r/x.mp4"), kind, 6480.0)
    joined = " ".join(argv)
    assert joined.index("-ss 6480.000") < joined.index("-i file:/r/x.mp4")  # an input seek
    assert f"-map {stream} {frames} 1 -f framecrc -" in joined
    assert "-ss" not in decode_argv(Path("/r/x.mp4"), kind, 0.0)


def test_photos_have_no_browser_copy_to_check(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="photo"):
        check_playable(tmp_path / "x.jpg", MediaKind.PHOTO, duration_s=None)


# --- real files -----------------------------------------------------------------------------


def test_good_renditions_are_playable(clips: Clips, tmp_path: Path) -> None:
    [copied] = make_quick(clips.h264_mp4, probe(clips.h264_mp4), VIDEO, tmp_path)
    assert check_playable(copied.path, VIDEO, duration_s=2.0) is None
    made = make_transcode(
        clips.hevc_mp4, probe(clips.hevc_mp4), VIDEO, tmp_path, PRESETS["software"]
    )
    assert made is not None and check_playable(made.path, VIDEO, duration_s=2.0) is None
    assert check_playable(clips.aac_m4a, AUDIO, duration_s=2.0) is None


def test_an_index_without_media_data_is_not_playable(clips: Clips) -> None:
    """ffprobe is content with it (streams, duration, 50 frames listed); no frame is there."""
    src = clips.index_without_data_mp4
    probed = probe(src)
    assert probed.video is not None and probed.duration_s == pytest.approx(2.0)
    assert check_playable(src, VIDEO, duration_s=2.0) == (
        "no video data can be read from the browser copy"
        " (the index lists 50 frames but the media data is missing)"
    )


def test_a_stream_copy_of_an_index_without_data_is_made_but_not_playable(
    clips: Clips, tmp_path: Path
) -> None:
    """The bug this fixes: ffmpeg stream-copies such a file without complaint into a browser
    copy that holds nothing, and it used to be registered as playable."""
    src = clips.index_without_data_mp4
    [quick] = make_quick(src, probe(src), VIDEO, tmp_path)
    assert quick.path.stat().st_size > 0  # ffmpeg called it a success
    assert check_playable(quick.path, VIDEO, duration_s=2.0) == (
        "the browser copy holds no video stream"
    )


@pytest.mark.parametrize("clip", ["wav", "aac_m4a"])
def test_a_file_with_only_audio_is_no_video(clips: Clips, clip: str) -> None:
    src = getattr(clips, clip)
    assert check_playable(src, VIDEO, duration_s=2.0) == "the browser copy holds no video stream"
    assert check_playable(src, AUDIO, duration_s=2.0) is None


def test_packets_that_do_not_decode_are_not_playable(tmp_path: Path) -> None:
    """Every picture zeroed, the index intact: packets read, none decodes."""
    src = mjpeg_avi_corrupt_from(tmp_path / "REC.AVI", corrupt_from_s=0.0)
    assert check_playable(src, VIDEO, duration_s=2.0) == (
        "no frame of the browser copy decodes: mjpeg: No JPEG data found in image"
    )


@pytest.mark.parametrize("duration_s", [2.0, None, float("inf"), float("nan"), -1.0])
def test_a_copy_whose_end_does_not_decode_is_not_playable(
    tmp_path: Path, duration_s: float | None
) -> None:
    """Good for its first second, zeroed after: the start decodes, 90% in does not. Without a
    usable duration given, the copy's own is used."""
    src = mjpeg_avi_corrupt_from(tmp_path / "REC.AVI", corrupt_from_s=1.0)
    reason = check_playable(src, VIDEO, duration_s=duration_s)
    assert reason is not None
    assert reason.startswith("the end of the browser copy does not decode (at 1.8 s of 2.0 s)")


def test_a_copy_shorter_than_its_medium_is_not_playable(clips: Clips) -> None:
    """A 2 s copy of what the probe says is a 10 s recording stops before 90% of it."""
    assert check_playable(clips.h264_mp4, VIDEO, duration_s=10.0) == (
        "the end of the browser copy does not decode (at 9.0 s of 10.0 s): no frame came out"
    )


def test_a_missing_or_unreadable_copy_is_not_playable(tmp_path: Path) -> None:
    assert check_playable(tmp_path / "gone.mp4", VIDEO, duration_s=2.0) == (
        "the browser copy is missing"
    )
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4096)
    reason = check_playable(junk, VIDEO, duration_s=2.0)
    assert reason is not None and reason.startswith("the browser copy cannot be read: ")
