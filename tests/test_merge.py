"""Merging a recording's proxies: stream copy when the streams match, else re-encoded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ingest.errors import TranscodeError
from ingest.merge import concat_list, merge_proxies, plan_merge, stream_copy_argv
from ingest.probe import ProbeResult, StreamInfo, probe
from simulation import footage


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("segments")
    return [footage.h264_aac_mp4(d / f"seg{i}.mp4", seconds=2) for i in range(3)]


def test_matching_segments_are_joined_by_stream_copy_index_first(
    segments: list[Path], tmp_path: Path
) -> None:
    result = merge_proxies(segments, tmp_path / "merged.mp4")

    assert result.method == "stream_copy" and result.copy_failed is None
    assert result.content_type == "video/mp4"
    merged = probe(result.path)
    parts = [probe(s).duration_s or 0.0 for s in segments]
    assert merged.duration_s == pytest.approx(sum(parts), abs=0.2)
    assert merged.video is not None and merged.video.codec_name == "h264"
    assert merged.audio is not None and merged.audio.codec_name == "aac"
    boxes = [box.type for box in footage.mp4_top_level_boxes(result.path)]
    assert boxes.count("moov") == 1 and boxes.index("moov") < boxes.index("mdat")  # faststart
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.mp4"]  # no .part, no list


def test_one_video_stream_in_the_merged_file(segments: list[Path], tmp_path: Path) -> None:
    result = merge_proxies(segments[:2], tmp_path / "merged.mp4")
    argv = [
        "ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=index",
        "-of", "csv=p=0", str(result.path),
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout.split()
    assert len(out) == 1


def test_mismatched_resolutions_are_transcoded(segments: list[Path], tmp_path: Path) -> None:
    larger = footage.h264_aac_mp4(tmp_path / "large.mp4", seconds=2, size="640x480")
    result = merge_proxies([segments[0], larger], tmp_path / "merged.mp4")

    assert result.method == "transcoded"
    merged = probe(result.path)
    assert merged.video is not None and (merged.video.width, merged.video.height) == (320, 240)
    assert merged.duration_s == pytest.approx(4.0, abs=0.3)


def _probe(width: int, *, height: int = 240, audio: bool = True) -> ProbeResult:
    return ProbeResult(
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration_s=2.0,
        video=StreamInfo(0, "h264", width=width, height=height, pix_fmt="yuv420p"),
        audio=StreamInfo(1, "aac", sample_rate=48000, channels=1) if audio else None,
        creation_time=None,
        creation_time_raw=None,
    )


def test_plan_copies_only_identical_streams() -> None:
    assert plan_merge([_probe(320), _probe(320)]).method == "stream_copy"
    assert plan_merge([_probe(320), _probe(640)]).method == "transcoded"
    assert plan_merge([_probe(320), _probe(320, audio=False)]).method == "transcoded"
    with pytest.raises(TranscodeError):
        plan_merge([_probe(320)])


def test_a_transcoded_merge_enlarges_no_part_and_has_at_most_720_lines() -> None:
    """The parts are browser copies: camera-sized when copied, 720 lines from the software
    preset, 1080 from a hardware one. Re-encoded, they are brought to the shortest of them,
    and never above what the software preset makes."""

    def size(*heights: int) -> tuple[int, int]:
        plan = plan_merge([_probe(h * 16 // 9, height=h) for h in heights])
        assert plan.method == "transcoded"
        return plan.width, plan.height

    assert size(720, 360) == (640, 360)  # the 360-line part is not enlarged
    assert size(1080, 720) == (1280, 720)
    assert size(2160, 1080) == (1280, 720)  # a copied 4K part and a hardware 1080 one


def test_concat_list_names_only_plain_local_files(tmp_path: Path) -> None:
    assert concat_list(["part0000.mp4"]) == "ffconcat version 1.0\nfile 'part0000.mp4'\n"
    for bad in ["/etc/passwd", "../x.mp4", "a'b.mp4", ".hidden"]:
        with pytest.raises(ValueError):
            concat_list([bad])
    argv = stream_copy_argv(
        tmp_path / "l.ffconcat", tmp_path / "o.mp4", plan_merge([_probe(2)] * 2)
    )
    assert argv[argv.index("-safe") + 1] == "1"
    assert argv[argv.index("-protocol_whitelist") + 1] == "file"
    assert argv[argv.index("-format_whitelist") + 1] == "concat,mov,mp4,m4a,3gp,3g2,mj2"
