"""PUT/GET /api/v1/units/{unit_id}/recording-rules: what a unit requires to be recorded,
for itself and the units below it (rules/recording_rules.py), and what applies to it.

Supervisors (督察/法制) of the unit, or of a unit above it, set its rules; the answer is the
effective rules with, for each value, the unit that set it (or `default`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.case_schemas import ACTIVITIES
from api.custody_log import caller
from api.deps import RULE_SETTERS, CurrentToken, SessionDep, UnitId, roles, secured_router
from api.problems import not_found, unavailable
from api.scope import unit_or_404
from rules.recording_rules import Overrides, RecordingRules, Requirement, chain_to, effective
from storage.catalogue import unit_repo
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import utc_now
from wire.text import Code

router: APIRouter = secured_router("/api/v1/units", ["units"])


class RulesIn(BaseModel):
    """Only what the unit overrides; anything left out it inherits from above."""

    model_config = ConfigDict(extra="forbid")

    requirements: dict[Code, Requirement] = Field(
        default_factory=dict, description=f"activity → none, key_steps or full_process; "
        f"activities: {', '.join(ACTIVITIES)}",
    )  # fmt: skip
    room_activities: list[Code] | None = Field(
        default=None,
        description="activities that need the interview room's recorder without a gap",
    )
    deadline_s: float | None = Field(
        default=None, ge=60, le=30 * 86400, allow_inf_nan=False,
        description="how long after an event ends its footage must be stored",
    )  # fmt: skip
    gap_tolerance_s: float | None = Field(
        default=None, ge=0, le=3600, allow_inf_nan=False,
        description="the longest gap in a full-process recording that still counts as covered",
    )  # fmt: skip
    association_tolerance_s: float | None = Field(
        default=None, ge=0, le=86400, allow_inf_nan=False,
        description="how far outside an event footage may lie and still be associated",
    )  # fmt: skip


class SourcedRequirement(BaseModel):
    requirement: Requirement
    source: str = Field(description="`default`, or the unit that set it")


class SourcedSeconds(BaseModel):
    seconds: float
    source: str


class RulesOut(BaseModel):
    unit_id: str
    chain: list[str] = Field(description="the unit and those above it, top first")
    requirements: dict[str, SourcedRequirement]
    room_activities: list[str]
    room_activities_source: str
    deadline: SourcedSeconds
    gap_tolerance: SourcedSeconds
    association_tolerance: SourcedSeconds
    overrides: RulesIn = Field(description="what this unit itself sets")


@router.put("/{unit_id}/recording-rules", responses=not_found("outside this token's units"),
            **roles(*RULE_SETTERS))  # fmt: skip
def put_rules(
    unit_id: UnitId, body: RulesIn, request: Request, session: SessionDep, token: CurrentToken
) -> RulesOut:
    """Replace what the unit overrides (for itself and the units below it)."""
    unit_or_404(token, unit_id)
    unknown = sorted((set(body.requirements) | set(body.room_activities or ())) - set(ACTIVITIES))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"unknown activity {unknown[0]!r}; known: {', '.join(ACTIVITIES)}",
        )
    try:
        unit_repo.put_overrides(
            session,
            unit_id,
            body.model_dump(mode="json"),
            actor=caller(request, token).actor,
            now=utc_now(),
        )
    except CatalogueError as exc:
        raise unavailable("the rules could not be recorded", exc) from exc
    return rules_of(session, unit_id)


@router.get("/{unit_id}/recording-rules", responses=not_found("outside this token's units"),
            **roles(*RULE_SETTERS))  # fmt: skip
def get_rules(unit_id: UnitId, session: SessionDep, token: CurrentToken) -> RulesOut:
    """The rules that apply to the unit, each value with the unit that set it."""
    unit_or_404(token, unit_id)
    return rules_of(session, unit_id)


def rules_of(session: Session, unit_id: str) -> RulesOut:
    chain = chain_to(unit_repo.parents(session), unit_id)
    stored = unit_repo.overrides_of(session, chain)
    applied = effective([(u, _overrides(stored[u])) for u in chain if u in stored])
    return _out(unit_id, chain, applied, RulesIn.model_validate(stored.get(unit_id, {})))


def effective_rules(
    session: Session, unit_ids: Collection[str | None]
) -> dict[str | None, RecordingRules]:
    """The rules that apply to each of `unit_ids` (None: a case of no unit, the defaults),
    read with two queries whatever their number."""
    parents = unit_repo.parents(session)
    chains = {u: chain_to(parents, u) if u is not None else [] for u in unit_ids}
    stored = unit_repo.overrides_of(session, sorted({u for c in chains.values() for u in c}))
    overrides = {u: _overrides(raw) for u, raw in stored.items()}
    return {
        unit: effective([(u, overrides[u]) for u in chain if u in overrides])
        for unit, chain in chains.items()
    }


def _overrides(raw: dict[str, Any]) -> Overrides:
    body = RulesIn.model_validate(raw)

    def span(seconds: float | None) -> timedelta | None:
        return None if seconds is None else timedelta(seconds=seconds)

    return Overrides(
        requirements=body.requirements,
        room_activities=frozenset(body.room_activities)
        if body.room_activities is not None
        else None,
        deadline=span(body.deadline_s),
        gap_tolerance=span(body.gap_tolerance_s),
        association_tolerance=span(body.association_tolerance_s),
    )


def _out(unit_id: str, chain: list[str], rules: RecordingRules, own: RulesIn) -> RulesOut:
    return RulesOut(
        unit_id=unit_id,
        chain=chain,
        requirements={
            a: SourcedRequirement(requirement=r.value, source=r.source)
            for a, r in rules.requirements.items()
        },
        room_activities=sorted(rules.room_activities.value),
        room_activities_source=rules.room_activities.source,
        deadline=SourcedSeconds(
            seconds=rules.deadline.value.total_seconds(), source=rules.deadline.source
        ),
        gap_tolerance=SourcedSeconds(
            seconds=rules.gap_tolerance.value.total_seconds(), source=rules.gap_tolerance.source
        ),
        association_tolerance=SourcedSeconds(
            seconds=rules.association_tolerance.value.total_seconds(),
            source=rules.association_tolerance.source,
        ),
        overrides=own,
    )
