"""The compliance report's events judged and its media counted, reusing what an earlier
report judged and counted while nothing it read has changed since.

A judgement is kept with a fingerprint of its inputs (the event, the rules that apply to it,
the judging code and the shape of the answer) and the footage counter's value when it was
made. It still holds if the fingerprint is the same and no day the event spans has a
footage mark above that value (storage/catalogue/footage_changes.py). A day's media counts
are kept and checked the same way. Whatever no longer holds is judged or counted again and
kept; a failure to keep it is logged and costs only time in the next report.

A bureau-year is 50,000 events: judging them all takes seconds; reading them back, a
fraction of one.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import json
import logging
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, cast

from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import api.schemas
import rules.compliance
import rules.coverage
from api.routes.recording_rules import effective_rules
from api.schemas import UtcTime
from rules.compliance import EventFacts, EventResult, Footage, MediaCount, report
from rules.coverage import Status
from rules.recording_rules import RecordingRules, Requirement
from storage.catalogue import compliance_repo, footage_changes, judgement_repo
from storage.catalogue.footage_changes import days_of
from storage.catalogue.judgement_repo import Kept

log = logging.getLogger(__name__)


class EventOut(BaseModel):
    case_no: str
    event_id: str
    activity: str
    unit_id: str | None
    officer_ids: list[str]
    room_id: str | None
    start: UtcTime
    end: UtcTime
    requirement: Requirement
    needs_room: bool = Field(description="only the interview room's recorder counts")
    status: Status
    coverage: float = Field(description="fraction of the event its footage covers, 0 to 1")
    longest_gap_s: float
    media_ids: list[str] = Field(description="the media behind the judgement")
    due_at: UtcTime = Field(description="the event's end plus its unit's deadline")
    late_by_s: float | None = Field(
        description="for `late`: how long after due_at qualifying footage was first stored"
    )

    @classmethod
    def of(cls, result: EventResult) -> EventOut:
        event = result.event
        return cls(
            case_no=event.case_no,
            event_id=event.event_id,
            activity=event.activity,
            unit_id=event.unit_id,
            officer_ids=list(event.officer_ids),
            room_id=event.room_id,
            start=event.start,
            end=event.end,
            requirement=result.requirement,
            needs_room=result.needs_room,
            status=result.status,
            coverage=round(result.coverage, 6),
            longest_gap_s=result.longest_gap.total_seconds(),
            media_ids=list(result.media_ids),
            due_at=result.due_at,
            late_by_s=result.late_by.total_seconds() if result.late_by is not None else None,
        )


_paused = 0
_paused_lock = threading.Lock()
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a report is made. A bureau-year makes hundreds of
    thousands of objects that all live until the answer is written, and the collector would
    walk them again at each of its passes (half a second of two). They hold no cycles, so
    reference counting frees them; the collector resumes when the last report is done."""
    global _paused, _was_enabled
    with _paused_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


def _code_version() -> str:
    """Changes whenever the judging code or the answer's shape does, so that an upgrade
    judges everything again instead of serving what older code concluded."""
    digest = hashlib.blake2b(digest_size=16)
    for module in (rules.compliance, rules.coverage, compliance_repo, api.schemas,
                   sys.modules[__name__]):  # fmt: skip
        digest.update(inspect.getsource(module).encode())
    digest.update(json.dumps(EventOut.model_json_schema(), sort_keys=True).encode())
    return digest.hexdigest()


CODE_VERSION = _code_version()


class JudgedEvent(NamedTuple):
    event: EventFacts
    requirement: Requirement
    status: Status
    body: str
    """The event as the report writes it: EventOut's JSON."""


def judged_events(
    session: Session, start: datetime, end: datetime, scope: Collection[str] | None
) -> tuple[list[JudgedEvent], dict[str | None, RecordingRules]]:
    """Every event starting in `[start, end)` of the units in `scope`, judged, in start
    order; and the rules applied, by case unit."""
    seq = footage_changes.current_seq(session)  # before any footage is read
    pairs = judgement_repo.events_starting(session, start, end, scope)
    rules = effective_rules(session, {e.unit_id for e, _ in pairs})
    marks, everything = _marks(session, [(e.start, e.end) for e, _ in pairs])
    kept: list[JudgedEvent] = []
    stale: dict[tuple[str, str], tuple[EventFacts, str]] = {}
    parts: dict[tuple[str | None, str], str] = {}
    for event, standing in pairs:
        key = (event.unit_id, event.activity)
        if key not in parts:
            parts[key] = _rules_part(rules[event.unit_id], event.activity)
        inputs = _inputs(event, parts[key])
        if (
            standing is not None
            and standing.inputs == inputs
            and standing.judged_seq >= max(everything, _latest_mark(marks, event))
        ):
            kept.append(JudgedEvent(event, cast(Requirement, standing.requirement),
                                    cast(Status, standing.status), standing.body))  # fmt: skip
        else:
            stale[(event.case_no, event.event_id)] = (event, inputs)
    fresh = _judge(session, [e for e, _ in stale.values()], rules)
    if fresh:
        rows = [
            (j.event, Kept(stale[(j.event.case_no, j.event.event_id)][1], seq, j.requirement,
                           j.status, j.body))
            for j in fresh
        ]  # fmt: skip
        _keep(session, "judgements", lambda: judgement_repo.keep_judgements(session, rows))
    judged = sorted(kept + fresh, key=lambda j: (j.event.start, j.event.case_no, j.event.event_id))
    return judged, rules


def _latest_mark(marks: dict[date, int], event: EventFacts) -> int:
    first, last = event.start.astimezone(UTC).date(), event.end.astimezone(UTC).date()
    if first == last:  # most events: no list of days to make
        return marks.get(first, 0)
    return max(marks.get(d, 0) for d in days_of(event.start, event.end))


def _judge(
    session: Session, events: Sequence[EventFacts], rules: dict[str | None, RecordingRules]
) -> list[JudgedEvent]:
    """Judge `events`, reading the footage near each bunch of them: events judged again
    after a few docks lie on a few days scattered over the year, and their officers'
    footage of the whole year between is not needed."""
    judged: list[JudgedEvent] = []
    for bunch in _bunches(events):
        footage = compliance_repo.footage_touching(
            session,
            min(e.start for e in bunch),
            max(e.end for e in bunch),
            officer_ids={o for e in bunch for o in e.officer_ids},
            device_ids={e.room_id for e in bunch if e.room_id is not None},
        )
        results = report(bunch, footage, rules.__getitem__)
        judged += [
            JudgedEvent(r.event, r.requirement, r.status, EventOut.of(r).model_dump_json())
            for r in _part_by_part(session, results, footage, rules)
        ]
    return judged


def _part_by_part(
    session: Session,
    results: list[EventResult],
    footage: list[Footage],
    rules: dict[str | None, RecordingRules],
) -> list[EventResult]:
    """`results`, with each `late` one judged again from what was stored part by part when
    a recording behind it was not registered all at once (stored whole, footage is as late
    as its last part; part by part it can only have qualified sooner)."""
    late = {m for r in results if r.status == "late" for m in r.media_ids}
    behind = [f for f in footage if late.intersection(f.media_ids)]
    if not any(f.stored_from is not None for f in behind):
        return results
    others = [f for f in footage if not late.intersection(f.media_ids)]
    footage = compliance_repo.with_parts(session, behind) + others
    again = report([r.event for r in results if r.status == "late"], footage, rules.__getitem__)
    redone = {(r.event.case_no, r.event.event_id): r for r in again}
    return [redone.get((r.event.case_no, r.event.event_id), r) for r in results]


BUNCH_GAP = timedelta(days=2)
"""Events this far apart are judged from separate reads of footage."""


def _bunches(events: Sequence[EventFacts]) -> Iterator[list[EventFacts]]:
    bunch: list[EventFacts] = []
    reach = datetime.min.replace(tzinfo=UTC)
    for event in sorted(events, key=lambda e: e.start):
        if bunch and event.start > reach + BUNCH_GAP:
            yield bunch
            bunch = []
        reach = max(reach, event.end) if bunch else event.end
        bunch.append(event)
    if bunch:
        yield bunch


def _inputs(event: EventFacts, rules: str) -> str:
    """The fingerprint of everything a judgement depends on but the footage; `rules` is
    `_rules_part` of the rules that apply to it."""
    facts = (CODE_VERSION, event.case_no, event.event_id, event.activity, event.unit_id or "",
             "\x1e".join(event.officer_ids), repr(event.start.timestamp()),
             repr(event.end.timestamp()), event.room_id or "", rules)  # fmt: skip
    return hashlib.blake2b("\x1f".join(facts).encode(), digest_size=16).hexdigest()


def _rules_part(rules: RecordingRules, activity: str) -> str:
    """What of the rules judges an event of `activity`."""
    return (f"{rules.requirement(activity)} {activity in rules.room_activities.value} "
            f"{rules.gap_tolerance.value.total_seconds()} {rules.deadline.value.total_seconds()}")  # fmt: skip


def media_counts(
    session: Session, start: datetime, end: datetime, scope: Collection[str] | None
) -> list[MediaCount]:
    """compliance_repo.media_counts, whole UTC days from kept counts that still hold."""
    seq = footage_changes.current_seq(session)
    first = (start.astimezone(UTC) + timedelta(days=1) - timedelta.resolution).date()
    last = (end.astimezone(UTC)).date() - timedelta(days=1)  # the last day ending by `end`
    if first > last:
        return compliance_repo.media_counts(session, start, end, scope)
    day_start = datetime.combine(first, time(), UTC)
    day_end = datetime.combine(last + timedelta(days=1), time(), UTC)
    counts = [
        *(compliance_repo.media_counts(session, start, day_start, scope) if start < day_start else []),
        *(compliance_repo.media_counts(session, day_end, end, scope) if day_end < end else []),
    ]  # fmt: skip
    marks, everything = footage_changes.changes_between(session, first, last)
    tallies = judgement_repo.day_tallies(session, first, last)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    stale = [
        d for d in days
        if d not in tallies or tallies[d][0] < max(everything, marks.get(d, 0))
    ]  # fmt: skip
    recounted = judgement_repo.count_days(session, stale) if stale else {}
    if recounted:
        _keep(session, "day counts",
              lambda: judgement_repo.keep_tallies(session, recounted, seq))  # fmt: skip
    # Summed here, not kept as objects: a bureau-year is 365 days of 200 officers.
    sums: dict[tuple[str | None, str | None], list[int]] = {}
    for day in days:
        if day in recounted:
            rows = [(c.unit_id, c.officer_id, c.media, c.categorised) for c in recounted[day]]
        else:
            rows = tallies[day][1]
        for unit, officer, media, done in rows:
            if scope is None or unit in scope:
                total = sums.setdefault((unit, officer), [0, 0])
                total[0] += media
                total[1] += done
    counts += [MediaCount(u, o, media, done) for (u, o), (media, done) in sums.items()]
    return counts


def _keep(session: Session, what: str, write: Callable[[], None]) -> None:
    """Keep what was judged or counted; the report stands without it."""
    try:
        write()
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("could not keep the compliance report's %s; the next report makes them "
                    "again", what, exc_info=True)  # fmt: skip


def _marks(
    session: Session, spans: Iterable[tuple[datetime, datetime]]
) -> tuple[dict[date, int], int]:
    spans = list(spans)
    if not spans:
        return {}, 0
    first = min(s for s, _ in spans).astimezone(UTC).date()
    last = max(e for _, e in spans).astimezone(UTC).date()
    return footage_changes.changes_between(session, first, last)
