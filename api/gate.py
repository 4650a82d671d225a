"""The api's front door, in front of every route: a request id, and the bearer token of
every `/api/v1` request, checked before a body is read.

FastAPI reads (and parses) a request's body before it resolves a route's dependencies, so
a token check there would let anyone make the server read and parse a body first. Here a
request without a live token is answered 401 unread. (Bodies over the limit are refused
413 unread by FastAPI's own `max_body_size`, set in api/app.py.) Failed authentications are
logged with the source address, never with the token.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar

from anyio import to_thread
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.principal import Principal
from storage.catalogue import unit_repo
from storage.catalogue.tokens import authenticate

log = logging.getLogger(__name__)

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
"""The id of the request being served (in every answer as X-Request-ID, and in the log)."""

_API = re.compile(r"^/api/v1(/|$)")
_BEARER = re.compile(r"^Bearer +(\S+)\s*$", re.IGNORECASE)


class Gate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        REQUEST_ID.set(request_id)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        headers = Headers(scope=scope)
        if _API.match(scope["path"]):
            principal, status, why = await to_thread.run_sync(self._authenticate, scope, headers)
            if principal is None:
                client = scope.get("client")
                log.warning(
                    "request %s: authentication failed from %s for %s %s: %s",
                    request_id,
                    client[0] if client else "unknown address",
                    scope["method"],
                    scope["path"],
                    why,
                )
                extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
                await _answer(send_with_id, status, why, extra)
                return
            state["principal"] = principal
        await self.app(scope, receive, send_with_id)

    def _authenticate(self, scope: Scope, headers: Headers) -> tuple[Principal | None, int, str]:
        header = headers.get("authorization")
        if header is None:
            return None, 401, "missing bearer token: send `Authorization: Bearer TOKEN`"
        match = _BEARER.match(header)
        if match is None:
            return None, 401, "the Authorization header must be `Bearer TOKEN`"
        factory: sessionmaker[Session] = scope["app"].state.session_factory
        try:
            with factory() as session:
                token = authenticate(session, match[1])
                principal = (
                    Principal.of(
                        token,
                        unit_repo.units_under(session, token.unit_id) if token.unit_id else None,
                    )
                    if token is not None
                    else None
                )
        except SQLAlchemyError:
            log.exception("request %s: the catalogue could not check a token", REQUEST_ID.get())
            return None, 503, "the catalogue is unavailable, try again later"
        if principal is None:
            return None, 401, "invalid, expired or revoked bearer token"
        return principal, 200, ""


async def _answer(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
