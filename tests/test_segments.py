"""Segment grouping (自动合成): consecutive segments of one recording become one recording,
gaps are reported, and nothing is lost, doubled or order-dependent."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.file_names import parse_name
from ingest.segments import (
    GAP_TOLERANCE_S,
    JOIN_WITHIN_S,
    Join,
    Recording,
    Segment,
    group_segments,
)

T0 = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
LOCAL = timedelta(hours=8)


def _at(offset_s: float) -> datetime:
    return T0 + timedelta(seconds=offset_s)


def _seg(
    key: str,
    path: str,
    start_s: float | None,
    duration_s: float | None = 600.0,
    *,
    device: str = "cam1",
    kind: str = "video",
) -> Segment:
    start = None if start_s is None else _at(start_s)
    return Segment(key, device, path, kind, start, duration_s)


def _zfy(start_s: float, sequence: int, folder: str = "DCIM/100MEDIA", ext: str = "MP4") -> str:
    stamp = (_at(start_s) + LOCAL).strftime("%Y%m%d%H%M%S")
    return f"{folder}/ZFY001_{stamp}_{sequence:04d}.{ext}"


def _keys(recordings: list[Recording]) -> list[list[str]]:
    return [[part.key for part in recording.parts] for recording in recordings]


# Examples


def test_fixed_length_segments_without_gaps_are_one_recording() -> None:
    segments = [_seg(f"k{n}", _zfy(600 * n, n + 1), 600 * n) for n in range(3)]
    (recording,) = group_segments(segments)
    assert _keys([recording]) == [["k0", "k1", "k2"]]
    assert recording.joins == (Join("k0", "k1", 0.0), Join("k1", "k2", 0.0))
    assert recording.gaps == ()
    assert (recording.start, recording.end) == (_at(0), _at(1800))
    assert recording.device_key == "cam1"


def test_dji_segments_join_per_lens() -> None:
    segments = [
        _seg("d1", "DCIM/100MEDIA/DJI_20261127093000_0001_D.MP4", 0, 300),
        _seg("d2", "DCIM/100MEDIA/DJI_20261127093500_0002_D.MP4", 300, 300),
        _seg("w1", "DCIM/100MEDIA/DJI_20261127093500_0003_W.MP4", 300, 300),
    ]
    assert _keys(group_segments(segments)) == [["d1", "d2"], ["w1"]]


def test_gopro_chapters_join_in_chapter_order() -> None:
    segments = [
        _seg("c2", "DCIM/100GOPRO/GH021234.MP4", 500, 500),
        _seg("c1", "DCIM/100GOPRO/GH011234.MP4", 0, 500),
        _seg("c3", "DCIM/100GOPRO/GH031234.MP4", 1000, 500),
    ]
    assert _keys(group_segments(segments)) == [["c1", "c2", "c3"]]


def test_old_gopro_scheme_joins_gopr_then_gp01() -> None:
    segments = [
        _seg("first", "DCIM/100GOPRO/GOPR1234.MP4", 0, 500),
        _seg("second", "DCIM/100GOPRO/GP011234.MP4", 500, 500),
    ]
    assert _keys(group_segments(segments)) == [["first", "second"]]


def test_gopro_chapters_that_skip_or_change_clip_do_not_join() -> None:
    segments = [
        _seg("a", "DCIM/100GOPRO/GH011234.MP4", 0, 500),
        _seg("b", "DCIM/100GOPRO/GH031234.MP4", 500, 500),
        _seg("c", "DCIM/100GOPRO/GH021235.MP4", 500, 500),
    ]
    assert _keys(group_segments(segments)) == [["a"], ["b"], ["c"]]


def test_sequence_numbers_must_step_by_one() -> None:
    segments = [_seg("a", _zfy(0, 1), 0), _seg("b", _zfy(600, 3), 600)]
    assert _keys(group_segments(segments)) == [["a"], ["b"]]


@pytest.mark.parametrize(("last", "first"), [(9999, 0), (9999, 1), (999, 0), (999, 1)])
def test_sequence_numbers_may_wrap(last: int, first: int) -> None:
    segments = [_seg("a", _zfy(0, last), 0), _seg("b", _zfy(600, first), 600)]
    assert _keys(group_segments(segments)) == [["a", "b"]]


def test_names_confirming_the_sequence_win_over_a_closer_time() -> None:
    segments = [
        _seg("a", "REC/CAM_0001.MP4", 0),
        _seg("b", "REC/CAM_0002.MP4", 604),
        _seg("c", "REC/CAM_12.MP4", 600),  # same family, no sequence: closer, unconfirmed
    ]
    assert _keys(group_segments(segments)) == [["a", "b"], ["c"]]


def test_photos_never_group() -> None:
    segments = [_seg(f"p{n}", f"DCIM/IMG_{n:04d}.JPG", n, 0.0, kind="photo") for n in range(1, 4)]
    assert _keys(group_segments(segments)) == [["p1"], ["p2"], ["p3"]]


def test_audio_segments_group_like_video() -> None:
    segments = [
        _seg("a1", _zfy(0, 1, "RECORD", "WAV"), 0, kind="audio"),
        _seg("a2", _zfy(600, 2, "RECORD", "WAV"), 600, kind="audio"),
    ]
    assert _keys(group_segments(segments)) == [["a1", "a2"]]


def test_other_device_kind_folder_or_extension_does_not_join() -> None:
    segments = [
        _seg("a", _zfy(0, 1), 0),
        _seg("other_device", _zfy(600, 2), 600, device="cam2"),
        _seg("other_kind", _zfy(600, 2, ext="WAV"), 600, kind="audio"),
        _seg("other_folder", _zfy(600, 2, folder="DCIM/101MEDIA"), 600),
        _seg("other_ext", _zfy(600, 2, ext="AVI"), 600),
    ]
    assert sorted(_keys(group_segments(segments))) == [
        ["a"],
        ["other_device"],
        ["other_ext"],
        ["other_folder"],
        ["other_kind"],
    ]


def test_segment_without_start_or_duration_stays_alone() -> None:
    segments = [
        _seg("a", _zfy(0, 1), 0),
        _seg("no_duration", _zfy(600, 2), 600, None),
        _seg("no_start", _zfy(1200, 3), None),
        _seg("nan", _zfy(1800, 4), 1800, float("nan")),
    ]
    recordings = group_segments(segments)
    assert all(len(recording.parts) == 1 for recording in recordings)
    assert _keys(recordings)[-1] == ["no_start"]  # unknown start sorts last
    assert recordings[-1].start is None and recordings[-1].end is None


def test_small_overlap_joins_and_is_not_a_gap() -> None:
    segments = [_seg("a", _zfy(0, 1), 0), _seg("b", _zfy(597, 2), 597)]
    (recording,) = group_segments(segments)
    assert recording.joins == (Join("a", "b", -3.0),)
    assert recording.gaps == ()


def test_overlap_of_more_than_ten_seconds_is_not_a_join() -> None:
    segments = [_seg("a", _zfy(0, 1), 0), _seg("b", _zfy(585, 2), 585)]
    assert _keys(group_segments(segments)) == [["a"], ["b"]]


def test_output_is_ordered_by_device_then_start() -> None:
    segments = [
        _seg("z", _zfy(0, 1), 0, device="cam2"),
        _seg("late", _zfy(5000, 1), 5000),
        _seg("early", _zfy(0, 1), 0),
    ]
    assert _keys(group_segments(segments)) == [["early"], ["late"], ["z"]]


def test_a_start_without_time_zone_is_refused() -> None:
    naive = Segment("a", "cam1", _zfy(0, 1), "video", datetime(2026, 11, 27, 9, 30), 60.0)
    with pytest.raises(ValueError, match="time zone"):
        group_segments([naive])


def test_the_same_key_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        group_segments([_seg("a", _zfy(0, 1), 0), _seg("a", _zfy(600, 2), 600)])


# Properties

_NAMINGS = ("zfy", "dji", "gopro", "plain")


def _name(naming: str, folder: str, index: int, start_s: float, ext: str = "MP4") -> str:
    stamp = (_at(start_s) + LOCAL).strftime("%Y%m%d%H%M%S")
    if naming == "zfy":
        return f"{folder}/ZFY001_{stamp}_{index % 10000:04d}.{ext}"
    if naming == "dji":
        return f"{folder}/DJI_{stamp}_{index % 10000:04d}_D.{ext}"
    if naming == "gopro":
        return f"{folder}/GH{index % 100:02d}0042.{ext}"
    return f"{folder}/REC.{ext}"


@st.composite
def _segment_soups(draw: st.DrawFn) -> list[Segment]:
    """Runs of segments laid out roughly one after another, with gaps and overlaps around
    the thresholds; a run keeps its device, kind and name pattern until a new one starts."""
    segments = []
    clock = 0.0
    device = kind = folder = ext = naming = ""
    index = 0
    for number in range(draw(st.integers(0, 10))):
        if number == 0 or draw(st.integers(0, 3)) == 0:
            device = draw(st.sampled_from(["cam1", "cam2"]))
            kind = draw(st.sampled_from(["video", "video", "audio", "photo"]))
            folder = draw(st.sampled_from(["DCIM/100MEDIA", "RECORD"]))
            ext = draw(st.sampled_from(["MP4", "WAV"]))
            naming = draw(st.sampled_from(_NAMINGS))
            index = draw(st.sampled_from([0, 1, 9998, 9999]))
        else:
            index += draw(st.sampled_from([1, 1, 1, 0, 2]))
        duration = draw(st.sampled_from([0.0, 5.0, 60.0, 600.0]) | st.floats(0, 900))
        segments.append(
            _seg(
                f"k{number:02d}",
                _name(naming, folder, index, clock, ext),
                draw(st.sampled_from([clock] * 5 + [None])),
                draw(st.sampled_from([duration] * 5 + [None])),
                device=device,
                kind=kind,
            )
        )
        step = draw(st.sampled_from([0.0, 0.5, 5.0, -3.0, -15.0, 10.0, 30.0, -duration]))
        clock += duration + step
    return segments


@given(_segment_soups())
def test_every_segment_is_in_exactly_one_recording(segments: list[Segment]) -> None:
    recordings = group_segments(segments)
    counts = Counter(part.key for recording in recordings for part in recording.parts)
    assert counts == Counter(segment.key for segment in segments)
    assert all(count == 1 for count in counts.values())


@given(st.data())
def test_grouping_does_not_depend_on_input_order(data: st.DataObject) -> None:
    segments = data.draw(_segment_soups())
    shuffled = data.draw(st.permutations(segments))
    assert group_segments(shuffled) == group_segments(segments)


@given(_segment_soups())
def test_parts_of_a_recording_belong_together(segments: list[Segment]) -> None:
    for recording in group_segments(segments):
        first = recording.parts[0]
        family = parse_name(first.path).family
        assert len(recording.joins) == len(recording.parts) - 1
        for part in recording.parts:
            assert (part.device_key, part.kind) == (first.device_key, first.kind)
            assert parse_name(part.path).family == family
        if len(recording.parts) > 1:
            assert first.kind in ("video", "audio")
        pairs = zip(recording.parts, recording.parts[1:], strict=False)
        for join, (before, after) in zip(recording.joins, pairs, strict=True):
            assert (join.before, join.after) == (before.key, after.key)
            assert -JOIN_WITHIN_S <= join.gap_s <= JOIN_WITHIN_S
        assert recording.gaps == tuple(j for j in recording.joins if j.gap_s > GAP_TOLERANCE_S)


def _split_recording(
    naming: str, count: int, length_s: float, first_index: int, gaps: dict[int, float]
) -> list[Segment]:
    """One recording cut into `count` segments of `length_s`, with `gaps[n]` seconds before
    segment n (0 when not given)."""
    segments = []
    start = _at(0)
    for number in range(count):
        start += timedelta(seconds=gaps.get(number, 0.0))
        offset = (start - T0).total_seconds()
        index = first_index + number + (1 if naming == "gopro" else 0)
        path = _name(naming, "DCIM/100MEDIA", index, offset)
        segments.append(Segment(f"k{number:03d}", "cam1", path, "video", start, length_s))
        start += timedelta(seconds=length_s)
    return segments


_recording_shapes = st.tuples(
    st.sampled_from(_NAMINGS),
    st.integers(2, 20),
    st.sampled_from([60.0, 300.0, 600.0, 1800.0]) | st.floats(11, 4000),
    st.integers(0, 9999),
)


@given(_recording_shapes, st.randoms(use_true_random=False))
def test_fixed_length_segments_with_no_gap_become_one_recording(
    shape: tuple[str, int, float, int], rng: random.Random
) -> None:
    naming, count, length_s, first_index = shape
    if naming == "gopro":
        first_index = 0  # chapters run 01..99 in one clip
    segments = _split_recording(naming, count, length_s, first_index, {})
    shuffled = list(segments)
    rng.shuffle(shuffled)
    (recording,) = group_segments(shuffled)
    assert recording.parts == tuple(segments)
    assert recording.gaps == ()
    assert all(abs(join.gap_s) < 1e-3 for join in recording.joins)


@given(_recording_shapes, st.data())
def test_a_30_second_gap_splits_the_recording(
    shape: tuple[str, int, float, int], data: st.DataObject
) -> None:
    naming, count, length_s, first_index = shape
    if naming == "gopro":
        first_index = 0
    cut = data.draw(st.integers(1, count - 1))
    segments = _split_recording(naming, count, length_s, first_index, {cut: 30.0})
    recordings = group_segments(segments)
    assert [recording.parts for recording in recordings] == [
        tuple(segments[:cut]),
        tuple(segments[cut:]),
    ]


@given(_recording_shapes, st.data())
def test_a_5_second_gap_stays_one_recording_and_is_reported(
    shape: tuple[str, int, float, int], data: st.DataObject
) -> None:
    naming, count, length_s, first_index = shape
    if naming == "gopro":
        first_index = 0
    cut = data.draw(st.integers(1, count - 1))
    segments = _split_recording(naming, count, length_s, first_index, {cut: 5.0})
    (recording,) = group_segments(segments)
    assert recording.parts == tuple(segments)
    (gap,) = recording.gaps
    assert (gap.before, gap.after) == (segments[cut - 1].key, segments[cut].key)
    assert gap.gap_s == pytest.approx(5.0, abs=1e-3)
