"""GET /api/v1/audit: the audit trail (supervisor+, of their units' tokens), newest first;
GET /api/v1/audit/verify: the chain recomputed, and checked against the signed checkpoints
in the object store."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import SUPERVISORS, CurrentToken, SessionDep, StoreDep, roles, secured_router
from api.schemas import UtcTime
from api.scope import units_in_scope
from storage.audit_checkpoints import check_against_store
from storage.catalogue import audit_repo
from storage.catalogue.audit_repo import AuditFilter
from storage.catalogue.models import AuditEntry, AuditOutcome
from wire.moments import Moment
from wire.signatures import key_id_of

router: APIRouter = secured_router("/api/v1/audit", ["audit"])

_Text = Annotated[str | None, Query(min_length=1, max_length=200)]


class AuditEntryOut(BaseModel):
    seq: int
    at: UtcTime
    actor: str
    token_id: str | None
    role: str | None
    unit_id: str | None
    action: str = Field(description="`METHOD /api/v1/route/{template}`, or a dotted name")
    target: str | None
    detail: dict[str, Any] | None
    client: str | None
    outcome: AuditOutcome
    status: int | None
    request_id: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            token_id=entry.token_id,
            role=entry.role,
            unit_id=entry.unit_id,
            action=entry.action,
            target=entry.target,
            detail=json.loads(entry.detail) if entry.detail else None,
            client=entry.client,
            outcome=AuditOutcome(entry.outcome),
            status=entry.status,
            request_id=entry.request_id,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
        )


class AuditPage(BaseModel):
    items: list[AuditEntryOut] = Field(description="newest first")
    next_before: int | None = Field(description="pass as `before` for the next page")


class AuditVerification(BaseModel):
    ok: bool
    entries: int = Field(description="entries read (up to the first bad one)")
    first_bad: int | None = Field(description="the number (seq) of the first bad entry")
    reason: str | None
    checkpoints: int = Field(description="signed checkpoints in the store that were checked")


@router.get("", response_model=AuditPage, **roles(*SUPERVISORS))
def list_audit(
    session: SessionDep,
    token: CurrentToken,
    since: Annotated[Moment | None, Query(description="at or after")] = None,
    until: Annotated[Moment | None, Query(description="before")] = None,
    actor: _Text = None,
    token_id: _Text = None,
    unit_id: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="tokens of this unit and below it"),
    ] = None,
    action: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="entries whose action starts so"),
    ] = None,
    target: _Text = None,
    outcome: AuditOutcome | None = None,
    client: _Text = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="next_before of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Entries matching every filter given; a unit's supervisor sees those of its tokens
    (`unit_id`: of that unit and those below it)."""
    units = units_in_scope(session, token, unit_id)
    where = AuditFilter(
        since=since,
        until=until,
        actor=actor,
        token_id=token_id,
        action=action,
        target=target,
        outcome=outcome,
        client=client,
    )
    found = audit_repo.page(session, where, units=units, before=before, limit=limit + 1)
    return AuditPage(
        items=[AuditEntryOut.of(e) for e in found[:limit]],
        next_before=found[limit - 1].seq if len(found) > limit else None,
    )


@router.get("/verify", response_model=AuditVerification, **roles(*SUPERVISORS))
def verify_audit(request: Request, session: SessionDep, store: StoreDep) -> AuditVerification:
    """Recompute the whole chain and compare it with every checkpoint this api signed."""
    chain = audit_repo.check(session)
    public = request.app.state.signing_key.public_key()
    stored = check_against_store(session, store, {key_id_of(public): public})
    broken = chain.broken or stored.broken
    return AuditVerification(
        ok=broken is None,
        entries=chain.entries,
        first_bad=broken.seq if broken is not None else None,
        reason=broken.reason if broken is not None else None,
        checkpoints=stored.checkpoints,
    )
