"""The chain of custody of a medium: read it, and stations report what they did at the dock.

The api writes the other events itself: registration (api/routes/ingest.py) and reads of
content (api/routes/media.py, through api/custody_log.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from api.custody_log import caller
from api.custody_report import render_html, signed_report
from api.deps import (
    REVIEWERS,
    STATIONS,
    CurrentToken,
    MediaId,
    SessionDep,
    roles,
    secured_router,
)
from api.object_responses import content_disposition
from api.principal import actor_of
from api.problems import unavailable
from api.schemas import CustodyEventOut, CustodyOut, CustodyReportIn
from api.scope import visible_media_or_404
from api.stations import check_registered_by, speaking_for
from storage.catalogue import custody_repo, media_repo
from storage.catalogue.custody_repo import CustodyRefused, StationReport
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import CustodyEventKind, Media, utc_now

router = secured_router("/api/v1/media", ["custody"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such media"}}


def _media_or_404(session: SessionDep, media_id: str) -> Media:
    media = media_repo.get_media(session, media_id)
    if media is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no media with id {media_id!r}")
    return media


@router.get("/{media_id}/custody", responses=_NOT_FOUND, **roles(*REVIEWERS))
def get_custody(media_id: MediaId, session: SessionDep, token: CurrentToken) -> CustodyOut:
    """Every event of the medium from the dock to now, oldest first, times in UTC."""
    media = visible_media_or_404(session, token, media_id)
    events = custody_repo.chain(session, media.id)
    viewings = custody_repo.viewings_of(session, media.id)
    return CustodyOut(
        media_id=media.id, events=[CustodyEventOut.of(e, viewings.get(e.id)) for e in events]
    )


@router.get(
    "/{media_id}/custody/report",
    response_class=Response,
    responses={
        **_NOT_FOUND,
        200: {
            "description": "the signed report (JSON), or its printable page (HTML, Chinese)",
            "content": {"application/json": {}, "text/html": {}},
        },
    },
    **roles(*REVIEWERS),
)
def get_custody_report(
    media_id: MediaId,
    request: Request,
    session: SessionDep,
    token: CurrentToken,
    report_format: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
) -> Response:
    """The chain-of-custody report: every step of the medium from the dock to now, oldest
    first (custody events and the audit trail's entries about it), signed by the api's key
    (`/api/v1/keys`); `format=html` is the printable page, in Chinese, that states the
    hashes and how to check the signature offline."""
    media = visible_media_or_404(session, token, media_id)
    signed = signed_report(
        session, media, request.app.state.signing_key, now=utc_now(), by=actor_of(token)
    )
    if report_format == "html":
        url = str(request.url.include_query_params(format="json"))
        return HTMLResponse(render_html(signed, url))
    return JSONResponse(
        signed,
        headers={"Content-Disposition": content_disposition(f"custody-{media.id}.json")},
    )


@router.post(
    "/{media_id}/custody",
    status_code=status.HTTP_201_CREATED,
    responses={
        **_NOT_FOUND,
        200: {"description": "reported already (a retry): the event recorded then"},
        422: {"description": "not a station event, or sha256_verified is not the medium's"},
    },
    **roles(*STATIONS),
)
def report_custody(
    media_id: MediaId,
    body: CustodyReportIn,
    request: Request,
    session: SessionDep,
    token: CurrentToken,
    response: Response,
) -> CustodyEventOut:
    """A station reports a dock event (a wipe, or a failed one) of a registered medium.

    Idempotent on (medium, event, at, device_id, path): a station retrying after a lost
    response gets 200 and the event recorded the first time.
    """
    media = _media_or_404(session, media_id)
    check_registered_by(session, token, media)
    report = StationReport(
        event=CustodyEventKind(body.event),
        at=body.at,
        device_id=body.device_id,
        path=body.path,
        sha256_verified=body.sha256_verified,
        station_id=speaking_for(token, body.station_id)
        if token.role == "station"
        else body.station_id,
        reason=body.reason,
    )
    try:
        event, created = custody_repo.record_station_report(
            session, media, report, caller(request, token)
        )
    except CustodyRefused as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except CatalogueError as exc:
        raise unavailable("the event could not be recorded", exc) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return CustodyEventOut.of(event)
