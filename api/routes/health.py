"""Liveness and readiness, for load balancers and monitoring (no auth, not audited):

- `/healthz`: the process answers; it touches nothing, so a slow catalogue never makes a
  load balancer restart a healthy process.
- `/readyz`: the catalogue and the object store both answer, so this replica can serve;
  503 naming what does not (a replica that cannot reach either is taken out of rotation).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import SessionDep, StoreDep
from api.schemas import Health
from storage.errors import StorageError

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    responses={503: {"description": "the catalogue or the object store does not answer"}},
)
def readyz(session: SessionDep, store: StoreDep) -> JSONResponse:
    parts = {"catalogue": "ok", "store": "ok"}
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("readyz: the catalogue does not answer: %s", exc)
        parts["catalogue"] = "unreachable"
    try:
        store.check_reachable()
    except StorageError as exc:
        log.warning("readyz: the object store does not answer: %s", exc)
        parts["store"] = "unreachable"
    ready = all(v == "ok" for v in parts.values())
    return JSONResponse({"status": "ready" if ready else "not ready", **parts},
                        status_code=200 if ready else 503)  # fmt: skip
