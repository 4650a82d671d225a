"""Renditions: stream copies first, one H.264 encode only when nothing copied plays everywhere."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.encoders import PRESETS
from ingest.errors import TranscodeError
from ingest.ffmpeg_run import MAX_TIMEOUT_S
from ingest.playability import check_playable
from ingest.probe import ProbeResult, StreamInfo, probe
from ingest.renditions import (
    Rendition,
    RenditionPlan,
    make_quick,
    make_transcode,
    plan_quick,
    plan_transcode,
    rendition_argv,
)
from simulation.footage import (
    aac_m4a,
    claim_duration,
    h264_aac_mp4,
    hevc_mp4,
    mjpeg_avi_corrupt_from,
    mjpeg_pcm_avi,
    mp4_top_level_boxes,
)
from tests.fixtures_media import Clips
from wire.media_kinds import MediaKind

VIDEO, AUDIO, PHOTO, OTHER = MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.PHOTO, MediaKind.OTHER


def _probe(
    video: str | None = "h264",
    audio: str | None = "aac",
    *,
    height: int = 1080,
    pix_fmt: str | None = "yuv420p",
    duration_s: float | None = 60.0,
) -> ProbeResult:
    return ProbeResult(
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration_s=duration_s,
        video=StreamInfo(0, video, height * 16 // 9, height, pix_fmt) if video else None,
        audio=StreamInfo(1, audio, sample_rate=48000, channels=1) if audio else None,
        creation_time=None,
        creation_time_raw=None,
    )


def _shape(plans: list[RenditionPlan]) -> list[tuple[str, str | None, str | None]]:
    return [(p.name, p.video, p.audio) for p in plans]


# --- the pure plans ---------------------------------------------------------------------------

# (source shape, kind) -> (quick renditions, transcode or None)
SHAPES = {
    "h264+aac": (_probe("h264", "aac"), VIDEO, [("h264", "copy", "copy")], None),
    # Browsers play 8-bit H.264 at any size: a 4K file is copied, never transcoded.
    "h264 4k": (_probe("h264", "aac", height=2160), VIDEO, [("h264", "copy", "copy")], None),
    "h264+pcm": (_probe("h264", "pcm_s16le"), VIDEO, [("h264", "copy", "encode")], None),
    "h264 silent": (_probe("h264", None), VIDEO, [("h264", "copy", None)], None),
    "h264 high10": (
        _probe("h264", "aac", pix_fmt="yuv420p10le"),
        VIDEO,
        [],
        ("h264", "encode", "encode"),
    ),
    "h264 4:2:2": (
        _probe("h264", "aac", pix_fmt="yuv422p"),
        VIDEO,
        [],
        ("h264", "encode", "encode"),
    ),
    "hevc+aac": (
        _probe("hevc", "aac"),
        VIDEO,
        [("hevc", "copy", "copy")],
        ("h264", "encode", "encode"),
    ),
    "hevc+pcm": (
        _probe("hevc", "pcm_s16le"),
        VIDEO,
        [("hevc", "copy", "encode")],
        ("h264", "encode", "encode"),
    ),
    "mjpeg+pcm avi": (_probe("mjpeg", "pcm_s16le"), VIDEO, [], ("h264", "encode", "encode")),
    "mpeg4 silent": (_probe("mpeg4", None), VIDEO, [], ("h264", "encode", None)),
    "wav": (_probe(None, "pcm_s16le"), AUDIO, [("aac", None, "encode")], None),
    "aac m4a": (_probe(None, "aac"), AUDIO, [("aac", None, "copy")], None),
    "mp3 with cover art": (_probe("mjpeg", "mp3"), AUDIO, [("aac", None, "encode")], None),
    "video file with only audio": (_probe(None, "aac"), VIDEO, [("aac", None, "copy")], None),
    "photo": (_probe("mjpeg", None), PHOTO, [], None),
    "recorder's own container": (_probe("h264", "aac"), OTHER, [], None),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_quick_renditions_are_stream_copies_of_what_can_be_copied(shape: str) -> None:
    probed, kind, quick, _ = SHAPES[shape]
    plans = plan_quick(probed, kind)
    assert _shape(plans) == quick
    assert all(p.video in (None, "copy") for p in plans)  # video is never encoded here


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_transcode_is_planned_only_when_no_quick_rendition_plays_everywhere(shape: str) -> None:
    probed, kind, _, transcode = SHAPES[shape]
    plan = plan_transcode(probed, kind)
    assert (None if plan is None else (plan.name, plan.video, plan.audio)) == transcode


def test_plans_carry_name_type_codec_and_a_fixed_file_name() -> None:
    hevc, h264 = plan_quick(_probe("hevc"), VIDEO)[0], plan_transcode(_probe("hevc"), VIDEO)
    aac = plan_quick(_probe(None, "pcm_s16le"), AUDIO)[0]
    assert h264 is not None
    assert [(p.file_name, p.content_type, p.codec) for p in (h264, hevc, aac)] == [
        ("rendition-h264.mp4", "video/mp4", "avc1"),
        ("rendition-hevc.mp4", "video/mp4", "hvc1"),
        ("rendition-aac.m4a", "audio/mp4", "mp4a"),
    ]


def test_time_limits_follow_the_duration_copies_a_tenth_and_encodes_four_times() -> None:
    copy = plan_quick(_probe("hevc", duration_s=3600), VIDEO)[0]
    encode = plan_transcode(_probe("hevc", duration_s=600), VIDEO)
    assert encode is not None
    assert (copy.timeout_s(None), encode.timeout_s(None)) == (360, 2400)
    short_copy = plan_quick(_probe("h264", duration_s=10), VIDEO)[0]
    assert short_copy.timeout_s(None) == 30  # a copy gets at least 30 s
    short = plan_transcode(_probe("hevc", duration_s=5), VIDEO)
    assert short is not None and short.timeout_s(None) == 60  # an encode at least 60 s


def _limits(probed: ProbeResult, source_bytes: int | None) -> tuple[float, float | None]:
    """The time limits of (the first quick copy, the transcode or None) of a video file."""
    encode = plan_transcode(probed, VIDEO)
    return (
        plan_quick(probed, VIDEO)[0].timeout_s(source_bytes),
        None if encode is None else encode.timeout_s(source_bytes),
    )


@pytest.mark.parametrize("duration_s", [1e8, 4294967295.0, float("inf"), float("nan")])
@pytest.mark.parametrize("video", ["h264", "hevc"])
def test_time_limits_never_exceed_the_ceiling_whatever_the_duration_says(
    duration_s: float, video: str
) -> None:
    """The probe refuses such durations; the plans are bounded even when handed one anyway."""
    copy_s, encode_s = _limits(_probe(video, duration_s=duration_s), None)
    assert 30 <= copy_s <= MAX_TIMEOUT_S == 6 * 3600
    if video == "hevc":
        assert encode_s is not None and 60 <= encode_s <= MAX_TIMEOUT_S


def test_without_a_duration_the_time_limit_is_estimated_from_the_size_at_a_low_bitrate() -> None:
    unknown = _probe("hevc", duration_s=None)
    # 10 MB at 250 kbit/s is 320 s of media: a tenth (floor 30 s) to copy, 4x to transcode.
    assert _limits(unknown, 10_000_000) == (32, 1280)
    assert _limits(unknown, 100_000) == (30, 60)  # floors
    assert _limits(unknown, 50 * 10**9) == (MAX_TIMEOUT_S, MAX_TIMEOUT_S)  # ceilings
    assert _limits(unknown, None) == (MAX_TIMEOUT_S, MAX_TIMEOUT_S)  # nothing known: never endless


def test_hevc_remux_copies_tagged_hvc1_with_the_index_first() -> None:
    plan = plan_quick(_probe("hevc", "aac"), VIDEO)[0]
    argv = rendition_argv(Path("/s/VID.MP4"), Path("/d/r.mp4"), plan)
    joined = " ".join(argv)
    assert "-map 0:V:0 -c:v copy -tag:v hvc1 -map 0:a:0 -c:a copy" in joined
    assert joined.endswith("-f mp4 -movflags +faststart file:/d/r.mp4")
    assert "-protocol_whitelist file" in joined and "-format_whitelist" in argv
    assert "-i file:/s/VID.MP4" in joined


def test_h264_copy_keeps_the_video_and_encodes_other_audio_to_aac() -> None:
    plan = plan_quick(_probe("h264", "pcm_s16le"), VIDEO)[0]
    joined = " ".join(rendition_argv(Path("/s/a.mov"), Path("/d/r.mp4"), plan))
    assert "-map 0:V:0 -c:v copy -map 0:a:0 -c:a aac -b:a 128k -f mp4" in joined
    assert "hvc1" not in joined
    assert "-map_metadata" not in joined  # the source's tags are carried over as ffmpeg does


def test_video_without_audio_maps_no_audio() -> None:
    [copy] = plan_quick(_probe("h264", None), VIDEO)
    encode = plan_transcode(_probe("mpeg4", None), VIDEO)
    assert encode is not None
    for plan, encoder in [(copy, None), (encode, PRESETS["software"])]:
        assert plan.audio is None
        argv = rendition_argv(Path("/s/a.mp4"), Path("/d/r.mp4"), plan, encoder)
        assert "0:a:0" not in argv and "-c:a" not in argv


def test_audio_renditions_drop_video_and_use_the_m4a_muxer() -> None:
    plan = plan_quick(_probe(None, "aac"), AUDIO)[0]
    argv = rendition_argv(Path("/s/a.m4a"), Path("/d/r.m4a"), plan)
    assert "-vn" in argv and "0:V:0" not in argv
    assert " ".join(argv).endswith(
        "-map 0:a:0 -c:a copy -f ipod -movflags +faststart file:/d/r.m4a"
    )


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_transcode_argv_is_the_presets_input_args_then_its_video_args(name: str) -> None:
    preset = PRESETS[name]
    plan = plan_transcode(_probe("hevc", "aac"), VIDEO)
    assert plan is not None
    argv = rendition_argv(Path("/s/VID.MP4"), Path("/d/r.mp4"), plan, preset)
    first_input = argv.index("-protocol_whitelist")
    assert argv[6:first_input] == list(preset.input_args)
    video_at = argv.index("-map") + 2
    assert argv[argv.index("-map") : video_at] == ["-map", "0:V:0"]
    assert argv[video_at : video_at + len(preset.output_args())] == preset.output_args()
    assert " ".join(argv).endswith(
        "-map 0:a:0 -c:a aac -b:a 128k -f mp4 -movflags +faststart file:/d/r.mp4"
    )


def test_a_copy_needs_no_encoder_and_ignores_one_given() -> None:
    plan = plan_quick(_probe("h264", "aac"), VIDEO)[0]
    with_hw = rendition_argv(Path("/s/a.mp4"), Path("/d/r.mp4"), plan, PRESETS["vaapi"])
    assert with_hw == rendition_argv(Path("/s/a.mp4"), Path("/d/r.mp4"), plan)
    assert "-hwaccel" not in with_hw


def test_an_encode_without_an_encoder_is_a_programming_error() -> None:
    plan = plan_transcode(_probe("mjpeg", "aac"), VIDEO)
    assert plan is not None
    with pytest.raises(ValueError, match="encoder"):
        rendition_argv(Path("/s/a.avi"), Path("/d/r.mp4"), plan)


# --- real ffmpeg on generated clips -----------------------------------------------------------


def _streams(path: Path) -> list[dict[str, str]]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,codec_tag_string,pix_fmt,width,height",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        check=True,
    ).stdout
    streams: list[dict[str, str]] = json.loads(out)["streams"]
    return streams


def _assert_index_first_and_playable(rendition: Rendition, kind: MediaKind) -> None:
    types = [box.type for box in mp4_top_level_boxes(rendition.path)]
    assert types.index("moov") < types.index("mdat"), types
    assert check_playable(rendition.path, kind, duration_s=2.0) is None
    assert not [p for p in rendition.path.parent.iterdir() if p.name.endswith(".part")]


def test_a_camera_h264_mp4_gets_one_quick_copy_and_no_transcode(
    clips: Clips, tmp_path: Path
) -> None:
    source_types = [box.type for box in mp4_top_level_boxes(clips.h264_mp4)]
    assert source_types.index("moov") > source_types.index("mdat")  # as cameras write it
    probed = probe(clips.h264_mp4)
    [quick] = make_quick(clips.h264_mp4, probed, VIDEO, tmp_path)
    assert quick == Rendition("h264", tmp_path / "rendition-h264.mp4", "video/mp4", "avc1", "copy")
    assert [(s["codec_name"], s["codec_tag_string"]) for s in _streams(quick.path)] == [
        ("h264", "avc1"),
        ("aac", "mp4a"),
    ]
    _assert_index_first_and_playable(quick, VIDEO)
    assert make_transcode(clips.h264_mp4, probed, VIDEO, tmp_path, PRESETS["software"]) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendition-h264.mp4"]


def test_h265_is_remuxed_tagged_hvc1_and_transcoded_to_h264_in_software(
    clips: Clips, tmp_path: Path
) -> None:
    probed = probe(clips.hevc_mp4)
    [quick] = make_quick(clips.hevc_mp4, probed, VIDEO, tmp_path)
    assert (quick.name, quick.codec, quick.encoder) == ("hevc", "hvc1", "copy")
    assert [s["codec_tag_string"] for s in _streams(quick.path)] == ["hvc1", "mp4a"]
    _assert_index_first_and_playable(quick, VIDEO)

    made = make_transcode(clips.hevc_mp4, probed, VIDEO, tmp_path, PRESETS["software"])
    assert made == Rendition(
        "h264", tmp_path / "rendition-h264.mp4", "video/mp4", "avc1", "libx264"
    )
    video, audio = _streams(made.path)
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == (
        "h264",
        "yuv420p",
        320,
        240,
    )
    assert audio["codec_name"] == "aac"
    _assert_index_first_and_playable(made, VIDEO)


@pytest.mark.parametrize("clip", ["high10_mp4", "mjpeg_avi"])
def test_video_no_browser_decodes_gets_no_quick_copy_and_an_8_bit_h264_transcode(
    clips: Clips, clip: str, tmp_path: Path
) -> None:
    src = getattr(clips, clip)
    probed = probe(src)
    assert make_quick(src, probed, VIDEO, tmp_path) == []
    made = make_transcode(src, probed, VIDEO, tmp_path, PRESETS["software"])
    assert made is not None and made.encoder == "libx264" and made.note is None
    assert [(s["codec_name"], s.get("pix_fmt")) for s in _streams(made.path)] == [
        ("h264", "yuv420p"),
        ("aac", None),
    ]
    _assert_index_first_and_playable(made, VIDEO)


@pytest.mark.parametrize(("clip", "encoder"), [("wav", "aac"), ("aac_m4a", "copy")])
def test_audio_gets_a_quick_aac_m4a_and_no_transcode(
    clips: Clips, clip: str, encoder: str, tmp_path: Path
) -> None:
    src = getattr(clips, clip)
    probed = probe(src)
    [quick] = make_quick(src, probed, AUDIO, tmp_path)
    assert quick == Rendition("aac", tmp_path / "rendition-aac.m4a", "audio/mp4", "mp4a", encoder)
    assert [s["codec_name"] for s in _streams(quick.path)] == ["aac"]
    _assert_index_first_and_playable(quick, AUDIO)
    assert make_transcode(src, probed, AUDIO, tmp_path, PRESETS["software"]) is None


def test_a_video_file_with_only_audio_gets_an_aac_rendition(tmp_path: Path) -> None:
    src = aac_m4a(tmp_path / "VID_0030.MP4")  # a camera's video file holding only sound
    probed = probe(src)
    [quick] = make_quick(src, probed, VIDEO, tmp_path)
    assert quick == Rendition("aac", tmp_path / "rendition-aac.m4a", "audio/mp4", "mp4a", "copy")
    _assert_index_first_and_playable(quick, AUDIO)
    assert make_transcode(src, probed, VIDEO, tmp_path, PRESETS["software"]) is None


def test_a_photo_gets_nothing_and_nothing_is_written(clips: Clips, tmp_path: Path) -> None:
    probed = probe(clips.jpg)
    assert make_quick(clips.jpg, probed, PHOTO, tmp_path) == []
    assert make_transcode(clips.jpg, probed, PHOTO, tmp_path, PRESETS["software"]) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["vaapi", "qsv", "nvenc"])
def test_a_failed_hardware_encode_is_made_in_software_and_says_so(
    clips: Clips, name: str, tmp_path: Path
) -> None:
    made = make_transcode(clips.hevc_mp4, probe(clips.hevc_mp4), VIDEO, tmp_path, PRESETS[name])
    assert made is not None and made.encoder == "libx264"
    assert made.note is not None
    assert made.note.startswith(f"hardware encode ({name}) failed: ffmpeg failed on VID_0003.MP4")
    assert made.note.endswith("; made in software")
    _assert_index_first_and_playable(made, VIDEO)


def test_a_failed_software_encode_is_an_error_and_leaves_no_file(
    clips: Clips, tmp_path: Path
) -> None:
    garbage = tmp_path / "VID.AVI"
    garbage.write_bytes(b"RIFF" + bytes(4000))
    with pytest.raises(TranscodeError, match="VID.AVI"):
        make_transcode(garbage, probe(clips.mjpeg_avi), VIDEO, tmp_path, PRESETS["vaapi"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VID.AVI"]


def test_an_encode_that_fails_part_way_leaves_nothing_under_the_final_name(
    tmp_path: Path,
) -> None:
    """Every picture zeroed (a failing memory card): ffmpeg has opened its output when it
    gives up, so only writing to a .part and removing it keeps the final name empty."""
    src = mjpeg_avi_corrupt_from(tmp_path / "REC.AVI", corrupt_from_s=0.0)
    with pytest.raises(TranscodeError, match="REC.AVI"):
        make_transcode(src, probe(src), VIDEO, tmp_path, PRESETS["software"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REC.AVI"]


def test_a_refused_quick_copy_is_skipped_and_the_transcode_makes_the_browser_copy(
    clips: Clips, tmp_path: Path
) -> None:
    real = probe(clips.mjpeg_avi)
    assert real.video is not None and real.audio is not None
    # A probe that wrongly promises H.264/AAC: copying PCM into MP4 is refused by the muxer.
    lying = dataclasses.replace(
        real,
        video=dataclasses.replace(real.video, codec_name="h264", pix_fmt="yuv420p"),
        audio=dataclasses.replace(real.audio, codec_name="aac"),
    )
    stale = tmp_path / "rendition-h264.mp4"
    stale.write_bytes(b"an earlier attempt's file")
    assert plan_transcode(lying, VIDEO) is None  # on paper, the copy is enough
    assert make_quick(clips.mjpeg_avi, lying, VIDEO, tmp_path) == []
    assert not stale.exists()  # a stale file must not pass for this run's copy
    made = make_transcode(clips.mjpeg_avi, lying, VIDEO, tmp_path, PRESETS["software"])
    assert made is not None and (made.name, made.encoder) == ("h264", "libx264")
    assert [s["codec_name"] for s in _streams(made.path)] == ["h264", "aac"]


def test_a_retry_overwrites_the_same_file(clips: Clips, tmp_path: Path) -> None:
    probed = probe(clips.mjpeg_avi)
    first = make_transcode(clips.mjpeg_avi, probed, VIDEO, tmp_path, PRESETS["software"])
    second = make_transcode(clips.mjpeg_avi, probed, VIDEO, tmp_path, PRESETS["software"])
    assert first is not None and second is not None and first.path == second.path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendition-h264.mp4"]


def test_the_software_transcode_scales_to_at_most_720_lines_keeping_the_aspect(
    tmp_path: Path,
) -> None:
    src = mjpeg_pcm_avi(tmp_path / "TALL.AVI", seconds=0.3, size="480x1440")
    made = make_transcode(src, probe(src), VIDEO, tmp_path, PRESETS["software"])
    assert made is not None
    assert (_streams(made.path)[0]["width"], _streams(made.path)[0]["height"]) == (240, 720)


def test_the_transcode_puts_a_keyframe_every_two_seconds(tmp_path: Path) -> None:
    src = mjpeg_pcm_avi(tmp_path / "LONG.AVI", seconds=7, size="160x120")
    made = make_transcode(src, probe(src), VIDEO, tmp_path, PRESETS["software"])
    assert made is not None
    keyframes = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-skip_frame",
            "nokey",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
            str(made.path),
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split()
    assert [round(float(t.strip(",")), 2) for t in keyframes] == [0.0, 2.0, 4.0, 6.0]


def test_a_source_that_cannot_be_read_is_a_transcode_error(clips: Clips, tmp_path: Path) -> None:
    missing = tmp_path / "VID_0014.MP4"
    with pytest.raises(TranscodeError, match="VID_0014.MP4: cannot be read"):
        make_quick(missing, probe(clips.h264_mp4), VIDEO, tmp_path)
    with pytest.raises(TranscodeError, match="VID_0014.MP4: cannot be read"):
        make_transcode(missing, probe(clips.hevc_mp4), VIDEO, tmp_path, PRESETS["software"])


def test_a_rendition_that_cannot_be_saved_is_a_transcode_error_naming_the_file(
    clips: Clips, tmp_path: Path
) -> None:
    in_the_way = tmp_path / "rendition-h264.mp4"
    in_the_way.mkdir()
    (in_the_way / "x").touch()  # os.replace cannot put a file over a non-empty folder
    with pytest.raises(
        TranscodeError, match="VID_0003.MP4: the rendition could not be saved as rendition-h264"
    ):
        make_transcode(clips.hevc_mp4, probe(clips.hevc_mp4), VIDEO, tmp_path, PRESETS["software"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendition-h264.mp4"]


@pytest.mark.parametrize("claimed_s", [4294967295, 500_000])
@pytest.mark.parametrize("encode", [h264_aac_mp4, hevc_mp4], ids=["copied", "transcoded"])
def test_a_header_claiming_an_absurd_duration_gets_renditions_in_bounds(
    tmp_path: Path, encode: Callable[..., Path], claimed_s: int
) -> None:
    """1 s of video whose mvhd claims 136 years (once an OverflowError) or ~6 days (a limit of
    weeks): the renditions are made, with time limits that follow the real length."""
    src = claim_duration(encode(tmp_path / "VID_0013.MP4", seconds=1), claimed_s)
    started = time.monotonic()
    probed = probe(src)
    made = make_quick(src, probed, VIDEO, tmp_path)
    transcoded = make_transcode(src, probed, VIDEO, tmp_path, PRESETS["software"])
    made += [transcoded] if transcoded else []
    assert [r.name for r in made] == (["h264"] if encode is h264_aac_mp4 else ["hevc", "h264"])
    for rendition in made:
        assert probe(rendition.path).duration_s == pytest.approx(1.0, abs=0.1)
    assert time.monotonic() - started < 30
    size = src.stat().st_size
    assert _limits(probed, size) == ((30, None) if encode is h264_aac_mp4 else (30, 60))
