"""How much of an enforcement event its footage covers, and what that makes the event
(音像记录 compliance: DOMAIN.md "What must be recorded"), as pure functions.

Footage is given as pieces: one interval per recording (a recording the camera split into
segments is one piece from its first part's start to its last part's end: the joins
between its segments are not gaps), or per medium when it stands alone. Intervals are
closed, and pieces that touch or overlap are one covered stretch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rules.recording_rules import Requirement

Status = Literal["compliant", "partial", "missing", "late"]


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"interval ends ({self.end}) before it starts ({self.start})")


def covered(event: Interval, pieces: Iterable[Interval]) -> list[Interval]:
    """The stretches of `event` that the pieces cover, merged, in order."""
    clipped = sorted(
        Interval(max(p.start, event.start), min(p.end, event.end))
        for p in pieces
        if p.end >= event.start and p.start <= event.end
    )
    merged: list[Interval] = []
    for piece in clipped:
        if merged and piece.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, piece.end))
        else:
            merged.append(piece)
    return merged


def coverage(event: Interval, pieces: Iterable[Interval]) -> float:
    """The fraction of `event` covered, from 0 to 1 (an instant event: 1 when touched)."""
    stretches = covered(event, pieces)
    length = event.end - event.start
    if length == timedelta(0):
        return 1.0 if stretches else 0.0
    return min(1.0, sum((s.end - s.start for s in stretches), timedelta(0)) / length)


def longest_gap(event: Interval, pieces: Iterable[Interval]) -> timedelta:
    """The longest stretch of `event` no piece covers (its start and end included)."""
    edge = event.start
    longest = timedelta(0)
    for stretch in covered(event, pieces):
        longest = max(longest, stretch.start - edge)
        edge = stretch.end
    return max(longest, event.end - edge)


def status_of(
    requirement: Requirement,
    event: Interval,
    pieces: Sequence[Interval],
    *,
    gap_tolerance: timedelta,
    stored_last: datetime | None,
    deadline: timedelta,
) -> Status:
    """What the event's footage makes it. `none`: compliant whatever was recorded.
    `key_steps`: any piece touching the event. `full_process`: the whole event, no gap
    longer than `gap_tolerance`. Footage that qualifies but whose last piece was stored
    (`stored_last`) after the event's end plus `deadline` makes it `late`."""
    if requirement == "none":
        return "compliant"
    stretches = covered(event, pieces)
    if not stretches:
        return "missing"
    if requirement == "full_process" and longest_gap(event, pieces) > gap_tolerance:
        return "partial"
    if stored_last is not None and stored_last > event.end + deadline:
        return "late"
    return "compliant"
