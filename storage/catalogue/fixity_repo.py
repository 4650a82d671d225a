"""Each original's last fixity check (rules/fixity.py): which are due, and what was found."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rules.fixity import FixityOutcome
from storage.catalogue.models import FixityState, Media
from storage.catalogue.upsert import upsert


@dataclass(frozen=True)
class Original:
    media_id: str
    sha256: str
    original_key: str


def originals(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Media)) or 0


def due(session: Session, *, checked_before: datetime, limit: int) -> list[Original]:
    """Up to `limit` originals not checked since `checked_before`, those never checked
    first, then those checked longest ago."""
    rows = session.execute(
        select(Media.id, Media.sha256, Media.original_key)
        .outerjoin(FixityState, FixityState.media_id == Media.id)
        .where(or_(FixityState.checked_at.is_(None), FixityState.checked_at < checked_before))
        .order_by(FixityState.checked_at.asc().nulls_first(), Media.id)
        .limit(limit)
    ).all()
    return [Original(r.id, r.sha256, r.original_key) for r in rows]


def record(
    session: Session,
    media_id: str,
    outcome: FixityOutcome,
    actual_sha256: str | None,
    *,
    now: datetime,
) -> None:
    """Keep this check as the medium's last, in the caller's transaction."""
    first_failed = None
    if outcome != FixityOutcome.OK:
        before = session.get(FixityState, media_id)
        first_failed = (before.first_failed_at if before is not None else None) or now
    upsert(
        session,
        FixityState,
        [
            {
                "media_id": media_id,
                "checked_at": now,
                "outcome": outcome.value,
                "actual_sha256": actual_sha256,
                "first_failed_at": first_failed,
            }
        ],
        key=["media_id"],
    )


@dataclass(frozen=True)
class Failing:
    media_id: str
    unit_id: str | None
    sha256: str
    original_key: str
    outcome: FixityOutcome
    actual_sha256: str | None
    since: datetime
    checked_at: datetime


def failing(session: Session, units: Collection[str] | None) -> Sequence[Failing]:
    """The media whose last check failed, of `units` (None: all), oldest failure first."""
    stmt = (
        select(Media.id, Media.unit_id, Media.sha256, Media.original_key, FixityState)
        .join(FixityState, FixityState.media_id == Media.id)
        .where(FixityState.outcome != FixityOutcome.OK.value)
        .order_by(FixityState.first_failed_at, Media.id)
    )
    if units is not None:
        stmt = stmt.where(Media.unit_id.in_(sorted(units)))
    return [
        Failing(
            media_id=r.id,
            unit_id=r.unit_id,
            sha256=r.sha256,
            original_key=r.original_key,
            outcome=FixityOutcome(r.FixityState.outcome),
            actual_sha256=r.FixityState.actual_sha256,
            since=r.FixityState.first_failed_at or r.FixityState.checked_at,
            checked_at=r.FixityState.checked_at,
        )
        for r in session.execute(stmt)
    ]


def outcome_counts(session: Session) -> dict[FixityOutcome, int]:
    """How many media's last check had each outcome."""
    rows = session.execute(
        select(FixityState.outcome, func.count()).group_by(FixityState.outcome)
    ).all()
    counts = dict.fromkeys(FixityOutcome, 0)
    counts.update({FixityOutcome(outcome): n for outcome, n in rows})
    return counts
