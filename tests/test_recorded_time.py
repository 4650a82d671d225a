"""Recording times: the best of container, file-name and file time, corrected by the clock
offset, always UTC, with the raw values kept."""

import json
import math
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.recorded_time import correct_times

# A recording from 09:00:00 to 09:10:00 Shanghai time, 01:00Z to 01:10Z, by a true clock.
START = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
END = START + timedelta(minutes=10)
LOCAL_START = datetime(2026, 11, 27, 9, 0)  # naive: as in the file name


# --- correct_times: examples ---


FAST = timedelta(seconds=420)  # the camera runs 7 minutes fast


@pytest.mark.parametrize(
    ("container", "name", "source"),
    [
        (START + FAST, LOCAL_START + FAST, "container"),
        (None, LOCAL_START + FAST, "file_name"),
        (datetime(2000, 1, 1, tzinfo=UTC), None, "file_mtime"),
    ],
)
def test_camera_seven_minutes_fast_every_source_is_corrected_by_420_s(
    container: datetime | None, name: datetime | None, source: str
) -> None:
    times = correct_times(
        container_time=container,
        name_time=name,
        file_mtime=END + FAST,
        duration_s=600.0,
        clock_offset_s=420.0,
    )
    assert times.source == source
    assert (times.start, times.end) == (START, END)
    assert times.raw_start == START + FAST
    assert times.clock_corrected


def test_local_time_written_as_utc_in_the_container_is_detected_via_the_file_name() -> None:
    times = correct_times(
        container_time=LOCAL_START.replace(second=2, tzinfo=UTC),  # "09:00:02Z", really local
        name_time=LOCAL_START,
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=None,
    )
    assert times.source == "container"
    assert times.start == START.replace(second=2)
    assert times.container_time_raw == "2026-11-27T09:00:02+00:00"
    assert times.note is not None and "local time" in times.note


def test_container_marked_utc_that_agrees_with_the_file_name_is_taken_as_written() -> None:
    times = correct_times(
        container_time=START,
        name_time=LOCAL_START,
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=None,
    )
    assert (times.source, times.start, times.note) == ("container", START, None)


def test_container_and_file_name_far_apart_prefers_the_container_and_keeps_both() -> None:
    times = correct_times(
        container_time=START,
        name_time=LOCAL_START - timedelta(hours=3),
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=None,
    )
    assert (times.source, times.start) == ("container", START)
    assert times.name_time_raw == "2026-11-27T06:00:00"
    assert times.note is not None and "3:00:00" in times.note


@pytest.mark.parametrize(
    "reset", [datetime(1904, 1, 1), datetime(1970, 1, 1), datetime(2000, 1, 1)]
)
def test_reset_clock_container_stamp_falls_back_to_the_file_name(reset: datetime) -> None:
    times = correct_times(
        container_time=reset.replace(tzinfo=UTC),
        name_time=LOCAL_START,
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=None,
    )
    assert (times.source, times.start, times.end) == ("file_name", START, END)
    assert times.note is not None and "implausible" in times.note


def test_reset_clock_everywhere_falls_back_to_the_file_time_and_says_so() -> None:
    reset = datetime(2000, 1, 1, 0, 10, tzinfo=UTC)
    times = correct_times(
        container_time=datetime(2000, 1, 1, 0, 0, tzinfo=UTC),
        name_time=datetime(2000, 1, 1, 8, 0),
        file_mtime=reset,
        duration_s=600.0,
        clock_offset_s=None,
    )
    assert (times.source, times.start, times.end) == (
        "file_mtime",
        reset - timedelta(minutes=10),
        reset,
    )
    assert times.note is not None and "file time implausible" in times.note


def test_reset_clock_that_ran_until_the_dock_is_corrected_back_to_the_truth() -> None:
    reset = datetime(2000, 1, 1, tzinfo=UTC)
    offset = (reset - START).total_seconds()  # the clock restarted at 2000-01-01 at START
    times = correct_times(
        container_time=reset,
        name_time=None,
        file_mtime=reset + timedelta(minutes=10),
        duration_s=600.0,
        clock_offset_s=offset,
    )
    assert (times.source, times.start, times.end) == ("container", START, END)


def test_offset_that_would_put_the_file_after_the_dock_is_not_applied() -> None:
    # Recorded by a true clock, which then reset to 2000-01-01 before the dock.
    docked_at = END + timedelta(hours=2)
    offset = (datetime(2000, 1, 1, tzinfo=UTC) - docked_at).total_seconds()
    times = correct_times(
        container_time=START,
        name_time=None,
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=offset,
        docked_at=docked_at,
    )
    assert (times.start, times.clock_corrected) == (START, False)
    assert times.note is not None and "after the dock" in times.note


def test_start_more_than_a_day_after_the_file_time_is_ignored() -> None:
    times = correct_times(
        container_time=START + timedelta(days=2),
        name_time=None,
        file_mtime=END,
        duration_s=None,
        clock_offset_s=None,
    )
    assert (times.source, times.start, times.end) == ("file_mtime", END, None)


def test_naive_container_time_is_shanghai_local_time() -> None:
    times = correct_times(
        container_time=LOCAL_START,
        name_time=None,
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=None,
    )
    assert (times.source, times.start, times.end) == ("container", START, END)


def test_local_times_are_read_in_the_configured_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # UTC+1 in November
    times = correct_times(
        container_time=None,
        name_time=datetime(2026, 11, 27, 2, 0),
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=None,
        zone=berlin,
    )
    assert (times.source, times.start) == ("file_name", START)


def test_unusable_offset_and_duration_leave_times_uncorrected_and_open_ended() -> None:
    times = correct_times(
        container_time=START,
        name_time=None,
        file_mtime=END,
        duration_s=math.nan,
        clock_offset_s=math.inf,
    )
    assert (times.start, times.end, times.clock_corrected) == (START, None, False)
    assert times.note is not None and "unusable" in times.note


def test_raw_values_are_kept_as_json_serialisable_strings() -> None:
    times = correct_times(
        container_time=START,
        name_time=LOCAL_START,
        file_mtime=END,
        duration_s=600.0,
        clock_offset_s=420.0,
    )
    raws = {
        "container": times.container_time_raw,
        "name": times.name_time_raw,
        "mtime": times.file_mtime_raw,
    }
    assert json.loads(json.dumps(raws)) == {
        "container": "2026-11-27T01:00:00+00:00",
        "name": "2026-11-27T09:00:00",
        "mtime": "2026-11-27T01:10:00+00:00",
    }


def test_naive_file_time_is_refused_as_a_callers_mistake() -> None:
    with pytest.raises(ValueError, match="file_mtime"):
        correct_times(
            container_time=None,
            name_time=None,
            file_mtime=END.replace(tzinfo=None),
            duration_s=None,
            clock_offset_s=None,
        )


# --- correct_times: properties ---

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")]
)
PLAUSIBLE = st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2040, 1, 1))
AROUND_NOW = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1))


@st.composite
def plausible_inputs(draw: st.DrawFn) -> dict[str, object]:
    """Stamps that stay plausible whatever offset below: every source and rule gets its turn."""
    mtime = draw(AROUND_NOW).replace(tzinfo=UTC)
    near = st.builds(lambda d: mtime + d, st.timedeltas(timedelta(days=-3), timedelta(hours=36)))
    name = draw(st.none() | near.map(lambda d: d.replace(tzinfo=None)))
    containers = (
        st.none()
        | near
        | near.map(lambda d: d.replace(tzinfo=None))
        | PLAUSIBLE.map(lambda d: d.replace(tzinfo=UTC))
    )
    if name is not None:  # local time written as UTC, as many cameras do
        containers |= st.just(name.replace(tzinfo=UTC))
    return {
        "container_time": draw(containers),
        "name_time": name,
        "file_mtime": mtime,
        "duration_s": draw(st.none() | st.floats(0, 36_000)),
        "zone": draw(ZONES),
    }


OFFSETS = st.floats(-30 * 86_400, 30 * 86_400)


@given(plausible_inputs(), OFFSETS)
def test_correction_is_exactly_a_shift_by_the_offset_for_every_source(
    inputs: dict, offset_s: float
) -> None:
    plain = correct_times(**inputs, clock_offset_s=None)
    corrected = correct_times(**inputs, clock_offset_s=offset_s)
    offset = timedelta(seconds=offset_s)
    assert corrected.source == plain.source
    assert corrected.raw_start == plain.raw_start
    assert corrected.start == plain.start - offset == corrected.raw_start - offset
    assert corrected.end == (plain.end - offset if plain.end is not None else None)
    assert corrected.note == plain.note
    assert corrected.clock_corrected and not plain.clock_corrected


ANY_NAIVE = st.datetimes()
ANY_AWARE = st.datetimes(timezones=ZONES)
ANY_FLOAT = st.none() | st.floats(allow_nan=True, allow_infinity=True)


@given(
    container=st.none() | ANY_NAIVE | ANY_AWARE,
    name=st.none() | ANY_NAIVE,
    mtime=st.datetimes(timezones=st.just(UTC)),
    duration_s=ANY_FLOAT,
    offset_s=ANY_FLOAT,
    zone=ZONES,
    docked_at=st.none() | st.datetimes(timezones=st.just(UTC)),
)
def test_never_raises_and_always_gives_an_ordered_utc_interval(
    container: datetime | None,
    name: datetime | None,
    mtime: datetime,
    duration_s: float | None,
    offset_s: float | None,
    zone: tzinfo,
    docked_at: datetime | None,
) -> None:
    times = correct_times(
        container_time=container,
        name_time=name,
        file_mtime=mtime,
        duration_s=duration_s,
        clock_offset_s=offset_s,
        zone=zone,
        docked_at=docked_at,
    )
    assert times.start.tzinfo is UTC and times.raw_start.tzinfo is UTC
    if times.end is not None:
        assert times.end.tzinfo is UTC
        assert times.start <= times.end
    json.dumps([times.container_time_raw, times.name_time_raw, times.file_mtime_raw, times.note])
