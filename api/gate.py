"""The api's front door, in front of every route: a request id, the bearer token (or the
page session's cookie) of every `/api/v1` request, checked before a body is read, and the audit trail entry of every
`/api/v1` request, written before its answer is sent.

FastAPI reads (and parses) a request's body before it resolves a route's dependencies, so
a token check there would let anyone make the server read and parse a body first. Here a
request without a live token is answered 401 unread. (Bodies over the limit are refused
413 unread by FastAPI's own `max_body_size`, set in api/app.py.) Failed authentications are
logged and audited with the source address, never with the token.

Auditing (storage/catalogue/audit_repo.py): each request's entry names the token, the route
(`GET /api/v1/media/{media_id}/original`), what it acted on (the last path parameter), its
query (a search's filters), the byte range asked for and sent, and the status answered. It
is appended when the answer starts, so a read that cannot be audited is not served: it is
answered 503 instead and no byte of it leaves. A change (any other method) is committed by
its route before that; should its entry then fail to append, the change stands, the
custody chain of the media it touched has it, and the failure is logged and counted
(`api_audit_failures_total`) for IT to look into.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anyio import to_thread
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.principal import Principal, actor_of
from storage.catalogue import audit_repo, unit_repo, web_sessions
from storage.catalogue.audit_repo import Actor, AuditRecord
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import AuditOutcome
from storage.catalogue.tokens import authenticate

log = logging.getLogger(__name__)

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
"""The id of the request being served (in every answer as X-Request-ID, and in the log)."""


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being served (its X-Request-ID) on every log record, for
    logs written as JSON."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


_API = re.compile(r"^/api/v1(/|$)")
_BEARER = re.compile(r"^Bearer +(\S+)\s*$", re.IGNORECASE)

SIGN_IN_PATH = "/api/v1/sign-in"
PUBLIC_PATHS = frozenset({"/api/v1/keys", SIGN_IN_PATH})
"""Under /api/v1 but served to anyone, unauthenticated and not audited here: the public
keys that check signatures, and signing in (which audits every attempt itself)."""

SESSION_COOKIE = "evidence_session"
"""The cookie of a signed-in page session (storage/catalogue/web_sessions.py)."""
CSRF_HEADER = "x-csrf-token"
SESSION_PATH = "/api/v1/session"
PASSWORD_PATH = "/api/v1/session/password"
SIGN_OUT_PATH = "/api/v1/sign-out"
_UNTIL_CHANGED = frozenset({SESSION_PATH, PASSWORD_PATH, SIGN_OUT_PATH})
"""All a person may do while the password someone else gave them is unchanged."""


@dataclass(frozen=True)
class PageSession:
    """The page session a request came with (request.state.page_session), for the routes
    that answer about it."""

    secret: str
    csrf_token: str
    created_at: datetime
    by_password: bool
    must_change_password: bool


_READS = frozenset({"GET", "HEAD"})
_CLIENT_MAX = 64
_QUERY_VALUE_MAX = 500


def audit_failures(registry: CollectorRegistry) -> Counter:
    """The counter of requests whose entry could not be written, in the app's registry."""
    counter = Counter(
        "api_audit_failures",
        "Requests whose audit trail entry could not be written (reads among them refused)",
        ["kind"],
        registry=registry,
    )
    for kind in ("read", "change"):  # at 0 from the start: increase() sees the first one
        counter.labels(kind)
    return counter


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
        if not _API.match(scope["path"]) or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send_with_id)
            return
        principal, status, why = await to_thread.run_sync(self._authenticate, scope, headers)
        if principal is None:
            client = client_of(scope)
            log.warning(
                "request %s: authentication failed from %s for %s %s: %s",
                request_id,
                client or "unknown address",
                scope["method"],
                scope["path"],
                why,
            )
            if status != 503:  # the catalogue that would take the entry is down
                await self._audit(scope, headers, None, status, {"why": why}, failure_ok=True)
            extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            await _answer(send_with_id, status, why, extra)
            return
        state["principal"] = principal
        await self._serve_audited(scope, receive, send_with_id, headers, principal)

    async def _serve_audited(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, principal: Principal
    ) -> None:
        started = False

        async def send_audited(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                answer = Headers(raw=message["headers"])
                sent = {
                    "range": answer.get("content-range"),
                    "bytes": _int_or_none(answer.get("content-length")),
                }
                audited = await self._audit(scope, headers, principal, message["status"], sent)
                if not audited and scope["method"] in _READS:
                    await _answer(
                        send,
                        503,
                        "this request could not be written to the audit trail, so it was "
                        f"not served; try again later (request id {REQUEST_ID.get()})",
                    )
                    raise _Refused  # stops the route's stream: not one more byte is read
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except _Refused:
            return
        except Exception:
            if not started:  # answered 500 further out, past this gate
                await self._audit(scope, headers, principal, 500, {}, failure_ok=True)
            raise

    async def _audit(
        self,
        scope: Scope,
        headers: Headers,
        principal: Principal | None,
        status: int,
        facts: dict[str, Any],
        *,
        failure_ok: bool = False,
    ) -> bool:
        """Append the request's entry; False when it could not be."""
        record = _record(scope, headers, principal, status, facts)
        factory: sessionmaker[Session] = scope["app"].state.session_factory
        try:
            await to_thread.run_sync(audit_repo.append_alone, factory, record)
            return True
        except CatalogueError:
            kind = "read" if scope["method"] in _READS else "change"
            scope["app"].state.audit_failures.labels(kind).inc()
            log.exception(
                "request %s: %s %s could not be audited%s",
                REQUEST_ID.get(),
                scope["method"],
                scope["path"],
                "" if failure_ok or kind == "read" else " (the change was made)",
            )
            return False

    def _authenticate(self, scope: Scope, headers: Headers) -> tuple[Principal | None, int, str]:
        header = headers.get("authorization")
        cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        if header is None and cookie:
            return self._authenticate_session(scope, headers, cookie)
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
                    Principal.of(token, _units(session, token.unit_id))
                    if token is not None
                    else None
                )
        except SQLAlchemyError:
            log.exception("request %s: the catalogue could not check a token", REQUEST_ID.get())
            return None, 503, "the catalogue is unavailable, try again later"
        if principal is None:
            return None, 401, "invalid, expired or revoked bearer token"
        return principal, 200, ""

    def _authenticate_session(
        self, scope: Scope, headers: Headers, cookie: str
    ) -> tuple[Principal | None, int, str]:
        """The person (or token) of a page session. A change must also carry the session's
        CSRF token in X-CSRF-Token: the cookie is SameSite=Strict already, and this second
        check holds where a browser does not honour that."""
        factory: sessionmaker[Session] = scope["app"].state.session_factory
        try:
            with factory() as session:
                found = web_sessions.find(session, cookie)
                if found is None:
                    return (
                        None,
                        401,
                        "the session has ended (signed out or timed out): sign in again",
                    )
                # As bytes: a header may hold any octet, which compare_digest refuses in a str.
                if scope["method"] not in _READS and not secrets.compare_digest(
                    headers.get(CSRF_HEADER, "").encode("latin-1"),
                    found.row.csrf_token.encode(),
                ):
                    return None, 403, "a change from a page must carry its session's X-CSRF-Token"
                user, token = found.user, found.token
                if user is not None:
                    if user.must_change_password and scope["path"] not in _UNTIL_CHANGED:
                        return None, 403, (
                            "the password this account was given must be changed first "
                            f"(POST {PASSWORD_PATH})"
                        )  # fmt: skip
                    principal = Principal.of_user(user, _units(session, user.unit_id))
                else:
                    assert token is not None  # a session speaks for one or the other
                    principal = Principal.of(token, _units(session, token.unit_id))
                scope["state"]["page_session"] = PageSession(
                    secret=cookie,
                    csrf_token=found.row.csrf_token,
                    created_at=found.row.created_at,
                    by_password=user is not None,
                    must_change_password=user is not None and user.must_change_password,
                )
        except SQLAlchemyError:
            log.exception("request %s: the catalogue could not check a session", REQUEST_ID.get())
            return None, 503, "the catalogue is unavailable, try again later"
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


class _Refused(Exception):
    """A read's answer was replaced by a 503 (its audit entry could not be written)."""


def _units(session: Session, unit_id: str | None) -> frozenset[str] | None:
    """What one bound to `unit_id` sees: that unit and those below it; None: every unit."""
    return unit_repo.units_under(session, unit_id) if unit_id else None


def client_of(scope: Scope) -> str | None:
    """The caller's address (behind a reverse proxy: the proxy's, unless the server is run to
    trust its forwarding headers)."""
    client = scope.get("client")
    return str(client[0])[:_CLIENT_MAX] if client else None


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _record(
    scope: Scope,
    headers: Headers,
    principal: Principal | None,
    status: int,
    facts: dict[str, Any],
) -> AuditRecord:
    """The audit entry of a request answered `status`."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    params: dict[str, Any] = scope.get("path_params") or {}
    query = QueryParams(scope.get("query_string", b""))
    detail: dict[str, Any] = {
        **({"path_params": params} if len(params) > 1 else {}),
        **(
            {"query": {k: [v[:_QUERY_VALUE_MAX] for v in query.getlist(k)] for k in query}}
            if query
            else {}
        ),
        **({"requested_range": headers["range"]} if "range" in headers else {}),
        **{k: v for k, v in facts.items() if v is not None},
    }
    actor = (
        Actor(
            name=actor_of(principal),
            token_id=principal.token_id,
            role=principal.role,
            unit_id=principal.unit_id,
            client=client_of(scope),
        )
        if principal is not None
        else Actor(name="anonymous", client=client_of(scope))
    )
    return AuditRecord(
        actor=actor,
        action=f"{scope['method']} {template or scope['path']}",
        target=str(list(params.values())[-1]) if params else None,
        outcome=(
            AuditOutcome.OK
            if status < 400
            else AuditOutcome.DENIED
            if status in (401, 403)
            else AuditOutcome.FAILED
        ),
        status=status,
        detail=detail,
        request_id=scope.get("state", {}).get("request_id"),
    )
