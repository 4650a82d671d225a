"""When a recording was made: a corrected UTC start and end from what the device wrote.

Three sources, all stamped by the device's own clock:

- the container's creation time (QuickTime ``creation_time`` as ffprobe parses it; aware when
  the tag had a zone, naive otherwise) marks the START of the recording;
- the timestamp in the file name (parsed elsewhere; local time) marks the START;
- the file's modification time marks the END: cameras close the file when recording stops.

`correct_times` applies these rules, in this order:

1. **Zone.** A time without a zone is local time in `zone` (Asia/Shanghai unless configured).
2. **Local time marked UTC.** Many cameras write local time into ``creation_time`` and mark it
   UTC. When the container's stamp is marked UTC, equals the file name's local time read as
   UTC (within 2 minutes) and does not already agree with the name read in `zone`, its wall
   clock is read in `zone` instead, and the note says so.
3. **Clock correction.** The dock measured offset = device clock - station clock (a camera
   420 s fast: +420). Every source is device time, so each is corrected alike:
   true = device - offset. A non-finite or out-of-range offset is not applied (noted); so is
   one that would put the file's end after `docked_at` by more than a day (the clock was
   reset or set after the recording, so the offset read at the dock does not apply to it).
4. **Plausibility**, judged on corrected times: a start stamp is ignored (noted) when it is
   before 2005-01-01 UTC (reset clocks write 1904, 1970 or 2000-01-01), or more than 1 day
   after the corrected file time (a recording cannot start after its file was closed; the
   day absorbs file times a FAT volume keeps in local time and a station reads in another
   zone). The second bound applies only when the file time itself is plausible. Judging
   corrected times means a reset clock that kept running until the dock, with an offset of
   years, is corrected back to the truth instead of thrown away.
5. **Preference:** container time, then file-name time, then file time. When container and
   name are both plausible but differ by more than 2 minutes, the container wins; both raw
   values are kept and the note gives the difference. The file time is the last resort and
   is used even when implausible (noted).
6. **Interval:** end = start + duration when the duration is known (finite and > 0; ffprobe
   reports 0 for stills and broken files). From the file time: start = mtime - duration,
   end = mtime; without a duration start = mtime (the best we know) and the end is unknown.

Unusable values (None, NaN, infinities, stamps at the ends of the calendar) never raise: they
are treated as unknown. Only a naive `file_mtime` or `docked_at` is refused, as a caller's
mistake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from wire.zones import DEVICE_ZONE, TimeSource

# Cameras with a reset clock write 1904/1970/2000-01-01 stamps; such a stamp says nothing.
_EARLIEST_PLAUSIBLE = datetime(2005, 1, 1, tzinfo=UTC)
# How far a start may lie after the file time (file closed at the end), and a file's end
# after the dock, before the stamp (or the offset) is taken for wrong.
_FILE_TIME_SLACK = timedelta(days=1)
# Two stamps of the same moment from the same clock agree to within this.
_AGREEMENT = timedelta(minutes=2)


@dataclass(frozen=True)
class RecordedTimes:
    """A recording's corrected times, how they were chosen, and the raw values behind them.

    `start` and `end` are aware UTC, corrected by the clock offset when `clock_corrected`.
    `raw_start` is the chosen source's uncorrected start as interpreted (aware UTC), so that
    start == raw_start - offset. The `*_raw` fields keep the inputs as given, as ISO 8601
    strings. `note` says why, when a rule other than the plain preference decided.
    """

    start: datetime
    end: datetime | None
    source: TimeSource
    raw_start: datetime
    clock_corrected: bool
    container_time_raw: str | None
    name_time_raw: str | None
    file_mtime_raw: str
    note: str | None = None


def correct_times(
    *,
    container_time: datetime | None,
    name_time: datetime | None,
    file_mtime: datetime,
    duration_s: float | None,
    clock_offset_s: float | None,
    zone: tzinfo = DEVICE_ZONE,
    docked_at: datetime | None = None,
) -> RecordedTimes:
    """The recording's corrected UTC start and end, by the rules in the module docstring.

    `container_time`: the container's creation time as parsed (naive = local in `zone`).
    `name_time`: the file name's timestamp (naive = local in `zone`). `file_mtime`: aware.
    `clock_offset_s`: device clock minus station clock at the dock, seconds (None: unknown).
    `docked_at`: aware station time of the dock, if known; only used to refuse an offset
    that cannot apply to this file. Pure; raises ValueError only for a caller's mistake: a
    naive `file_mtime` or `docked_at`, or a `file_mtime` that cannot be expressed in UTC.
    """
    if file_mtime.utcoffset() is None:
        raise ValueError(f"correct_times: file_mtime {file_mtime.isoformat()} has no zone")
    if docked_at is not None and docked_at.utcoffset() is None:
        raise ValueError(f"correct_times: docked_at {docked_at.isoformat()} has no zone")
    mtime_raw = _to_utc(file_mtime, zone)
    if mtime_raw is None:
        raise ValueError(f"correct_times: file_mtime {file_mtime.isoformat()} is out of range")
    notes: list[str] = []
    duration = _duration(duration_s)

    offset = _offset(clock_offset_s, notes)
    mtime = mtime_raw
    if offset is not None:
        corrected = _shift(mtime_raw, -offset)
        if corrected is None:
            notes.append(f"clock offset {clock_offset_s} s out of range; times not corrected")
            offset = None
        elif docked_at is not None and corrected - docked_at > _FILE_TIME_SLACK:
            notes.append(
                f"clock offset {clock_offset_s} s would put the file after the dock; "
                "times not corrected"
            )
            offset = None
        else:
            mtime = corrected
    mtime_plausible = mtime >= _EARLIEST_PLAUSIBLE

    def correct(raw: datetime | None) -> datetime | None:
        return raw if raw is None or offset is None else _shift(raw, -offset)

    def plausible(start: datetime | None) -> bool:
        return (
            start is not None
            and start >= _EARLIEST_PLAUSIBLE
            and (not mtime_plausible or start - mtime <= _FILE_TIME_SLACK)
        )

    name_raw = _to_utc(name_time, zone)
    name = correct(name_raw)
    name_ok = plausible(name)
    if name_time is not None and not name_ok:
        notes.append(f"file-name time {name_time.isoformat()} implausible, ignored")

    container_raw = _to_utc(container_time, zone)
    if (
        container_time is not None
        and container_raw is not None
        and name_time is not None
        and name_ok
        and _is_local_time_marked_utc(container_time, name_time, name_raw)
    ):
        container_raw = _to_utc(container_time.replace(tzinfo=None), zone)
        notes.append("container time written as local time (matches the file name read as UTC)")
    container = correct(container_raw)
    container_ok = plausible(container)
    if container_time is not None and not container_ok:
        notes.append(f"container time {container_time.isoformat()} implausible, ignored")

    source: TimeSource
    if container_ok and container is not None and container_raw is not None:
        source, raw_start, start = "container", container_raw, container
        end = _shift(start, duration) if duration is not None else None
        if name_ok and name is not None and abs(container - name) > _AGREEMENT:
            apart = timedelta(seconds=round(abs(container - name).total_seconds()))
            notes.append(f"container and file-name times differ by {apart}; container used")
    elif name_ok and name is not None and name_raw is not None:
        source, raw_start, start = "file_name", name_raw, name
        end = _shift(start, duration) if duration is not None else None
    else:
        source = "file_mtime"
        if not mtime_plausible:
            notes.append("file time implausible too; used for want of another")
        raw_from_end = _shift(mtime_raw, -duration) if duration is not None else None
        start_from_end = _shift(mtime, -duration) if duration is not None else None
        if raw_from_end is not None and start_from_end is not None:
            raw_start, start, end = raw_from_end, start_from_end, mtime
        else:  # no usable duration: the file time is all we know
            raw_start, start, end = mtime_raw, mtime, None

    return RecordedTimes(
        start=start,
        end=end,
        source=source,
        raw_start=raw_start,
        clock_corrected=offset is not None,
        container_time_raw=container_time.isoformat() if container_time is not None else None,
        name_time_raw=name_time.isoformat() if name_time is not None else None,
        file_mtime_raw=file_mtime.isoformat(),
        note="; ".join(notes) or None,
    )


def _to_utc(value: datetime | None, zone: tzinfo) -> datetime | None:
    """`value` in UTC, a naive one read as local time in `zone`; None at the calendar's ends."""
    if value is None:
        return None
    try:
        return (value.replace(tzinfo=zone) if value.utcoffset() is None else value).astimezone(UTC)
    except OverflowError:
        return None


def _shift(value: datetime, delta: timedelta) -> datetime | None:
    """`value + delta`, or None past the calendar's ends."""
    try:
        return value + delta
    except OverflowError:
        return None


def _seconds(value: float) -> timedelta | None:
    try:
        return timedelta(seconds=value) if math.isfinite(value) else None
    except OverflowError:
        return None


def _duration(duration_s: float | None) -> timedelta | None:
    """A usable duration: finite and positive (0 is what ffprobe says of stills)."""
    if duration_s is None or not duration_s > 0:
        return None
    return _seconds(duration_s)


def _offset(clock_offset_s: float | None, notes: list[str]) -> timedelta | None:
    if clock_offset_s is None:
        return None
    offset = _seconds(clock_offset_s)
    if offset is None:
        notes.append(f"clock offset {clock_offset_s} s unusable; times not corrected")
    return offset


def _is_local_time_marked_utc(
    container_time: datetime, name_time: datetime, name_utc: datetime | None
) -> bool:
    """The container is marked UTC, equals the name's wall clock read as UTC, and does not
    already agree with the name read in its zone."""
    if container_time.utcoffset() != timedelta(0):
        return False
    name_wall_as_utc = name_time.replace(tzinfo=UTC)
    matches_wall_clock = abs(container_time - name_wall_as_utc) <= _AGREEMENT
    agrees_already = name_utc is not None and abs(container_time - name_utc) <= _AGREEMENT
    return matches_wall_clock and not agrees_already
