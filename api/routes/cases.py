"""Cases: the case-handling system pushes them, reviewers associate media by hand.

Unit scoping: a token with a unit may only read and write cases of its unit. A case of
another unit answers 403, never 404: case numbers come from the case-handling system and
are no secret, and a PUT must say "not yours" rather than pretend it could create the case.
Media outside the caller's scope answer 404, as everywhere (api/scope.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api import association
from api.association import NotLinked
from api.case_schemas import AssociateIn, CaseIn, CaseOut, Reason
from api.custody_log import caller
from api.deps import (
    CASE_WRITERS,
    REVIEWERS,
    CurrentToken,
    MediaId,
    SessionDep,
    roles,
    secured_router,
)
from api.locks import relock
from api.principal import Principal
from api.problems import unavailable
from api.scope import may_see_case, media_scope, visible_media_or_404
from storage.catalogue import case_repo
from storage.catalogue.case_repo import EventFields
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Case, Media, utc_now

router = secured_router("/api/v1/cases", ["cases"])

_ATTEMPTS = 3

CaseNo = Annotated[str, Path(min_length=1, max_length=64)]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "the role, or the case's unit, does not allow it"},
    404: {"description": "no such case, or no such media in the caller's scope"},
}


@router.put(
    "/{case_no}",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_RESPONSES,
        200: {"description": "the case existed and was replaced"},
        422: {
            "description": "a refused event window, time without offset, unknown activity, "
            "or an event_id sent twice"
        },
    },
    **roles(*CASE_WRITERS),
)
def put_case(
    case_no: CaseNo,
    body: CaseIn,
    request: Request,
    session: SessionDep,
    token: CurrentToken,
    response: Response,
) -> CaseOut:
    """Create (201) or replace (200) a case and all its events, then associate media.

    Media matching an event (its officer and time, or its interview room and time) are
    associated automatically; automatic links that no longer match are removed; manual and
    dock links stay, and pairs a reviewer dissociated are not linked again.
    """
    if not token.sees_unit(body.unit_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this token may only send cases of unit {token.unit_id!r} and the units "
            f"below it, not {body.unit_id!r}",
        )
    who = caller(request, token)
    events = [
        EventFields(
            event_id=e.event_id,
            activity=e.activity,
            officer_ids=e.officer_ids,
            start=e.start,
            end=e.end,
            room_id=e.room_id,
        )
        for e in body.events
    ]
    # One transaction: a case is never stored without its associations. A concurrent PUT
    # of the same case, or a registration linking the same medium, makes the commit fail
    # on a unique constraint; the PUT then starts again from what is there.
    for attempt in range(_ATTEMPTS):
        try:
            # Checked on every attempt: the case another writer created a moment ago may
            # be another unit's.
            existing = case_repo.get_case(session, case_no)
            if existing is not None:
                _check_unit(token, existing)
            case, created = case_repo.put_case(
                session,
                case_no,
                title=body.title,
                unit_id=body.unit_id,
                events=events,
                actor=who.actor,
                now=utc_now(),
            )
            association.reassociate_case(
                session, case, who, association.tolerances_of(request, session)
            )
            session.commit()
            break
        except IntegrityError as exc:
            session.rollback()
            if attempt == _ATTEMPTS - 1:
                raise _unavailable(exc) from exc
        except SQLAlchemyError as exc:
            session.rollback()
            raise _unavailable(exc) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    out = _case_out(session, token, case)
    relock(request, out.media_ids)
    return out


@router.get("/{case_no}", responses=_RESPONSES, **roles(*CASE_WRITERS))
def get_case(case_no: CaseNo, session: SessionDep, token: CurrentToken) -> CaseOut:
    """The case, its events, and every medium associated with it (and how)."""
    return _case_out(session, token, _case_or_404(session, token, case_no))


@router.post(
    "/{case_no}/media",
    responses={**_RESPONSES, 422: {"description": "no reason"}},
    **roles(*REVIEWERS),
)
def associate(
    case_no: CaseNo, body: AssociateIn, request: Request, session: SessionDep, token: CurrentToken
) -> CaseOut:
    """Associate media with the case by hand, with a reason (recorded in each medium's
    custody trail). An automatic link becomes manual; a dissociated pair is linked again."""
    case = _case_or_404(session, token, case_no)
    media = [visible_media_or_404(session, token, media_id) for media_id in body.media_ids]
    try:
        association.associate_by_hand(
            session, case.case_no, media, body.reason, caller(request, token)
        )
    except CatalogueError as exc:
        raise _unavailable(exc) from exc
    relock(request, body.media_ids)
    return _case_out(session, token, case)


@router.delete("/{case_no}/media/{media_id}", responses=_RESPONSES, **roles(*REVIEWERS))
def dissociate(
    case_no: CaseNo,
    media_id: MediaId,
    reason: Annotated[Reason, Query(description="why (recorded in the custody trail)")],
    request: Request,
    session: SessionDep,
    token: CurrentToken,
) -> CaseOut:
    """Take a medium out of the case (the medium stays). Automatic association will not
    link the two again unless someone associates them by hand."""
    case = _case_or_404(session, token, case_no)
    media = visible_media_or_404(session, token, media_id)
    try:
        association.dissociate_by_hand(session, case.case_no, media, reason, caller(request, token))
    except NotLinked as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except CatalogueError as exc:
        raise _unavailable(exc) from exc
    relock(request, [media_id])
    return _case_out(session, token, case)


def _check_unit(token: Principal, case: Case) -> None:
    if not may_see_case(token, case):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"case {case.case_no!r} belongs to unit {case.unit_id!r}, "
            f"not to this token's unit {token.unit_id!r} or one below it",
        )


def _case_or_404(session: SessionDep, token: Principal, case_no: str) -> Case:
    case = case_repo.get_case(session, case_no)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no case {case_no!r}")
    _check_unit(token, case)
    return case


def _case_out(session: SessionDep, token: Principal, case: Case) -> CaseOut:
    """The case with only the media `token` may see: a case of unit A may hold footage of
    unit B that a token without a unit linked, and A's readers learn nothing of it."""
    session.refresh(case)
    links = case_repo.links_of_case(session, case.case_no)
    visible = set(
        session.scalars(
            select(Media.id).where(
                Media.id.in_([link.media_id for link in links]), media_scope(token)
            )
        )
    )
    return CaseOut.of(case, [link for link in links if link.media_id in visible])


def _unavailable(exc: Exception) -> HTTPException:
    return unavailable("the change could not be recorded", exc)
