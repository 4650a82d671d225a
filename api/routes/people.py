"""Accounts, for IT in the pages: the people who sign in (`/api/v1/users`) and the api
tokens (`/api/v1/tokens`). The same as `station user ...` and `station token ...`, with
rules/grants.py keeping each granter within what they hold, and each change audited under
the granter's name in the transaction that makes it.

A unit-bound it_admin sees and changes only accounts of its units; an account outside them
does not exist for it (404)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.custody_log import audit_actor
from api.deps import CurrentToken, SessionDep, roles, secured_router
from api.principal import Principal
from api.problems import not_found
from api.schemas import UtcTime
from rules.grants import grant_problem
from storage.catalogue import tokens, users
from storage.catalogue.models import ApiToken, User
from wire.text import Code, Id, plain

ACCOUNT_ADMINS = ("it_admin", "admin")
_NO_USER = not_found("no such user in the caller's units")

users_router: APIRouter = secured_router("/api/v1/users", ["accounts"])
tokens_router: APIRouter = secured_router("/api/v1/tokens", ["accounts"])

Username = Annotated[str, Path(min_length=1, max_length=64), AfterValidator(plain)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: Code
    password: Password
    role: str
    unit_id: Id | None = None
    officer_id: Id | None = None
    name: Annotated[str | None, Field(max_length=200)] = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password


class UserOut(BaseModel):
    username: str
    name: str | None
    role: str
    unit_id: str | None
    officer_id: str | None
    disabled: bool
    must_change_password: bool
    locked_until: UtcTime | None
    created_at: UtcTime
    password_changed_at: UtcTime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            username=user.username, name=user.name, role=user.role, unit_id=user.unit_id,
            officer_id=user.officer_id, disabled=user.disabled_at is not None,
            must_change_password=user.must_change_password,
            locked_until=user.locked_until, created_at=user.created_at,
            password_changed_at=user.password_changed_at,
        )  # fmt: skip


class UsersOut(BaseModel):
    items: list[UserOut]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: str
    name: Annotated[str | None, Field(max_length=200)] = None
    unit_id: Id | None = None
    officer_id: Id | None = None
    station_id: Id | None = None
    expires_in_days: Annotated[int | None, Field(ge=1, le=3650)] = Field(
        default=None, description="null: the role's default life (rules/token_life.py)"
    )


class TokenOut(BaseModel):
    id: str
    name: str | None
    role: str
    unit_id: str | None
    officer_id: str | None
    station_id: str | None
    created_at: UtcTime
    expires_at: UtcTime | None
    revoked_at: UtcTime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id, name=token.name, role=token.role, unit_id=token.unit_id,
            officer_id=token.officer_id, station_id=token.station_id,
            created_at=token.created_at, expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )  # fmt: skip


class TokensOut(BaseModel):
    items: list[TokenOut]


class NewTokenOut(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


def _check_grant(who: Principal, role: str, unit_id: str | None) -> None:
    problem = grant_problem(
        granter_role=who.role, granter_units=who.units, role=role, unit_id=unit_id
    )
    if problem is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=problem)


def _sees(who: Principal, unit_id: str | None, role: str) -> bool:
    """Whether an account of `role` in `unit_id` exists for `who`: those of its units, and
    admins only for an admin."""
    return who.sees_unit(unit_id) and (role != "admin" or who.role == "admin")


def _user_or_404(session: Session, who: Principal, username: str) -> User:
    try:
        user = users.find(session, username)
    except users.UserError:
        user = None
    if user is None or not _sees(who, user.unit_id, user.role):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"没有用户 {username!r}")
    return user


@users_router.get("", **roles(*ACCOUNT_ADMINS))
def list_users(session: SessionDep, token: CurrentToken) -> UsersOut:
    return UsersOut(
        items=[UserOut.of(u) for u in users.list_users(session) if _sees(token, u.unit_id, u.role)]
    )


@users_router.post("", status_code=status.HTTP_201_CREATED, **roles(*ACCOUNT_ADMINS))
def create_user(
    body: UserIn, request: Request, session: SessionDep, token: CurrentToken
) -> UserOut:
    _check_grant(token, body.role, body.unit_id)
    try:
        user = users.create_user(
            session, username=body.username, password=body.password, role=body.role,
            unit_id=body.unit_id, officer_id=body.officer_id, name=body.name,
            by=audit_actor(request, token),
        )  # fmt: skip
    except users.UserError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return UserOut.of(user)


@users_router.post("/{username}/password", responses=_NO_USER, **roles(*ACCOUNT_ADMINS))
def set_password(
    username: Username, body: PasswordIn, request: Request, session: SessionDep,
    token: CurrentToken,
) -> UserOut:  # fmt: skip
    """A new password (the person's sessions end; a lock-out is lifted)."""
    _user_or_404(session, token, username)
    try:
        user = users.set_password(session, username, body.password, by=audit_actor(request, token))
    except users.UserError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return UserOut.of(user)


@users_router.post("/{username}/disable", responses=_NO_USER, **roles(*ACCOUNT_ADMINS))
def disable_user(
    username: Username, request: Request, session: SessionDep, token: CurrentToken
) -> UserOut:
    _user_or_404(session, token, username)
    return UserOut.of(users.disable(session, username, by=audit_actor(request, token)))


def _visible_tokens(session: Session, who: Principal) -> list[ApiToken]:
    return [t for t in tokens.list_tokens(session) if _sees(who, t.unit_id, t.role)]


@tokens_router.get("", **roles(*ACCOUNT_ADMINS))
def list_tokens(session: SessionDep, token: CurrentToken) -> TokensOut:
    """Every token of the caller's units, revoked and expired ones too (never the secret)."""
    return TokensOut(items=[TokenOut.of(t) for t in _visible_tokens(session, token)])


@tokens_router.post("", status_code=status.HTTP_201_CREATED, **roles(*ACCOUNT_ADMINS))
def create_token(
    body: TokenIn, request: Request, session: SessionDep, token: CurrentToken
) -> NewTokenOut:
    _check_grant(token, body.role, body.unit_id)
    try:
        secret = tokens.create_token(
            session, role=body.role, unit_id=body.unit_id, officer_id=body.officer_id,
            station_id=body.station_id, name=body.name,
            expires_in=timedelta(days=body.expires_in_days) if body.expires_in_days else None,
            by=audit_actor(request, token),
        )  # fmt: skip
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    made = tokens.authenticate(session, secret)
    assert made is not None
    return NewTokenOut(token=secret, **TokenOut.of(made).model_dump())


@tokens_router.post("/{token_id}/revoke", responses=not_found("no such token in the caller's units"),
                    **roles(*ACCOUNT_ADMINS))  # fmt: skip
def revoke_token(
    token_id: Annotated[str, Path(min_length=1, max_length=36)],
    request: Request,
    session: SessionDep,
    token: CurrentToken,
) -> TokenOut:
    if token_id not in {t.id for t in _visible_tokens(session, token)}:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"没有令牌 {token_id!r}")
    return TokenOut.of(tokens.revoke(session, token_id, by=audit_actor(request, token)))
