"""Signing in to the pages: `POST /api/v1/sign-in` with a user name and password (or an api
token), `GET /api/v1/session` (who is signed in, and the CSRF token the pages send with each
change), `POST /api/v1/session/password` (a person sets their own password), and
`POST /api/v1/sign-out`.

The session lives in the catalogue (storage/catalogue/web_sessions.py) and its cookie is
HttpOnly and SameSite=Strict, Secure when served over HTTPS (behind a reverse proxy: when
the server trusts its X-Forwarded-Proto). api/gate.py turns the cookie into the same
Principal a token gives: the pages call the same api with the same scope, and every request
they make is in the audit trail as the person's.

Sign-in takes JSON only: a form on another site cannot send that without the browser
asking this api first, so nobody can be signed in to an account of someone else's choosing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.custody_log import audit_actor
from api.deps import CurrentToken, SessionDep, roles, secured_router
from api.gate import (
    PASSWORD_PATH,
    SESSION_COOKIE,
    SESSION_PATH,
    SIGN_IN_PATH,
    SIGN_OUT_PATH,
    PageSession,
    client_of,
)
from api.principal import Principal, actor_of
from api.problems import COMMON_ERRORS
from api.schemas import UtcTime
from rules.web_session import IDLE, LIFETIME
from storage.catalogue import users, web_sessions
from storage.catalogue.models import User, utc_now
from storage.catalogue.tokens import ALL_ROLES
from wire.text import Code

sign_in_router = APIRouter(tags=["session"])
router = secured_router("/api/v1", ["session"])

_WRONG = "用户名或密码错误（连续 5 次错误，账号将锁定 15 分钟；忘记密码请找信息通信部门）"
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Code | None = None
    password: Password | None = None
    token: Annotated[str | None, Field(max_length=200, description="an api token instead")] = None

    @model_validator(mode="after")
    def one_way(self) -> SignIn:
        by_password = self.username is not None or self.password is not None
        if (self.token is not None) == by_password or (
            by_password and (self.username is None or self.password is None)
        ):
            raise ValueError("give `username` and `password`, or a `token`")
        return self


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class SessionOut(BaseModel):
    username: str = Field(description="the user name, or the token's name")
    via: str = Field(description="`password`, `token`, or `bearer` (no page session)")
    role: str
    unit_id: str | None
    officer_id: str | None
    csrf_token: str | None = Field(
        description="send it as X-CSRF-Token with every change; null for a bearer token"
    )
    must_change_password: bool = Field(
        default=False,
        description=f"the password was set by someone else: change it ({PASSWORD_PATH}) first",
    )
    idle_minutes: int = int(IDLE.total_seconds() // 60)
    ends_by: UtcTime | None = Field(description="when the session ends however it is used")


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
    client = client_of(request.scope)
    now = utc_now()
    if body.token is not None:
        signed = web_sessions.sign_in_with_token(session, body.token, client=client, now=now)
        if signed is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="令牌无效、已过期或已吊销（采集工作站令牌不能登录页面）",
            )
        opened, token = signed
        out = _out(Principal.of(token, None), "token", opened.csrf_token, now)
    else:
        assert body.username is not None and body.password is not None
        user = users.sign_in(session, body.username, body.password, client=client, now=now)
        if user is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=_WRONG)
        opened = web_sessions.open_session(session, user=user, now=now)
        session.commit()
        out = _out(Principal.of_user(user, None), "password", opened.csrf_token, now,
                   must_change=user.must_change_password)  # fmt: skip
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return out


def _page_session(request: Request) -> PageSession | None:
    found = getattr(request.state, "page_session", None)
    return found if isinstance(found, PageSession) else None


@router.get(SESSION_PATH.removeprefix("/api/v1"), **roles(*ALL_ROLES))
def who(request: Request, token: CurrentToken) -> SessionOut:
    """Who is calling; for a page session also its CSRF token."""
    page = _page_session(request)
    if page is None:
        return _out(token, "bearer", None, None)
    return _out(token, "password" if page.by_password else "token", page.csrf_token,
                page.created_at, must_change=page.must_change_password)  # fmt: skip


@router.post(
    PASSWORD_PATH.removeprefix("/api/v1"),
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "not a person signed in with a password"}},
    **roles(*ALL_ROLES),
)
def change_password(
    body: PasswordChange, request: Request, session: SessionDep, token: CurrentToken
) -> None:
    """The signed-in person sets their own password, giving the current one; their other
    sessions end."""
    page = _page_session(request)
    user = session.get(User, token.id) if page is not None and page.by_password else None
    if page is None or user is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="只有用密码登录的人员可以在这里修改自己的密码"
        )
    try:
        users.change_own_password(session, user, body.current_password, body.new_password,
                                  by=audit_actor(request, token), keep_session=page.secret)  # fmt: skip
    except users.UserError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


@router.post(SIGN_OUT_PATH.removeprefix("/api/v1"), status_code=status.HTTP_204_NO_CONTENT,
             **roles(*ALL_ROLES))  # fmt: skip
def sign_out(request: Request, response: Response, session: SessionDep) -> None:
    """End this page session and clear its cookie."""
    page = _page_session(request)
    if page is not None:
        web_sessions.end(session, page.secret)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def _out(who: Principal, via: str, csrf: str | None, created: datetime | None, *,
         must_change: bool = False) -> SessionOut:  # fmt: skip
    return SessionOut(
        username=actor_of(who),
        via=via,
        role=who.role,
        unit_id=who.unit_id,
        officer_id=who.officer_id,
        csrf_token=csrf,
        must_change_password=must_change,
        ends_by=created + LIFETIME if created else None,
    )
