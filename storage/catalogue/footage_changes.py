"""When footage last changed, per UTC day of recorded time: what lets the compliance report
keep its judgements and counts between requests (storage/catalogue/judgement_repo.py).

Every flush that adds or removes a medium, changes a field the report reads of one, links
one to a case or unlinks it, takes the next value of the `footage` counter and writes it
on each day the footage spans. A piece of a recording spans the whole recording: a part
joining it makes the joins between covered too. A span wider than `WIDEST_MARKED` (a
clock set decades wrong) marks every day at once, in the `everything` counter row.

The counter row is updated in the writer's transaction, so a reader that reads the
counter before reading footage either sees a change or sees a later mark for it.

Only objects a Session flushes are seen, not UPDATE or DELETE statements run through it.
Anything else that changes media or case links (such a statement, a bulk load, a data
migration) must empty `event_judgement` and `day_tally` as it does. Those two may be
emptied at any time; the counter and the marks must not be reset without emptying them
too (kept rows stamped with a higher value would then pass for current).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, attributes

from storage.catalogue.models import CaseMedia, ChangeCounter, FootageChange, Media
from storage.catalogue.upsert import bump, upsert

TRACKED = ("recorded_start", "recorded_end", "officer_id", "device_id", "unit_id",
           "recording_id", "kind", "sidecar_of_sha256", "ingested_at", "classification")  # fmt: skip
"""What the report reads of a medium: who recorded it, when, in which recording, what it
is, when it was stored, and whether a reviewer classified it."""

WIDEST_MARKED = timedelta(days=40)

_CHUNK = 500  # ids per IN (...) list

Span = tuple[datetime, datetime]


@event.listens_for(Session, "before_flush")
def _mark_changed_footage(session: Session, _context: object, _instances: object) -> None:
    spans: list[Span] = []
    in_db: set[str] = set()  # media whose stored (pre-flush) span is also touched
    parts: dict[str, list[Span]] = {}  # recordings, with their parts in this flush
    for obj in session.new:
        if isinstance(obj, Media):
            _touched(obj, spans, parts)
        elif isinstance(obj, CaseMedia):
            _linked(obj, in_db, spans)
    for obj in session.dirty:
        if isinstance(obj, Media) and _changed(obj):
            _touched(obj, spans, parts)
            in_db.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Media):
            in_db.add(obj.id)
        elif isinstance(obj, CaseMedia):
            _linked(obj, in_db, spans)
    if not (spans or in_db or parts):
        return
    connection = session.connection()
    # The counter row first: once its lock is held, every earlier writer has committed and
    # the stored spans read next are what they left.
    seq = bump(connection, "footage")
    spans += _stored_spans(connection, in_db, parts)
    mark(connection, spans, seq)


def _touched(media: Media, spans: list[Span], parts: dict[str, list[Span]]) -> None:
    own = _span_of(media.recorded_start, media.recorded_end)
    spans += own
    if media.recording_id is not None:
        parts.setdefault(media.recording_id, []).extend(own)


def _linked(link: CaseMedia, in_db: set[str], spans: list[Span]) -> None:
    if link.media_id is not None:
        in_db.add(link.media_id)
    else:  # appended to a medium's links: its id is copied over during the flush
        media = attributes.instance_state(link).attrs["media"].loaded_value
        if isinstance(media, Media):
            spans += _span_of(media.recorded_start, media.recorded_end)
            if media.id is not None:
                in_db.add(media.id)


def _changed(media: Media) -> bool:
    state = attributes.instance_state(media)
    return any(state.attrs[name].history.has_changes() for name in TRACKED)


def _span_of(start: datetime | None, end: datetime | None) -> list[Span]:
    if not isinstance(start, datetime):
        return []  # no recorded time (or none that reads): no footage the report places
    if not isinstance(end, datetime):
        end = start
    return [(start, max(start, end))]


def _stored_spans(
    connection: Connection, media_ids: set[str], parts: dict[str, list[Span]]
) -> list[Span]:
    """The media's spans as the catalogue holds them before this flush, and the whole span
    of each recording they were or are now in: its stored parts and those in this flush."""
    stop = func.coalesce(Media.recorded_end, Media.recorded_start)
    found: list[Span] = []
    ids = sorted(media_ids)
    for i in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            select(Media.recorded_start, stop, Media.recording_id).where(
                Media.id.in_(ids[i : i + _CHUNK])
            )
        )
        for start, end, recording in rows:
            found += _span_of(start, end)
            if recording is not None:
                parts.setdefault(recording, [])
    recordings = sorted(parts)
    for i in range(0, len(recordings), _CHUNK):
        for recording, start, end in connection.execute(
            select(Media.recording_id, func.min(Media.recorded_start), func.max(stop))
            .where(Media.recording_id.in_(recordings[i : i + _CHUNK]))
            .group_by(Media.recording_id)
        ):
            if recording is not None:  # kept out by the IN list; said for the type checker
                parts[recording] += _span_of(start, end)
    for spans in parts.values():
        if spans:
            found.append((min(s for s, _ in spans), max(e for _, e in spans)))
    return found


def mark(connection: Connection, spans: Iterable[Span], seq: int) -> None:
    """Write the counter value `seq` on every day the spans cover."""
    days: set[date] = set()
    everything = False
    for start, end in spans:
        if end - start > WIDEST_MARKED:
            everything = True
            continue
        days.update(days_of(start, end))
    if everything:
        upsert(connection, ChangeCounter, [{"name": "everything", "value": seq}], ["name"])
    upsert(connection, FootageChange, [{"day": d, "seq": seq} for d in sorted(days)], ["day"])


def days_of(start: datetime, end: datetime) -> list[date]:
    """The UTC days from `start` to `end`, both included."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def current_seq(session: Session) -> int:
    """The counter as committed: read it before reading the footage a judgement uses."""
    found = session.scalars(
        select(ChangeCounter.value).where(ChangeCounter.name == "footage")
    ).one_or_none()
    return found or 0


def changes_between(session: Session, first: date, last: date) -> tuple[dict[date, int], int]:
    """The mark of each day in [first, last] that has one, and the mark of every day."""
    days = {
        day: seq
        for day, seq in session.execute(
            select(FootageChange.day, FootageChange.seq).where(
                FootageChange.day >= first, FootageChange.day <= last
            )
        )
    }
    everything = session.scalars(
        select(ChangeCounter.value).where(ChangeCounter.name == "everything")
    ).one_or_none()
    return days, everything or 0
