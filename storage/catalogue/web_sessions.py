"""Signed-in page sessions: opened at sign-in, found again by their cookie, ended at sign-out
or by rules/web_session.py's limits.

The cookie carries 256 random bits and only their SHA-256 is kept, hashed as tokens are. Each
request is checked against the user or token behind the session as it is now: a disabled
user, a revoked token, a lifted role end the session's use at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from rules.token_life import is_live
from rules.web_session import live, needs_touch
from storage.catalogue import audit_repo
from storage.catalogue.audit_repo import Actor, AuditRecord
from storage.catalogue.models import ApiToken, AuditOutcome, User, WebSession, utc_now
from storage.catalogue.tokens import actor_name, authenticate, hash_token


@dataclass(frozen=True)
class Opened:
    secret: str
    """The cookie's value: shown to the browser once, never stored."""
    csrf_token: str
    """Sent back by the pages in X-CSRF-Token on every change."""


def sign_in_with_token(
    session: Session, token: str, *, client: str | None, now: datetime | None = None
) -> tuple[Opened, ApiToken] | None:
    """A session for the live api token `token`, with its audit entry (committed); None, and
    the refusal audited, for an unknown, expired or revoked token or a station's (stations
    upload, they do not use the pages)."""
    now = now or utc_now()
    found = authenticate(session, token, now)
    if found is None or found.role == "station":
        audit_repo.append(session, AuditRecord(
            actor=Actor(name="anonymous", client=client), action="session.open", target=None,
            outcome=AuditOutcome.DENIED,
            detail={"why": "station token" if found else "invalid token"},
        ))  # fmt: skip
        session.commit()
        return None
    opened = open_session(session, token=found, now=now)
    audit_repo.append(session, AuditRecord(
        actor=Actor(name=actor_name(found.name, found.id), token_id=found.id, role=found.role,
                    unit_id=found.unit_id, client=client),
        action="session.open", target=found.id, outcome=AuditOutcome.OK,
    ))  # fmt: skip
    session.commit()
    return opened, found


@dataclass(frozen=True)
class Found:
    row: WebSession
    user: User | None
    token: ApiToken | None


def open_session(
    session: Session,
    *,
    user: User | None = None,
    token: ApiToken | None = None,
    now: datetime | None = None,
) -> Opened:
    """A new session for `user` or `token` (added, not committed: the caller commits it with
    its audit entry)."""
    if (user is None) == (token is None):
        raise ValueError("a session speaks for one user or one token")
    now = now or utc_now()
    opened = Opened(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    session.add(
        WebSession(
            session_hash=hash_token(opened.secret),
            user_id=user.user_id if user else None,
            token_id=token.id if token else None,
            csrf_token=opened.csrf_token,
            created_at=now,
            last_seen_at=now,
        )
    )
    return opened


def find(session: Session, secret: str, now: datetime | None = None) -> Found | None:
    """The live session whose cookie is `secret`, with its user or token as they are now, or
    None (unknown, ended, timed out, or its user disabled or token no longer live). Records
    the time of use (committed) at most once a minute."""
    now = now or utc_now()
    row = session.get(WebSession, hash_token(secret))
    if row is None or not live(
        created_at=row.created_at, last_seen_at=row.last_seen_at, ended_at=row.ended_at, now=now
    ):
        return None
    user = session.get(User, row.user_id) if row.user_id else None
    token = session.get(ApiToken, row.token_id) if row.token_id else None
    if user is not None and user.disabled_at is not None:
        return None
    if token is not None and not is_live(
        revoked_at=token.revoked_at, expires_at=token.expires_at, now=now
    ):
        return None
    if user is None and token is None:
        return None
    if needs_touch(row.last_seen_at, now):
        row.last_seen_at = now
        session.commit()
    return Found(row, user, token)


def end(session: Session, secret: str, now: datetime | None = None) -> None:
    """End the session whose cookie is `secret` (committed); ending it twice changes nothing."""
    session.execute(
        update(WebSession)
        .where(WebSession.session_hash == hash_token(secret), WebSession.ended_at.is_(None))
        .values(ended_at=now or utc_now())
    )
    session.commit()


def end_all_of_user(
    session: Session, user_id: str, *, keep: str | None = None, now: datetime | None = None
) -> None:
    """End every open session of the user but the one whose cookie is `keep` (not
    committed): a new password or a disabled account signs them out everywhere else."""
    ending = update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    if keep is not None:
        ending = ending.where(WebSession.session_hash != hash_token(keep))
    session.execute(ending.values(ended_at=now or utc_now()))
