"""自动合成: which files are segments of one recording.

Cameras split a recording into segments (fixed length, or at 4 GB on FAT32) with no gap.
Two segments join when they come from the same device, are both video or both audio (photos
never join), share a name family (file_names.parse_name), and the later one starts within
JOIN_WITHIN_S of the earlier one's end (either side: a small overlap is container timing).
Names may veto a join: camera sequence numbers must step by one (wrapping 999/9999 to 0 or 1)
and GoPro chapters must be consecutive within one clip. A gap between joined segments is
reported (Recording.gaps), never hidden: originals are never cut or padded.

Pure: no I/O.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest.file_names import NameFacts, parse_name
from wire.recordings import GAP_TOLERANCE_S

JOIN_WITHIN_S = 10.0
"""Largest gap (or overlap) between one segment's end and the next one's start that joins."""

_JOINING_KINDS = frozenset({"video", "audio"})
_SEQUENCE_WRAPS_AT = frozenset({999, 9999})
# A single file longer than this is a broken probe, not a duration to trust.
_MAX_DURATION_S = 7 * 24 * 3600.0
_LAST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Segment:
    key: str
    """Opaque id of the file (the caller's)."""
    device_key: str
    path: str
    """Path relative to the volume root, ``/``-separated; its name decides the family."""
    kind: str
    """"video", "audio" or "photo"."""
    start: datetime | None
    """Aware UTC, already clock-corrected."""
    duration_s: float | None
    owner: str = ""
    """Who docked it (the officer): segments of one device docked by two people never join,
    so a pooled camera's recording never mixes two officers' (or units') footage."""

    @property
    def end(self) -> datetime | None:
        """start + duration, or None when either is unknown or implausible."""
        duration = self.duration_s
        if self.start is None or duration is None or not 0 <= duration <= _MAX_DURATION_S:
            return None  # also NaN: every comparison with it is false
        try:
            return self.start + timedelta(seconds=duration)
        except OverflowError:
            return None


@dataclass(frozen=True)
class Join:
    before: str
    """Key of the earlier segment."""
    after: str
    """Key of the later segment."""
    gap_s: float
    """after.start - before.end; negative for an overlap."""


@dataclass(frozen=True)
class Recording:
    parts: tuple[Segment, ...]
    """In recording order: by GoPro chapter or sequence number when the names have them
    (a wrap 9999 -> 0000 stays in order), else by start."""
    joins: tuple[Join, ...]
    """One per consecutive pair of parts."""

    def __post_init__(self) -> None:
        if not self.parts or len(self.joins) != len(self.parts) - 1:
            raise ValueError("a recording needs at least one part and one join per pair")

    @property
    def gaps(self) -> tuple[Join, ...]:
        """Joins whose gap is longer than timing rounding: footage is missing there."""
        return tuple(join for join in self.joins if join.gap_s > GAP_TOLERANCE_S)

    @property
    def start(self) -> datetime | None:
        return min((part.start for part in self.parts if part.start is not None), default=None)

    @property
    def end(self) -> datetime | None:
        return max((end for part in self.parts if (end := part.end) is not None), default=None)

    @property
    def device_key(self) -> str:
        return self.parts[0].device_key


def group_segments(segments: Iterable[Segment]) -> list[Recording]:
    """Group segments into recordings; every segment ends up in exactly one recording, a
    single file being a recording of one part. The result does not depend on input order
    and is sorted by device, start (unknown last), first part's key.

    Raises ValueError for two segments with one key or a start without a time zone: both
    are the caller's mistakes, and guessing would misplace evidence.
    """
    ordered = sorted(segments, key=lambda segment: segment.key)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if earlier.key == later.key:
            raise ValueError(f"segment key {later.key!r} given twice ({later.path!r})")
    facts: dict[str, NameFacts] = {}
    families: dict[tuple[str, str, str, str], list[Segment]] = {}
    recordings: list[Recording] = []
    for segment in ordered:
        if segment.start is not None and segment.start.utcoffset() is None:
            raise ValueError(
                f"segment {segment.key!r} ({segment.path!r}) has a start without a time zone"
            )
        if segment.kind in _JOINING_KINDS and segment.end is not None:
            facts[segment.key] = parse_name(segment.path)
            family_key = (
                segment.device_key,
                segment.owner,
                segment.kind,
                facts[segment.key].family,
            )
            families.setdefault(family_key, []).append(segment)
        else:
            recordings.append(Recording((segment,), ()))
    for members in families.values():
        recordings.extend(_chain(members, facts))
    return sorted(recordings, key=_recording_order)


def _chain(members: list[Segment], facts: dict[str, NameFacts]) -> list[Recording]:
    """Recordings of one device/kind/family. Candidate joins go forward in start order (so no
    cycles); the best are taken first (confirmed by the names, then the smallest gap), each
    segment taking at most one successor and one predecessor."""
    members = sorted(
        members, key=lambda segment: (_start(segment), _name_rank(facts[segment.key]), segment.key)
    )
    starts = [_start(segment) for segment in members]
    # Look a second wider than the rule; the exact gap below decides.
    window = timedelta(seconds=JOIN_WITHIN_S + 1.0)
    candidates: list[tuple[int, float, int, int, float]] = []
    for i, before in enumerate(members):
        end = _end(before)
        low = max(i + 1, bisect_left(starts, end - window))
        for j in range(low, bisect_right(starts, end + window)):
            after = members[j]
            gap_s = _gap_s(before, after)
            if not -JOIN_WITHIN_S <= gap_s <= JOIN_WITHIN_S:
                continue
            names = _names_say(facts[before.key], facts[after.key])
            if names is False:
                continue
            candidates.append((0 if names else 1, abs(gap_s), i, j, gap_s))
    successor: dict[int, tuple[int, float]] = {}
    has_predecessor: set[int] = set()
    for _, _, i, j, gap_s in sorted(candidates):
        if i not in successor and j not in has_predecessor:
            successor[i] = (j, gap_s)
            has_predecessor.add(j)
    recordings = []
    for first in range(len(members)):
        if first in has_predecessor:
            continue
        parts, joins = [members[first]], []
        current = first
        while current in successor:
            current, gap_s = successor[current]
            joins.append(Join(parts[-1].key, members[current].key, gap_s))
            parts.append(members[current])
        recordings.append(Recording(tuple(parts), tuple(joins)))
    return recordings


def _names_say(before: NameFacts, after: NameFacts) -> bool | None:
    """True: the names confirm `after` follows `before`; False: they rule it out; None: they
    say nothing either way."""
    if before.gopro is not None and after.gopro is not None:
        return before.gopro[0] == after.gopro[0] and after.gopro[1] == before.gopro[1] + 1
    if before.sequence is not None and after.sequence is not None:
        return after.sequence == before.sequence + 1 or (
            before.sequence in _SEQUENCE_WRAPS_AT and after.sequence in (0, 1)
        )
    return None


def _name_rank(facts: NameFacts) -> int:
    if facts.gopro is not None:
        return facts.gopro[1]
    return -1 if facts.sequence is None else facts.sequence


def _gap_s(before: Segment, after: Segment) -> float:
    # From the two starts, not the rounded end: a 0 s gap stays exactly 0 when it can.
    return (_start(after) - _start(before)).total_seconds() - (before.duration_s or 0.0)


def _start(segment: Segment) -> datetime:
    if segment.start is None:
        raise AssertionError(f"segment {segment.key!r} has no start")  # filtered out before
    return segment.start


def _end(segment: Segment) -> datetime:
    end = segment.end
    if end is None:
        raise AssertionError(f"segment {segment.key!r} has no end")  # filtered out before
    return end


def _recording_order(recording: Recording) -> tuple[str, bool, datetime, str]:
    start = recording.start
    return (recording.device_key, start is None, start or _LAST, recording.parts[0].key)
