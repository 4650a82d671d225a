"""Recording requests in the chain of custody: who, what, when, from where, and the outcome.

A read of content is recorded before its bytes are sent, and a read that cannot be recorded
is not served (503): evidence never leaves unlogged. What is recorded is that the api
started sending the bytes; a client that hangs up halfway is not noticed.

Not recorded: HEAD requests (no content), thumbnails (a search page shows dozens, and a
thumbnail reveals little), GET of a medium's metadata or of its custody.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import HTTPException, Request, Response, status
from sqlalchemy.orm import Session

from storage.catalogue import custody_repo
from storage.catalogue.custody_repo import Caller
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import ApiToken, CustodyEventKind, CustodyOutcome, Media

log = logging.getLogger(__name__)

_CLIENT_MAX = 64
_RANGE_FROM_ZERO = re.compile(r"^\s*bytes\s*=\s*0+\s*-", re.IGNORECASE)


def actor_of(token: ApiToken) -> str:
    """How a token is named in the records: its name, or `token:ID` when it has none."""
    return token.name or f"token:{token.id}"


def caller(request: Request, token: ApiToken) -> Caller:
    """Who is asking, and from which address (behind a reverse proxy: the proxy's, unless
    the server is run to trust its forwarding headers)."""
    host = request.client.host if request.client is not None else None
    return Caller(
        actor=actor_of(token), role=token.role, client=host[:_CLIENT_MAX] if host else None
    )


def logged_read(
    request: Request,
    session: Session,
    media: Media | Sequence[Media],
    token: ApiToken,
    kind: CustodyEventKind,
    respond: Callable[[], Response],
    *,
    playback: bool = False,
    context: dict[str, Any] | None = None,
) -> Response:
    """`respond()`, recorded as `kind` once per request (with the range sent, if any) in
    the chain of every medium in `media` (a merged recording: each part it shows), with
    `context` added to the detail.

    A request that fails (416, or 500/503 from the store) is recorded as failed and its
    error raised again. With `playback`, only a request that starts playing is recorded:
    one without a Range or with a range from byte 0. A browser plays a video through many
    follow-up Range requests (and seeks with more); recording each would bury the chain
    under hundreds of rows per viewing, while the request from byte 0 marks each time
    someone opens the player. Safari's `bytes=0-1` probe makes a viewing count twice there.
    Raises HTTPException 503 when the read cannot be recorded.
    """
    if request.method == "HEAD":
        return respond()
    shown = [media] if isinstance(media, Media) else list(media)
    who = caller(request, token)
    requested = request.headers.get("range")
    starts_playing = requested is None or _RANGE_FROM_ZERO.match(requested) is not None
    try:
        response = respond()
    except HTTPException as exc:
        if not playback or starts_playing:
            _record_failure(session, shown, kind, who, exc, requested, context)
        raise
    sent_range = response.headers.get("content-range")
    if playback and sent_range is not None and not sent_range.startswith("bytes 0-"):
        return response
    detail: dict[str, Any] = {
        "status": response.status_code,
        "range": sent_range,
        "requested_range": requested,
        "bytes": int(response.headers.get("content-length", 0)),
        **(context or {}),
    }
    try:
        for medium in shown:
            custody_repo.record_event(session, medium, kind, who, detail=detail)
    except CatalogueError as exc:
        # The response (and the store stream it opened) is dropped unsent.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"this read could not be recorded in the chain of custody, so it was not "
            f"served; try again later ({exc})",
        ) from exc
    return response


def _record_failure(
    session: Session,
    shown: list[Media],
    kind: CustodyEventKind,
    who: Caller,
    exc: HTTPException,
    requested: str | None,
    context: dict[str, Any] | None,
) -> None:
    detail = {
        "status": exc.status_code,
        "requested_range": requested,
        "error": str(exc.detail),
        **(context or {}),
    }
    for medium in shown:
        try:
            custody_repo.record_event(
                session, medium, kind, who, detail=detail, outcome=CustodyOutcome.FAILED
            )
        except CatalogueError:
            # Nothing was served; the request's own error is what the caller must see.
            log.exception("could not record a failed %s of media %s", kind.value, medium.id)
            return
