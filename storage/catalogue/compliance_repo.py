"""What the compliance report reads from the catalogue: events of a period, the footage
that may cover them, and how many media are categorised. Plain column reads (no ORM
objects): a bureau-year is hundreds of thousands of rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Text, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rules.compliance import EventFacts, Footage, MediaCount, Part
from storage.catalogue.media_repo import longest_span
from storage.catalogue.models import Case, CaseEvent, CaseMedia, Media, Recording

COVERING_KINDS = ("video", "audio")
"""What can cover an event: photos are instants, other files play nowhere."""

_IN_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


def events_starting(
    session: Session, start: datetime, end: datetime, units: Collection[str] | None
) -> list[EventFacts]:
    """Events that start in `[start, end)`, of cases of `units` (None: of every case)."""
    return [event_facts(row) for row in session.execute(events_select(start, end, units))]


EventsSelect = Select[str, str, str, str | None, str, datetime, datetime, str | None]


def events_select(start: datetime, end: datetime, units: Collection[str] | None) -> EventsSelect:
    """The columns `event_facts` reads, of the events `events_starting` returns."""
    stmt = (
        select(
            CaseEvent.case_no,
            CaseEvent.event_id,
            CaseEvent.activity,
            Case.unit_id,
            # As text, parsed once per distinct crew: a bureau-year is 50,000 events of a
            # few thousand crews.
            cast(CaseEvent.officer_ids, Text),
            CaseEvent.start_at,
            CaseEvent.end_at,
            CaseEvent.room_id,
        )
        .join(Case, Case.case_no == CaseEvent.case_no)
        .where(CaseEvent.start_at >= start, CaseEvent.start_at < end)
    )
    if units is not None:
        stmt = stmt.where(Case.unit_id.in_(sorted(units)))
    return stmt


def event_facts(row: Sequence[Any]) -> EventFacts:
    case_no, event_id, activity, unit, officers, start, end, room = row[:8]
    return EventFacts(case_no, event_id, activity, unit, _crew(officers), start, end, room)


@lru_cache(maxsize=65_536)
def _crew(officer_ids: str | None) -> tuple[str, ...]:
    return tuple(json.loads(officer_ids)) if officer_ids else ()


def footage_touching(
    session: Session,
    lo: datetime,
    hi: datetime,
    *,
    officer_ids: Collection[str],
    device_ids: Collection[str],
) -> list[Footage]:
    """The pieces of footage by `officer_ids` or on `device_ids` that touch `[lo, hi]`: a
    recording's parts as one piece (from its first part's start to its last's end, all of
    its parts whatever the window), a medium outside any recording on its own."""
    # Every part of a recording that touches the window starts within its longest span of
    # it; the pieces are then kept by where they reach, not where their parts lie.
    reach = max(longest_span(session), _longest_recording(session))
    # One row per piece, grouped by the catalogue: a bureau-year is half a million media
    # but a fraction of that in recordings and clips.
    piece = func.coalesce(Media.recording_id, Media.id)
    stop = func.coalesce(Media.recorded_end, Media.recorded_start)
    pieces: dict[tuple[str, str | None, str], Footage] = {}
    for chunk in _by_whom(sorted(officer_ids), sorted(device_ids)):
        stmt = (
            select(
                piece,
                Media.officer_id,
                Media.device_id,
                Media.unit_id,
                func.min(Media.recorded_start),
                func.max(stop),
                func.max(Media.ingested_at),
                func.aggregate_strings(Media.id, ","),
                func.min(Media.ingested_at),
                func.max(Media.recording_id),
            )
            .where(
                Media.kind.in_(COVERING_KINDS),
                Media.sidecar_of_sha256.is_(None),
                Media.recorded_start >= lo - reach,
                Media.recorded_start <= hi + reach,
                chunk,
            )
            .group_by(piece, Media.officer_id, Media.device_id, Media.unit_id)
            .having(func.min(Media.recorded_start) <= hi, func.max(stop) >= lo)
        )
        rows = session.execute(stmt)
        for key, officer, device, unit, first, last, stored, ids, first_stored, recording in rows:
            assert first is not None and last is not None  # kept out by the filters
            last = max(first, last)  # a medium whose end precedes its start: an instant
            apart = first_stored if first_stored != stored else None
            found = Footage(tuple(sorted(ids.split(","))), officer, device, unit, first, last,
                            stored, apart, recording=recording)  # fmt: skip
            seen = pieces.get((key, officer, device))
            if seen is not None:  # read again through a room's device: the same piece
                found = replace(found,
                                media_ids=tuple(sorted(set(seen.media_ids) | set(found.media_ids))),
                                start=min(seen.start, first), end=max(seen.end, last),
                                stored_at=max(seen.stored_at, stored))  # fmt: skip
            pieces[(key, officer, device)] = found
    return list(pieces.values())


def _longest_recording(session: Session) -> timedelta:
    """The longest span of any recording (its parts' hull; a second for rounding)."""
    longest = session.scalar(select(func.max(Recording.recorded_span_s)))
    return timedelta(seconds=(longest or 0) + 1)


def with_parts(session: Session, pieces: Sequence[Footage]) -> list[Footage]:
    """`pieces`, those of recordings whose parts were registered at different times with
    their parts. Asked only for the footage of events judged late: few."""
    apart = {f.recording for f in pieces if f.stored_from is not None and f.recording}
    parts = _parts_of(session, apart) if apart else {}
    return [
        replace(f, parts=tuple(p for m, p in parts[f.recording] if m in f.media_ids))
        if f.recording in parts
        else f
        for f in pieces
    ]


def _parts_of(session: Session, recordings: Collection[str]) -> dict[str, list[tuple[str, Part]]]:
    """The parts of `recordings`, in order, with when each was registered."""
    stop = func.coalesce(Media.recorded_end, Media.recorded_start)
    found: dict[str, list[tuple[str, Part]]] = {}
    wanted = sorted(recordings)
    for i in range(0, len(wanted), _IN_CHUNK):
        stmt = (
            select(Media.recording_id, Media.id, Media.recorded_start, stop, Media.ingested_at)
            .where(
                Media.recording_id.in_(wanted[i : i + _IN_CHUNK]),
                Media.kind.in_(COVERING_KINDS),
                Media.sidecar_of_sha256.is_(None),
                Media.recorded_start.is_not(None),
            )  # fmt: skip
            .order_by(Media.recording_id, Media.recorded_start, Media.id)
        )
        for recording, media_id, start, end, stored in session.execute(stmt):
            assert recording is not None and start is not None and end is not None
            found.setdefault(recording, []).append((media_id, Part(start, max(start, end), stored)))
    return found


def _by_whom(officers: list[str], devices: list[str]) -> Iterator[ColumnElement[bool]]:
    for i in range(0, len(officers), _IN_CHUNK):
        yield Media.officer_id.in_(officers[i : i + _IN_CHUNK])
    for i in range(0, len(devices), _IN_CHUNK):
        # Footage of a room already read by officer is read again here; the report merges.
        yield Media.device_id.in_(devices[i : i + _IN_CHUNK])


def media_counts(
    session: Session, start: datetime, end: datetime, units: Collection[str] | None
) -> list[MediaCount]:
    """Media recorded in `[start, end)` (not sidecars), by unit and officer, with how many
    are in a case or judged non-evidential."""
    stmt = (
        select(Media.unit_id, Media.officer_id, func.count(), func.sum(categorised()))
        .where(
            and_(Media.recorded_start >= start, Media.recorded_start < end),
            Media.sidecar_of_sha256.is_(None),
        )
        .group_by(Media.unit_id, Media.officer_id)
    )
    if units is not None:
        stmt = stmt.where(Media.unit_id.in_(sorted(units)))
    return [
        MediaCount(unit, officer, count, int(done or 0))
        for unit, officer, count, done in session.execute(stmt)
    ]


def categorised() -> ColumnElement[int]:
    """1 for a medium in a case or judged non-evidential, else 0."""
    in_case = exists().where(CaseMedia.media_id == Media.id)
    return case((or_(Media.classification.is_not(None), in_case), 1), else_=0)
