"""When a recording was made, from what the file tells us (clock correction comes later)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

DEVICE_ZONE = ZoneInfo("Asia/Shanghai")
# Cameras with a reset clock write 1904/1970/2000-01-01 stamps; such a stamp says nothing.
_EARLIEST_PLAUSIBLE = datetime(2005, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RecordedInterval:
    start: datetime
    end: datetime | None
    source: Literal["container", "file_mtime"]


def recorded_interval(
    creation_time: datetime | None, mtime_ns: int, duration_s: float | None
) -> RecordedInterval:
    """The recording's interval in UTC: the container's creation time when plausible, else
    the file's modification time (which cameras set when a recording ends)."""
    if creation_time is not None:
        start = (
            creation_time.replace(tzinfo=DEVICE_ZONE)
            if creation_time.tzinfo is None
            else creation_time
        ).astimezone(UTC)
        if start >= _EARLIEST_PLAUSIBLE:
            end = start + timedelta(seconds=duration_s) if duration_s else None
            return RecordedInterval(start, end, "container")
    modified = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
    if duration_s:
        return RecordedInterval(modified - timedelta(seconds=duration_s), modified, "file_mtime")
    return RecordedInterval(modified, None, "file_mtime")
