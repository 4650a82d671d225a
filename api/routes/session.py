"""Signing in to the pages: `POST /api/v1/sign-in` with a user name and password (or an api
token), `GET /api/v1/session` (who is signed in, and the CSRF token the pages send with each
change), `POST /api/v1/sign-out`.

The session lives in the catalogue (storage/catalogue/web_sessions.py) and its cookie is
HttpOnly and SameSite=Strict, Secure when served over HTTPS. api/gate.py turns the cookie
into the same Principal a token gives: the pages call the same api with the same scope,
and every request they make is in the audit trail as the person's.

Sign-in takes JSON only: a form on another site cannot send that without the browser
asking this api first, so nobody can be signed in to an account of someone else's choosing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field, model_validator

from api.deps import CurrentToken, SessionDep, roles, secured_router
from api.gate import SESSION_COOKIE, SIGN_IN_PATH
from api.principal import Principal, actor_of
from api.problems import COMMON_ERRORS
from api.schemas import UtcTime
from rules.web_session import IDLE, LIFETIME
from storage.catalogue import audit_repo, users, web_sessions
from storage.catalogue.audit_repo import Actor, AuditRecord
from storage.catalogue.models import AuditOutcome, utc_now
from storage.catalogue.tokens import ALL_ROLES, authenticate

sign_in_router = APIRouter(tags=["session"])
router = secured_router("/api/v1", ["session"])

_WRONG = "用户名或密码错误（连续 5 次错误，账号将锁定 15 分钟；忘记密码请找信息通信部门）"


class SignIn(BaseModel):
    username: Annotated[str | None, Field(max_length=64)] = None
    password: Annotated[str | None, Field(max_length=1024)] = None
    token: Annotated[str | None, Field(max_length=200, description="an api token instead")] = None

    @model_validator(mode="after")
    def one_way(self) -> SignIn:
        by_password = self.username is not None or self.password is not None
        if (self.token is not None) == by_password or (
            by_password and (self.username is None or self.password is None)
        ):
            raise ValueError("give `username` and `password`, or a `token`")
        return self


class SessionOut(BaseModel):
    username: str = Field(description="the user name, or the token's name")
    via: str = Field(description="`password` or `token`")
    role: str
    unit_id: str | None
    officer_id: str | None
    csrf_token: str | None = Field(
        description="send it as X-CSRF-Token with every change; null for a bearer token"
    )
    idle_minutes: int = int(IDLE.total_seconds() // 60)
    ends_by: UtcTime | None = Field(description="when the session ends however it is used")


def _client(request: Request) -> str | None:
    return request.client.host[:64] if request.client else None


@sign_in_router.post(
    SIGN_IN_PATH,
    responses={
        400: COMMON_ERRORS[400],
        413: COMMON_ERRORS[413],
        401: {"description": "wrong user name or password, or a locked or disabled account"},
    },
)
def sign_in(body: SignIn, request: Request, response: Response, session: SessionDep) -> SessionOut:
    """Open a page session and set its cookie."""
    client = _client(request)
    now = utc_now()
    if body.token is not None:
        token = authenticate(session, body.token, now)
        if token is None or token.role == "station":
            audit_repo.append(session, AuditRecord(
                actor=Actor(name="anonymous", client=client), action="session.open",
                target=None, outcome=AuditOutcome.DENIED,
                detail={"why": "station token" if token else "invalid token"},
            ))  # fmt: skip
            session.commit()
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="令牌无效、已过期或已吊销（工作站令牌不能登录页面）",
            )
        opened = web_sessions.open_session(session, token=token, client=client, now=now)
        principal = Principal.of(token, None)
        audit_repo.append(session, AuditRecord(
            actor=Actor(name=actor_of(principal), token_id=token.id, role=token.role,
                        unit_id=token.unit_id, client=client),
            action="session.open", target=token.id, outcome=AuditOutcome.OK,
        ))  # fmt: skip
        session.commit()
        out = _out(principal, "token", opened.csrf_token, now)
    else:
        assert body.username is not None and body.password is not None
        user = users.sign_in(session, body.username, body.password, client=client, now=now)
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=_WRONG)
        opened = web_sessions.open_session(session, user=user, client=client, now=now)
        session.commit()
        out = _out(Principal.of_user(user, None), "password", opened.csrf_token, now)
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return out


@router.get("/session", **roles(*ALL_ROLES))
def who(request: Request, session: SessionDep, token: CurrentToken) -> SessionOut:
    """Who is calling; for a page session also its CSRF token."""
    secret = request.cookies.get(SESSION_COOKIE)
    found = web_sessions.find(session, secret) if secret else None
    if found is None or "authorization" in request.headers:
        return _out(token, "token", None, None)
    via = "password" if found.user is not None else "token"
    return _out(token, via, found.row.csrf_token, found.row.created_at)


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT, **roles(*ALL_ROLES))
def sign_out(request: Request, response: Response, session: SessionDep) -> None:
    """End this page session and clear its cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        web_sessions.end(session, secret)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def _out(who: Principal, via: str, csrf: str | None, created: datetime | None) -> SessionOut:
    return SessionOut(
        username=actor_of(who),
        via=via,
        role=who.role,
        unit_id=who.unit_id,
        officer_id=who.officer_id,
        csrf_token=csrf,
        ends_by=created + LIFETIME if created else None,
    )
