"""Recordings in the catalogue: a recording's parts (media, in order), the joins between them,
and its merged proxy. A medium belongs to at most one recording (`Media.recording_id`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storage.catalogue.errors import CatalogueError
from storage.catalogue.media_repo import recorded_span
from storage.catalogue.models import Media, Recording, utc_now


class InvalidRecording(CatalogueError):
    """The recording names unknown parts, or parts and joins that do not fit together."""


@dataclass(frozen=True)
class PartRef:
    media_id: str
    sha256: str


@dataclass(frozen=True)
class JoinRef:
    before: str
    after: str
    gap_s: float


@dataclass(frozen=True)
class MergedProxy:
    key: str
    content_type: str
    method: str


def put(
    session: Session,
    recording_id: str,
    *,
    station_id: str,
    parts: Sequence[PartRef],
    joins: Sequence[JoinRef],
    merged: MergedProxy | None,
    now: datetime | None = None,
) -> tuple[Recording, bool]:
    """Create or replace a recording and point its parts at it; commit. Returns it and whether
    it was created.

    A part that was in another recording moves here: the other recording drops it (and is
    deleted when what is left is fewer than two parts or no longer one chain). Parts must be
    registered media with the SHA-256 given (a station registers parts it imported, whatever
    unit the registry files them under); raises InvalidRecording otherwise, and
    CatalogueError when the write fails.
    """
    now = now or utc_now()
    ids = [part.media_id for part in parts]
    if len(set(ids)) != len(ids):
        raise InvalidRecording("a part is named twice")
    if len(ids) < 2:
        raise InvalidRecording("a recording has at least two parts")
    found = session.scalars(select(Media).where(Media.id.in_(ids))).all()
    media = {m.id: m for m in found}
    for part in parts:
        medium = media.get(part.media_id)
        if medium is None:
            raise InvalidRecording(f"part {part.media_id!r} is not a registered medium")
        if medium.sha256 != part.sha256.lower():
            raise InvalidRecording(
                f"part {part.media_id!r} has sha256 {medium.sha256}, not {part.sha256}"
            )
    # A recording is shown, played and associated as one: its parts must share who may see
    # them, or a pooled camera docked by two officers of two units would mix their footage.
    for what, values in (
        ("device", {m.device_id for m in found}),
        ("officer", {m.officer_id for m in found}),
        ("unit", {m.unit_id for m in found}),
    ):
        if len(values) != 1:
            raise InvalidRecording(
                f"the parts come from more than one {what}: {sorted(map(str, values))}"
            )
    _check_joins(ids, joins)
    ordered = [media[i] for i in ids]

    starts = [m.recorded_start for m in ordered if m.recorded_start is not None]
    ends = [m.recorded_end for m in ordered if m.recorded_end is not None]
    with session.no_autoflush:  # nothing half-made is written while parts are looked up
        recording = session.get(Recording, recording_id)
        created = recording is None
        if recording is None:
            recording = Recording(id=recording_id, created_at=now)
        else:
            _unlink(session, [p for p in recording.part_ids if p not in media], recording_id)
        for other_id in {m.recording_id for m in ordered} - {None, recording_id}:
            other = session.get(Recording, other_id)
            if other is not None:
                _drop_parts(session, other, set(ids))
        recording.device_id = ordered[0].device_id
        recording.station_id = station_id
        recording.recorded_start = min(starts, default=None)
        recording.recorded_end = max(ends, default=None)
        recording.recorded_span_s = recorded_span(recording.recorded_start, recording.recorded_end)
        recording.part_ids = ids
        recording.joins = [{"before": j.before, "after": j.after, "gap_s": j.gap_s} for j in joins]
        recording.merged_proxy_key = merged.key if merged else None
        recording.merged_proxy_content_type = merged.content_type if merged else None
        recording.merge_method = merged.method if merged else None
        recording.updated_at = now
        if created:
            session.add(recording)
        for medium in ordered:
            medium.recording_id = recording_id
    try:
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"recording {recording_id} could not be saved: {exc}") from exc
    return recording, created


def get(session: Session, recording_id: str) -> Recording | None:
    return session.get(Recording, recording_id)


def parts_of(
    session: Session, recording: Recording, scope: ColumnElement[bool] | None = None
) -> list[Media]:
    """The recording's parts in recording order (only those within `scope`, if given)."""
    found = session.scalars(
        select(Media).where(Media.id.in_(recording.part_ids), true() if scope is None else scope)
    ).all()
    media = {m.id: m for m in found}
    return [media[i] for i in recording.part_ids if i in media]


def _check_joins(ids: list[str], joins: Sequence[JoinRef]) -> None:
    if len(joins) != len(ids) - 1:
        raise InvalidRecording(f"{len(ids)} parts need {len(ids) - 1} joins, not {len(joins)}")
    for i, join in enumerate(joins):
        if (join.before, join.after) != (ids[i], ids[i + 1]):
            raise InvalidRecording(
                f"join {i} must pair parts {ids[i]!r} and {ids[i + 1]!r}, "
                f"not {join.before!r} and {join.after!r}"
            )


def _unlink(session: Session, media_ids: list[str], recording_id: str) -> None:
    if not media_ids:
        return
    for medium in session.scalars(select(Media).where(Media.id.in_(media_ids))):
        if medium.recording_id == recording_id:
            medium.recording_id = None


def _drop_parts(session: Session, recording: Recording, taken: set[str]) -> None:
    """`recording` loses the parts in `taken`; what is left stays a recording only while it
    is one chain of two or more. Its merged proxy showed the lost parts, so it goes."""
    left = [p for p in recording.part_ids if p not in taken]
    joins = [j for j in recording.joins if j["before"] in left and j["after"] in left]
    if len(left) < 2 or len(joins) != len(left) - 1:
        _unlink(session, left, recording.id)
        session.delete(recording)
        return
    recording.part_ids = left
    recording.joins = joins
    recording.merged_proxy_key = None
    recording.merged_proxy_content_type = None
    recording.merge_method = None
    recording.updated_at = utc_now()
