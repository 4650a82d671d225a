"""Signing in with a password: when an account is locked out, and what makes a password
acceptable. Pure: the catalogue keeps the counts (storage/catalogue/users.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_FAILURES = 5
"""Wrong passwords in a row before the account is locked."""
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class Attempts:
    failed: int
    locked_until: datetime | None


def locked(attempts: Attempts, now: datetime) -> bool:
    return attempts.locked_until is not None and now < attempts.locked_until


def after_failure(attempts: Attempts, now: datetime) -> Attempts:
    """One more wrong password: at MAX_FAILURES in a row the account locks for LOCKOUT, and
    the count starts again once that has run out."""
    failed = attempts.failed + 1
    if failed >= MAX_FAILURES:
        return Attempts(0, now + LOCKOUT)
    return Attempts(failed, attempts.locked_until)


def password_problem(password: str, username: str) -> str | None:
    """Why `password` is refused (in Chinese, for the person setting it), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    if username.lower() in password.lower():
        return "密码不能包含用户名"
    kinds = sum(
        any(test(c) for c in password)
        for test in (str.isdigit, str.islower, str.isupper, lambda c: not c.isalnum())
    )
    if kinds < 3:
        return "密码须包含数字、小写字母、大写字母、符号中的至少三类"
    return None
