"""Recorded interval: container time when plausible, else the file time; always UTC."""

from datetime import UTC, datetime

from ingest.recorded_time import recorded_interval


def test_container_time_with_zone_is_used() -> None:
    created = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    interval = recorded_interval(created, 0, 60.0)
    assert (interval.start, interval.source) == (created, "container")
    assert interval.end == datetime(2026, 11, 27, 1, 1, tzinfo=UTC)


def test_container_time_without_zone_is_shanghai_local() -> None:
    interval = recorded_interval(datetime(2026, 11, 27, 9, 0), 0, None)
    assert interval.start == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert interval.end is None


def test_reset_clock_stamp_falls_back_to_file_time() -> None:
    mtime = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    interval = recorded_interval(
        datetime(1970, 1, 1, tzinfo=UTC), int(mtime.timestamp() * 1e9), 30.0
    )
    assert interval.source == "file_mtime"
    assert interval.end == mtime
    assert interval.start == datetime(2026, 11, 27, 1, 59, 30, tzinfo=UTC)
