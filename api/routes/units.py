"""Units and their tree (PUT /api/v1/units/{unit_id}): IT files each unit under the one
above it; a token bound to a unit sees that unit and every unit below it, everywhere.

A unit-bound it_admin changes only units within its part of the tree: it may add a unit
below one of its units and move its units among themselves, but never re-parent its own
unit (that would hand its footage to the unit it names) nor touch any unit outside its
part (404: outside its units a unit does not exist for it).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.custody_log import caller
from api.deps import (
    UNIT_ADMINS,
    UNIT_READERS,
    CurrentToken,
    SessionDep,
    UnitId,
    roles,
    secured_router,
)
from api.principal import Principal
from api.problems import not_found, unavailable
from api.schemas import UtcTime
from storage.catalogue import unit_repo
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Unit, utc_now
from storage.catalogue.unit_repo import UnitCycle, UnitFields
from wire.text import Code, Id, Title

router: APIRouter = secured_router("/api/v1/units", ["units"])


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Title = Field(min_length=1, description="the unit's name, e.g. 某某派出所")
    kind: Code = Field(description="what it is, e.g. sub_bureau, police_station, brigade")
    parent_id: Id | None = Field(
        default=None, description="the unit above it (may not be known yet); null: the top"
    )
    officer_count: int = Field(ge=0, le=1_000_000)
    on_duty_officer_count: int = Field(ge=0, le=1_000_000)


class UnitOut(BaseModel):
    unit_id: str
    name: str
    kind: str
    parent_id: str | None
    officer_count: int
    on_duty_officer_count: int
    updated_at: UtcTime
    updated_by: str

    @classmethod
    def of(cls, unit: Unit) -> UnitOut:
        return cls.model_validate(unit, from_attributes=True)


class UnitList(BaseModel):
    items: list[UnitOut]


_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "replaced"},
    404: {"description": "outside this token's units"},
    422: {"description": "invalid field, or a parent at or below the unit"},
}


@router.put("/{unit_id}", status_code=status.HTTP_201_CREATED, responses=_ANSWERS,
            **roles(*UNIT_ADMINS))  # fmt: skip
def put_unit(
    unit_id: UnitId,
    body: UnitIn,
    request: Request,
    session: SessionDep,
    token: CurrentToken,
    response: Response,
) -> UnitOut:
    """Create (201) or replace (200) a unit. Its parent need not be known yet."""
    existing = unit_repo.get_unit(session, unit_id)
    _check_may_change(token, unit_id, existing, body.parent_id)
    fields = UnitFields(
        name=body.name,
        kind=body.kind,
        parent_id=body.parent_id,
        officer_count=body.officer_count,
        on_duty_officer_count=body.on_duty_officer_count,
    )
    try:
        unit, created = unit_repo.put_unit(
            session, unit_id, fields, actor=caller(request, token).actor, now=utc_now()
        )
    except UnitCycle as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except CatalogueError as exc:
        raise unavailable("the unit could not be recorded", exc) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return UnitOut.of(unit)


def _check_may_change(
    token: Principal, unit_id: str, existing: Unit | None, parent_id: str | None
) -> None:
    if token.units is None:
        return
    if unit_id == token.unit_id:
        if (existing.parent_id if existing else None) != parent_id:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this token may not move its own unit {unit_id!r}: an it_admin "
                "without a unit files it under another",
            )
        return
    if unit_id not in token.units and existing is not None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no unit {unit_id!r}")
    if parent_id not in token.units:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this token files units only below its unit {token.unit_id!r}",
        )


@router.get("", **roles(*UNIT_READERS))
def list_units(session: SessionDep, token: CurrentToken) -> UnitList:
    """The units this token sees (its own and every unit below it), by id."""
    return UnitList(items=[UnitOut.of(u) for u in unit_repo.list_units(session, token.units)])


@router.get("/{unit_id}", responses=not_found("no such unit in this token's units"),
            **roles(*UNIT_READERS))  # fmt: skip
def get_unit(unit_id: UnitId, session: SessionDep, token: CurrentToken) -> UnitOut:
    unit = unit_repo.get_unit(session, unit_id)
    if unit is None or not token.sees_unit(unit.unit_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no unit {unit_id!r}")
    return UnitOut.of(unit)
