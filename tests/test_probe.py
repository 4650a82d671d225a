"""Probing: ffprobe JSON into typed values, clear reasons for bad files, hostile files refused."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devices.footage import hls_disguised_as_mp4, jpeg
from ingest.errors import ProbeError
from ingest.ffmpeg_run import run_tool
from ingest.media_kinds import MediaKind
from ingest.probe import parse_ffprobe_json, probe, probe_argv
from tests.fixtures_media import CLIP_CREATION_TIME, Clips

# --- the pure parser -------------------------------------------------------------------------


def _ffprobe_json(*streams: dict[str, Any], **fmt: Any) -> dict[str, Any]:
    return {"streams": list(streams), "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", **fmt}}


H264 = {
    "index": 1,
    "codec_type": "video",
    "codec_name": "h264",
    "width": 1920,
    "height": 1080,
    "pix_fmt": "yuv420p",
    "duration": "10.0",
}
AAC = {
    "index": 2,
    "codec_type": "audio",
    "codec_name": "aac",
    "sample_rate": "48000",
    "channels": 2,
    "duration": "10.0",
}
COVER = {
    "index": 0,
    "codec_type": "video",
    "codec_name": "mjpeg",
    "width": 600,
    "height": 600,
    "disposition": {"attached_pic": 1},
}


def test_parser_picks_the_first_real_video_stream_not_the_cover_art_and_the_first_audio() -> None:
    result = parse_ffprobe_json(
        _ffprobe_json(COVER, H264, AAC, {**AAC, "index": 3}, duration="10.5")
    )
    assert result.video is not None and result.video.index == 1
    assert (result.video.codec_name, result.video.width, result.video.height) == (
        "h264",
        1920,
        1080,
    )
    assert result.audio is not None and result.audio.index == 2
    assert (result.audio.sample_rate, result.audio.channels) == (48000, 2)
    assert result.duration_s == 10.5


def test_parser_reads_creation_time_from_the_format_tags_and_keeps_the_raw_string() -> None:
    raw = "2024-03-15T08:30:00.000000Z"
    result = parse_ffprobe_json(_ffprobe_json(H264, tags={"creation_time": raw}))
    assert result.creation_time == datetime(2024, 3, 15, 8, 30, tzinfo=UTC)
    assert result.creation_time_raw == raw


def test_parser_falls_back_to_the_video_streams_creation_time_and_keeps_naive_times_naive() -> None:
    result = parse_ffprobe_json(
        _ffprobe_json({**H264, "tags": {"creation_time": "2024:03:15 08:30:00"}})
    )
    assert result.creation_time == datetime(2024, 3, 15, 8, 30)


def test_parser_keeps_an_unparseable_creation_time_raw_only() -> None:
    result = parse_ffprobe_json(_ffprobe_json(H264, tags={"creation_time": "garbage"}))
    assert result.creation_time is None
    assert result.creation_time_raw == "garbage"


def test_parser_takes_the_duration_from_a_stream_when_the_container_has_none() -> None:
    assert parse_ffprobe_json(_ffprobe_json(AAC)).duration_s == 10.0


def test_parser_refuses_a_file_without_audio_or_video() -> None:
    data = _ffprobe_json({"index": 0, "codec_type": "subtitle", "codec_name": "subrip"}, COVER)
    with pytest.raises(ProbeError, match="no audio or video stream"):
        parse_ffprobe_json(data)


def test_parser_refuses_a_picture_whose_size_could_not_be_decoded() -> None:
    junk = {"index": 0, "codec_type": "video", "codec_name": "mjpeg", "width": 0, "height": 0}
    with pytest.raises(ProbeError, match="not a readable picture"):
        parse_ffprobe_json(_ffprobe_json(junk))


def test_probe_argv_reads_json_through_the_safety_options() -> None:
    argv = probe_argv(Path("/v/VID_0001.MP4"))
    assert argv[0] == "ffprobe"
    assert {"-show_format", "-show_streams"} <= set(argv)
    assert argv[argv.index("-print_format") + 1] == "json"
    assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert "-format_whitelist" in argv
    assert argv[-2:] == ["-i", "file:/v/VID_0001.MP4"]
    assert probe_argv(Path("/v/IMG.JPG"))[-6:-2] == ["-f", "image2", "-pattern_type", "none"]


# --- real ffprobe on generated clips ---------------------------------------------------------


def test_probe_reads_codecs_size_duration_and_creation_time_of_a_camera_mp4(clips: Clips) -> None:
    result = probe(clips.h264_mp4)
    assert result.format_name.startswith("mov,mp4")
    assert result.video is not None and result.audio is not None
    assert (result.video.codec_name, result.video.width, result.video.height) == ("h264", 320, 240)
    assert result.audio.codec_name == "aac"
    assert result.duration_s == pytest.approx(2.0, abs=0.1)
    assert result.creation_time == CLIP_CREATION_TIME
    assert result.creation_time_raw == "2024-03-15T08:30:00.000000Z"


@pytest.mark.parametrize(
    ("clip", "video_codec", "audio_codec"),
    [
        ("mjpeg_avi", "mjpeg", "pcm_s16le"),
        ("hevc_mp4", "hevc", "aac"),
        ("wav", None, "pcm_s16le"),
        ("jpg", "mjpeg", None),
    ],
)
def test_probe_reads_the_other_kinds_cameras_write(
    clips: Clips, clip: str, video_codec: str | None, audio_codec: str | None
) -> None:
    result = probe(getattr(clips, clip))
    assert (result.video.codec_name if result.video else None) == video_codec
    assert (result.audio.codec_name if result.audio else None) == audio_codec


def test_a_truncated_mp4_is_reported_as_an_incomplete_recording(clips: Clips) -> None:
    with pytest.raises(ProbeError) as caught:
        probe(clips.truncated_mp4)
    message = str(caught.value)
    assert "VID_0006.MP4" in message
    assert "moov atom not found" in message
    assert "incomplete" in message and "lost power" in message


def test_an_empty_file_gets_a_clear_reason(tmp_path: Path) -> None:
    empty = tmp_path / "VID_0007.MP4"
    empty.touch()
    with pytest.raises(ProbeError, match=r"VID_0007.MP4: the file is empty \(0 bytes\)"):
        probe(empty)


def test_garbage_gets_a_clear_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "VID_0008.AVI"
    garbage.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ProbeError, match="not a readable audio, video or photo file"):
        probe(garbage)


def test_a_file_with_only_a_subtitle_stream_has_no_audio_or_video(tmp_path: Path) -> None:
    srt = tmp_path / "sub.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    mkv = tmp_path / "VID_0009.MKV"
    run_tool(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(srt), "-c:s", "srt", str(mkv)], timeout_s=30
    )
    with pytest.raises(ProbeError, match="VID_0009.MKV: no audio or video stream"):
        probe(mkv)


# --- hostile files ---------------------------------------------------------------------------


@contextmanager
def _fifo_watch(path: Path) -> Iterator[threading.Event]:
    """A FIFO at `path` whose returned event is set as soon as anything opens it to read.

    Opening a FIFO with no writer blocks forever, so a writer thread waits in open(); it can
    only get through when a reader opens the FIFO. The event is therefore proof of an open.
    """
    os.mkfifo(path)
    opened, stop = threading.Event(), threading.Event()

    def writer() -> None:
        while not stop.is_set():
            fd = os.open(path, os.O_WRONLY)
            if not stop.is_set():
                opened.set()
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        stop.set()
        release = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer's open() return
        thread.join(5)
        os.close(release)


def test_an_hls_playlist_disguised_as_mp4_is_refused_without_opening_what_it_names(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.ts"
    with _fifo_watch(secret) as opened:
        playlist = hls_disguised_as_mp4(tmp_path / "VID_0010.MP4", secret)
        with pytest.raises(ProbeError, match="format 'hls' is not an accepted media format"):
            probe(playlist, timeout_s=10)
        assert not opened.wait(0.5), "ffprobe opened the file the playlist names"


def test_control_without_the_demuxer_whitelist_ffprobe_does_open_what_the_playlist_names(
    tmp_path: Path,
) -> None:
    """Shows the test above can fail: `-protocol_whitelist file` alone lets HLS read local files."""
    secret = tmp_path / "secret.ts"
    with _fifo_watch(secret) as opened:
        playlist = hls_disguised_as_mp4(tmp_path / "VID_0011.MP4", secret)
        argv = probe_argv(playlist)
        i = argv.index("-format_whitelist")
        del argv[i : i + 2]
        run_tool(argv, timeout_s=10, check=False)
        assert opened.wait(5)


def test_a_photo_named_like_an_image_sequence_is_not_expanded_to_its_siblings(
    tmp_path: Path,
) -> None:
    photo = jpeg(tmp_path / "IMG_%d.JPG", size="64x48")
    with _fifo_watch(tmp_path / "IMG_0.JPG") as opened, _fifo_watch(tmp_path / "IMG_1.JPG"):
        result = probe(photo, kind=MediaKind.PHOTO)
        assert result.video is not None and result.video.width == 64
        assert not opened.wait(0.5)


def test_control_without_forcing_single_images_ffprobe_does_read_the_siblings(
    tmp_path: Path,
) -> None:
    """Shows the test above can fail: left to probe, image2 expands `%d` into a sequence."""
    photo = jpeg(tmp_path / "IMG_%d.JPG", size="64x48")
    with _fifo_watch(tmp_path / "IMG_0.JPG") as opened, _fifo_watch(tmp_path / "IMG_1.JPG"):
        argv = ["ffprobe", "-v", "error", "-protocol_whitelist", "file", f"file:{photo}"]
        run_tool(argv, timeout_s=10, check=False)
        assert opened.wait(5)
