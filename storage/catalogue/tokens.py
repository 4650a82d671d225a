"""Api bearer tokens: made once, shown once, kept only as a SHA-256.

Tokens carry 256 random bits, so a plain SHA-256 is enough to keep them safe at rest (no
slow password hash needed), and looking the hash up by an index leaks nothing useful
through timing. How long one lives is rules/token_life.py.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rules.token_life import expiry, is_live
from storage.catalogue import audit_repo
from storage.catalogue.audit_repo import Actor, AuditRecord, local_actor
from storage.catalogue.models import ApiToken, AuditOutcome, User, new_id, utc_now

ALL_ROLES = ("station", "officer", "reviewer", "supervisor", "it_admin", "case_system", "admin")
"""Every role of CONTRACT.md.

it_admin: IT administration (devices now; units, standards and tokens as they come),
never media content. An `officer` token must name its officer id, a `station` token its
station id."""

TOKEN_PREFIX = "st_"


class UnknownToken(LookupError):
    """No token has that id or name."""


class AmbiguousToken(LookupError):
    """More than one token has that name."""


def actor_name(name: str | None, token_id: str) -> str:
    """How a token is named in the records: its name, or `token:ID` when it has none."""
    return name or f"token:{token_id}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    *,
    role: str,
    unit_id: str | None = None,
    officer_id: str | None = None,
    station_id: str | None = None,
    name: str | None = None,
    expires_in: timedelta | None = None,
    now: datetime | None = None,
    by: Actor | None = None,
) -> str:
    """Create a token, commit it with its audit entry (made `by`, else by the local command
    line), and return its plaintext (shown once, never stored).

    It expires after `expires_in`, or by rules/token_life.py's default for its role.
    Raises ValueError for a role that does not exist, an officer token without its officer
    id, or a station token without its station id.
    """
    if role not in ALL_ROLES:
        raise ValueError(f"there is no role {role!r}; roles: {', '.join(ALL_ROLES)}")
    if role == "officer" and not officer_id:
        raise ValueError("an officer token sees only its officer's media: give --officer-id")
    if role == "station" and not station_id:
        raise ValueError(
            "a station token speaks for one station: give --station-id (the agent's STATION_ID)"
        )
    if role != "station" and station_id:
        raise ValueError("only a station token names a station (--station-id)")
    # Records name tokens by token name and people by user name: one name, one of them.
    if name and session.scalars(select(User.user_id).where(User.username == name)).first():
        raise ValueError(f"a user is named {name!r}: give the token another name")
    now = now or utc_now()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=new_id(),
        token_hash=hash_token(token),
        role=role,
        unit_id=unit_id,
        officer_id=officer_id,
        station_id=station_id,
        name=name,
        created_at=now,
        expires_at=expiry(role, now, expires_in),
    )
    session.add(row)
    audit_repo.append(
        session,
        AuditRecord(
            actor=by or local_actor(),
            action="token.create",
            target=row.id,
            outcome=AuditOutcome.OK,
            detail={
                "role": role,
                "unit_id": unit_id,
                "officer_id": officer_id,
                "station_id": station_id,
                "name": name,
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            },
        ),
        now=now,
    )
    session.commit()
    return token


def authenticate(session: Session, token: str, now: datetime | None = None) -> ApiToken | None:
    """The live (neither revoked nor expired) token matching `token`, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).one_or_none()
    if found is None or not is_live(
        revoked_at=found.revoked_at, expires_at=found.expires_at, now=now or utc_now()
    ):
        return None
    return found


def list_tokens(session: Session) -> Sequence[ApiToken]:
    """Every token, revoked and expired ones too, oldest first."""
    return session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)).all()


def revoke(
    session: Session, id_or_name: str, now: datetime | None = None, by: Actor | None = None
) -> ApiToken:
    """Revoke the token with this id, or the one token with this name; commit it with its
    audit entry (made `by`, else by the local command line). Revoking a revoked token
    changes nothing. Raises UnknownToken or AmbiguousToken."""
    found = session.scalars(
        select(ApiToken).where(or_(ApiToken.id == id_or_name, ApiToken.name == id_or_name))
    ).all()
    by_id = [t for t in found if t.id == id_or_name]
    if by_id:
        found = by_id
    if not found:
        raise UnknownToken(f"no token has the id or name {id_or_name!r}: see `station token list`")
    if len(found) > 1:
        raise AmbiguousToken(
            f"{len(found)} tokens are named {id_or_name!r}: revoke one by its id "
            f"({', '.join(t.id for t in found)})"
        )
    token = found[0]
    if token.revoked_at is None:
        token.revoked_at = now or utc_now()
        audit_repo.append(
            session,
            AuditRecord(
                actor=by or local_actor(),
                action="token.revoke",
                target=token.id,
                outcome=AuditOutcome.OK,
                detail={"name": token.name, "role": token.role},
            ),
            now=token.revoked_at,
        )
        session.commit()
    return token
