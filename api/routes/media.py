"""Finding and playing media: search, one item, original, proxy, thumbnail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from api.custody_log import caller, logged_read
from api.deps import (
    MEDIA_READERS,
    REVIEWERS,
    CurrentToken,
    MediaId,
    SessionDep,
    StoreDep,
    roles,
    secured_router,
)
from api.locks import relock
from api.object_responses import (
    content_disposition,
    object_response,
    original_content_type,
    repr_digest,
    stat_object,
)
from api.schemas import ClassificationIn, ImportantIn, MediaOut, MediaPage
from api.scope import media_scope, sees_tombstone, visible_media_or_404
from storage.catalogue import custody_repo, media_repo
from storage.catalogue.custody_repo import utc_text
from storage.catalogue.errors import InvalidCursor
from storage.catalogue.models import CustodyEventKind, Media, MediaTombstone
from storage.object_store import rendition_key
from wire.derived import RenditionName
from wire.media_kinds import MediaKind
from wire.moments import Moment

router = secured_router("/api/v1/media", ["media"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such media, or it has no such rendition"}
}
_RANGED: dict[int | str, dict[str, Any]] = {
    206: {"description": "the requested byte range"},
    416: {"description": "the range is outside the object"},
}


@router.get("", **roles(*MEDIA_READERS))
def search_media(
    session: SessionDep,
    token: CurrentToken,
    case_no: str | None = None,
    officer_id: str | None = None,
    device_id: str | None = None,
    unit_id: str | None = None,
    kind: MediaKind | None = None,
    start: Annotated[
        Moment | None, Query(description="recorded at or after (ISO 8601 with offset)")
    ] = None,
    end: Annotated[
        Moment | None, Query(description="recorded at or before (ISO 8601 with offset)")
    ] = None,
    important: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=media_repo.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> MediaPage:
    """Media whose recorded time overlaps [start, end] and that match every filter given,
    newest ingested first."""
    if start is not None and end is not None and start > end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="start is after end")
    filters = media_repo.MediaFilter(
        case_no=case_no,
        officer_id=officer_id,
        device_id=device_id,
        unit_id=unit_id,
        kind=kind,
        start=start,
        end=end,
        important=important,
    )
    try:
        page = media_repo.search(
            session, filters, limit=limit, cursor=cursor, scope=media_scope(token)
        )
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return MediaPage(items=[MediaOut.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{media_id}",
    responses={**_NOT_FOUND, 410: {"description": "deleted by policy: its tombstone"}},
    **roles(*MEDIA_READERS),
)
def get_media(media_id: MediaId, session: SessionDep, token: CurrentToken) -> Any:
    """The medium; for one deleted by policy, 410 with what its tombstone keeps."""
    try:
        return MediaOut.of(visible_media_or_404(session, token, media_id))
    except HTTPException:
        tombstone = session.get(MediaTombstone, media_id)
        if tombstone is None or not sees_tombstone(token, tombstone):
            raise
        return JSONResponse(
            status_code=status.HTTP_410_GONE,
            content={
                "detail": f"media {media_id} was deleted ({tombstone.how}) on "
                f"{utc_text(tombstone.deleted_at)}: {tombstone.reason}",
                "tombstone": {
                    "sha256": tombstone.sha256,
                    "size_bytes": tombstone.size_bytes,
                    "original_name": tombstone.original_name,
                    "how": tombstone.how,
                    "deleted_at": utc_text(tombstone.deleted_at),
                    "deleted_by": tombstone.deleted_by,
                    "approved_by": tombstone.approved_by,
                    "reason": tombstone.reason,
                    "audit_seq": tombstone.audit_seq,
                },
            },
        )


@router.put("/{media_id}/important", responses=_NOT_FOUND, **roles(*REVIEWERS))
def set_important(
    media_id: MediaId, body: ImportantIn, request: Request, session: SessionDep, token: CurrentToken
) -> MediaOut:
    """Mark a medium important (重点标记) or take the mark off, with a reason. Important
    media are kept permanently. Each change is in the chain of custody; setting the mark it
    already has changes and records nothing."""
    media = visible_media_or_404(session, token, media_id)
    if media.important != body.important:
        media.important = body.important
        media_repo.refresh_retention(media)
        kind = (
            CustodyEventKind.MARKED_IMPORTANT
            if body.important
            else CustodyEventKind.UNMARKED_IMPORTANT
        )
        # One commit: the mark and its record of who, when and why.
        custody_repo.record_event(
            session, media, kind, caller(request, token), detail={"reason": body.reason}
        )
        relock(request, [media.id])
    return MediaOut.of(media)


@router.put("/{media_id}/classification", responses=_NOT_FOUND, **roles(*REVIEWERS))
def set_classification(
    media_id: MediaId,
    body: ClassificationIn,
    request: Request,
    session: SessionDep,
    token: CurrentToken,
) -> MediaOut:
    """Judge a medium of no evidential value (无证据价值), or take that back, with a reason.
    A medium in a case or so judged counts as categorised in the compliance report. A
    permanent category keeps the medium permanently (rules/retention.py); each change is in
    the chain of custody, and setting what it already is records nothing."""
    media = visible_media_or_404(session, token, media_id)
    if media.classification != body.classification:
        before, media.classification = media.classification, body.classification
        media_repo.refresh_retention(media)
        custody_repo.record_event(
            session,
            media,
            CustodyEventKind.CLASSIFIED,
            caller(request, token),
            detail={"classification": body.classification, "before": before,
                    "reason": body.reason},
        )  # fmt: skip
        relock(request, [media.id])
    return MediaOut.of(media)


@router.get(
    "/{media_id}/original",
    response_class=Response,
    responses={**_NOT_FOUND, **_RANGED},
    **roles(*MEDIA_READERS),
)
@router.head(
    "/{media_id}/original",
    response_class=Response,
    include_in_schema=False,
    **roles(*MEDIA_READERS),
)
def get_original(
    media_id: MediaId, request: Request, session: SessionDep, store: StoreDep, token: CurrentToken
) -> Response:
    """The original bytes exactly as read from the device, with their `Repr-Digest`.

    Each GET (whole or a range, served or failed) is recorded in the chain of custody as
    `downloaded_original`, before any byte is sent.
    """
    media = visible_media_or_404(session, token, media_id)

    def respond() -> Response:
        info = stat_object(store, media.original_key, "original")
        if info.size != media.size_bytes:
            raise HTTPException(
                status.HTTP_500_INTERNAL_SERVER_ERROR,
                detail=f"the stored original of media {media.id} has {info.size} bytes, the "
                f"catalogue says {media.size_bytes}: run `station fixity check`",
            )
        return object_response(
            request,
            store,
            media.original_key,
            size=media.size_bytes,
            content_type=original_content_type(media.original_name),
            etag=f'"{media.sha256}"',
            what="original",
            headers={
                "Content-Disposition": content_disposition(media.original_name),
                "Repr-Digest": repr_digest(media.sha256),
            },
        )

    return logged_read(
        request, session, media, token, CustodyEventKind.DOWNLOADED_ORIGINAL, respond
    )


@router.get(
    "/{media_id}/proxy",
    response_class=Response,
    responses={**_NOT_FOUND, **_RANGED},
    **roles(*MEDIA_READERS),
)
@router.head(
    "/{media_id}/proxy", response_class=Response, include_in_schema=False, **roles(*MEDIA_READERS)
)
def get_proxy(
    media_id: MediaId, request: Request, session: SessionDep, store: StoreDep, token: CurrentToken
) -> Response:
    """The browser-playable rendition (`video/mp4` or `audio/mp4`).

    Every request is in the chain of custody as `played_proxy`; a player's many Range
    requests are folded into one viewing (see api.custody_log.logged_read).
    """
    media = visible_media_or_404(session, token, media_id)
    proxy = media.proxy_key
    if proxy is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"media {media.id} has no proxy: {_why_no_proxy(media)}; "
            "download the original instead",
        )

    def respond() -> Response:
        info = stat_object(store, proxy, "proxy")
        content_type = media.proxy_content_type or (
            "audio/mp4" if proxy.endswith(".m4a") else "video/mp4"
        )
        return object_response(
            request,
            store,
            proxy,
            size=info.size,
            content_type=content_type,
            etag=f'"{media.sha256}-proxy-{info.size}"',
            what="proxy",
            headers={},
        )

    return logged_read(
        request, session, media, token, CustodyEventKind.PLAYED_PROXY, respond, playback=True
    )


@router.get(
    "/{media_id}/renditions/{name}",
    response_class=Response,
    responses={**_NOT_FOUND, **_RANGED},
    **roles(*MEDIA_READERS),
)
@router.head(
    "/{media_id}/renditions/{name}",
    response_class=Response,
    include_in_schema=False,
    **roles(*MEDIA_READERS),
)
def get_rendition(
    media_id: MediaId,
    name: RenditionName,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    token: CurrentToken,
) -> Response:
    """One of the medium's browser copies by name (its `renditions`): `h264`/`aac` (also at
    .../proxy) or `hevc` (H.265 tagged hvc1, for browsers that decode it, available before
    the H.264 proxy of an H.265 recording is made). Recorded in custody as `played_proxy`."""
    media = visible_media_or_404(session, token, media_id)
    made = next((r for r in media.renditions or [] if r.get("name") == name), None)
    if made is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"media {media.id} has no {name} rendition (proxy_status "
            f"{media.proxy_status}); see its renditions",
        )
    key = rendition_key(media.sha256, name)

    def respond() -> Response:
        info = stat_object(store, key, "rendition")
        return object_response(
            request,
            store,
            key,
            size=info.size,
            content_type=str(made.get("content_type") or "video/mp4"),
            etag=f'"{media.sha256}-{name}-{info.size}"',
            what=f"{name} rendition",
            headers={},
        )

    return logged_read(
        request, session, media, token, CustodyEventKind.PLAYED_PROXY, respond, playback=True
    )


def _why_no_proxy(media: Media) -> str:
    if media.proxy_status == "pending":
        return "the station is still making it (proxy_status pending); try again later"
    if media.proxy_status == "failed":
        return f"it could not be made ({media.proxy_error or 'no reason recorded'})"
    if media.kind == MediaKind.PHOTO:
        return "photos have no proxy"
    if not media.playable:
        return f"it is not playable ({media.unplayable_reason or 'no reason recorded'})"
    return "none was made"


@router.get(
    "/{media_id}/thumbnail",
    response_class=Response,
    responses={**_NOT_FOUND, 200: {"content": {"image/jpeg": {}}}},
    **roles(*MEDIA_READERS),
)
def get_thumbnail(
    media_id: MediaId, request: Request, session: SessionDep, store: StoreDep, token: CurrentToken
) -> Response:
    media = visible_media_or_404(session, token, media_id)
    if media.thumbnail_key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"media {media.id} has no thumbnail")
    info = stat_object(store, media.thumbnail_key, "thumbnail")
    return object_response(
        request,
        store,
        media.thumbnail_key,
        size=info.size,
        content_type="image/jpeg",
        etag=f'"{media.sha256}-thumbnail-{info.size}"',
        what="thumbnail",
        headers={},
    )
