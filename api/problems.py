"""Error answers: one shape for every error the api sends, as documented in the OpenAPI.

FastAPI's `{"detail": ...}`: a sentence saying what to do, or for a request that failed
validation the list of what was wrong. Every answer carries `X-Request-ID` (api/gate.py);
the log has the same id with the detail a client must not see (SQL, paths, store names).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel

from api.gate import REQUEST_ID

log = logging.getLogger(__name__)


class Problem(BaseModel):
    detail: str | list[dict[str, Any]]


def _documented(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _documented("the body could not be read (not UTF-8, or not JSON at all)"),
    401: _documented("no token, or an unknown, expired or revoked one"),
    403: _documented("the token's role, unit or station does not allow it"),
    413: _documented("the request body is larger than the api accepts"),
    422: _documented("the request is invalid: what was wrong, by field"),
}
"""Every /api/v1 operation may answer these."""


def not_found(description: str) -> dict[int | str, dict[str, Any]]:
    return {404: _documented(description)}


def unavailable(what: str, exc: BaseException) -> HTTPException:
    """503 for a catalogue or store failure: the client is told to try again, the log gets
    the failure itself (it may hold SQL, paths or the store's address) under the request id."""
    request_id = REQUEST_ID.get()
    log.error("request %s: %s: %s", request_id, what, exc, exc_info=exc)
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"{what}; try again later (request id {request_id})",
    )
