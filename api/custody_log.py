"""Recording requests in the chain of custody: who, what, when, from where, and the outcome.

A read of content is recorded before its bytes are sent, and a read that cannot be recorded
is not served (503): evidence never leaves unlogged. What is recorded is that the api
started sending the bytes; a client that hangs up halfway is not noticed.

Not recorded: HEAD requests (no content), thumbnails (a search page shows dozens, and a
thumbnail reveals little), GET of a medium's metadata or of its custody.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import HTTPException, Request, Response
from sqlalchemy.orm import Session

from api.gate import client_of
from api.principal import Principal, actor_of
from api.problems import unavailable
from storage.catalogue import custody_repo
from storage.catalogue.audit_repo import Actor
from storage.catalogue.custody_repo import Caller
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import CustodyEventKind, CustodyOutcome, Media

log = logging.getLogger(__name__)


def caller(request: Request, token: Principal) -> Caller:
    """Who is asking, and from which address (behind a reverse proxy: the proxy's, unless
    the server is run to trust its forwarding headers)."""
    return Caller(actor=actor_of(token), role=token.role, client=client_of(request.scope))


def audit_actor(request: Request, token: Principal) -> Actor:
    """Who is asking, as the audit trail names them."""
    who = caller(request, token)
    return Actor(
        name=who.actor, token_id=token.token_id, role=token.role, unit_id=token.unit_id,
        client=who.client,
    )  # fmt: skip


def logged_read(
    request: Request,
    session: Session,
    media: Media | Sequence[Media],
    token: Principal,
    kind: CustodyEventKind,
    respond: Callable[[], Response],
    *,
    playback: bool = False,
    context: dict[str, Any] | None = None,
) -> Response:
    """`respond()`, recorded as `kind` (with the range sent, if any) in the chain of every
    medium in `media` (a merged recording: each of its parts), with `context` added to the
    detail. Every request is recorded, whichever byte it starts at.

    A request that fails (416, or 500/503 from the store) is recorded as failed and its
    error raised again. With `playback`, a player's requests are counted in one viewing per
    token, address and medium (custody_repo.record_viewing; its first request is the
    custody event): a browser plays a video through many Range requests (and seeks with
    more), and an event for each would bury the chain under hundreds of rows per viewing.
    Raises HTTPException 503 when the read cannot be recorded.
    """
    if request.method == "HEAD":
        return respond()
    shown = [media] if isinstance(media, Media) else list(media)
    who = caller(request, token)
    requested = request.headers.get("range")
    try:
        response = respond()
    except HTTPException as exc:
        _record_failure(session, shown, kind, who, exc, requested, context)
        raise
    detail: dict[str, Any] = {
        "status": response.status_code,
        "range": response.headers.get("content-range"),
        "requested_range": requested,
        "bytes": int(response.headers.get("content-length", 0)),
        **(context or {}),
    }
    try:
        for medium in shown:
            if playback:
                custody_repo.record_viewing(
                    session,
                    medium,
                    kind,
                    who,
                    token_id=token.id,
                    detail=detail,
                    recording_id=(context or {}).get("recording_id"),
                )
            else:
                custody_repo.record_event(session, medium, kind, who, detail=detail)
    except CatalogueError as exc:
        # The response (and the store stream it opened) is dropped unsent.
        raise unavailable(
            "this read could not be recorded in the chain of custody, so it was not served", exc
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
