"""Cases in the catalogue: the case and its events, its links to media, and dissociations.

Persistence only: which media belong to which case is decided by rules/association.py and
applied by api/association.py. Functions that change rows do not commit unless they say
so, so that a link, its custody event and the medium's retention are written together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storage.catalogue.custody_repo import Caller
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import (
    Case,
    CaseDissociation,
    CaseEvent,
    CaseMedia,
    CustodyEvent,
    CustodyEventKind,
    CustodyOutcome,
    Media,
    Recording,
)


@dataclass(frozen=True)
class EventFields:
    """One event of a case as a PUT sends it (times with an offset)."""

    event_id: str
    activity: str
    officer_ids: Sequence[str]
    start: datetime
    end: datetime
    room_id: str | None = None


def get_case(session: Session, case_no: str) -> Case | None:
    return session.get(Case, case_no)


def put_case(
    session: Session,
    case_no: str,
    *,
    title: str,
    unit_id: str | None,
    events: Sequence[EventFields],
    actor: str,
    now: datetime,
) -> tuple[Case, bool]:
    """Create or replace the case `case_no` and all its events; return (case, created).

    Flushes, does not commit: the caller commits the case together with its associations,
    so that a case is never stored without them. Raises IntegrityError when a concurrent
    PUT created the same case a moment ago (roll back and start again: it is then a
    replacement), SQLAlchemyError when the write fails.
    """
    case = session.get(Case, case_no)
    created = case is None
    if case is None:
        case = Case(case_no=case_no, created_at=now)
        session.add(case)
    case.title = title
    case.unit_id = unit_id
    case.updated_at = now
    case.updated_by = actor
    # Replace the events wholesale; flush the deletes first so that a re-sent event_id
    # does not collide with its old row on the (case_no, event_id) constraint.
    case.events.clear()
    session.flush()
    case.events.extend(
        CaseEvent(
            event_id=event.event_id,
            activity=event.activity,
            officer_ids=list(event.officer_ids),
            start_at=event.start,
            end_at=event.end,
            room_id=event.room_id,
        )
        for event in events
    )
    session.flush()
    return case, created


def links_of_case(session: Session, case_no: str) -> list[CaseMedia]:
    """Every link of the case, by media id."""
    return list(
        session.scalars(
            select(CaseMedia).where(CaseMedia.case_no == case_no).order_by(CaseMedia.media_id)
        )
    )


def links_of_media(session: Session, media_id: str) -> list[CaseMedia]:
    return list(
        session.scalars(
            select(CaseMedia).where(CaseMedia.media_id == media_id).order_by(CaseMedia.case_no)
        )
    )


def get_link(session: Session, case_no: str, media_id: str) -> CaseMedia | None:
    return session.scalars(
        select(CaseMedia).where(CaseMedia.case_no == case_no, CaseMedia.media_id == media_id)
    ).one_or_none()


def dissociated_pairs(
    session: Session, *, case_no: str | None = None, media_id: str | None = None
) -> set[tuple[str, str]]:
    """(case_no, media_id) pairs a reviewer took apart, for one case or one medium."""
    stmt = select(CaseDissociation.case_no, CaseDissociation.media_id)
    if case_no is not None:
        stmt = stmt.where(CaseDissociation.case_no == case_no)
    if media_id is not None:
        stmt = stmt.where(CaseDissociation.media_id == media_id)
    return {(row.case_no, row.media_id) for row in session.execute(stmt)}


def get_dissociation(session: Session, case_no: str, media_id: str) -> CaseDissociation | None:
    return session.scalars(
        select(CaseDissociation).where(
            CaseDissociation.case_no == case_no, CaseDissociation.media_id == media_id
        )
    ).one_or_none()


def events_touching(session: Session, lo: datetime, hi: datetime) -> list[CaseEvent]:
    """Events of any case whose window touches `[lo, hi]` (the start_at/end_at index)."""
    return list(
        session.scalars(
            select(CaseEvent)
            .where(CaseEvent.start_at <= hi, CaseEvent.end_at >= lo)
            .order_by(CaseEvent.case_no, CaseEvent.event_id)
        )
    )


def media_touching(
    session: Session,
    lo: datetime,
    hi: datetime,
    *,
    officer_ids: Collection[str],
    device_ids: Collection[str],
) -> list[Media]:
    """Media recorded (partly) within `[lo, hi]`, or part of a merged recording that was, by
    one of `officer_ids` or on one of `device_ids`; media without a recorded start are never
    returned."""
    by_whom = []
    if officer_ids:
        by_whom.append(Media.officer_id.in_(sorted(officer_ids)))
    if device_ids:
        by_whom.append(Media.device_id.in_(sorted(device_ids)))
    if not by_whom:
        return []
    return list(
        session.scalars(
            select(Media)
            .where(
                Media.recorded_start.is_not(None),
                or_(
                    and_(
                        Media.recorded_start <= hi,
                        func.coalesce(Media.recorded_end, Media.recorded_start) >= lo,
                    ),
                    Media.recording_id.in_(
                        select(Recording.id).where(
                            Recording.recorded_start <= hi,
                            func.coalesce(Recording.recorded_end, Recording.recorded_start) >= lo,
                        )
                    ),
                ),
                or_(*by_whom),
            )
            .order_by(Media.id)
        )
    )


def recordings_of(session: Session, media: Collection[Media]) -> dict[str, Recording]:
    """The merged recordings the given media are parts of, by id."""
    ids = sorted({m.recording_id for m in media if m.recording_id is not None})
    if not ids:
        return {}
    return {r.id: r for r in session.scalars(select(Recording).where(Recording.id.in_(ids)))}


def media_by_ids(session: Session, media_ids: Collection[str]) -> dict[str, Media]:
    if not media_ids:
        return {}
    rows = session.scalars(select(Media).where(Media.id.in_(sorted(media_ids))))
    return {media.id: media for media in rows}


def custody_event(
    media_id: str,
    kind: CustodyEventKind,
    caller: Caller,
    *,
    at: datetime,
    detail: dict[str, Any],
) -> CustodyEvent:
    """A custody event of an association change, to add in the change's own transaction
    (custody_repo.record_event commits on its own, and a link must never change unlogged)."""
    return CustodyEvent(
        media_id=media_id,
        at=at,
        event=kind.value,
        actor=caller.actor,
        role=caller.role,
        client=caller.client,
        detail=detail,
        outcome=CustodyOutcome.OK.value,
    )


def commit(session: Session, what: str) -> None:
    """Commit the session; raises CatalogueError (after a rollback) when it fails."""
    try:
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not save {what}: {exc}") from exc
