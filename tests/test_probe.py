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

from ingest.errors import ProbeError
from ingest.ffmpeg_run import run_tool
from ingest.media_kinds import media_kind
from ingest.probe import (
    GUESSED_SCORE,
    MAX_PLAUSIBLE_DURATION_S,
    ProbeResult,
    StreamInfo,
    kind_from_probe,
    parse_ffprobe_json,
    parse_ffprobe_output,
    probe,
    probe_argv,
)
from simulation.footage import (
    claim_duration,
    h264_aac_mp4,
    hls_disguised_as_mp4,
    jpeg,
    mpeg_audio_frames,
)
from tests.fixtures_media import CLIP_CREATION_TIME, Clips
from wire.media_kinds import MediaKind

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


def test_parser_keeps_how_sure_ffprobe_was_of_the_format() -> None:
    assert parse_ffprobe_json(_ffprobe_json(H264, probe_score=26)).probe_score == 26
    assert parse_ffprobe_json(_ffprobe_json(H264, probe_score="N/A")).probe_score is None
    assert parse_ffprobe_json(_ffprobe_json(H264)).probe_score is None


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


@pytest.mark.parametrize(
    "claimed", ["-5.000000", "nan", "inf", "N/A", "4294967295.000000", "100000000", "86400.5"]
)
def test_parser_treats_a_negative_infinite_or_absurd_duration_as_unknown(claimed: str) -> None:
    """Time limits and recorded intervals are computed from it: a header's lie must stop here."""
    no_duration = {k: v for k, v in H264.items() if k != "duration"}
    result = parse_ffprobe_json(_ffprobe_json(no_duration, duration=claimed))
    assert result.duration_s is None
    assert result.duration_raw == claimed


def test_parser_accepts_a_duration_of_up_to_a_day() -> None:
    result = parse_ffprobe_json(_ffprobe_json(H264, duration=str(MAX_PLAUSIBLE_DURATION_S)))
    assert result.duration_s == MAX_PLAUSIBLE_DURATION_S == 86400.0


def test_parser_takes_a_streams_duration_when_the_container_claims_an_absurd_one() -> None:
    result = parse_ffprobe_json(
        _ffprobe_json({**H264, "duration": "1e12"}, AAC, duration="4294967295.000000")
    )
    assert result.duration_s == 10.0
    assert result.video is not None and result.video.duration_s is None


def test_parser_takes_n_a_and_values_of_the_wrong_type_as_unknown() -> None:
    odd = {
        "index": "N/A",
        "codec_type": "video",
        "codec_name": ["h264"],
        "width": "N/A",
        "height": 1080.5,
        "pix_fmt": None,
        "duration": "N/A",
        "disposition": "attached_pic",
        "tags": ["creation_time", "2024-03-15"],
    }
    audio = {**AAC, "index": None, "sample_rate": "N/A", "channels": {"n": 2}}
    result = parse_ffprobe_json({"streams": [odd, audio, "junk", 7], "format": ["not", "a", "map"]})
    assert result.video is None  # no frame size could be read, and there is audio
    assert result.audio is not None
    assert (result.audio.index, result.audio.sample_rate, result.audio.channels) == (0, None, None)
    assert (result.format_name, result.duration_s, result.creation_time_raw) == (
        "unknown",
        10.0,
        None,
    )


@pytest.mark.parametrize("data", [{"streams": {"0": H264}}, {"streams": "h264"}, {}])
def test_parser_reports_no_streams_for_a_streams_list_of_the_wrong_shape(
    data: dict[str, Any],
) -> None:
    with pytest.raises(ProbeError, match="no audio or video stream"):
        parse_ffprobe_json(data)


@pytest.mark.parametrize(
    "raw", ["0001-01-01T00:00:00", "0001:01:01 00:00:00", "9999-12-31T23:59:59+00:00"]
)
def test_parser_keeps_a_creation_time_at_the_edge_of_the_calendar_raw_only(raw: str) -> None:
    """Such a stamp could not be moved to UTC or have the duration added without overflowing."""
    result = parse_ffprobe_json(_ffprobe_json(H264, tags={"creation_time": raw}))
    assert (result.creation_time, result.creation_time_raw) == (None, raw)


def test_a_report_with_bytes_that_are_not_utf8_is_read_with_them_replaced() -> None:
    report = (
        b'{"streams": [{"index": 0, "codec_type": "audio", "codec_name": "aac"}],'
        b' "format": {"duration": "3.0", "tags": {"creation_time": "2024\xff\xfe"}}}'
    )
    result = parse_ffprobe_output(report)
    assert result.audio is not None and result.duration_s == 3.0
    assert result.creation_time_raw == "2024\ufffd\ufffd"


@pytest.mark.parametrize("report", [b"", b"[1, 2]", b'{"streams": [', b"\xff\xfe", b"null"])
def test_a_report_that_is_not_a_json_object_is_a_probe_error(report: bytes) -> None:
    with pytest.raises(ProbeError):
        parse_ffprobe_output(report)


def test_probe_argv_reads_json_through_the_safety_options() -> None:
    argv = probe_argv(Path("/v/VID_0001.MP4"))
    assert argv[0] == "ffprobe"
    assert {"-show_format", "-show_streams"} <= set(argv)
    assert argv[argv.index("-print_format") + 1] == "json"
    assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert "-format_whitelist" in argv
    assert argv[-2:] == ["-i", "file:/v/VID_0001.MP4"]
    assert probe_argv(Path("/v/IMG.JPG"))[-6:-2] == ["-f", "image2", "-pattern_type", "none"]


def _probed(*, video: bool, audio: bool, score: int | None) -> ProbeResult:
    return ProbeResult(
        format_name="x",
        duration_s=1.0,
        video=StreamInfo(0, "h264", 320, 240) if video else None,
        audio=StreamInfo(1, "aac") if audio else None,
        creation_time=None,
        creation_time_raw=None,
        probe_score=score,
    )


@pytest.mark.parametrize(
    ("video", "audio", "score", "kind"),
    [
        (True, True, 100, MediaKind.VIDEO),
        (True, False, GUESSED_SCORE + 1, MediaKind.VIDEO),
        (False, True, 51, MediaKind.AUDIO),
        (True, True, GUESSED_SCORE, MediaKind.OTHER),  # ffmpeg warns "misdetection possible"
        (False, True, 1, MediaKind.OTHER),  # a name's suffix alone scores 1
        (True, False, None, MediaKind.OTHER),
    ],
)
def test_a_file_whose_name_says_nothing_takes_the_kind_ffprobe_is_sure_of(
    video: bool, audio: bool, score: int | None, kind: MediaKind
) -> None:
    assert kind_from_probe(_probed(video=video, audio=audio, score=score), MediaKind.OTHER) is kind


@pytest.mark.parametrize("named", [MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.PHOTO])
@pytest.mark.parametrize(("video", "score"), [(True, 100), (False, 100), (True, 1)])
def test_a_file_named_as_media_keeps_the_kind_of_its_name(
    named: MediaKind, video: bool, score: int
) -> None:
    assert kind_from_probe(_probed(video=video, audio=True, score=score), named) is named


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


@pytest.mark.parametrize(
    ("clip", "format_name", "video_codec", "audio_codec", "size"),
    [
        ("dv", "dv", "dvvideo", "pcm_s16le", (720, 576)),
        ("mts", "mpegts", "h264", "ac3", (320, 240)),
        ("threegp", "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac", (176, 144)),
        ("flv", "flv", "h264", "aac", (320, 240)),
        ("mkv", "matroska,webm", "h264", "opus", (320, 240)),
        ("mpeg_ps", "mpeg", "mpeg2video", "mp2", (320, 240)),
    ],
)
def test_probe_reads_what_camcorders_phones_and_recorders_write(
    clips: Clips,
    clip: str,
    format_name: str,
    video_codec: str,
    audio_codec: str,
    size: tuple[int, int],
) -> None:
    path = getattr(clips, clip)
    result = probe(path)
    assert result.format_name == format_name
    assert result.video is not None and result.audio is not None
    assert (result.video.codec_name, result.audio.codec_name) == (video_codec, audio_codec)
    assert (result.video.width, result.video.height) == size
    assert result.duration_s == pytest.approx(1.0, abs=0.1)
    assert kind_from_probe(result, media_kind(path.name)) is MediaKind.VIDEO


@pytest.mark.parametrize(("clip", "format_name"), [("dav", "dhav"), ("raw_h264", "h264")])
def test_a_recorders_file_ffprobe_opens_is_video_though_its_name_says_nothing(
    clips: Clips, clip: str, format_name: str
) -> None:
    path = getattr(clips, clip)
    assert media_kind(path.name) is MediaKind.OTHER
    result = probe(path)
    assert result.format_name == format_name
    assert result.video is not None and result.video.codec_name == "h264"
    assert (result.video.width, result.video.height) == (320, 240)
    assert kind_from_probe(result, MediaKind.OTHER) is MediaKind.VIDEO


def test_an_mp4_that_is_really_a_program_stream_is_read_as_one(
    clips: Clips, tmp_path: Path
) -> None:
    """Some Hikvision recorders export MPEG-PS under a .mp4 name."""
    disguised = tmp_path / "ch01_20240308083000.mp4"
    disguised.write_bytes(clips.mpeg_ps.read_bytes())
    result = probe(disguised)
    assert (result.format_name, kind_from_probe(result, MediaKind.VIDEO)) == (
        "mpeg",
        MediaKind.VIDEO,
    )


def test_a_recorders_file_ffprobe_cannot_open_stays_other_with_the_reason(clips: Clips) -> None:
    with pytest.raises(ProbeError) as caught:
        probe(clips.dav_unreadable)
    message = str(caught.value)
    assert message.startswith(
        "ch03_20240308083000.dav: ffprobe could not read it as audio or video"
    )
    assert "kept as evidence of kind 'other'" in message


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("DJI_0001.SRT", "1\n00:00:00,000 --> 00:00:01,000\nGPS (22.5, 114.0, 20)\n\n", "'srt'"),
        ("track.gpx", '<?xml version="1.0"?><gpx><trk></trk></gpx>\n', "ffprobe can open"),
        ("device.log", "2024-03-08 08:30:00 REC START\n", "ffprobe can open"),
    ],
)
def test_a_sidecar_or_log_is_not_media_and_says_it_is_kept(
    tmp_path: Path, name: str, content: str, says: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ProbeError) as caught:
        probe(path)
    message = str(caught.value)
    assert says in message and "kept as evidence of kind 'other'" in message


def test_a_format_ffprobe_only_guesses_is_not_taken_for_media_in_a_file_named_nothing(
    tmp_path: Path,
) -> None:
    """Three MPEG audio frames: ffprobe reads them, but scores the guess 1 of 100."""
    fragment = mpeg_audio_frames(tmp_path / "FILE0000.CHK")
    with pytest.raises(ProbeError, match=r"only guessed that this is 'mp3' \(certainty 1 of 100\)"):
        probe(fragment)


def test_control_the_same_guess_in_a_file_named_as_audio_is_taken_on_the_names_word(
    tmp_path: Path,
) -> None:
    """Shows the test above can fail: the bytes do probe as audio, only the score refuses them."""
    named = mpeg_audio_frames(tmp_path / "REC_0001.MP3")
    result = probe(named)
    assert result.audio is not None and result.probe_score == 1
    assert kind_from_probe(result, MediaKind.AUDIO) is MediaKind.AUDIO


@pytest.mark.parametrize("claimed_s", [4294967295, 500_000])
def test_a_header_claiming_an_absurd_duration_is_not_believed(
    tmp_path: Path, claimed_s: int
) -> None:
    src = claim_duration(h264_aac_mp4(tmp_path / "VID_0012.MP4", seconds=1), claimed_s)
    result = probe(src)
    assert result.duration_raw is not None and float(result.duration_raw) == claimed_s
    assert result.duration_s == pytest.approx(1.0, abs=0.1)  # the video stream's own duration


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


@pytest.mark.parametrize("name", ["playlist.m3u8", "ch01.dav", "EXPORT"])
def test_a_playlist_in_a_file_whose_name_says_nothing_is_refused_unread(
    tmp_path: Path, name: str
) -> None:
    secret = tmp_path / "secret.ts"
    with _fifo_watch(secret) as opened:
        playlist = hls_disguised_as_mp4(tmp_path / name, secret)
        with pytest.raises(ProbeError, match="recognises the format 'hls'"):
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
