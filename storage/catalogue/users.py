"""People who sign in to the pages: made, given a new password, disabled, and signed in
(rules/login.py for the lock-out and the password rules). Passwords are kept only as
argon2id hashes (argon2-cffi); every change and every sign-in, good or bad, is in the audit
trail in the transaction that makes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rules.login import Attempts, after_failure, locked, password_problem
from storage.catalogue import audit_repo, web_sessions
from storage.catalogue.audit_repo import Actor, AuditRecord, local_actor
from storage.catalogue.models import ApiToken, AuditOutcome, User, utc_now
from storage.catalogue.tokens import ALL_ROLES

PEOPLE_ROLES = tuple(r for r in ALL_ROLES if r not in ("station", "case_system"))
"""Roles a person may have (stations and the case-handling system use tokens)."""

_HASHER = PasswordHasher()
# Verified against when the user name is unknown, so that a wrong name takes as long as a
# wrong password and does not tell which names exist.
_DUMMY = _HASHER.hash("no such user: a password nobody has")


class UserError(ValueError):
    """A user that cannot be made or changed so; the message says why (in Chinese)."""


def _audit(session: Session, by: Actor, action: str, user: User, outcome: AuditOutcome,
           **detail: object) -> None:  # fmt: skip
    audit_repo.append(
        session,
        AuditRecord(actor=by, action=action, target=user.username, outcome=outcome,
                    detail={"role": user.role, "unit_id": user.unit_id, **detail}),
    )  # fmt: skip


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    unit_id: str | None = None,
    officer_id: str | None = None,
    name: str | None = None,
    by: Actor | None = None,
    must_change_password: bool = True,
) -> User:
    """Make a user and commit. The password is the maker's choice, so the person must set
    their own at first sign-in unless `must_change_password` is False (the demo's user).
    Raises UserError for a role people cannot have, an officer without an officer id, a
    password the rules refuse, or a name a user or a token already has."""
    if role not in PEOPLE_ROLES:
        raise UserError(f"角色 {role!r} 不能用于人员账号；可选：{', '.join(PEOPLE_ROLES)}")
    if role == "officer" and not officer_id:
        raise UserError("民警账号只能查看本人的音视频：请给出 --officer-id")
    if (
        not username
        or len(username) > 64
        or not username.isprintable()
        or " " in username
        or (":" in username)
    ):
        raise UserError("用户名须为 1 至 64 个字符，不含空格和冒号")
    # Records name people by user name and tokens by token name: one name, one of them.
    if session.scalars(select(ApiToken.id).where(ApiToken.name == username)).first():
        raise UserError(f"已有接口令牌名为 {username!r}，请换一个用户名")
    problem = password_problem(password, username)
    if problem is not None:
        raise UserError(problem)
    now = utc_now()
    user = User(
        username=username, name=name, password_hash=_HASHER.hash(password), role=role,
        unit_id=unit_id, officer_id=officer_id, failed_logins=0, created_at=now,
        password_changed_at=now, must_change_password=must_change_password,
    )  # fmt: skip
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise UserError(f"用户名 {username!r} 已存在") from exc
    _audit(session, by or local_actor(), "user.create", user, AuditOutcome.OK, name=name)
    session.commit()
    return user


def find(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise UserError(f"没有用户 {username!r}（station user list 查看）")
    return user


def set_password(
    session: Session, username: str, password: str, *, by: Actor | None = None
) -> User:
    """Reset the user's password (lift a lock-out, end their sessions); commit. Someone else
    chose it, so the person must set their own at next sign-in. Raises UserError."""
    user = find(session, username)
    _new_password(user, password)
    user.failed_logins, user.locked_until = 0, None
    user.must_change_password = True
    web_sessions.end_all_of_user(session, user.user_id)
    _audit(session, by or local_actor(), "user.passwd", user, AuditOutcome.OK)
    session.commit()
    return user


def change_own_password(
    session: Session, user: User, current: str, new: str, *, by: Actor, keep_session: str
) -> None:
    """The person sets their own password, giving the current one; commit. Their other
    sessions end, the one asking (`keep_session`, its cookie) stays. A wrong current
    password counts towards the lock-out. Raises UserError."""
    now = utc_now()
    if not _verify(user.password_hash, current):
        after = after_failure(Attempts(user.failed_logins, user.locked_until), now)
        user.failed_logins, user.locked_until = after.failed, after.locked_until
        _audit(session, by, "user.passwd_own", user, AuditOutcome.DENIED, why="wrong password")
        session.commit()
        raise UserError("当前密码不对")
    if _verify(user.password_hash, new):
        raise UserError("新密码不能与当前密码相同")
    _new_password(user, new)
    user.must_change_password = False
    web_sessions.end_all_of_user(session, user.user_id, keep=keep_session)
    _audit(session, by, "user.passwd_own", user, AuditOutcome.OK)
    session.commit()


def _new_password(user: User, password: str) -> None:
    problem = password_problem(password, user.username)
    if problem is not None:
        raise UserError(problem)
    user.password_hash = _HASHER.hash(password)
    user.password_changed_at = utc_now()


def disable(session: Session, username: str, *, by: Actor | None = None) -> User:
    """Disable the user: no more sign-ins, their sessions ended; commit. Disabling twice changes nothing."""
    user = find(session, username)
    if user.disabled_at is None:
        user.disabled_at = utc_now()
        web_sessions.end_all_of_user(session, user.user_id)
        _audit(session, by or local_actor(), "user.disable", user, AuditOutcome.OK)
        session.commit()
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    client: str | None,
    now: datetime | None = None,
) -> User | None:
    """The user when `password` is theirs and the account is neither disabled nor locked
    out, else None; every attempt is in the audit trail, and a wrong password counts
    towards the lock-out (committed either way)."""
    now = now or utc_now()
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        _verify(_DUMMY, password)
        audit_repo.append(session, AuditRecord(
            actor=Actor(name="anonymous", client=client), action="user.sign_in",
            target=username[:200], outcome=AuditOutcome.DENIED, detail={"why": "unknown user"},
        ))  # fmt: skip
        session.commit()
        return None
    who = Actor(name=user.username, role=user.role, unit_id=user.unit_id, client=client)
    attempts = Attempts(user.failed_logins, user.locked_until)
    why = None
    # Verified whatever else holds: a disabled or locked account answers as slowly as any.
    right = _verify(user.password_hash, password)
    if user.disabled_at is not None:
        why = "disabled"
    elif locked(attempts, now):
        why = "locked out"
    elif not right:
        why = "wrong password"
        after = after_failure(attempts, now)
        user.failed_logins, user.locked_until = after.failed, after.locked_until
    else:
        user.failed_logins, user.locked_until = 0, None
    outcome = AuditOutcome.OK if why is None else AuditOutcome.DENIED
    _audit(session, who, "user.sign_in", user, outcome, **({"why": why} if why else {}))
    session.commit()
    return user if why is None else None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
