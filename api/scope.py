"""Which media and cases a token may see (CONTRACT.md, roles): deny by default, then narrow.

- A token with a unit sees only the media and cases of that unit and the units below it
  (rules/unit_tree.py); one without sees all units.
- `officer`: only media recorded by its own officer id (a token not bound to one sees none).
- `case_system`: only media associated with a case.
Media outside the scope answer 404, as if they did not exist: a caller learns nothing of
footage it may not see.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy import ColumnElement, and_, false, select, true
from sqlalchemy.orm import Session

from api.principal import Principal
from storage.catalogue import unit_repo
from storage.catalogue.models import Case, CaseMedia, Media, MediaTombstone


def media_scope(token: Principal) -> ColumnElement[bool]:
    """A condition on Media selecting what `token` may see."""
    conditions: list[ColumnElement[bool]] = []
    if token.units is not None:
        conditions.append(Media.unit_id.in_(sorted(token.units)))
    if token.role == "officer":
        if token.officer_id is None:
            return false()
        conditions.append(Media.officer_id == token.officer_id)
    if token.role == "case_system":
        conditions.append(Media.id.in_(select(CaseMedia.media_id)))
    return and_(true(), *conditions)


def sees_tombstone(token: Principal, tombstone: MediaTombstone) -> bool:
    """Whether `token` would have seen the deleted medium (as media_scope; a deleted medium
    was in no case, so the case-handling system never saw it)."""
    if token.role == "case_system":
        return False
    if token.role == "officer" and tombstone.officer_id != token.officer_id:
        return False
    return token.sees_unit(tombstone.unit_id)


def visible_media_or_404(session: Session, token: Principal, media_id: str) -> Media:
    media = session.scalars(
        select(Media).where(Media.id == media_id, media_scope(token))
    ).one_or_none()
    if media is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no media with id {media_id!r}")
    return media


def may_see_case(token: Principal, case: Case) -> bool:
    return token.sees_unit(case.unit_id)


def unit_or_404(token: Principal, unit_id: str) -> None:
    """404 unless `unit_id` is within the caller's units: outside them it does not exist."""
    if not token.sees_unit(unit_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no unit {unit_id!r}")


def units_in_scope(
    session: Session, token: Principal, unit_id: str | None
) -> frozenset[str] | None:
    """The units a report covers: `unit_id` and those below it (404 outside the caller's
    units), else the caller's units (None: all)."""
    if unit_id is None:
        return token.units
    unit_or_404(token, unit_id)
    return unit_repo.units_under(session, unit_id)
