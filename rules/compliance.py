"""The recording-compliance report (音像记录事项清单 checked against the footage), as pure
functions: each enforcement event judged by its unit's rules, and the rates supervisors
read (DOMAIN.md "What the best systems measure"), by unit rolled up the tree and by officer.

An event's footage is its officers' recordings, or, for an activity that needs the
interview room (interrogation), the recordings of its room's recorder: body-camera
footage does not stand in for the room's. An event belongs to the period it starts in.

`late`: the footage qualifies, but not the part of it stored by the deadline (the event's
end plus the unit's deadline); `late_by` is how long after the deadline the event first
had qualifying footage stored.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from rules.coverage import Interval, Status, coverage, longest_gap, status_of
from rules.recording_rules import RecordingRules, Requirement
from rules.unit_tree import units_under


class EventFacts(NamedTuple):
    """A tuple: a bureau-year reads 50,000 of them per report."""

    case_no: str
    event_id: str
    activity: str
    unit_id: str | None
    """The case's unit: its rules apply."""
    officer_ids: tuple[str, ...]
    start: datetime
    end: datetime
    room_id: str | None = None


@dataclass(frozen=True)
class Footage:
    """One piece of footage: a recording the camera split (its parts as one stretch: the
    joins are not gaps) or a medium standing alone."""

    media_ids: tuple[str, ...]
    officer_id: str | None
    device_id: str
    unit_id: str | None
    """Whose footage it is: a case of a unit counts only its unit's footage, as
    association links only its unit's (rules/association.py)."""
    start: datetime
    end: datetime
    stored_at: datetime
    """When its last part was registered: the footage is stored whole from then on."""
    stored_from: datetime | None = None
    """When its first part was registered, if before `stored_at` (its parts did not all
    come at once): then `parts` tell what was stored by each moment."""
    recording: str | None = None
    """The recording it is, if it is one."""
    parts: tuple[Part, ...] = ()
    """A recording's parts in order, with when each was registered (a part that did not
    fit at one dock came with the next). Empty: judged as stored whole at `stored_at`,
    which is never earlier than part by part: only a `late` judgement can change."""


class Part(NamedTuple):
    start: datetime
    end: datetime
    stored_at: datetime


@dataclass(frozen=True)
class EventResult:
    event: EventFacts
    requirement: Requirement
    needs_room: bool
    status: Status
    coverage: float
    longest_gap: timedelta
    media_ids: tuple[str, ...]
    due_at: datetime
    late_by: timedelta | None


class Verdict(Protocol):
    """What the summary counts of a judged event (an EventResult, or one kept from before)."""

    @property
    def event(self) -> EventFacts: ...
    @property
    def requirement(self) -> Requirement: ...
    @property
    def status(self) -> Status: ...


def judge(event: EventFacts, rules: RecordingRules, footage: Iterable[Footage]) -> EventResult:
    """The event's status under `rules`, from the footage given (any footage: what is not
    the event's own, or does not touch it, is left out here)."""
    needs_room = event.activity in rules.room_activities.value
    span = Interval(event.start, event.end)
    own = [f for f in footage if _belongs(event, f, needs_room) and _touches(span, f)]
    pieces = [Interval(f.start, f.end) for f in own]
    requirement = rules.requirement(event.activity)
    gap = rules.gap_tolerance.value
    due = event.end + rules.deadline.value

    def status(of: Sequence[Interval]) -> Status:
        return status_of(
            requirement,
            span,
            of,
            gap_tolerance=gap,
            stored_last=None,
            deadline=rules.deadline.value,
        )

    judged = status(pieces)
    late_by: timedelta | None = None
    if judged == "compliant" and requirement != "none":
        # When did it first qualify? Look at what was stored by each moment something was.
        for moment in sorted({t for f in own for t in _stored_times(f)}):
            if status(_stored_by(own, moment)) == "compliant":
                if moment > due:
                    judged, late_by = "late", moment - due
                break
    return EventResult(
        event=event,
        requirement=requirement,
        needs_room=needs_room,
        status=judged,
        coverage=coverage(span, pieces),
        longest_gap=longest_gap(span, pieces),
        media_ids=tuple(sorted({m for f in own for m in f.media_ids})),
        due_at=due,
        late_by=late_by,
    )


def _stored_times(piece: Footage) -> Iterable[datetime]:
    return [p.stored_at for p in piece.parts] if piece.parts else [piece.stored_at]


def _stored_by(pieces: Iterable[Footage], moment: datetime) -> list[Interval]:
    """The footage stored by `moment`: whole pieces, and of a recording stored part by
    part each run of consecutive parts stored by then (the joins inside a run are not
    gaps; a part still on the camera is one)."""
    found: list[Interval] = []
    for piece in pieces:
        if not piece.parts:
            if piece.stored_at <= moment:
                found.append(Interval(piece.start, piece.end))
            continue
        run: list[Part] = []
        for part in (*piece.parts, None):
            if part is not None and part.stored_at <= moment:
                run.append(part)
                continue
            if run:
                found.append(Interval(run[0].start, max(p.end for p in run)))
            run = []
    return found


def _belongs(event: EventFacts, footage: Footage, needs_room: bool) -> bool:
    if event.unit_id is not None and footage.unit_id != event.unit_id:
        return False
    if needs_room:
        return event.room_id is not None and footage.device_id == event.room_id
    return footage.officer_id is not None and footage.officer_id in event.officer_ids


def _touches(span: Interval, footage: Footage) -> bool:
    return footage.start <= span.end and footage.end >= span.start


@dataclass
class Tally:
    """Counts behind one row of the summary, and the rates they make."""

    events: int = 0
    required: int = 0
    compliant: int = 0
    partial: int = 0
    missing: int = 0
    late: int = 0
    media: int = 0
    categorised: int = 0

    def add_event(self, result: Verdict) -> None:
        self.events += 1
        if result.requirement == "none":
            return
        self.required += 1
        setattr(self, result.status, getattr(self, result.status) + 1)

    def add(self, other: Tally) -> None:
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def recorded(self) -> int:
        """Events that required recording and have some."""
        return self.required - self.missing

    @property
    def activation_rate(self) -> float | None:
        """Events that required recording and have it ÷ such events (None: there were none)."""
        return _rate(self.recorded, self.required)

    @property
    def late_rate(self) -> float | None:
        """Events whose footage was stored late ÷ events that have footage."""
        return _rate(self.late, self.recorded)

    @property
    def compliance_rate(self) -> float | None:
        return _rate(self.compliant, self.required)

    @property
    def categorisation_rate(self) -> float | None:
        """Media in a case or judged non-evidential ÷ media."""
        return _rate(self.categorised, self.media)


_COUNTS = ("events", "required", "compliant", "partial", "missing", "late", "media",
           "categorised")  # fmt: skip


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class MediaCount:
    """How many media a unit's officer recorded in the period, and how many are categorised."""

    unit_id: str | None
    officer_id: str | None
    media: int
    categorised: int


@dataclass
class Summary:
    by_unit: dict[str | None, Tally] = field(default_factory=dict)
    """Each unit with everything below it (None: cases and media of no unit)."""
    own_unit: dict[str | None, Tally] = field(default_factory=dict)
    """Each unit on its own."""
    by_officer: dict[str, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)


def summarise(
    results: Iterable[Verdict],
    media_counts: Iterable[MediaCount],
    parents: Mapping[str, str | None],
    units: Iterable[str | None],
) -> Summary:
    """Tallies for each of `units` (rolled up the tree given by `parents`) and for each
    officer named by an event or a medium. An event counts once for each of its officers."""
    own: dict[str | None, Tally] = defaultdict(Tally)
    officers: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for result in results:
        own[result.event.unit_id].add_event(result)
        total.add_event(result)
        for officer in set(result.event.officer_ids):
            officers[officer].add_event(result)
    for count in media_counts:
        for tally in (own[count.unit_id], total) + (
            (officers[count.officer_id],) if count.officer_id is not None else ()
        ):
            tally.media += count.media
            tally.categorised += count.categorised
    summary = Summary(own_unit=dict(own), by_officer=dict(officers), total=total)
    for unit in units:
        rolled = Tally()
        for below in _below(parents, unit):
            if below in own:
                rolled.add(own[below])
        summary.by_unit[unit] = rolled
    return summary


def _below(parents: Mapping[str, str | None], unit: str | None) -> Iterable[str | None]:
    return (None,) if unit is None else units_under(parents, unit)


class Timeline:
    """One officer's or device's footage, sorted by start, to find what touches a window
    without looking at the rest of the year."""

    def __init__(self, pieces: Iterable[Footage]) -> None:
        self._pieces = sorted(pieces, key=lambda f: f.start)
        self._starts = [f.start for f in self._pieces]
        self._longest = max((f.end - f.start for f in self._pieces), default=timedelta(0))

    def touching(self, start: datetime, end: datetime) -> list[Footage]:
        lo = bisect_left(self._starts, start - self._longest)
        hi = bisect_right(self._starts, end)
        return [f for f in self._pieces[lo:hi] if f.end >= start]


def report(
    events: Iterable[EventFacts],
    footage: Sequence[Footage],
    rules_for: Callable[[str | None], RecordingRules],
) -> list[EventResult]:
    """Every event judged, in start order. Footage is put on a time line per officer and
    per device, so that each event looks only at its own and only near its time."""
    by_officer: dict[str, list[Footage]] = defaultdict(list)
    by_device: dict[str, list[Footage]] = defaultdict(list)
    for piece in footage:
        if piece.officer_id is not None:
            by_officer[piece.officer_id].append(piece)
        by_device[piece.device_id].append(piece)
    officers = {o: Timeline(p) for o, p in by_officer.items()}
    devices = {d: Timeline(p) for d, p in by_device.items()}
    results = []
    for event in sorted(events, key=lambda e: (e.start, e.case_no, e.event_id)):
        lines = [officers[o] for o in set(event.officer_ids) if o in officers]
        if event.room_id is not None and event.room_id in devices:
            lines.append(devices[event.room_id])
        candidates = [f for line in lines for f in line.touching(event.start, event.end)]
        results.append(judge(event, rules_for(event.unit_id), candidates))
    return results
