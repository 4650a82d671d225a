"""Automatic association (自动关联): which media belong to which case, as pure functions.

The rules (DESIGN.md "Cases and compliance", DOMAIN.md "What the best systems measure"):

- **officer**: the media's officer is one of the event's officers and the media's corrected
  recording interval overlaps the event widened by the tolerance on both sides.
- **room**: the event names an interview room (`room_id`) and the media was recorded by that
  room's recorder (`device_id == room_id`), with the same overlap test. The media's officer
  does not matter (room recorders usually have none). When both rules hold, "room" is
  reported: it is the more specific reason.

Both rules hold only within one unit: a case of a unit links only media of that unit (a
pooled camera's footage, or an officer lent to another unit, is linked by hand by someone
who may see both units); media of no known unit link to no unit's case. A case of no unit
(which only tokens without a unit see, and they see every unit's media) links any.

Decisions, so the api and the station agree:

- Intervals are closed: the event window is `[start - tolerance, end + tolerance]`, the media
  interval `[start, end]`, or the single instant `start` for a photo (`end` is None).
  **Touching counts**: media that ends exactly at `event.start - tolerance` matches. Missing
  evidence costs more than a link a reviewer removes, and "within 5 minutes" reads inclusive.
- Media without a recorded start never associate automatically.
- Event windows are refused when a time is naive, when the window is empty or negative, or
  when it is longer than `MAX_EVENT` (exactly 8 hours is accepted). `Event` refuses them
  too, so a match is never computed against a refused window.
- The catalogue keeps one link per (case, media). `reconcile` adds one auto link per
  (case, media) pair, naming the first matching event (smallest `event_id`); an existing
  link of any source for that pair is left alone, and its `event_id` is not compared. Which
  events a media item matches is not part of `Changes`: the caller already has every match
  from `matches_for_case` / `matches_for_media`, and can keep or report them from there.
- Only `auto` links are ever removed. Pairs a reviewer dissociated by hand can be passed as
  `dissociated` so that re-sending a case does not link them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

DEFAULT_TOLERANCE = timedelta(minutes=5)
"""How far outside an event's window a recording may lie and still match, on each side."""

MAX_EVENT = timedelta(hours=8)
"""The longest event window accepted; longer ones are refused (they would match everything)."""

Rule = Literal["officer", "room"]
"""Why a media item matched an event."""

LinkSource = Literal["auto", "manual", "dock"]
"""How a catalogue link between a case and a media item came to be."""


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def event_window_problem(start: datetime, end: datetime) -> str | None:
    """Why the event window `[start, end]` is refused, in English, or None when it is fine.

    Refused: a time without a zone offset, an end at or before the start, a window longer
    than `MAX_EVENT`.
    """
    for name, moment in (("start", start), ("end", end)):
        if not _is_aware(moment):
            return (
                f"event {name} {moment.isoformat()} has no time zone offset; "
                "send times like 2026-11-27T09:00:00+08:00"
            )
    if end == start:
        return f"event window is empty: it starts and ends at {start.isoformat()}"
    if end < start:
        return f"event ends at {end.isoformat()}, before it starts at {start.isoformat()}"
    if end - start > MAX_EVENT:
        return (
            f"event lasts {end - start}, longer than the {MAX_EVENT} an event may last; "
            "split it into shorter events"
        )
    return None


@dataclass(frozen=True)
class Event:
    """One enforcement event of a case, as the case-handling system sent it.

    Raises ValueError when the window is refused (see `event_window_problem`).
    """

    case_no: str
    event_id: str
    activity: str
    officer_ids: frozenset[str]
    start: datetime
    end: datetime
    room_id: str | None = None
    unit_id: str | None = None
    """The case's unit; None: the case has none."""

    def __post_init__(self) -> None:
        problem = event_window_problem(self.start, self.end)
        if problem is not None:
            raise ValueError(f"case {self.case_no} event {self.event_id}: {problem}")


@dataclass(frozen=True)
class MediaFacts:
    """What association needs to know about one media item (times clock-corrected).

    `end` is None for a photo (a single instant). Raises ValueError for a naive time or an
    end before the start.
    """

    media_id: str
    officer_id: str | None
    device_id: str
    start: datetime | None
    end: datetime | None
    unit_id: str | None = None

    def __post_init__(self) -> None:
        for moment in (self.start, self.end):
            if moment is not None and not _is_aware(moment):
                raise ValueError(
                    f"media {self.media_id}: recorded time {moment.isoformat()} has no offset"
                )
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(
                f"media {self.media_id}: recording ends at {self.end.isoformat()}, "
                f"before it starts at {self.start.isoformat()}"
            )


@dataclass(frozen=True, order=True)
class Link:
    """A match: media `media_id` belongs to event `event_id` of case `case_no`, by `rule`."""

    case_no: str
    event_id: str
    media_id: str
    rule: Rule


@dataclass(frozen=True)
class ExistingLink:
    """A link the catalogue holds between a case and a media item."""

    case_no: str
    media_id: str
    source: LinkSource
    event_id: str | None = None


@dataclass(frozen=True)
class Changes:
    """What to do to the catalogue: links to add (as `auto`) and links to remove."""

    add: list[Link]
    remove: list[ExistingLink]


def _check_tolerance(tolerance: timedelta) -> None:
    if tolerance < timedelta(0):
        raise ValueError(f"association tolerance {tolerance} is negative")


def match(event: Event, media: MediaFacts, tolerance: timedelta) -> Rule | None:
    """Why `media` belongs to `event` ("room" or "officer"), or None when it does not.

    Raises ValueError for a negative tolerance.
    """
    _check_tolerance(tolerance)
    if media.start is None or (event.unit_id is not None and media.unit_id != event.unit_id):
        return None
    media_end = media.end if media.end is not None else media.start
    # Closed intervals: touching at the widened edge counts (see the module docstring).
    if media.start > event.end + tolerance or media_end < event.start - tolerance:
        return None
    if event.room_id is not None and event.room_id == media.device_id:
        return "room"
    if media.officer_id is not None and media.officer_id in event.officer_ids:
        return "officer"
    return None


def matches_for_media(
    media: MediaFacts, events: Iterable[Event], tolerance: timedelta
) -> list[Link]:
    """Every event (of any case) that `media` matches, sorted; used when footage arrives."""
    _check_tolerance(tolerance)
    found: set[Link] = set()
    for event in events:
        rule = match(event, media, tolerance)
        if rule is not None:
            found.add(Link(event.case_no, event.event_id, media.media_id, rule))
    return sorted(found)


def matches_for_case(
    events: Iterable[Event], media: Iterable[MediaFacts], tolerance: timedelta
) -> list[Link]:
    """Every (event, media) match among `events` and `media`, sorted; used when a case arrives.

    Equal to the sorted union of `matches_for_media` over `media`.
    """
    _check_tolerance(tolerance)
    events = tuple(events)
    found: set[Link] = set()
    for item in media:
        found.update(matches_for_media(item, events, tolerance))
    return sorted(found)


def reconcile(
    current: Iterable[ExistingLink],
    wanted: Iterable[Link],
    *,
    dissociated: Iterable[tuple[str, str]] = (),
) -> Changes:
    """The changes that make the catalogue's links for one scope agree with `wanted`.

    A scope is one case (after it is created or re-sent) or one media item (after it is
    registered, or its facts changed). `current` must be every link of that scope and
    `wanted` every match computed against every event that could match it (see
    `candidate_window` and `candidate_event_window`): a match left out of `wanted` removes
    its auto link.

    - Each (case, media) pair in `wanted` that has no link yet is added once, naming its
      first matching event; pairs in `dissociated` (case_no, media_id) are never added.
    - Each `auto` link whose pair is no longer wanted is removed. `manual` and `dock` links
      are never removed.

    Applying the changes and reconciling again gives no changes.
    """
    current = list(current)
    blocked = set(dissociated)
    first_per_pair: dict[tuple[str, str], Link] = {}
    for link in sorted(wanted):
        first_per_pair.setdefault((link.case_no, link.media_id), link)
    linked = {(link.case_no, link.media_id) for link in current}
    add = [
        link
        for pair, link in sorted(first_per_pair.items())
        if pair not in linked and pair not in blocked
    ]
    remove = sorted(
        (
            link
            for link in current
            if link.source == "auto" and (link.case_no, link.media_id) not in first_per_pair
        ),
        key=lambda link: (link.case_no, link.media_id, link.event_id or ""),
    )
    return Changes(add=add, remove=remove)


def candidate_window(events: Iterable[Event], tolerance: timedelta) -> tuple[datetime, datetime]:
    """The time range `(lo, hi)` to search media in when a case arrives.

    Every media item that can match one of `events` has a recorded interval touching it:
    `start <= hi` and `(end or start) >= lo`. Combine with `candidate_officer_ids` (media
    officer) or `candidate_room_ids` (media device). Raises ValueError when `events` is
    empty or the tolerance is negative.
    """
    _check_tolerance(tolerance)
    events = tuple(events)
    if not events:
        raise ValueError("no events: there is no window to search media in")
    return (
        min(event.start for event in events) - tolerance,
        max(event.end for event in events) + tolerance,
    )


def candidate_officer_ids(events: Iterable[Event]) -> frozenset[str]:
    """The officers whose media can match `events` by the officer rule."""
    return frozenset(officer for event in events for officer in event.officer_ids)


def candidate_room_ids(events: Iterable[Event]) -> frozenset[str]:
    """The interview-room devices whose media can match `events` by the room rule."""
    return frozenset(event.room_id for event in events if event.room_id is not None)


def candidate_event_window(
    media: MediaFacts, tolerance: timedelta
) -> tuple[datetime, datetime] | None:
    """The time range `(lo, hi)` to search events in when footage arrives.

    Every event `media` can match touches it: `event.start <= hi` and `event.end >= lo`.
    None when the media has no recorded start (it never matches). Raises ValueError for a
    negative tolerance.
    """
    _check_tolerance(tolerance)
    if media.start is None:
        return None
    media_end = media.end if media.end is not None else media.start
    return media.start - tolerance, media_end + tolerance
