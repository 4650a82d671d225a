"""Retention through the api: legal holds on media and cases (reviewer+), and early
deletion, which one person asks for and another approves (rules/retention.py). Expired
media are deleted by the deletion job (storage/deletion.py), not here.

Every change is in the custody of the media it touches and, as every request, in the
audit trail; a deletion leaves a tombstone (GET /api/v1/media/{id} answers 410 with it).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.case_schemas import Reason
from api.custody_log import audit_actor, caller
from api.deps import (
    REVIEWERS,
    SUPERVISORS,
    CurrentToken,
    MediaId,
    SessionDep,
    StoreDep,
    roles,
    secured_router,
)
from api.locks import relock
from api.principal import Principal, actor_of
from api.schemas import MediaOut, UtcTime
from api.scope import may_see_case, media_scope, visible_media_or_404
from rules.retention import early_deletion_refusal, second_approver_refusal
from storage.catalogue import case_repo, custody_repo
from storage.catalogue.audit_repo import Actor
from storage.catalogue.models import (
    Case,
    CaseMedia,
    CustodyEventKind,
    DeletionRequest,
    DeletionStatus,
    Media,
    utc_now,
)
from storage.deletion import Deletion, delete_medium, keeping, remove_objects_of

log = logging.getLogger(__name__)

_RequestId = Annotated[str, Path(min_length=1, max_length=36, description="a request's id")]

media_router = secured_router("/api/v1/media", ["retention"])
cases_router = secured_router("/api/v1/cases", ["retention"])
requests_router = secured_router("/api/v1/deletion-requests", ["retention"])

_CONFLICT: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such medium (or request) in the caller's scope"},
    409: {"description": "what keeps the medium, or a request already decided"},
}


class HoldIn(BaseModel):
    """PUT .../hold: set or lift a legal hold, with the reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hold: bool
    reason: Reason = Field(description="why, for the record")


class CaseHoldOut(BaseModel):
    case_no: str
    legal_hold: bool
    media_ids: list[str] = Field(description="the media the hold keeps")


class DeletionRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Reason = Field(description="why this medium must go before its time")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Reason = Field(description="why, for the record")


class DeletionRequestOut(BaseModel):
    id: str
    media_id: str
    sha256: str
    unit_id: str | None
    reason: str
    requested_by: str
    requested_at: UtcTime
    status: DeletionStatus
    decided_by: str | None
    decided_at: UtcTime | None
    decision_reason: str | None

    @classmethod
    def of(cls, row: DeletionRequest) -> DeletionRequestOut:
        return cls.model_validate(row, from_attributes=True)


class DeletionRequests(BaseModel):
    items: list[DeletionRequestOut] = Field(description="oldest first")


@media_router.put("/{media_id}/hold", responses=_CONFLICT, **roles(*REVIEWERS))
def set_media_hold(
    media_id: MediaId, body: HoldIn, request: Request, session: SessionDep, token: CurrentToken
) -> MediaOut:
    """Put a medium under legal hold, or lift its own hold (a case's hold stays). While
    held it is never deleted, by the job or by hand."""
    media = visible_media_or_404(session, token, media_id)
    if media.legal_hold != body.hold:
        media.legal_hold = body.hold
        kind = (
            CustodyEventKind.LEGAL_HOLD_SET if body.hold else CustodyEventKind.LEGAL_HOLD_RELEASED
        )
        custody_repo.record_event(
            session, media, kind, caller(request, token), detail={"reason": body.reason}
        )
        relock(request, [media.id])
    return MediaOut.of(media)


@cases_router.put(
    "/{case_no}/hold",
    responses={403: {"description": "a case of another unit"}, 404: {"description": "no case"}},
    **roles(*REVIEWERS),
)
def set_case_hold(
    case_no: Annotated[str, Path(min_length=1, max_length=64)],
    body: HoldIn,
    request: Request,
    session: SessionDep,
    token: CurrentToken,
) -> CaseHoldOut:
    """Put a case under legal hold, or lift it: none of its media is deleted while it lasts
    (each medium's custody says so, in the same transaction)."""
    case = session.get(Case, case_no)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no case {case_no!r}")
    if not may_see_case(token, case):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"case {case_no!r} is not yours")
    linked = select(CaseMedia.media_id).where(CaseMedia.case_no == case_no)
    every_medium = sorted(session.scalars(linked))
    shown = set(session.scalars(select(Media.id).where(Media.id.in_(linked), media_scope(token))))
    if case.legal_hold != body.hold:
        case.legal_hold = body.hold
        kind = (
            CustodyEventKind.LEGAL_HOLD_SET if body.hold else CustodyEventKind.LEGAL_HOLD_RELEASED
        )
        who, now = caller(request, token), utc_now()
        for media_id in every_medium:  # the hold keeps them all, seen by this caller or not
            session.add(
                case_repo.custody_event(
                    media_id, kind, who, at=now, detail={"reason": body.reason, "case_no": case_no}
                )
            )
        case_repo.commit(session, f"the hold on case {case_no}")
        relock(request, every_medium)
    return CaseHoldOut(
        case_no=case_no,
        legal_hold=case.legal_hold,
        media_ids=[m for m in every_medium if m in shown],
    )


@media_router.post(
    "/{media_id}/deletion-requests",
    status_code=201,
    responses=_CONFLICT,
    **roles(*REVIEWERS),
)
def request_deletion(
    media_id: MediaId,
    body: DeletionRequestIn,
    request: Request,
    session: SessionDep,
    token: CurrentToken,
) -> DeletionRequestOut:
    """Ask for a medium to be deleted before its time. Nothing is deleted until a supervisor
    with another token approves; media that are evidence (in a case, kept permanently) or
    held cannot be asked for (409, saying what keeps them)."""
    media = visible_media_or_404(session, token, media_id)
    _refuse_if_kept(session, media)
    pending = session.scalars(
        select(DeletionRequest).where(
            DeletionRequest.media_id == media_id,
            DeletionRequest.status == DeletionStatus.PENDING.value,
        )
    ).first()
    if pending is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"a deletion of this medium is already asked for (request {pending.id})",
        )
    now = utc_now()
    row = DeletionRequest(
        media_id=media.id,
        sha256=media.sha256,
        unit_id=media.unit_id,
        reason=body.reason,
        requested_by=actor_of(token),
        requested_by_token=token.id,
        requested_at=now,
        status=DeletionStatus.PENDING.value,
    )
    session.add(row)
    session.flush()
    session.add(
        case_repo.custody_event(
            media.id,
            CustodyEventKind.DELETION_REQUESTED,
            caller(request, token),
            at=now,
            detail={"reason": body.reason, "request_id": row.id},
        )
    )
    case_repo.commit(session, "the deletion request")
    return DeletionRequestOut.of(row)


@requests_router.get("", **roles(*REVIEWERS))
def list_deletion_requests(
    session: SessionDep,
    token: CurrentToken,
    request_status: Annotated[
        DeletionStatus | None, Query(alias="status", description="only requests in this state")
    ] = None,
) -> DeletionRequests:
    """Deletion requests of media of the caller's units, oldest first."""
    stmt = select(DeletionRequest).order_by(DeletionRequest.requested_at, DeletionRequest.id)
    if request_status is not None:
        stmt = stmt.where(DeletionRequest.status == request_status.value)
    if token.units is not None:
        stmt = stmt.where(DeletionRequest.unit_id.in_(sorted(token.units)))
    return DeletionRequests(items=[DeletionRequestOut.of(r) for r in session.scalars(stmt)])


@requests_router.post("/{request_id}/approve", responses=_CONFLICT, **roles(*SUPERVISORS))
def approve_deletion(
    request_id: _RequestId,
    body: DecisionIn,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    token: CurrentToken,
) -> DeletionRequestOut:
    """Approve a deletion another token asked for: the medium is deleted now, leaving its
    tombstone; both people are in the audit entry. 403 for the token that asked."""
    row = _pending_or_error(session, token, request_id)
    refusal = second_approver_refusal(
        requested_by=row.requested_by_token,
        requested_by_name=row.requested_by,
        approver=token.id,
        approver_name=actor_of(token),
    )
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=refusal)
    # Locked until the deletion commits: a hold or a case link set meanwhile waits for it.
    media = session.get(Media, row.media_id, with_for_update=True)
    if media is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the medium is already deleted")
    _refuse_if_kept(session, media)
    now = utc_now()
    row.status = DeletionStatus.APPROVED.value
    row.decided_by, row.decided_by_token = actor_of(token), token.id
    row.decided_at, row.decision_reason = now, body.reason
    requester = Actor(name=row.requested_by, token_id=row.requested_by_token, unit_id=row.unit_id)
    delete_medium(
        session,
        media,
        Deletion(how="early", reason=row.reason, by=requester,
                 approved_by=audit_actor(request, token), request_id=row.id),
        now=now,
    )  # fmt: skip
    case_repo.commit(session, "the deletion")
    remove_objects_of(session, store, row.media_id)
    return DeletionRequestOut.of(row)


@requests_router.post("/{request_id}/reject", responses=_CONFLICT, **roles(*REVIEWERS))
def reject_deletion(
    request_id: _RequestId, body: DecisionIn, session: SessionDep, token: CurrentToken
) -> DeletionRequestOut:
    """Turn a deletion request down (a supervisor), or withdraw it (the token that asked)."""
    row = _pending_or_error(session, token, request_id)
    if token.role not in SUPERVISORS and token.id != row.requested_by_token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="only a supervisor, or the token that asked, may turn a request down",
        )
    row.status = DeletionStatus.REJECTED.value
    row.decided_by, row.decided_by_token = actor_of(token), token.id
    row.decided_at, row.decision_reason = utc_now(), body.reason
    case_repo.commit(session, "the decision")
    return DeletionRequestOut.of(row)


def _refuse_if_kept(session: Session, media: Media) -> None:
    why = early_deletion_refusal(keeping(session, media))
    if why is None and media.recording_id is not None:
        why = "it is a part of a merged recording, whose other parts stay"
    if why is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"this medium cannot be deleted: {why}"
        )


def _pending_or_error(session: Session, token: Principal, request_id: str) -> DeletionRequest:
    row = session.get(DeletionRequest, request_id)
    if row is None or not token.sees_unit(row.unit_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no deletion request {request_id!r}")
    if row.status != DeletionStatus.PENDING.value:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"the request was already {row.status}"
        )
    return row
