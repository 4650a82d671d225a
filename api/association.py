"""Associating media with cases (自动关联, and by hand): rules/association.py applied to the
catalogue.

Every change of a link is written in one transaction with its custody event
(`associated_with_case` / `dissociated_from_case`, detail: case_no, source, event_id, rule,
reason) and the medium's new retention (media in a case are kept permanently).

- `associate_media`: footage arrived; its scope is the medium (every event that could match
  it is found by time, `candidate_event_window`).
- `reassociate_case`: a case arrived or was re-sent; its scope is the case (every medium
  that could match is found by time and officer/room, `candidate_window`). It does not
  commit: the case and its links are one transaction (api/routes/cases.py).
- A part of a merged recording is matched by the whole recording's interval (`facts_of`);
  registering a recording re-associates its parts (api/routes/recordings.py).
- `associate_by_hand` / `dissociate_by_hand`: a reviewer's decision, with a reason. A
  dissociation leaves a tombstone that keeps automatic association from linking the pair
  again; associating the pair by hand removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from api.routes.recording_rules import effective_rules
from api.settings import ApiSettings
from rules.association import (
    DEFAULT_TOLERANCE,
    Changes,
    Event,
    ExistingLink,
    Link,
    LinkSource,
    MediaFacts,
    candidate_event_window,
    candidate_officer_ids,
    candidate_room_ids,
    candidate_window,
    matches_for_case,
    matches_for_media,
    reconcile,
)
from storage.catalogue import case_repo, media_repo, unit_repo
from storage.catalogue.custody_repo import Caller
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import (
    Case,
    CaseDissociation,
    CaseEvent,
    CaseMedia,
    CustodyEventKind,
    Media,
    Recording,
    utc_now,
)


class NotLinked(CatalogueError):
    """The medium is not associated with the case."""


@dataclass(frozen=True)
class Tolerances:
    """How far outside an event footage may lie and still be associated: the api's setting
    (STATION_ASSOCIATION_TOLERANCE_S), unless the case's unit's recording rules set their
    own (for the unit and the units below it)."""

    default: timedelta
    by_unit: Mapping[str, timedelta] = field(default_factory=dict)

    def of(self, unit_id: str | None) -> timedelta:
        return self.by_unit.get(unit_id, self.default) if unit_id is not None else self.default

    @property
    def widest(self) -> timedelta:
        return max([self.default, *self.by_unit.values()])


DEFAULTS = Tolerances(DEFAULT_TOLERANCE)


def tolerances_of(request: Request, session: Session) -> Tolerances:
    settings: ApiSettings = request.app.state.settings
    rules = effective_rules(session, list(unit_repo.parents(session)))
    return Tolerances(
        default=timedelta(seconds=settings.association_tolerance_s),
        by_unit={
            unit: r.association_tolerance.value
            for unit, r in rules.items()
            if unit is not None and r.association_tolerance.source != "default"
        },
    )


def event_of(row: CaseEvent) -> Event:
    return Event(
        case_no=row.case_no,
        event_id=row.event_id,
        activity=row.activity,
        officer_ids=frozenset(row.officer_ids),
        start=row.start_at,
        end=row.end_at,
        room_id=row.room_id,
        unit_id=row.case.unit_id,
    )


def facts_of(media: Media, recording: Recording | None = None) -> MediaFacts:
    """What the rules match `media` by. A part of a merged recording is matched by the whole
    recording's interval: the camera split one continuous recording, and an event that one
    segment records claims all of it (the later segments of a recording that ran past the
    event's end are the same evidence)."""
    start, end = media.recorded_start, media.recorded_end
    if recording is not None and recording.recorded_start is not None and start is not None:
        start = min(start, recording.recorded_start)
        end = max(end or start, recording.recorded_end or recording.recorded_start)
    if start is not None and end is not None and end < start:
        end = start  # a broken record must not stop registration; treat it as an instant
    return MediaFacts(
        media_id=media.id,
        officer_id=media.officer_id,
        device_id=media.device_id,
        start=start,
        end=end,
        unit_id=media.unit_id,
    )


def associate_media(
    session: Session, media: Media, who: Caller, tolerances: Tolerances = DEFAULTS
) -> Changes:
    """Link `media` to every case with an event it matches (and unlink stale auto links).

    Commits. Raises CatalogueError when the changes cannot be written.
    """

    def plan() -> tuple[Changes, list[CaseMedia]]:
        facts = facts_of(
            media, case_repo.recordings_of(session, [media]).get(media.recording_id or "")
        )
        window = candidate_event_window(facts, tolerances.widest)
        events = [] if window is None else case_repo.events_touching(session, *window)
        by_unit: dict[str | None, list[Event]] = {}
        for row in events:
            by_unit.setdefault(row.case.unit_id, []).append(event_of(row))
        wanted = [
            link
            for unit, unit_events in by_unit.items()
            for link in matches_for_media(facts, unit_events, tolerances.of(unit))
        ]
        current = case_repo.links_of_media(session, media.id)
        dissociated = case_repo.dissociated_pairs(session, media_id=media.id)
        return reconcile(_existing(current), wanted, dissociated=dissociated), current

    return _apply_with_retry(session, plan, who, tolerances, f"associations of media {media.id}")


def reassociate_case(
    session: Session, case: Case, who: Caller, tolerances: Tolerances = DEFAULTS
) -> Changes:
    """Link every medium that matches an event of `case`; unlink auto links that no longer
    match (manual and dock links stay; dissociated pairs are not linked again).

    Flushes, does not commit: the case PUT commits the case and its links as one. Raises
    IntegrityError when a concurrent writer added a link meanwhile (roll back and start
    again), SQLAlchemyError when the write fails.
    """
    events = [event_of(e) for e in case.events]
    tolerance = tolerances.of(case.unit_id)
    wanted: list[Link] = []
    if events:
        lo, hi = candidate_window(events, tolerance)
        candidates = case_repo.media_touching(
            session,
            lo,
            hi,
            officer_ids=candidate_officer_ids(events),
            device_ids=candidate_room_ids(events),
        )
        recordings = case_repo.recordings_of(session, candidates)
        facts = [facts_of(m, recordings.get(m.recording_id or "")) for m in candidates]
        wanted = matches_for_case(events, facts, tolerance)
    current = _drop_foreign_dock_links(session, case, who)
    dissociated = case_repo.dissociated_pairs(session, case_no=case.case_no)
    changes = reconcile(_existing(current), wanted, dissociated=dissociated)
    if changes.add or changes.remove:
        _apply(session, changes, current, who, tolerances)
    return changes


def _drop_foreign_dock_links(session: Session, case: Case, who: Caller) -> list[CaseMedia]:
    """The case's links, after removing those a dock made to footage of another unit before
    the case arrived (a case number typed at the dock names a case only of the footage's
    unit); each removal is in the medium's custody. Flushes."""
    current = case_repo.links_of_case(session, case.case_no)
    if case.unit_id is None:
        return current
    media = case_repo.media_by_ids(session, {link.media_id for link in current})
    kept = []
    now = utc_now()
    for link in current:
        medium = media.get(link.media_id)
        if link.source != "dock" or medium is None or medium.unit_id == case.unit_id:
            kept.append(link)
            continue
        session.delete(link)
        session.add(
            case_repo.custody_event(
                medium.id,
                CustodyEventKind.DISSOCIATED_FROM_CASE,
                who,
                at=now,
                detail={
                    "case_no": case.case_no,
                    "source": "dock",
                    "event_id": None,
                    "rule": None,
                    "reason": f"the case belongs to unit {case.unit_id}, the footage to "
                    f"unit {medium.unit_id}",
                },
            )
        )
    if len(kept) != len(current):
        session.flush()
        for medium in media.values():
            session.refresh(medium, ["case_links"])
            media_repo.refresh_retention(medium)
    return kept


def associate_by_hand(
    session: Session, case_no: str, media: Sequence[Media], reason: str, who: Caller
) -> None:
    """Associate each of `media` with the case by hand; commit.

    A dissociation tombstone of the pair is removed; an automatic link becomes manual; a
    manual or dock link is left as it is (nothing is recorded for it). Raises CatalogueError.
    """
    now = utc_now()
    for item in media:
        tombstone = case_repo.get_dissociation(session, case_no, item.id)
        if tombstone is not None:
            session.delete(tombstone)
        link = case_repo.get_link(session, case_no, item.id)
        detail: dict[str, Any] = {"case_no": case_no, "source": "manual", "reason": reason}
        if link is None:
            session.add(
                CaseMedia(
                    case_no=case_no,
                    media_id=item.id,
                    source="manual",
                    reason=reason,
                    actor=who.actor,
                    created_at=now,
                )
            )
            detail |= {"event_id": None, "rule": None}
        elif link.source == "auto":
            # The match still holds: keep which event it was, now confirmed by a person.
            link.source, link.reason, link.actor = "manual", reason, who.actor
            detail |= {"event_id": link.event_id, "rule": link.rule, "previous_source": "auto"}
        else:
            continue
        session.add(
            case_repo.custody_event(
                item.id, CustodyEventKind.ASSOCIATED_WITH_CASE, who, at=now, detail=detail
            )
        )
    _refresh_and_commit(session, media, f"manual associations of case {case_no}")


def dissociate_by_hand(
    session: Session, case_no: str, media: Media, reason: str, who: Caller
) -> None:
    """Take `media` out of the case (any source), leaving a tombstone; commit.

    Raises NotLinked when the two are not associated, CatalogueError when the write fails.
    """
    now = utc_now()
    link = case_repo.get_link(session, case_no, media.id)
    if link is None:
        raise NotLinked(f"media {media.id} is not associated with case {case_no!r}")
    session.delete(link)
    tombstone = case_repo.get_dissociation(session, case_no, media.id)
    if tombstone is None:
        session.add(
            CaseDissociation(
                case_no=case_no, media_id=media.id, reason=reason, actor=who.actor, at=now
            )
        )
    else:
        tombstone.reason, tombstone.actor, tombstone.at = reason, who.actor, now
    session.add(
        case_repo.custody_event(
            media.id,
            CustodyEventKind.DISSOCIATED_FROM_CASE,
            who,
            at=now,
            detail={
                "case_no": case_no,
                "source": link.source,
                "event_id": link.event_id,
                "rule": link.rule,
                "reason": reason,
            },
        )
    )
    _refresh_and_commit(session, [media], f"dissociation of media {media.id} from {case_no}")


def _existing(rows: Iterable[CaseMedia]) -> list[ExistingLink]:
    return [
        ExistingLink(
            case_no=row.case_no,
            media_id=row.media_id,
            source=_source(row.source),
            event_id=row.event_id,
        )
        for row in rows
    ]


def _source(value: str) -> LinkSource:
    if value == "auto":
        return "auto"
    if value == "manual":
        return "manual"
    return "dock"


def _apply_with_retry(
    session: Session,
    plan: Callable[[], tuple[Changes, list[CaseMedia]]],
    who: Caller,
    tolerances: Tolerances,
    what: str,
) -> Changes:
    # A registration and a case PUT may add the same link at once; the unique constraint
    # on (case_no, media_id) refuses the second, which then plans again from what is there.
    for _attempt in range(3):
        changes, current = plan()
        if not changes.add and not changes.remove:
            return changes
        try:
            _apply(session, changes, current, who, tolerances)
            session.commit()
            return changes
        except IntegrityError:
            session.rollback()
        except SQLAlchemyError as exc:
            session.rollback()
            raise CatalogueError(f"could not save {what}: {exc}") from exc
    raise CatalogueError(f"could not save {what}: the links kept changing underneath")


def _apply(
    session: Session,
    changes: Changes,
    current: list[CaseMedia],
    who: Caller,
    tolerances: Tolerances,
) -> None:
    now = utc_now()
    rows = {(row.case_no, row.media_id): row for row in current}
    for link in changes.add:
        case = case_repo.get_case(session, link.case_no)
        reason = _auto_reason(link, tolerances.of(case.unit_id if case else None))
        session.add(
            CaseMedia(
                case_no=link.case_no,
                media_id=link.media_id,
                source="auto",
                reason=reason,
                actor=who.actor,
                created_at=now,
                event_id=link.event_id,
                rule=link.rule,
            )
        )
        session.add(
            case_repo.custody_event(
                link.media_id,
                CustodyEventKind.ASSOCIATED_WITH_CASE,
                who,
                at=now,
                detail={
                    "case_no": link.case_no,
                    "source": "auto",
                    "event_id": link.event_id,
                    "rule": link.rule,
                    "reason": reason,
                },
            )
        )
    for old in changes.remove:
        row = rows[(old.case_no, old.media_id)]
        session.delete(row)
        session.add(
            case_repo.custody_event(
                old.media_id,
                CustodyEventKind.DISSOCIATED_FROM_CASE,
                who,
                at=now,
                detail={
                    "case_no": old.case_no,
                    "source": "auto",
                    "event_id": row.event_id,
                    "rule": row.rule,
                    "reason": "no event of the case matches it any more",
                },
            )
        )
    touched = {link.media_id for link in changes.add} | {old.media_id for old in changes.remove}
    media = case_repo.media_by_ids(session, touched)
    session.flush()
    for item in media.values():
        session.refresh(item, ["case_links"])
        media_repo.refresh_retention(item)
    session.flush()


def _auto_reason(link: Link, tolerance: timedelta) -> str:
    who = "recorded in its interview room" if link.rule == "room" else "recorded by its officer"
    return f"automatic: {who} during event {link.event_id} (tolerance {tolerance})"


def _refresh_and_commit(session: Session, media: Iterable[Media], what: str) -> None:
    try:
        session.flush()
        for item in media:
            session.refresh(item, ["case_links"])
            media_repo.refresh_retention(item)
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not save {what}: {exc}") from exc
