"""GET /api/v1/warnings: the early warnings (预警) open now, about the caller's units (and
every station: stations serve any unit). A warning is gone from the answer once its cause
goes (rules/warnings.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from api.deps import WARNING_READERS, CurrentToken, SessionDep, roles, secured_router
from api.early_warnings import limits_of, open_warnings
from api.problems import not_found, unavailable
from api.schemas import UtcTime
from rules.warnings import WarningKind
from storage.catalogue import unit_repo
from storage.catalogue.models import utc_now

router: APIRouter = secured_router("/api/v1/warnings", ["supervision"])


class WarningOut(BaseModel):
    kind: WarningKind
    subject: str = Field(description="a device id, CASE_NO/EVENT_ID, or a station id")
    since: UtcTime
    unit_id: str | None
    detail: dict[str, Any]


class WarningsOut(BaseModel):
    generated_at: UtcTime
    items: list[WarningOut] = Field(description="oldest first")


@router.get("", responses=not_found("a unit outside this token's units"),
            **roles(*WARNING_READERS))  # fmt: skip
def get_warnings(
    request: Request,
    session: SessionDep,
    token: CurrentToken,
    unit_id: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="the unit and those below it"),
    ] = None,
    kind: Annotated[WarningKind | None, Query(description="only warnings of this kind")] = None,
) -> WarningsOut:
    """The warnings open now."""
    units = token.units
    if unit_id is not None:
        if not token.sees_unit(unit_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no unit {unit_id!r}")
        units = unit_repo.units_under(session, unit_id)
    now = utc_now()
    try:
        found = open_warnings(session, now, limits_of(request.app.state.settings), units)
    except SQLAlchemyError as exc:
        raise unavailable("the catalogue could not be read", exc) from exc
    return WarningsOut(
        generated_at=now,
        items=[
            WarningOut(kind=w.kind, subject=w.subject, since=w.since, unit_id=w.unit_id,
                       detail=w.detail)
            for w in found
            if kind is None or w.kind == kind
        ],
    )  # fmt: skip
