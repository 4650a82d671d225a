"""What the compliance report keeps between requests: each event's last judgement and each
UTC day's media counts, with the counter value they were made at. Whether one still holds
is decided against the marks of storage/catalogue/footage_changes.py (api/compliance_
judgements.py); all of it can be dropped and made again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rules.compliance import EventFacts, MediaCount
from storage.catalogue import compliance_repo
from storage.catalogue.compliance_repo import categorised, event_facts
from storage.catalogue.models import CaseEvent, DayTally, EventJudgement, Media
from storage.catalogue.upsert import upsert


class Kept(NamedTuple):
    inputs: str
    judged_seq: int
    requirement: str
    status: str
    body: str


def events_starting(
    session: Session, start: datetime, end: datetime, units: Collection[str] | None
) -> list[tuple[EventFacts, Kept | None]]:
    """compliance_repo.events_starting, each event with its kept judgement if it has one."""
    stmt = (
        compliance_repo.events_select(start, end, units)
        .add_columns(
            EventJudgement.inputs,
            EventJudgement.judged_seq,
            EventJudgement.requirement,
            EventJudgement.status,
            EventJudgement.body,
        )
        .outerjoin(
            EventJudgement,
            and_(
                EventJudgement.case_no == CaseEvent.case_no,
                EventJudgement.event_id == CaseEvent.event_id,
            ),
        )
    )
    return [
        (event_facts(row), Kept(*row[8:]) if row[8] is not None else None)
        for row in session.execute(stmt)
    ]


def keep_judgements(session: Session, rows: Iterable[tuple[EventFacts, Kept]]) -> None:
    upsert(
        session,
        EventJudgement,
        [
            {
                "case_no": e.case_no,
                "event_id": e.event_id,
                "inputs": k.inputs,
                "judged_seq": k.judged_seq,
                "requirement": k.requirement,
                "status": k.status,
                "body": k.body,
            }
            for e, k in rows
        ],  # fmt: skip
        ["case_no", "event_id"],
    )


def day_tallies(session: Session, first: date, last: date) -> dict[date, tuple[int, list[Any]]]:
    """The kept counts of the days in [first, last] ([[unit_id, officer_id, media,
    categorised], ...]), with the counter value of each."""
    return {
        day: (seq, counts)
        for day, seq, counts in session.execute(
            select(DayTally.day, DayTally.seq, DayTally.counts).where(
                DayTally.day >= first, DayTally.day <= last
            )
        )
    }


def count_days(session: Session, days: Collection[date]) -> dict[date, list[MediaCount]]:
    """Media recorded on each of `days` (UTC), by unit and officer, counted now."""
    found: dict[date, list[MediaCount]] = {d: [] for d in days}
    for first, last in _runs(sorted(days)):
        start = datetime.combine(first, time(), UTC)
        end = datetime.combine(last + timedelta(days=1), time(), UTC)
        day = _utc_day(session)
        stmt = (
            select(day, Media.unit_id, Media.officer_id, func.count(), func.sum(categorised()))
            .where(
                Media.recorded_start >= start,
                Media.recorded_start < end,
                Media.sidecar_of_sha256.is_(None),
            )  # fmt: skip
            .group_by(day, Media.unit_id, Media.officer_id)
        )
        for on, unit, officer, count, done in session.execute(stmt):
            if isinstance(on, str):
                on = date.fromisoformat(on)
            if on not in found:
                continue  # a time SQLite cannot read as one (api/schemas.py shows it)
            found[on].append(MediaCount(unit, officer, count, int(done or 0)))
    return found


def keep_tallies(session: Session, counted: dict[date, list[MediaCount]], seq: int) -> None:
    upsert(
        session,
        DayTally,
        [
            {
                "day": day,
                "seq": seq,
                "counts": [[c.unit_id, c.officer_id, c.media, c.categorised] for c in counts],
            }
            for day, counts in sorted(counted.items())
        ],  # fmt: skip
        ["day"],
    )


def _utc_day(session: Session) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", Media.recorded_start))
    return func.date(Media.recorded_start)  # SQLite keeps naive UTC text


def _runs(days: list[date]) -> Iterable[tuple[date, date]]:
    """Consecutive days as (first, last) runs: one query per run, not per day."""
    run: list[date] = []
    for day in days:
        if run and day != run[-1] + timedelta(days=1):
            yield run[0], run[-1]
            run = []
        run.append(day)
    if run:
        yield run[0], run[-1]
