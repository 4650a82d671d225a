"""What routes depend on: a catalogue session, the object store, the caller's token.

Authorisation is deny-by-default: every `/api/v1` route names the roles it admits with
`require_roles(...)`, and any other role (or a route that forgets to say) gets nobody in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from storage.catalogue.models import ApiToken
from storage.catalogue.tokens import authenticate
from storage.object_store import ObjectStore


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


def get_store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.store
    return store


# Closed when the route returns, before the response is sent: a download streaming for
# minutes must not hold a database connection (or, on PostgreSQL, an open transaction).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
StoreDep = Annotated[ObjectStore, Depends(get_store)]

_bearer = HTTPBearer(auto_error=False, description="a token from `station token create`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def current_token(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The caller's live token; 401 when there is none or it is unknown or revoked."""
    if credentials is None:
        raise _unauthorized("missing bearer token: send `Authorization: Bearer TOKEN`")
    token = authenticate(session, credentials.credentials)
    if token is None:
        raise _unauthorized("invalid or revoked bearer token")
    return token


CurrentToken = Annotated[ApiToken, Depends(current_token)]


def require_roles(*roles: str) -> Callable[[ApiToken], ApiToken]:
    """A dependency admitting only tokens of `roles` (403 for any other role)."""
    allowed = frozenset(roles)

    def check(token: CurrentToken) -> ApiToken:
        if token.role not in allowed:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"role {token.role!r} may not do this; "
                f"allowed: {', '.join(sorted(allowed))}",
            )
        return token

    return check


StationToken = Annotated[ApiToken, Depends(require_roles("station", "admin"))]
"""A caller that may register media."""

MediaReader = Annotated[
    ApiToken,
    Depends(require_roles("officer", "reviewer", "supervisor", "case_system", "admin")),
]
"""A caller that may read media ("officer+"); what it sees is narrowed by api.scope."""

Reviewer = Annotated[ApiToken, Depends(require_roles("reviewer", "supervisor", "admin"))]
"""A caller of the case-management center ("reviewer+"): associates media with cases by
hand, marks media important; unit-scoped by api.scope."""

CaseWriter = Annotated[
    ApiToken, Depends(require_roles("case_system", "reviewer", "supervisor", "admin"))
]
"""A caller that may create or replace cases (the case-handling system, or reviewer+)."""

DeviceAdmin = Annotated[ApiToken, Depends(require_roles("it_admin", "admin"))]
"""A caller that may register devices and see the registry."""

DeviceLookup = Annotated[ApiToken, Depends(require_roles("it_admin", "admin", "station"))]
"""A caller that may look devices up; a station only by serial (the route checks)."""

CustodyReader = Annotated[ApiToken, Depends(require_roles("reviewer", "supervisor", "admin"))]
"""A caller that may read a medium's chain of custody (reviewer+, unit-scoped)."""
