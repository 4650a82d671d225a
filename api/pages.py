"""The pages for people (`/ui/`): static HTML, CSS and JavaScript shipped in this package
(api/web/), nothing fetched from elsewhere. They hold no data: every page asks the same
`/api/v1` as any other client, with the session cookie of api/routes/session.py, so a page
shows exactly what the api lets that person see and every request it makes is audited.

Pages only ever write what they receive with textContent (api/web/common.js), and the
Content-Security-Policy admits only this server's own scripts and styles, none inline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from api.custody_report import EVENT_NAMES
from api.deps import (
    CASE_WRITERS,
    DEVICE_ADMINS,
    MEDIA_READERS,
    REVIEWERS,
    SUPERVISORS,
    UNIT_ADMINS,
    UNIT_READERS,
)
from api.routes.compliance import ACTIVITY_NAMES, REQUIREMENT_NAMES, STATUS_NAMES
from api.routes.equipment import KIND_NAMES, PER_NAMES
from api.routes.people import ACCOUNT_ADMINS
from api.routes.stations import STATION_READERS
from api.routes.warnings import KIND_NAMES as WARNING_NAMES
from storage.catalogue.users import PEOPLE_ROLES

WEB_DIR = Path(__file__).with_name("web")

ROLE_NAMES = {
    "station": "采集工作站", "officer": "民警", "reviewer": "案管审核", "supervisor": "督察/法制",
    "it_admin": "信息通信管理", "case_system": "执法办案系统", "admin": "系统管理员",
}  # fmt: skip

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "media-src 'self'; connect-src 'self'; font-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class _Pages(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(_HEADERS)
        return response


def labels() -> dict[str, Any]:
    """The Chinese names the pages show for the api's codes, from where the reports keep
    them, and which roles may do what, from the routes' own role lists (one table each, not
    a copy in JavaScript): a page offers only what the api would let its reader do."""
    return {
        "access": {
            "media": MEDIA_READERS,
            "reviewers": REVIEWERS,
            "cases": CASE_WRITERS,
            "supervisors": SUPERVISORS,
            "unit_readers": UNIT_READERS,
            "unit_admins": UNIT_ADMINS,
            "device_admins": DEVICE_ADMINS,
            "station_readers": STATION_READERS,
            "account_admins": ACCOUNT_ADMINS,
            "people_roles": PEOPLE_ROLES,
        },  # fmt: skip
        "activity": ACTIVITY_NAMES,
        "status": STATUS_NAMES,
        "custody": EVENT_NAMES,
        "requirement": REQUIREMENT_NAMES,
        "role": ROLE_NAMES,
        "device_kind": KIND_NAMES,
        "warning": WARNING_NAMES,
        "per": PER_NAMES,
    }


def mount_pages(app: FastAPI) -> None:
    @app.get("/ui/labels.json", include_in_schema=False)
    def labels_json() -> Response:
        return JSONResponse(labels(), headers=_HEADERS)

    app.mount("/ui", _Pages(directory=WEB_DIR, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/")
