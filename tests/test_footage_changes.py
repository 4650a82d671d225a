"""Footage marks on both catalogues: every change the compliance report reads marks the UTC
days of the footage it touches with a new counter value, and nothing else does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from storage.catalogue import footage_changes, judgement_repo, media_repo, recording_repo
from storage.catalogue.models import CaseMedia, FootageChange, Media
from storage.catalogue.recording_repo import JoinRef, PartRef
from tests.ingest_records import make_record

# 23:50 UTC: a ten-minute clip from here spans two days.
LATE = datetime(2025, 3, 9, 23, 50, tzinfo=UTC)
D9, D10, D11 = date(2025, 3, 9), date(2025, 3, 10), date(2025, 3, 11)


def marks(session: Session) -> dict[date, int]:
    session.rollback()  # a fresh read of what is committed
    return {day: seq for day, seq in session.execute(select(FootageChange.day, FootageChange.seq))}


def clip(session: Session, start: datetime, minutes: int = 10, **fields: object) -> Media:
    record = make_record(recorded_start=start, recorded_end=start + timedelta(minutes=minutes),
                         duration_s=minutes * 60.0, **fields)  # fmt: skip
    media, created = media_repo.register(session, record, actor="test")
    assert created
    return media


def test_registering_marks_every_day_the_clip_spans(session: Session) -> None:
    assert marks(session) == {}
    before = footage_changes.current_seq(session)
    clip(session, LATE)
    after = footage_changes.current_seq(session)
    assert after > before
    assert marks(session) == {D9: after, D10: after}


def test_a_change_the_report_reads_marks_old_and_new_days_and_others_do_not(
    session: Session,
) -> None:
    media = clip(session, LATE)
    first = footage_changes.current_seq(session)

    # Proxy state and importance are not what the report reads: no new mark.
    media.proxy_status = "ready"
    media.important = True
    session.commit()
    assert footage_changes.current_seq(session) == first

    # Moved a day on: the day it left and the days it now spans are marked.
    media.recorded_start = LATE + timedelta(days=1)
    media.recorded_end = LATE + timedelta(days=1, minutes=10)
    session.commit()
    moved = footage_changes.current_seq(session)
    assert moved > first
    assert marks(session) == {D9: moved, D10: moved, D11: moved}

    media.classification = "non_evidential"
    session.commit()
    classified = footage_changes.current_seq(session)
    assert classified > moved and marks(session)[D11] == classified


def test_a_case_link_marks_the_days_of_its_medium(session: Session) -> None:
    media = clip(session, LATE)
    seq = footage_changes.current_seq(session)
    link = CaseMedia(case_no="C-1", media_id=media.id, source="manual", actor="test",
                     created_at=datetime.now(UTC))  # fmt: skip
    session.add(link)
    session.commit()
    linked = footage_changes.current_seq(session)
    assert linked > seq and marks(session) == {D9: linked, D10: linked}
    session.delete(link)
    session.commit()
    assert marks(session)[D9] > linked


def test_joining_a_recording_marks_its_whole_span_with_the_joins(session: Session) -> None:
    # Two parts two days apart: joined, the recording covers the day between them too.
    first = clip(session, datetime(2025, 3, 9, 12, tzinfo=UTC), device_id="ROOM-1")
    second = clip(session, datetime(2025, 3, 11, 12, tzinfo=UTC), device_id="ROOM-1")
    assert D10 not in marks(session)
    recording_repo.put(
        session,
        "rec-1",
        station_id="dock-1",
        parts=[PartRef(m.id, m.sha256) for m in (first, second)],
        joins=[JoinRef(first.id, second.id, gap_s=172_200.0)],
        merged=None,
    )
    joined = footage_changes.current_seq(session)
    assert marks(session) == {D9: joined, D10: joined, D11: joined}


def test_a_clock_decades_wrong_marks_every_day_at_once(session: Session) -> None:
    media = clip(session, LATE)
    media.recorded_end = LATE + timedelta(days=365 * 30)
    session.commit()
    seq = footage_changes.current_seq(session)
    days, everything = footage_changes.changes_between(session, D9, D11)
    assert everything == seq
    # The days it spanned before are marked; the thirty years it spans now are not, one by one.
    assert days == {D9: seq, D10: seq}


def test_a_medium_whose_time_does_not_read_can_still_be_changed_and_counted(
    session: Session, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's typed columns refuse such values when they are written")
    media = clip(session, LATE)
    session.execute(text("UPDATE media SET recorded_start = '2025-03-10 上午' WHERE id = :id"),
                    {"id": media.id})  # fmt: skip
    session.commit()
    session.expire_all()
    again = session.get(Media, media.id)
    assert again is not None
    before = marks(session)
    again.classification = "non_evidential"
    session.commit()  # a medium with no time that reads is no footage placed on a day
    assert marks(session) == before
    # Counting the days it seems to lie in leaves it out rather than failing.
    assert judgement_repo.count_days(session, [D9, D10]) == {D9: [], D10: []}
