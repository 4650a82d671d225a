"""Api bearer tokens: made once, shown once, kept only as a SHA-256.

Tokens carry 256 random bits, so a plain SHA-256 is enough to keep them safe at rest (no
slow password hash needed), and looking the hash up by an index leaks nothing useful
through timing.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.catalogue.models import ApiToken

ALL_ROLES = ("station", "officer", "reviewer", "supervisor", "it_admin", "case_system", "admin")
"""Every role of CONTRACT.md."""

"""it_admin: IT administration (devices now; units, standards and tokens as they come),
never media content. An `officer` token must name its officer id."""

TOKEN_PREFIX = "st_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    *,
    role: str,
    unit_id: str | None = None,
    officer_id: str | None = None,
    name: str | None = None,
) -> str:
    """Create a token, commit it, and return its plaintext (shown once, never stored).

    Raises ValueError for a role that does not exist, or an officer token without its
    officer id.
    """
    if role not in ALL_ROLES:
        raise ValueError(f"there is no role {role!r}; roles: {', '.join(ALL_ROLES)}")
    if role == "officer" and not officer_id:
        raise ValueError("an officer token sees only its officer's media: give --officer-id")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=hash_token(token),
            role=role,
            unit_id=unit_id,
            officer_id=officer_id,
            name=name,
        )
    )
    session.commit()
    return token


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live (not revoked) token matching `token`, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return session.scalars(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    ).one_or_none()
