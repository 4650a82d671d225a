"""PUT /api/v1/media/{id}/derived: a station attaches what it derived from a registered
medium (renditions, thumbnail) and where its browser copy stands.

Originals are registered before anything is derived from them (evidence first); the
station's backlog makes the browser copies afterwards and tells the api here, once per step.
Object keys derive from the medium's SHA-256, and each object must be in the store.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status

from api.custody_log import caller
from api.deps import (
    STATIONS,
    CurrentToken,
    MediaId,
    SessionDep,
    StoreDep,
    roles,
    secured_router,
)
from api.problems import unavailable
from api.schemas import MediaOut
from api.stations import check_registered_by
from storage.catalogue import custody_repo, media_repo
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import CustodyEventKind, CustodyOutcome
from storage.errors import StorageError
from storage.object_store import rendition_key, thumbnail_key
from wire.derived import DerivedIn, ProxyStatus

router = secured_router("/api/v1/media", ["ingest"])

_BROWSER_SAFE = ("h264", "aac")


@router.put(
    "/{media_id}/derived",
    responses={
        404: {"description": "no such media"},
        422: {"description": "a rendition or thumbnail it names is not in the store"},
    },
    **roles(*STATIONS),
)
def attach_derived(
    media_id: MediaId,
    body: DerivedIn,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    token: CurrentToken,
) -> MediaOut:
    """Attach a medium's browser copies; idempotent (the same body again changes nothing and
    records nothing). Renditions add to those the medium has; a medium with one that plays
    everywhere stays `ready`. A change of what exists is written into the medium's custody as
    `proxy_made` (outcome `failed` when no browser copy could be made)."""
    media = media_repo.get_media(session, media_id)
    if media is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no media with id {media_id!r}")
    check_registered_by(session, token, media)
    names = [r.name for r in body.renditions]
    if len(set(names)) != len(names):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="a rendition is listed twice"
        )
    keys = {r.name: rendition_key(media.sha256, r.name) for r in body.renditions}
    thumb = thumbnail_key(media.sha256) if body.thumbnail else None
    for what, key in [*keys.items(), ("thumbnail", thumb)]:
        if key is not None:
            _check_stored(store, what, key)
    # What exists only grows: a second station deriving from the same bytes (or a retry of
    # an earlier step) never takes away a rendition that plays, nor makes a ready medium
    # pending or failed again.
    by_name: dict[str, dict[str, Any]] = {r["name"]: r for r in media.renditions or []}
    by_name.update((r.name, r.model_dump()) for r in body.renditions)
    renditions = list(by_name.values())
    proxy = next((r for r in renditions if r["name"] in _BROWSER_SAFE), None)
    proxy_status = ProxyStatus.READY if proxy is not None else body.proxy_status
    if proxy_status is ProxyStatus.READY and proxy is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="proxy_status ready needs an h264 or aac rendition",
        )
    changed = media_repo.attach_derived(
        media,
        proxy_status=proxy_status.value,
        proxy_error=body.proxy_error if proxy_status is ProxyStatus.FAILED else None,
        proxy_note=body.proxy_note or media.proxy_note,
        renditions=renditions,
        proxy_key=rendition_key(media.sha256, proxy["name"]) if proxy else None,
        proxy_content_type=proxy["content_type"] if proxy else None,
        thumbnail_key=thumb,
        unplayable_reason=body.unplayable_reason,
    )
    try:
        if changed:
            custody_repo.record_event(
                session,
                media,
                CustodyEventKind.PROXY_MADE,
                caller(request, token),
                detail={
                    "proxy_status": proxy_status.value,
                    "renditions": renditions,
                    "thumbnail": body.thumbnail,
                    "error": body.proxy_error,
                    "note": body.proxy_note,
                },
                outcome=CustodyOutcome.FAILED
                if proxy_status is ProxyStatus.FAILED
                else CustodyOutcome.OK,
            )
        else:
            session.rollback()
    except CatalogueError as exc:
        raise unavailable("the browser copies could not be recorded", exc) from exc
    return MediaOut.of(media)


def _check_stored(store: StoreDep, what: str, key: str) -> None:
    try:
        stored = store.exists(key)
    except StorageError as exc:
        raise unavailable("the object store is unavailable", exc) from exc
    if not stored:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"{what} {key!r} is not in the object store: upload it first",
        )
