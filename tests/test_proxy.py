"""Browser proxies: copy what browsers play, transcode the rest, index first, never half written."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.errors import TranscodeError
from ingest.ffmpeg_run import MAX_TIMEOUT_S
from ingest.probe import ProbeResult, StreamInfo, probe
from ingest.proxy import ProxyPlan, make_proxy, plan_proxy, proxy_argv
from ingest.thumbnail import make_thumbnail
from simulation.footage import (
    claim_duration,
    h264_aac_mp4,
    hevc_mp4,
    mjpeg_pcm_avi,
    mp4_top_level_boxes,
)
from tests.fixtures_media import Clips
from wire.media_kinds import MediaKind


def _probe(
    video: str | None = "h264",
    audio: str | None = "aac",
    *,
    height: int = 1080,
    pix_fmt: str = "yuv420p",
    duration_s: float | None = 60.0,
) -> ProbeResult:
    width = height * 16 // 9
    return ProbeResult(
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration_s=duration_s,
        video=StreamInfo(0, video, width, height, pix_fmt) if video else None,
        audio=StreamInfo(1, audio, sample_rate=48000, channels=1) if audio else None,
        creation_time=None,
        creation_time_raw=None,
    )


def _plan(probe_result: ProbeResult, kind: MediaKind = MediaKind.VIDEO) -> ProxyPlan:
    plan = plan_proxy(probe_result, kind)
    assert plan is not None
    return plan


# --- the pure planner and argv ---------------------------------------------------------------


def test_h264_and_aac_are_both_stream_copied() -> None:
    plan = _plan(_probe("h264", "aac"))
    assert (plan.content_type, plan.copy_video, plan.copy_audio) == ("video/mp4", True, True)
    assert not plan.transcodes


def test_h264_with_pcm_copies_the_video_and_transcodes_the_audio() -> None:
    plan = _plan(_probe("h264", "pcm_s16le"))
    assert (plan.copy_video, plan.copy_audio, plan.has_audio) == (True, False, True)


def test_mjpeg_1080_is_transcoded_without_scaling() -> None:
    plan = _plan(_probe("mjpeg", "adpcm_ima_wav", height=1080))
    assert (plan.copy_video, plan.copy_audio, plan.scale_to_1080) == (False, False, False)


def test_hevc_4k_is_transcoded_and_scaled_to_1080() -> None:
    plan = _plan(_probe("hevc", "aac", height=2160))
    assert (plan.copy_video, plan.copy_audio, plan.scale_to_1080) == (False, True, True)


def test_h264_4k_is_still_copied_because_browsers_play_it() -> None:
    plan = _plan(_probe("h264", "aac", height=2160))
    assert plan.copy_video and not plan.scale_to_1080


def test_10_bit_h264_is_transcoded_because_browsers_do_not_play_it() -> None:
    assert not _plan(_probe("h264", "aac", pix_fmt="yuv420p10le")).copy_video


def test_audio_files_get_an_m4a_audio_proxy() -> None:
    plan = _plan(_probe(None, "amr_nb"), MediaKind.AUDIO)
    assert (plan.content_type, plan.muxer, plan.suffix) == ("audio/mp4", "ipod", ".m4a")
    assert (plan.has_video, plan.copy_audio) == (False, False)


def test_a_video_file_with_only_audio_gets_an_audio_proxy() -> None:
    assert _plan(_probe(None, "aac")).content_type == "audio/mp4"


def test_video_without_audio_maps_no_audio() -> None:
    plan = _plan(_probe("h264", None))
    assert not plan.has_audio
    assert "0:a:0" not in proxy_argv(Path("/s/a.mp4"), Path("/d/a.mp4"), plan)


def test_photos_get_no_proxy() -> None:
    assert plan_proxy(_probe("mjpeg", None), MediaKind.PHOTO) is None


def test_time_limits_follow_the_duration() -> None:
    assert _plan(_probe("h264", "aac", duration_s=3600)).timeout_s == 360  # copy: duration/10
    assert _plan(_probe("h264", "aac", duration_s=10)).timeout_s == 30  # copy: at least 30 s
    assert _plan(_probe("hevc", "aac", duration_s=600)).timeout_s == 2400  # transcode: 4x
    assert _plan(_probe("hevc", "aac", duration_s=5)).timeout_s == 60  # transcode: at least 60 s


@pytest.mark.parametrize("duration_s", [1e8, 4294967295.0, float("inf"), float("nan")])
@pytest.mark.parametrize("video", ["h264", "hevc"])
def test_time_limits_never_exceed_the_ceiling_whatever_the_duration_says(
    duration_s: float, video: str
) -> None:
    """The probe refuses such durations; the plan is bounded even when handed one anyway."""
    plan = _plan(_probe(video, "aac", duration_s=duration_s))
    assert 30 <= plan.timeout_s <= MAX_TIMEOUT_S == 6 * 3600


def test_without_a_duration_the_time_limit_is_estimated_from_the_size_at_a_low_bitrate() -> None:
    def limit(video: str, source_bytes: int | None) -> float:
        plan = plan_proxy(
            _probe(video, "aac", duration_s=None), MediaKind.VIDEO, source_bytes=source_bytes
        )
        assert plan is not None
        return plan.timeout_s

    # 10 MB at 250 kbit/s is 320 s of media: 4x to transcode, a tenth (floor 30 s) to copy.
    assert limit("hevc", 10_000_000) == 1280
    assert limit("h264", 10_000_000) == 32
    assert limit("hevc", 100_000) == 60  # floors
    assert limit("h264", 100_000) == 30
    assert limit("hevc", 50 * 10**9) == MAX_TIMEOUT_S  # ceilings
    assert limit("h264", 50 * 10**9) == MAX_TIMEOUT_S
    assert limit("hevc", None) == MAX_TIMEOUT_S  # nothing known: the ceiling, never endless
    assert _plan(_probe("hevc", "aac", duration_s=None)).timeout_s >= 60


def test_copy_argv_maps_first_video_and_audio_and_puts_the_index_first() -> None:
    argv = proxy_argv(Path("/s/VID.AVI"), Path("/d/p.mp4"), _plan(_probe("h264", "aac")))
    joined = " ".join(argv)
    assert argv[0] == "ffmpeg"
    assert "-map 0:V:0 -c:v copy" in joined
    assert "-map 0:a:0 -c:a copy" in joined
    assert "-f mp4 -movflags +faststart" in joined
    assert "-map_metadata" not in argv
    assert "-protocol_whitelist file" in joined and "-format_whitelist" in argv
    assert "-i file:/s/VID.AVI" in joined
    assert argv[-1] == "file:/d/p.mp4"


def test_transcode_argv_uses_capped_veryfast_libx264_at_most_1080_lines_and_aac() -> None:
    argv = proxy_argv(Path("/s/a.mp4"), Path("/d/p.mp4"), _plan(_probe("hevc", "pcm_s16le")))
    joined = " ".join(argv)
    assert "-c:v libx264 -preset veryfast -crf 23" in joined
    assert "-maxrate" in argv and "-bufsize" in argv
    assert argv[argv.index("-pix_fmt") + 1] == "yuv420p"
    assert "min(ih,1080)" in argv[argv.index("-vf") + 1]
    assert "-c:a aac" in joined


def test_audio_argv_drops_video_and_uses_the_ipod_muxer() -> None:
    argv = proxy_argv(Path("/s/a.wav"), Path("/d/p.m4a"), _plan(_probe(None, "pcm_s16le")))
    assert "-vn" in argv and "0:V:0" not in argv
    assert " ".join(argv).endswith("-f ipod -movflags +faststart file:/d/p.m4a")


# --- real ffmpeg on generated clips ----------------------------------------------------------


def _assert_browser_mp4(path: Path, *, video: bool = True) -> ProbeResult:
    """A real ffprobe says H.264/AAC, and the moov box comes before mdat (index first)."""
    result = probe(path)
    assert (result.video.codec_name if result.video else None) == ("h264" if video else None)
    assert result.audio is not None and result.audio.codec_name == "aac"
    if result.video:
        assert result.video.pix_fmt == "yuv420p"
    types = [box.type for box in mp4_top_level_boxes(path)]
    assert types.index("moov") < types.index("mdat"), types
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]
    return result


def test_a_camera_h264_mp4_is_remuxed_with_the_index_moved_to_the_front(
    clips: Clips, tmp_path: Path
) -> None:
    source_types = [box.type for box in mp4_top_level_boxes(clips.h264_mp4)]
    assert source_types.index("moov") > source_types.index("mdat")  # as cameras write it
    proxy = make_proxy(clips.h264_mp4, tmp_path / "p.mp4", probe(clips.h264_mp4), MediaKind.VIDEO)
    assert proxy is not None
    assert (proxy.content_type, proxy.video_copied, proxy.audio_copied) == ("video/mp4", True, True)
    assert proxy.copy_failed is None
    result = _assert_browser_mp4(proxy.path)
    assert result.duration_s == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("clip", ["mjpeg_avi", "hevc_mp4"])
def test_video_browsers_cannot_play_is_transcoded(clips: Clips, clip: str, tmp_path: Path) -> None:
    src = getattr(clips, clip)
    proxy = make_proxy(src, tmp_path / "p.mp4", probe(src), MediaKind.VIDEO)
    assert proxy is not None and not proxy.video_copied
    result = _assert_browser_mp4(proxy.path)
    assert result.video is not None and (result.video.width, result.video.height) == (320, 240)


def test_a_source_taller_than_1080_lines_is_scaled_down_keeping_its_aspect(tmp_path: Path) -> None:
    src = mjpeg_pcm_avi(tmp_path / "TALL.AVI", seconds=0.3, size="480x1440")
    proxy = make_proxy(src, tmp_path / "p.mp4", probe(src), MediaKind.VIDEO)
    assert proxy is not None
    result = _assert_browser_mp4(proxy.path)
    assert result.video is not None and (result.video.width, result.video.height) == (360, 1080)


def test_a_wav_gets_an_aac_m4a_proxy(clips: Clips, tmp_path: Path) -> None:
    proxy = make_proxy(clips.wav, tmp_path / "p.m4a", probe(clips.wav), MediaKind.AUDIO)
    assert proxy is not None and proxy.content_type == "audio/mp4"
    _assert_browser_mp4(proxy.path, video=False)


def test_a_photo_gets_no_proxy_and_nothing_is_written(clips: Clips, tmp_path: Path) -> None:
    assert make_proxy(clips.jpg, tmp_path / "p.mp4", probe(clips.jpg), MediaKind.PHOTO) is None
    assert list(tmp_path.iterdir()) == []


def test_a_refused_stream_copy_is_retried_once_transcoding_and_says_so(
    clips: Clips, tmp_path: Path
) -> None:
    real = probe(clips.mjpeg_avi)
    assert real.audio is not None
    # A probe that wrongly promises AAC: copying PCM into MP4 is refused by the muxer.
    lying = dataclasses.replace(real, audio=dataclasses.replace(real.audio, codec_name="aac"))
    proxy = make_proxy(clips.mjpeg_avi, tmp_path / "p.mp4", lying, MediaKind.VIDEO)
    assert proxy is not None
    assert not proxy.audio_copied
    assert proxy.copy_failed is not None and "pcm_s16le" in proxy.copy_failed
    _assert_browser_mp4(proxy.path)


@pytest.mark.parametrize("claimed_s", [4294967295, 500_000])
@pytest.mark.parametrize("encode", [h264_aac_mp4, hevc_mp4], ids=["copied", "transcoded"])
def test_a_header_claiming_an_absurd_duration_is_probed_proxied_and_thumbnailed_in_bounds(
    tmp_path: Path, encode: Callable[..., Path], claimed_s: int
) -> None:
    """1 s of video whose mvhd claims 136 years (once an OverflowError) or ~6 days (a limit of
    weeks): every step finishes, with limits that follow the real length."""
    src = claim_duration(encode(tmp_path / "VID_0013.MP4", seconds=1), claimed_s)
    started = time.monotonic()
    probed = probe(src)
    proxy = make_proxy(src, tmp_path / "p.mp4", probed, MediaKind.VIDEO)
    assert proxy is not None
    assert _assert_browser_mp4(proxy.path).duration_s == pytest.approx(1.0, abs=0.1)
    assert make_thumbnail(src, tmp_path / "t.jpg", probed, MediaKind.VIDEO) is not None
    assert time.monotonic() - started < 30
    plan = _plan(probed)
    assert plan.timeout_s == (60 if plan.transcodes else 30)


def test_a_proxy_that_cannot_be_saved_is_a_transcode_error_naming_the_file(
    clips: Clips, tmp_path: Path
) -> None:
    dst = tmp_path / "p.mp4"
    dst.mkdir()
    (dst / "in-the-way").touch()  # os.replace cannot put a file over a non-empty folder
    src = clips.h264_mp4
    with pytest.raises(TranscodeError, match="VID_0001.MP4: the proxy could not be saved"):
        make_proxy(src, dst, probe(src), MediaKind.VIDEO)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.mp4"]


def test_a_source_that_cannot_be_read_is_a_transcode_error(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(TranscodeError, match="VID_0014.MP4: cannot be read"):
        make_proxy(
            tmp_path / "VID_0014.MP4", tmp_path / "p.mp4", probe(clips.h264_mp4), MediaKind.VIDEO
        )


def test_a_failed_proxy_leaves_nothing_under_the_final_name(clips: Clips, tmp_path: Path) -> None:
    garbage = tmp_path / "VID.AVI"
    garbage.write_bytes(b"RIFF" + bytes(4000))
    with pytest.raises(TranscodeError, match="VID.AVI"):
        make_proxy(garbage, tmp_path / "p.mp4", probe(clips.mjpeg_avi), MediaKind.VIDEO)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["VID.AVI"]
