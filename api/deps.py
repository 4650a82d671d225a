"""What routes depend on: a catalogue session, the object store, the caller, and the role
check that every `/api/v1` route goes through.

Deny by default, by construction: routers under `/api/v1` are made by `secured_router`,
whose router-level dependency `authorize` admits a caller only when the matched route
names its role with `roles(...)`; a route that names none is served to nobody, and
`create_app` refuses to start when a `/api/v1` route lacks the check (`check_secured`).
Authentication itself happens before any of this, in api/gate.py, before a body is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request, status
from fastapi.routing import iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from api.gate import PUBLIC_PATHS
from api.principal import Principal
from api.problems import COMMON_ERRORS
from storage.catalogue.tokens import ALL_ROLES
from storage.object_store import ObjectStore

API_PREFIX = "/api/v1"
ROLES_KEY = "x-roles"

STATIONS = ("station", "admin")
"""May register media and report what it did at the dock."""
MEDIA_READERS = ("officer", "reviewer", "supervisor", "case_system", "admin")
"""May read media ("officer+"); what each sees is narrowed by api.scope."""
REVIEWERS = ("reviewer", "supervisor", "admin")
"""The case-management center ("reviewer+"): associates by hand, marks important, reads
custody; unit-scoped by api.scope."""
CASE_WRITERS = ("case_system", "reviewer", "supervisor", "admin")
"""May create or replace cases (the case-handling system, or reviewer+)."""
DEVICE_ADMINS = ("it_admin", "admin")
"""May register devices and read the registry (unit-scoped by api.scope)."""
DEVICE_LOOKUP = ("it_admin", "admin", "station")
"""May look devices up; a station only by serial (the route checks)."""
UNIT_ADMINS = ("it_admin", "admin")
"""May file units in the tree (unit-scoped: api/routes/units.py)."""
UNIT_READERS = ("it_admin", "supervisor", "admin")
RULE_SETTERS = ("supervisor", "admin")
"""May set a unit's recording rules (of its units)."""
SUPERVISORS = ("supervisor", "admin")
"""督察/法制 ("supervisor+"): the compliance report of their units."""
WARNING_READERS = ("supervisor", "it_admin", "admin")
"""Early warnings: supervisors for what went unrecorded, IT for devices and stations."""


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

MediaId = Annotated[str, Path(min_length=1, max_length=36, description="a medium's id")]
RecordingId = Annotated[str, Path(min_length=1, max_length=36, description="a recording's id")]
UnitId = Annotated[str, Path(min_length=1, max_length=128, description="a unit's id")]

# Only documents the scheme in the OpenAPI; api/gate.py has checked the header already.
_bearer = HTTPBearer(auto_error=False, description="a token from `station token create`")


def current_token(request: Request) -> Principal:
    """The caller, as api/gate.py authenticated it (401 if the gate did not run)."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token: send `Authorization: Bearer TOKEN`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentToken = Annotated[Principal, Depends(current_token)]


def roles(*names: str) -> dict[str, Any]:
    """The keyword arguments by which a route names the roles it admits:
    `@router.get(path, **roles(*MEDIA_READERS))`. They are shown in the OpenAPI as x-roles."""
    unknown = set(names) - set(ALL_ROLES)
    if not names or unknown:
        raise ValueError(f"roles must be some of {ALL_ROLES}, got {names}")
    return {"openapi_extra": {ROLES_KEY: sorted(frozenset(names))}}


def admitted_roles(route: object) -> frozenset[str]:
    extra = getattr(route, "openapi_extra", None) or {}
    return frozenset(extra.get(ROLES_KEY, ()))


def authorize(
    request: Request,
    token: CurrentToken,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """403 unless the matched route admits the caller's role."""
    allowed = admitted_roles(request.scope.get("route"))
    if token.role not in allowed:
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"role {token.role!r} may not do this"
            + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""),
        )


def known_query(request: Request) -> None:
    """422 for a query parameter the route does not take: a mistyped filter
    (`?caseno=...`) must not silently answer as if there were none."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    known = {field.alias for field in dependant.query_params} if dependant is not None else set()
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"unknown query parameter {unknown[0]!r}; this operation takes "
            + (", ".join(sorted(known)) if known else "none"),
        )


def secured_router(prefix: str, tags: list[str | Enum]) -> APIRouter:
    """A router under /api/v1 whose every route is authenticated and role-checked, and
    refuses query parameters it does not take."""
    if not prefix.startswith(API_PREFIX):
        raise ValueError(f"a secured router lives under {API_PREFIX}, not {prefix!r}")
    return APIRouter(
        prefix=prefix,
        tags=tags,
        dependencies=[Depends(authorize), Depends(known_query)],
        responses=COMMON_ERRORS,
    )


def check_secured(app: FastAPI) -> None:
    """Raise RuntimeError naming each route under /api/v1 that would be served without the
    role check or that admits no role."""
    bad = []
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith(API_PREFIX) or path in PUBLIC_PATHS:
            continue
        dependant = getattr(route, "dependant", None)
        checked = dependant is not None and any(
            dep.call is authorize for dep in dependant.dependencies
        )
        if not checked or not admitted_roles(route.original_route):
            bad.append(f"{sorted(route.methods or ())} {path}")
    if bad:
        raise RuntimeError(f"routes without a role check: {'; '.join(bad)}")
