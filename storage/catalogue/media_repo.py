"""Registering media in the catalogue and finding them again.

Duplicates are decided by the unique constraint on `sha256`: registration always tries the
INSERT and, when the constraint refuses it, returns the row that won. There is no
"look, then insert" window for two stations (or two retries) to slip through.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from rules.retention import retention_until
from storage.catalogue import device_repo
from storage.catalogue.errors import CatalogueError, DuplicateConflict, InvalidCursor
from storage.catalogue.models import Case, CaseMedia, CustodyEvent, Media, utc_now
from wire.media_kinds import MediaKind
from wire.registration import IngestRecord

MAX_PAGE = 500

NARROW_WINDOW = timedelta(days=31)
"""A search of recorded time this narrow reads the window's media and sorts them; a wider
one walks ingestion order (see search)."""


def refresh_retention(media: Media) -> None:
    """Set `media.retention_until` from what it is now (rules/retention.py); call after
    changing its case links, important mark or classification, before committing."""
    media.retention_until = retention_until(
        recorded_start=media.recorded_start,
        ingested_at=media.ingested_at,
        important=media.important,
        in_case=bool(media.case_links),
        classification=media.classification,
    )


def _proxy_status(record: IngestRecord) -> str:
    if record.proxy_status is not None:
        return record.proxy_status.value
    return "ready" if record.proxy_key else "none"  # a station before v1.1


def _legacy_renditions(record: IngestRecord) -> list[dict[str, Any]] | None:
    """A station before v1.1 registered with its proxy: its one rendition."""
    if record.proxy_key is None:
        return None
    audio = record.proxy_content_type == "audio/mp4"
    return [
        {
            "name": "aac" if audio else "h264",
            "content_type": "audio/mp4" if audio else "video/mp4",
            "codec": "mp4a" if audio else "avc1",
            "encoder": "unknown",
        }
    ]


def attach_derived(
    media: Media,
    *,
    proxy_status: str,
    proxy_error: str | None,
    proxy_note: str | None,
    renditions: list[dict[str, Any]],
    proxy_key: str | None,
    proxy_content_type: str | None,
    thumbnail_key: str | None,
    unplayable_reason: str | None,
) -> bool:
    """Set what the station made for a medium (not committed); returns whether anything
    changed. `playable` follows: a medium plays when one of its renditions does."""
    before = _derived_state(media)
    media.proxy_status = proxy_status
    media.proxy_error = proxy_error
    media.proxy_note = proxy_note
    media.renditions = renditions or None
    media.proxy_key = proxy_key
    media.proxy_content_type = proxy_content_type
    if thumbnail_key is not None:
        media.thumbnail_key = thumbnail_key
    media.playable = bool(renditions)
    if renditions:
        media.unplayable_reason = None
    elif unplayable_reason is not None:
        media.unplayable_reason = unplayable_reason
    return _derived_state(media) != before


def _derived_state(media: Media) -> tuple[object, ...]:
    return (
        media.proxy_status,
        media.proxy_error,
        media.proxy_note,
        json.dumps(media.renditions, sort_keys=True),
        media.proxy_key,
        media.thumbnail_key,
        media.playable,
        media.unplayable_reason,
    )


def register(
    session: Session,
    record: IngestRecord,
    *,
    actor: str,
    unit_id: str | None = None,
    now: datetime | None = None,
    custody: Sequence[CustodyEvent] = (),
) -> tuple[Media, bool]:
    """Register one stored original; return (media, created) and commit.

    Idempotent on `sha256`: registering an original again returns the existing row with
    `created` False (and adds the dock association to `record.case_no` if it is new).
    Raises DuplicateConflict when the registered original with this SHA-256 has a different
    size: something is badly wrong with one of the two, and nothing is changed.
    `unit_id` is the station's; when `record.device_id` is a registered device, the unit and
    officer are filed as device_repo.attribute says.
    `custody` (see custody_repo.registration_events) is written with a new medium, in the
    same transaction, so a medium never exists without the start of its chain of custody;
    it is dropped when the medium was registered already.
    """
    ingested_at = now or utc_now()
    filed = device_repo.attribute(
        device_repo.get_device(session, record.device_id),
        officer_id=record.officer_id,
        station_unit_id=unit_id,
    )
    dock_case = (
        record.case_no
        if record.case_no and _may_link_at_dock(session, record.case_no, filed.unit_id)
        else None
    )
    media = Media(
        sha256=record.sha256,
        size_bytes=record.size_bytes,
        kind=record.kind.value,
        original_name=record.original_name,
        original_path=record.original_path,
        device_id=record.device_id,
        officer_id=filed.officer_id,
        unit_id=filed.unit_id,
        station_id=record.station_id,
        recorded_start=record.recorded_start,
        recorded_end=record.recorded_end,
        recorded_span_s=recorded_span(record.recorded_start, record.recorded_end),
        time_source=record.time_source,
        recorded_start_raw=record.recorded_start_raw,
        time_facts=record.time_facts.model_dump() if record.time_facts else None,
        duration_s=record.duration_s,
        width=record.width,
        height=record.height,
        video_codec=record.video_codec,
        audio_codec=record.audio_codec,
        container=record.container,
        playable=record.playable,
        unplayable_reason=record.unplayable_reason,
        important=record.important,
        legal_hold=False,
        original_key=record.original_key,
        proxy_key=record.proxy_key,
        proxy_content_type=record.proxy_content_type,
        thumbnail_key=record.thumbnail_key,
        proxy_status=_proxy_status(record),
        renditions=_legacy_renditions(record),
        sidecar_of_sha256=record.sidecar_of_sha256,
        file_mtime=record.file_mtime,
        staged_at=record.staged_at,
        ingested_at=ingested_at,
        retention_until=retention_until(
            recorded_start=record.recorded_start,
            ingested_at=ingested_at,
            important=record.important,
            in_case=dock_case is not None,
            classification=None,
        ),
        device_serial=record.device_serial,
        device_registered=record.device_registered,
        clock_offset_s=record.clock_offset_s,
    )
    if dock_case is not None:
        media.case_links.append(
            CaseMedia(case_no=dock_case, source="dock", actor=actor, created_at=ingested_at)
        )
    session.add(media)
    for event in custody:
        event.media = media
        session.add(event)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        existing = _by_sha256(session, record.sha256)
        if existing is None:
            raise CatalogueError(
                f"could not register {record.original_name!r} (sha256 {record.sha256}): {exc.orig}"
            ) from exc
    else:
        return media, True

    if existing.size_bytes != record.size_bytes:
        raise DuplicateConflict(
            f"sha256 {record.sha256} is registered already as media {existing.id} with "
            f"{existing.size_bytes} bytes, but this record says {record.size_bytes} bytes"
        )
    if (
        record.case_no
        and record.case_no not in existing.case_nos
        and _may_link_at_dock(session, record.case_no, existing.unit_id)
    ):
        _link_at_dock(session, existing, record.case_no, actor=actor, now=ingested_at)
    return existing, False


def _may_link_at_dock(session: Session, case_no: str, unit_id: str | None) -> bool:
    """A case number typed at the dock links the footage only to a case of the footage's
    own unit, or of none, or to one the case-handling system has not sent yet (checked
    again when it arrives: api/association.py)."""
    case = session.get(Case, case_no)
    return case is None or case.unit_id is None or case.unit_id == unit_id


def _link_at_dock(
    session: Session, media: Media, case_no: str, *, actor: str, now: datetime
) -> None:
    session.add(
        CaseMedia(case_no=case_no, media_id=media.id, source="dock", actor=actor, created_at=now)
    )
    try:
        session.commit()
    except IntegrityError:
        # Someone linked the same pair a moment ago: the link exists, which is what we want.
        session.rollback()
    session.refresh(media, ["case_links"])
    refresh_retention(media)
    session.commit()


def _by_sha256(session: Session, sha256: str) -> Media | None:
    return session.scalars(select(Media).where(Media.sha256 == sha256)).one_or_none()


def get_media(session: Session, media_id: str) -> Media | None:
    return session.get(Media, media_id)


def recorded_span(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return max(0.0, ((end or start) - start).total_seconds())


def longest_span(session: Session) -> timedelta:
    """The longest recorded time of any medium: no medium overlapping a window starts
    earlier than this before it, which gives time searches a lower bound an index serves."""
    longest = session.scalar(select(func.max(Media.recorded_span_s)))
    return timedelta(seconds=(longest or 0) + 1)  # a second for the rounding of times


@dataclass(frozen=True)
class MediaFilter:
    """What GET /api/v1/media searches by; None means "any". Times must carry an offset."""

    case_no: str | None = None
    officer_id: str | None = None
    device_id: str | None = None
    unit_id: str | None = None
    kind: MediaKind | None = None
    start: datetime | None = None
    """Media recorded (partly) at or after this time."""
    end: datetime | None = None
    """Media recorded (partly) at or before this time."""
    important: bool | None = None


@dataclass(frozen=True)
class MediaPage:
    items: list[Media]
    next_cursor: str | None


def search(
    session: Session,
    filters: MediaFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
    scope: ColumnElement[bool] | None = None,
) -> MediaPage:
    """One page of matching media, newest ingested first.

    Paging is by keyset on (ingested_at, id): a cursor points just after the last item of the
    previous page, so rows arriving meanwhile neither shift nor repeat items. Raises
    InvalidCursor for a cursor this function did not make, ValueError for a bad limit or
    times without an offset. `scope` narrows the search to what the caller may see.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    for name, value in (("start", filters.start), ("end", filters.end)):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name} {value.isoformat()} has no UTC offset")
    stmt = _filtered(select(Media), filters, longest_span(session) if filters.start else None)
    if scope is not None:
        stmt = stmt.where(scope)
    if cursor is not None:
        stmt = stmt.where(_past_cursor(cursor, newest_first=True))
    if _narrow(filters):
        # A few weeks of recorded time are some thousands of media: read them through the
        # index on (recorded_start, recorded_end, unit_id, ingested_at, id), which holds
        # all that such a search filters and sorts by, and fetch the page's rows only.
        # Ordered by the bare column, PostgreSQL walks ingestion order instead, through
        # everything ingested since (a week in May, asked in December: 350 ms); the
        # coalesce hides that index from it. Sorted as whole rows, a week of all units
        # was 22 ms in the database; as index entries, 6.
        page = stmt.with_only_columns(Media.id).order_by(
            func.coalesce(Media.ingested_at, Media.ingested_at).desc(), Media.id.desc()
        )
        stmt = select(Media).where(Media.id.in_(page.limit(limit + 1).scalar_subquery()))
    stmt = stmt.order_by(Media.ingested_at.desc(), Media.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt.options(joinedload(Media.case_links))).unique())
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    return MediaPage(items=items, next_cursor=next_cursor)


def _narrow(f: MediaFilter) -> bool:
    if f.start is None:
        return False
    return (f.end if f.end is not None else utc_now()) - f.start <= NARROW_WINDOW


def _filtered(stmt: Select[Media], f: MediaFilter, longest: timedelta | None) -> Select[Media]:
    if f.case_no is not None:
        stmt = stmt.where(
            Media.id.in_(select(CaseMedia.media_id).where(CaseMedia.case_no == f.case_no))
        )
    if f.officer_id is not None:
        stmt = stmt.where(Media.officer_id == f.officer_id)
    if f.device_id is not None:
        stmt = stmt.where(Media.device_id == f.device_id)
    if f.unit_id is not None:
        stmt = stmt.where(Media.unit_id == f.unit_id)
    if f.kind is not None:
        stmt = stmt.where(Media.kind == f.kind.value)
    if f.important is not None:
        # Plain `important` (not `IS TRUE`): what the partial index on important answers.
        stmt = stmt.where(Media.important if f.important else ~Media.important)
    # Overlap of [recorded_start, recorded_end] with [start, end], ends included so that a
    # photo (a point in time) is found. Media without a recorded time match no time filter.
    if f.start is not None:
        stmt = stmt.where(func.coalesce(Media.recorded_end, Media.recorded_start) >= f.start)
        # No medium overlapping the window starts before it by more than the longest one
        # lasts: a bound on recorded_start that the (officer_id|device_id|unit_id,
        # recorded_start) indexes serve, instead of reading all the history before `end`.
        assert longest is not None
        stmt = stmt.where(Media.recorded_start >= f.start - longest)
    if f.end is not None:
        stmt = stmt.where(Media.recorded_start <= f.end)
    return stmt


def _past_cursor(cursor: str, *, newest_first: bool) -> ColumnElement[bool]:
    """Rows after the cursor's in (ingested_at, id) order. A row-value comparison, which an
    index on (..., ingested_at, id) answers by seeking to the cursor; the equivalent OR of
    two conditions makes it scan. Raises InvalidCursor."""
    after_at, after_id = decode_cursor(cursor)
    row = tuple_(Media.ingested_at, Media.id)
    mark = tuple_(
        bindparam(None, after_at, type_=Media.ingested_at.type),
        bindparam(None, after_id, type_=Media.id.type),
    )
    return row < mark if newest_first else row > mark


def encode_cursor(media: Media) -> str:
    raw = json.dumps([media.ingested_at.isoformat(), media.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (ingested_at, id) a cursor points after; raises InvalidCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, media_id = json.loads(raw)
        after_at = datetime.fromisoformat(at_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"cursor {cursor[:80]!r} is not one this api handed out") from exc
    if not isinstance(media_id, str) or after_at.utcoffset() is None:
        raise InvalidCursor(f"cursor {cursor[:80]!r} is not one this api handed out")
    return after_at, media_id


def registered_between(
    session: Session,
    start: datetime | None,
    end: datetime | None,
    *,
    limit: int,
    cursor: str | None = None,
    scope: ColumnElement[bool] | None = None,
) -> MediaPage:
    """Media registered in `[start, end)`, oldest first (a platform polling for what is
    new since its last poll), by keyset on (ingested_at, id). Raises InvalidCursor."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    stmt = select(Media)
    if start is not None:
        stmt = stmt.where(Media.ingested_at >= start)
    if end is not None:
        stmt = stmt.where(Media.ingested_at < end)
    if scope is not None:
        stmt = stmt.where(scope)
    if cursor is not None:
        stmt = stmt.where(_past_cursor(cursor, newest_first=False))
    stmt = stmt.order_by(Media.ingested_at, Media.id).limit(limit + 1)
    rows = list(session.scalars(stmt))
    items = rows[:limit]
    return MediaPage(items, encode_cursor(items[-1]) if len(rows) > limit else None)
