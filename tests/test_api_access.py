"""Access that cannot leak (issue 9): deny by default by construction, the role x endpoint x
own/other-unit matrix, and two units' scenarios an attacker would try.

The world: units U1 and U2, each with a registered camera of its officer, a station, two
segments of one recording with a merged proxy, and a case that links them. Every token but
admin's is bound to U1; "own" targets U1's objects, "other" U2's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.deps import check_secured
from api.gate import PUBLIC_PATHS
from storage.catalogue.db import session_scope
from storage.catalogue.models import Case, Device, Media
from storage.catalogue.tokens import create_token, revoke
from storage.object_store import merged_proxy_key
from tests.ingest_records import T0
from tests.test_api_media import Api, serve_api

ROLES = ("station", "officer", "reviewer", "supervisor", "it_admin", "case_system", "admin")
OK = "ok"  # 200 or 201


@pytest.fixture
def api(tmp_path: Path, local_store_url: str) -> Iterator[Api]:
    # The matrix is about the api's decisions, not the catalogue's dialect: SQLite only.
    yield from serve_api(Api, f"sqlite:///{tmp_path / 'access.db'}", local_store_url, tmp_path)


@dataclass
class Unit:
    unit: str
    device: str
    serial: str
    officer: str
    station: str
    station_token: str = ""
    media: list[dict[str, Any]] = field(default_factory=list)
    recording: str = ""
    merged_key: str = ""
    case_no: str = ""


@dataclass
class World:
    api: Api
    units: dict[str, Unit]
    tokens: dict[str, str]

    def target(self, side: str) -> Unit:
        return self.units["U1" if side == "own" else "U2"]


def _put_device(api: Api, unit: Unit, token: str | None = None) -> Any:
    body = {
        "kind": "body_camera",
        "serial": unit.serial,
        "unit_id": unit.unit,
        "officer_id": unit.officer,
        "status": "active",
    }
    return api.client.put(
        f"/api/v1/devices/{unit.device}", json=body, headers=api.auth(token or api.admin)
    )


def _unit_body(parent: str | None, name: str = "某某派出所") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "police_station",
        "parent_id": parent,
        "officer_count": 40,
        "on_duty_officer_count": 12,
    }


def _case_body(unit: Unit) -> dict[str, Any]:
    return {
        "title": f"案件 {unit.unit}",
        "unit_id": unit.unit,
        "events": [
            {
                "event_id": "E1",
                "activity": "dispatch_110",
                "officer_ids": [unit.officer],
                "start": T0.isoformat(),
                "end": (T0 + timedelta(minutes=3)).isoformat(),
            }
        ],
    }


def _recording_body(unit: Unit) -> dict[str, Any]:
    first, second = unit.media
    return {
        "station_id": unit.station,
        "device_id": unit.device,
        "parts": [{"media_id": m["id"], "sha256": m["sha256"]} for m in unit.media],
        "joins": [{"before": first["id"], "after": second["id"], "gap_s": 0.0}],
        "merged_proxy_key": unit.merged_key,
        "merged_proxy_content_type": "video/mp4",
        "merge_method": "stream_copy",
    }


def build_world(api: Api) -> World:
    units = {
        "U1": Unit("U1", "BC-1", "SN-1", "O1", "dock-1", station_token=api.station),
        "U2": Unit("U2", "BC-2", "SN-2", "O2", "dock-2"),
    }
    units["U2"].station_token = api.token("station", unit_id="U2", station_id="dock-2")
    for unit in units.values():
        response = api.client.put(
            f"/api/v1/units/{unit.unit}", json=_unit_body(None), headers=api.auth(api.admin)
        )
        assert response.status_code == 201, response.text
        assert _put_device(api, unit).status_code == 201
        for n in range(2):
            record = api.stored_record(
                os.urandom(4096),
                proxy=os.urandom(2048),
                thumbnail=b"\xff\xd8jpeg" + os.urandom(8),
                device_id=unit.device,
                officer_id=unit.officer,
                station_id=unit.station,
                original_name=f"{unit.device}_{n}.MP4",
                original_path=f"DCIM/{unit.device}_{n}.MP4",
                recorded_start=T0 + timedelta(minutes=n),
            )
            response = api.ingest(record, token=unit.station_token)
            assert response.status_code == 201, response.text
            unit.media.append(response.json())
        merged = os.urandom(3000)
        key = merged_proxy_key(hashlib.sha256(merged).hexdigest(), "video/mp4")
        api.upload(key, merged, "video/mp4")
        unit.recording, unit.merged_key = f"rec-{unit.unit}", key
        response = api.client.put(
            f"/api/v1/recordings/{unit.recording}",
            json=_recording_body(unit),
            headers=api.auth(unit.station_token),
        )
        assert response.status_code == 201, response.text
        unit.case_no = f"C-{unit.unit}"
        response = api.client.put(
            f"/api/v1/cases/{unit.case_no}", json=_case_body(unit), headers=api.auth(api.admin)
        )
        assert response.status_code == 201, response.text
        assert set(response.json()["media_ids"]) == {m["id"] for m in unit.media}, response.json()
    tokens = {
        "station": api.station,
        "officer": api.token("officer", unit_id="U1", officer_id="O1"),
        "reviewer": api.token("reviewer", unit_id="U1"),
        "supervisor": api.token("supervisor", unit_id="U1"),
        "it_admin": api.token("it_admin", unit_id="U1"),
        "case_system": api.token("case_system", unit_id="U1"),
        "admin": api.admin,
    }
    return World(api, units, tokens)


# -- the matrix ---------------------------------------------------------------------------

Request = Callable[[World, str, str], Any]
"""(world, role, "own" or "other") -> the response."""


def _call(method: str, path: Callable[[Unit], str], body: Callable[[Unit], Any] | None = None,
          params: Callable[[Unit], dict[str, str]] | None = None,
          headers: dict[str, str] | None = None) -> Request:  # fmt: skip
    def request(world: World, role: str, side: str) -> Any:
        unit = world.target(side)
        kwargs: dict[str, Any] = {
            "headers": {**world.api.auth(world.tokens[role]), **(headers or {})}
        }
        if body is not None:
            kwargs["json"] = body(unit)
        if params is not None:
            kwargs["params"] = params(unit)
        return world.api.client.request(method, path(unit), **kwargs)

    return request


def _m(unit: Unit) -> str:
    return f"/api/v1/media/{unit.media[0]['id']}"


def _wipe(unit: Unit) -> dict[str, Any]:
    medium = unit.media[0]
    return {
        "event": "wiped_from_device",
        "at": (T0 + timedelta(hours=2)).isoformat(),
        "device_id": unit.device,
        "path": medium["original_name"],
        "sha256_verified": medium["sha256"],
        "station_id": unit.station,
    }


def _ingest_again(unit: Unit) -> dict[str, Any]:
    """A registration by the calling station of `unit`'s first medium again (a retry)."""
    medium = unit.media[0]
    return {
        "sha256": medium["sha256"],
        "size_bytes": medium["size_bytes"],
        "kind": "video",
        "original_name": medium["original_name"],
        "original_path": f"DCIM/{medium['original_name']}",
        "device_id": unit.device,
        "officer_id": unit.officer,
        "station_id": unit.station,
        "playable": True,
        "original_key": f"originals/{medium['sha256']}",
        "file_mtime": T0.isoformat(),
        "staged_at": T0.isoformat(),
    }


MEDIA_READ = {"station": 403, "officer": (200, 404), "reviewer": (200, 404),
              "supervisor": (200, 404), "it_admin": 403, "case_system": (200, 404),
              "admin": 200}  # fmt: skip
REVIEW = {"station": 403, "officer": 403, "reviewer": (200, 404), "supervisor": (200, 404),
          "it_admin": 403, "case_system": 403, "admin": 200}  # fmt: skip
STATION_ONLY_OWN_404 = {"station": (200, 404), "officer": 403, "reviewer": 403,
                        "supervisor": 403, "it_admin": 403, "case_system": 403, "admin": OK}  # fmt: skip
CASES = {"station": 403, "officer": 403, "reviewer": (OK, 403), "supervisor": (OK, 403),
         "it_admin": 403, "case_system": (OK, 403), "admin": OK}  # fmt: skip
CASE_REVIEW = {"station": 403, "officer": 403, "reviewer": (200, 403),
               "supervisor": (200, 403), "it_admin": 403, "case_system": 403, "admin": 200}  # fmt: skip
DEVICES = {"station": 403, "officer": 403, "reviewer": 403, "supervisor": 403,
           "it_admin": (200, 404), "case_system": 403, "admin": 200}  # fmt: skip


ACCOUNTS = {**dict.fromkeys(ROLES, 403), "it_admin": 200, "admin": 200}
ACCOUNTS_INVALID = {**ACCOUNTS, "it_admin": 422, "admin": 422}
ACCOUNTS_NONE = {**ACCOUNTS, "it_admin": 404, "admin": 404}


RULES = {"station": 403, "officer": 403, "reviewer": 403, "supervisor": (200, 404),
         "it_admin": 403, "case_system": 403, "admin": 200}  # fmt: skip


def _associate_first(world: World, unit: Unit) -> None:
    """Put back the link the dissociation cells take away."""
    response = world.api.client.post(
        f"/api/v1/cases/{unit.case_no}/media",
        json={"media_ids": [unit.media[0]["id"]], "reason": "restored by the test"},
        headers=world.api.auth(world.api.admin),
    )
    assert response.status_code == 200, response.text


MATRIX: dict[tuple[str, str], tuple[Request, dict[str, Any]]] = {
    ("GET", "/api/v1/media"): (
        _call("GET", lambda u: "/api/v1/media", params=lambda u: {"unit_id": u.unit}),
        {**MEDIA_READ, "officer": 200, "reviewer": 200, "supervisor": 200, "case_system": 200},
    ),
    ("GET", "/api/v1/media/{media_id}"): (_call("GET", _m), MEDIA_READ),
    ("PUT", "/api/v1/media/{media_id}/important"): (
        _call(
            "PUT",
            lambda u: f"{_m(u)}/important",
            body=lambda u: {"important": True, "reason": "重点"},
        ),  # fmt: skip
        REVIEW,
    ),
    ("GET", "/api/v1/media/{media_id}/custody/report"): (
        _call("GET", lambda u: f"{_m(u)}/custody/report"),
        REVIEW,
    ),
    ("GET", "/api/v1/media/{media_id}/receipts"): (
        _call("GET", lambda u: f"{_m(u)}/receipts"),
        MEDIA_READ,
    ),
    ("PUT", "/api/v1/media/{media_id}/hold"): (
        _call("PUT", lambda u: f"{_m(u)}/hold", body=lambda u: {"hold": False, "reason": "核对"}),
        REVIEW,
    ),
    ("GET", "/api/v1/cases/{case_no}/export"): (
        _call("GET", lambda u: f"/api/v1/cases/{u.case_no}/export"),
        CASE_REVIEW,
    ),
    ("PUT", "/api/v1/cases/{case_no}/hold"): (
        _call(
            "PUT",
            lambda u: f"/api/v1/cases/{u.case_no}/hold",
            body=lambda u: {"hold": False, "reason": "核对"},
        ),
        CASE_REVIEW,
    ),
    # An empty body: refused by role (403) before it is read, else invalid (422).
    ("POST", "/api/v1/media/{media_id}/deletion-requests"): (
        _call("POST", lambda u: f"{_m(u)}/deletion-requests", body=lambda u: {}),
        {**REVIEW, "reviewer": 422, "supervisor": 422, "admin": 422},
    ),
    ("GET", "/api/v1/deletion-requests"): (
        _call("GET", lambda u: "/api/v1/deletion-requests"),
        {**REVIEW, "reviewer": 200, "supervisor": 200},
    ),
    ("POST", "/api/v1/deletion-requests/{request_id}/approve"): (
        _call(
            "POST",
            lambda u: "/api/v1/deletion-requests/none/approve",
            body=lambda u: {"reason": "同意"},
        ),
        {**RULES, "supervisor": 404, "admin": 404},
    ),
    ("POST", "/api/v1/deletion-requests/{request_id}/reject"): (
        _call(
            "POST",
            lambda u: "/api/v1/deletion-requests/none/reject",
            body=lambda u: {"reason": "不同意"},
        ),
        {**REVIEW, "reviewer": 404, "supervisor": 404, "admin": 404},
    ),
    # Bodies that are no receipt and no key: what matters here is who gets past the role.
    ("POST", "/api/v1/receipts"): (
        _call("POST", lambda u: "/api/v1/receipts", body=lambda u: {}),
        {**STATION_ONLY_OWN_404, "station": 409, "admin": 422},
    ),
    ("PUT", "/api/v1/stations/{station_id}/key"): (
        _call(
            "PUT",
            lambda u: f"/api/v1/stations/{u.station}/key",
            body=lambda u: {"public_key_pem": "not a key"},
        ),
        {**STATION_ONLY_OWN_404, "station": (422, 403), "admin": 422},
    ),
    ("GET", "/api/v1/media/{media_id}/original"): (
        _call("GET", lambda u: f"{_m(u)}/original"),
        MEDIA_READ,
    ),
    ("HEAD", "/api/v1/media/{media_id}/original"): (
        _call("HEAD", lambda u: f"{_m(u)}/original"),
        MEDIA_READ,
    ),
    ("GET", "/api/v1/media/{media_id}/proxy"): (
        _call("GET", lambda u: f"{_m(u)}/proxy"),
        MEDIA_READ,
    ),
    ("HEAD", "/api/v1/media/{media_id}/proxy"): (
        _call("HEAD", lambda u: f"{_m(u)}/proxy"),
        MEDIA_READ,
    ),
    ("GET", "/api/v1/media/{media_id}/renditions/{name}"): (
        _call("GET", lambda u: f"{_m(u)}/renditions/h264"),
        MEDIA_READ,
    ),
    ("HEAD", "/api/v1/media/{media_id}/renditions/{name}"): (
        _call("HEAD", lambda u: f"{_m(u)}/renditions/h264"),
        MEDIA_READ,
    ),
    ("GET", "/api/v1/media/{media_id}/thumbnail"): (
        _call("GET", lambda u: f"{_m(u)}/thumbnail"),
        MEDIA_READ,
    ),
    ("GET", "/api/v1/media/{media_id}/custody"): (
        _call("GET", lambda u: f"{_m(u)}/custody"),
        REVIEW,
    ),
    ("POST", "/api/v1/media/{media_id}/custody"): (
        _call("POST", lambda u: f"{_m(u)}/custody", body=_wipe),
        {**STATION_ONLY_OWN_404, "station": (OK, 404)},
    ),
    ("PUT", "/api/v1/media/{media_id}/derived"): (
        _call(
            "PUT",
            lambda u: f"{_m(u)}/derived",
            body=lambda u: {"proxy_status": "ready", "renditions": [], "thumbnail": True},
        ),  # fmt: skip
        STATION_ONLY_OWN_404,
    ),
    ("POST", "/api/v1/ingest"): (
        _call("POST", lambda u: "/api/v1/ingest", body=_ingest_again),
        {**STATION_ONLY_OWN_404, "station": (200, 403)},
    ),
    ("PUT", "/api/v1/recordings/{recording_id}"): (
        _call(
            "PUT",
            lambda u: f"/api/v1/recordings/{u.recording}",
            body=lambda u: {**_recording_body(u), "station_id": "dock-1"},
        ),
        {**STATION_ONLY_OWN_404, "station": (200, 404)},
    ),
    ("GET", "/api/v1/recordings/{recording_id}"): (
        _call("GET", lambda u: f"/api/v1/recordings/{u.recording}"),
        MEDIA_READ,
    ),
    ("GET", "/api/v1/recordings/{recording_id}/proxy"): (
        _call("GET", lambda u: f"/api/v1/recordings/{u.recording}/proxy"),
        MEDIA_READ,
    ),
    ("HEAD", "/api/v1/recordings/{recording_id}/proxy"): (
        _call("HEAD", lambda u: f"/api/v1/recordings/{u.recording}/proxy"),
        MEDIA_READ,
    ),
    ("PUT", "/api/v1/cases/{case_no}"): (
        _call("PUT", lambda u: f"/api/v1/cases/{u.case_no}", body=_case_body),
        CASES,
    ),
    ("GET", "/api/v1/cases/{case_no}"): (
        _call("GET", lambda u: f"/api/v1/cases/{u.case_no}"),
        {**CASES, "reviewer": (200, 403), "supervisor": (200, 403), "case_system": (200, 403)},
    ),
    ("POST", "/api/v1/cases/{case_no}/media"): (
        _call(
            "POST",
            lambda u: f"/api/v1/cases/{u.case_no}/media",
            body=lambda u: {"media_ids": [u.media[0]["id"]], "reason": "人工关联"},
        ),  # fmt: skip
        CASE_REVIEW,
    ),
    ("DELETE", "/api/v1/cases/{case_no}/media/{media_id}"): (
        _call(
            "DELETE",
            lambda u: f"/api/v1/cases/{u.case_no}/media/{u.media[0]['id']}",
            params=lambda u: {"reason": "与案件无关"},
        ),  # fmt: skip
        CASE_REVIEW,
    ),
    ("GET", "/api/v1/devices"): (
        _call("GET", lambda u: "/api/v1/devices", params=lambda u: {"unit_id": u.unit}),
        {**DEVICES, "station": 403, "it_admin": (200, 403)},
    ),
    ("PUT", "/api/v1/units/{unit_id}"): (
        _call("PUT", lambda u: f"/api/v1/units/{u.unit}", body=lambda u: _unit_body(None)),
        {**DEVICES, "it_admin": (200, 404)},
    ),
    ("GET", "/api/v1/units"): (
        _call("GET", lambda u: "/api/v1/units"),
        {**DEVICES, "it_admin": 200, "supervisor": 200},
    ),
    ("GET", "/api/v1/units/{unit_id}"): (
        _call("GET", lambda u: f"/api/v1/units/{u.unit}"),
        {**DEVICES, "supervisor": (200, 404)},
    ),
    ("PUT", "/api/v1/units/{unit_id}/recording-rules"): (
        _call(
            "PUT",
            lambda u: f"/api/v1/units/{u.unit}/recording-rules",
            body=lambda u: {"deadline_s": 86400},
        ),  # fmt: skip
        RULES,
    ),
    ("GET", "/api/v1/units/{unit_id}/recording-rules"): (
        _call("GET", lambda u: f"/api/v1/units/{u.unit}/recording-rules"),
        RULES,
    ),
    ("GET", "/api/v1/compliance"): (
        _call(
            "GET",
            lambda u: "/api/v1/compliance",
            params=lambda u: {
                "unit_id": u.unit,
                "start": T0.isoformat(),
                "end": (T0 + timedelta(days=1)).isoformat(),
            },
        ),  # fmt: skip
        RULES,
    ),
    ("PUT", "/api/v1/units/{unit_id}/standards"): (
        _call(
            "PUT",
            lambda u: f"/api/v1/units/{u.unit}/standards",
            body=lambda u: {
                "standards": [{"device_kind": "body_camera", "per": "officer", "ratio": 1}]
            },
        ),  # fmt: skip
        {**DEVICES, "it_admin": (200, 404)},
    ),
    ("GET", "/api/v1/units/{unit_id}/standards"): (
        _call("GET", lambda u: f"/api/v1/units/{u.unit}/standards"),
        {**DEVICES, "supervisor": (200, 404)},
    ),
    ("GET", "/api/v1/units/{unit_id}/equipment"): (
        _call("GET", lambda u: f"/api/v1/units/{u.unit}/equipment"),
        {**DEVICES, "supervisor": (200, 404)},
    ),
    ("POST", "/api/v1/stations/{station_id}/heartbeat"): (
        _call(
            "POST",
            lambda u: f"/api/v1/stations/{u.station}/heartbeat",
            body=lambda u: {"online": True, "interval_s": 60},
        ),  # fmt: skip
        {
            "station": (200, 403),
            "officer": 403,
            "reviewer": 403,
            "supervisor": 403,
            "it_admin": 403,
            "case_system": 403,
            "admin": 200,
        },  # fmt: skip
    ),
    ("GET", "/api/v1/stations"): (
        _call("GET", lambda u: "/api/v1/stations"),
        {**DEVICES, "it_admin": 200, "supervisor": 200},
    ),
    ("GET", "/api/v1/interop/files"): (
        _call("GET", lambda u: "/api/v1/interop/files"),
        {**DEVICES, "it_admin": 403, "supervisor": 200, "case_system": 200},
    ),
    ("GET", "/api/v1/warnings"): (
        _call("GET", lambda u: "/api/v1/warnings", params=lambda u: {"unit_id": u.unit}),
        {**RULES, "it_admin": (200, 404)},
    ),
    ("PUT", "/api/v1/media/{media_id}/classification"): (
        _call(
            "PUT",
            lambda u: f"{_m(u)}/classification",
            body=lambda u: {"classification": "non_evidential", "reason": "误拍"},
        ),  # fmt: skip
        REVIEW,
    ),
    ("GET", "/api/v1/devices/unregistered"): (
        _call("GET", lambda u: "/api/v1/devices/unregistered"),
        {**DEVICES, "it_admin": 200},
    ),
    ("GET", "/api/v1/devices/{device_id}"): (
        _call("GET", lambda u: f"/api/v1/devices/{u.device}"),
        DEVICES,
    ),
    ("PUT", "/api/v1/devices/{device_id}"): (
        _call(
            "PUT",
            lambda u: f"/api/v1/devices/{u.device}",
            body=lambda u: {
                "kind": "body_camera",
                "serial": u.serial,
                "unit_id": u.unit,
                "officer_id": u.officer,
                "status": "active",
            },
        ),  # fmt: skip
        {**DEVICES, "it_admin": (200, 403)},
    ),
    ("GET", "/api/v1/audit"): (
        _call("GET", lambda u: "/api/v1/audit", params=lambda u: {"unit_id": u.unit}),
        RULES,
    ),
    ("GET", "/api/v1/audit/verify"): (
        _call("GET", lambda u: "/api/v1/audit/verify"),
        {**RULES, "supervisor": 200},
    ),
    # Page sessions: a bearer caller may ask who it is and sign out (nothing to end).
    ("GET", "/api/v1/session"): (
        _call("GET", lambda u: "/api/v1/session"),
        dict.fromkeys(ROLES, 200),
    ),
    ("POST", "/api/v1/sign-out"): (
        _call("POST", lambda u: "/api/v1/sign-out"),
        dict.fromkeys(ROLES, 204),
    ),
    # Only a person signed in with a password changes it there: a bearer caller gets 409.
    ("POST", "/api/v1/session/password"): (
        _call(
            "POST",
            lambda u: "/api/v1/session/password",
            body=lambda u: {"current_password": "x", "new_password": "Unused-Pass-1"},
        ),  # fmt: skip
        dict.fromkeys(ROLES, 409),
    ),
    # Public: signing in needs no token (an empty body is invalid for anyone).
    ("POST", "/api/v1/sign-in"): (
        _call("POST", lambda u: "/api/v1/sign-in", body=lambda u: {}),
        dict.fromkeys(ROLES, 422),
    ),
    # Accounts: IT's. Unit scope and what may be granted are tests/test_sessions.py's.
    ("GET", "/api/v1/users"): (_call("GET", lambda u: "/api/v1/users"), ACCOUNTS),
    ("POST", "/api/v1/users"): (
        _call("POST", lambda u: "/api/v1/users", body=lambda u: {}),
        ACCOUNTS_INVALID,
    ),
    ("POST", "/api/v1/users/{username}/password"): (
        _call(
            "POST",
            lambda u: f"/api/v1/users/nobody-{u.unit}/password",
            body=lambda u: {"password": "Unused-Pass-1"},
        ),  # fmt: skip
        ACCOUNTS_NONE,
    ),
    ("POST", "/api/v1/users/{username}/disable"): (
        _call("POST", lambda u: f"/api/v1/users/nobody-{u.unit}/disable"),
        ACCOUNTS_NONE,
    ),
    ("GET", "/api/v1/tokens"): (_call("GET", lambda u: "/api/v1/tokens"), ACCOUNTS),
    ("POST", "/api/v1/tokens"): (
        _call("POST", lambda u: "/api/v1/tokens", body=lambda u: {}),
        ACCOUNTS_INVALID,
    ),
    ("POST", "/api/v1/tokens/{token_id}/revoke"): (
        _call("POST", lambda u: f"/api/v1/tokens/none-{u.unit}/revoke"),
        ACCOUNTS_NONE,
    ),
    # Public: whoever checks a signature needs the keys (no token at all works too).
    ("GET", "/api/v1/keys"): (_call("GET", lambda u: "/api/v1/keys"), dict.fromkeys(ROLES, 200)),
}


def _api_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path and route.path.startswith("/api/v1")
        for method in route.methods or ()
    }


def test_every_api_route_is_role_checked_and_has_a_row_in_the_matrix(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    routes = _api_routes(app)
    assert routes == set(MATRIX), {
        "routes without a matrix row": sorted(routes - set(MATRIX)),
        "matrix rows without a route": sorted(set(MATRIX) - routes),
    }
    for route in iter_route_contexts(app.routes):
        if route.path and route.path.startswith("/api/v1") and route.path not in PUBLIC_PATHS:
            assert route.original_route.openapi_extra["x-roles"], route.path
    assert {"/api/v1/keys", "/api/v1/sign-in"} == PUBLIC_PATHS


def test_an_app_with_a_route_that_names_no_roles_refuses_to_start() -> None:
    app = FastAPI()
    plain = APIRouter(prefix="/api/v1/forgotten")

    @plain.get("")
    def forgotten() -> dict[str, str]:
        return {"leak": "everything"}

    app.include_router(plain)
    with pytest.raises(RuntimeError, match="/api/v1/forgotten"):
        check_secured(app)


def _expected(cell: Any, side: str) -> Any:
    return cell[0 if side == "own" else 1] if isinstance(cell, tuple) else cell


def test_role_by_endpoint_by_unit_matrix(api: Api) -> None:
    world = build_world(api)
    wrong = []
    for (method, path), (request, expectations) in MATRIX.items():
        assert set(expectations) == set(ROLES), (method, path)
        for role in ROLES:
            for side in ("own", "other"):
                if method == "DELETE":
                    _associate_first(world, world.target(side))
                want = _expected(expectations[role], side)
                got = request(world, role, side).status_code
                if not (got in (200, 201) if want == OK else got == want):
                    wrong.append(f"{method} {path} as {role} on {side} unit: {got}, want {want}")
    assert not wrong, "\n".join(wrong)

    # What a list answers with 200 holds nothing of the other unit.
    u2 = world.units["U2"]
    foreign = {m["id"] for m in u2.media} | {u2.device, u2.case_no}
    for role in ("officer", "reviewer", "supervisor", "case_system"):
        token = world.tokens[role]
        for params in ({}, {"unit_id": "U2"}, {"device_id": u2.device}, {"case_no": u2.case_no}):
            items = api.get("/api/v1/media", token=token, params=params).json()["items"]
            assert not {m["id"] for m in items} & foreign, (role, params)
    it_u1 = world.tokens["it_admin"]
    assert [d["device_id"] for d in api.get("/api/v1/devices", token=it_u1).json()["items"]] == [
        "BC-1"
    ]
    assert api.get("/api/v1/devices/unregistered", token=it_u1).json()["items"] == []


# -- tokens have a life -------------------------------------------------------------------


def test_expired_and_revoked_tokens_get_401_and_failures_are_logged_without_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with session_scope(api.database_url) as session:
        expired = create_token(
            session, role="reviewer", name="yesterday", now=datetime.now(UTC) - timedelta(hours=13)
        )
        fresh = create_token(session, role="reviewer", name="today")
        short = create_token(session, role="reviewer", name="short", expires_in=timedelta(hours=1))
    assert api.get("/api/v1/media", token=fresh).status_code == 200
    assert api.get("/api/v1/media", token=short).status_code == 200
    with caplog.at_level(logging.WARNING, logger="api.gate"):
        response = api.get("/api/v1/media", token=expired)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-request-id"]
    failure = [r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()]
    assert failure and "testclient" in failure[0] and expired not in failure[0]

    with session_scope(api.database_url) as session:
        revoke(session, "today")
    assert api.get("/api/v1/media", token=fresh).status_code == 401


def test_an_unauthenticated_body_is_never_read_and_a_large_one_gets_413(api: Api) -> None:
    # No token: 401 before FastAPI would parse (and answer 422 for) the broken body.
    response = api.client.post(
        "/api/v1/ingest", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    big = b"[" + b"0," * (600 * 1024) + b"0]"
    response = api.client.post(
        "/api/v1/ingest",
        content=big,
        headers={**api.auth(api.station), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


# -- two units: what an attacker tries ----------------------------------------------------


def test_a_pooled_camera_docked_by_two_units_never_joins_their_footage(api: Api) -> None:
    world = build_world(api)
    u1, u2 = world.units["U1"], world.units["U2"]
    # The U2 camera lent to U1: its next clip is filed under U1's officer by the dock.
    borrowed = api.ingested(
        device_id=u2.device, officer_id=u1.officer, station_id=u2.station,
        token=u2.station_token, recorded_start=T0 + timedelta(minutes=2),
    )  # fmt: skip
    parts = [u2.media[1], borrowed]
    body = {
        "station_id": u2.station,
        "device_id": u2.device,
        "parts": [{"media_id": m["id"], "sha256": m["sha256"]} for m in parts],
        "joins": [{"before": parts[0]["id"], "after": parts[1]["id"], "gap_s": 0.0}],
    }
    response = api.client.put(
        "/api/v1/recordings/mixed", json=body, headers=api.auth(u2.station_token)
    )
    assert response.status_code == 422 and "more than one officer" in response.text
    # A station cannot name another station's media as its parts either.
    stolen = {
        "station_id": u1.station,
        "device_id": u2.device,
        "parts": [{"media_id": m["id"], "sha256": m["sha256"]} for m in u2.media],
        "joins": [{"before": u2.media[0]["id"], "after": u2.media[1]["id"], "gap_s": 0.0}],
    }
    response = api.client.put(
        "/api/v1/recordings/stolen", json=stolen, headers=api.auth(api.station)
    )
    assert response.status_code == 422 and "registered" in response.text


def test_a_merged_proxy_plays_only_to_who_sees_every_part_and_every_request_is_recorded(
    api: Api,
) -> None:
    world = build_world(api)
    u1 = world.units["U1"]
    # A case_system token sees only media in cases: take one part out of the case.
    dissociate = api.client.delete(
        f"/api/v1/cases/{u1.case_no}/media/{u1.media[1]['id']}",
        params={"reason": "不属于本案"},
        headers=api.auth(api.admin),
    )
    assert dissociate.status_code == 200, dissociate.text
    system = world.tokens["case_system"]
    recording = api.get(f"/api/v1/recordings/{u1.recording}", token=system)
    assert recording.status_code == 200
    assert [p["media_id"] for p in recording.json()["parts"]] == [u1.media[0]["id"]]
    assert api.get(f"/api/v1/recordings/{u1.recording}/proxy", token=system).status_code == 403

    reviewer = world.tokens["reviewer"]
    assert api.get(f"/api/v1/recordings/{u1.recording}/proxy", token=reviewer).status_code == 200
    for medium in u1.media:  # the play is in the custody of every part
        plays = _plays(api, medium["id"])
        assert len(plays) == 1 and plays[0]["detail"]["recording_id"] == u1.recording

    # A player's follow-up ranges, from any byte, fold into its viewing; none goes unrecorded.
    url = f"/api/v1/media/{u1.media[0]['id']}/proxy"
    for header in ("bytes=1-", "bytes=100-199", "bytes=0-"):
        response = api.get(url, token=reviewer, headers={"Range": header})
        assert response.status_code == 206
    plays = [p for p in _plays(api, u1.media[0]["id"]) if "recording_id" not in p["detail"]]
    assert len(plays) == 1 and plays[0]["viewing"]["requests"] == 3
    # Another token's viewing is its own.
    api.get(url, token=world.tokens["supervisor"], headers={"Range": "bytes=5-"})
    plays = [p for p in _plays(api, u1.media[0]["id"]) if "recording_id" not in p["detail"]]
    assert len(plays) == 2


def _custody(api: Api, media_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = api.get(f"/api/v1/media/{media_id}/custody").json()["events"]
    return events


def _plays(api: Api, media_id: str) -> list[dict[str, Any]]:
    return [e for e in _custody(api, media_id) if e["event"] == "played_proxy"]


def test_association_links_a_case_only_to_its_own_units_media(api: Api) -> None:
    world = build_world(api)
    u1, u2 = world.units["U1"], world.units["U2"]
    # A case of U1 naming U2's officer at the time U2 recorded links none of U2's footage,
    # and its answer says nothing of when U2's officers recorded.
    body = _case_body(u1)
    body["events"][0]["officer_ids"] = [u2.officer]
    response = api.client.put(
        "/api/v1/cases/C-PROBE", json=body, headers=api.auth(world.tokens["reviewer"])
    )
    assert response.status_code == 201, response.text
    assert response.json()["media_ids"] == []
    # Manual association of another unit's media by a U1 reviewer: not found.
    response = api.client.post(
        f"/api/v1/cases/{u1.case_no}/media",
        json={"media_ids": [u2.media[0]["id"]], "reason": "试图关联"},
        headers=api.auth(world.tokens["reviewer"]),
    )
    assert response.status_code == 404
    # A token without a unit may link them, on purpose with a reason; U1 readers still see
    # only their own media in the case.
    response = api.client.post(
        f"/api/v1/cases/{u1.case_no}/media",
        json={"media_ids": [u2.media[0]["id"]], "reason": "跨单位协查"},
        headers=api.auth(api.admin),
    )
    assert response.status_code == 200
    seen = api.get(f"/api/v1/cases/{u1.case_no}", token=world.tokens["reviewer"]).json()
    assert set(seen["media_ids"]) == {m["id"] for m in u1.media}
    # A case number typed at U2's dock does not link U2's footage to U1's case.
    docked = api.ingested(
        device_id=u2.device, officer_id=u2.officer, station_id=u2.station,
        token=u2.station_token, case_no=u1.case_no,
    )  # fmt: skip
    assert u1.case_no not in docked["case_nos"]
    refused = [
        e["detail"]["case_no"]
        for e in _custody(api, docked["id"])
        if e["event"] == "associated_with_case" and e["outcome"] == "failed"
    ]
    assert refused == [u1.case_no]
    # Typed at U2's dock before the case existed, the link goes once the case turns out U1's.
    early = api.ingested(
        device_id=u2.device, officer_id=u2.officer, station_id=u2.station,
        token=u2.station_token, case_no="C-LATER",
    )  # fmt: skip
    assert "C-LATER" in early["case_nos"]
    response = api.client.put(
        "/api/v1/cases/C-LATER", json=_case_body(u1), headers=api.auth(api.admin)
    )
    assert response.status_code == 201 and early["id"] not in response.json()["media_ids"]
    assert "C-LATER" not in api.get(f"/api/v1/media/{early['id']}").json()["case_nos"]


def test_an_it_admin_of_one_unit_cannot_see_or_capture_another_units_camera(api: Api) -> None:
    world = build_world(api)
    u2 = world.units["U2"]
    it_u1 = world.tokens["it_admin"]
    listed = api.get("/api/v1/devices", token=it_u1).json()["items"]
    assert [d["device_id"] for d in listed] == ["BC-1"]
    captured = {"kind": "body_camera", "serial": u2.serial, "unit_id": "U1", "status": "active"}
    response = api.client.put(
        f"/api/v1/devices/{u2.device}", json=captured, headers=api.auth(it_u1)
    )
    assert response.status_code == 403
    assert api.get(f"/api/v1/devices/{u2.device}").json()["unit_id"] == "U2"
    foreign = {"kind": "body_camera", "serial": "SN-NEW", "unit_id": "U2", "status": "active"}
    response = api.client.put("/api/v1/devices/BC-NEW", json=foreign, headers=api.auth(it_u1))
    assert response.status_code == 403


def test_a_station_speaks_only_for_itself(api: Api) -> None:
    world = build_world(api)
    u2 = world.units["U2"]
    record = api.stored_record(os.urandom(512), station_id="dock-9")
    response = api.ingest(record)  # dock-1's token naming dock-9
    assert response.status_code == 403 and "dock-1" in response.json()["detail"]
    # It reports custody only on media it registered.
    response = api.client.post(
        f"/api/v1/media/{u2.media[0]['id']}/custody",
        json={**_wipe(u2), "station_id": "dock-1"},
        headers=api.auth(api.station),
    )
    assert response.status_code == 404
    # What it registers carries its token's station id.
    medium = api.ingested(os.urandom(512))
    assert medium["station_id"] == "dock-1"
    with (
        session_scope(api.database_url) as session,
        pytest.raises(ValueError, match="--station-id"),
    ):
        create_token(session, role="station", name="nameless")


def test_the_case_handling_system_corrects_a_case_a_reviewer_created(api: Api) -> None:
    reviewer = api.token("reviewer", unit_id="U1")
    body = {"title": "草稿", "unit_id": "U1", "events": []}
    assert (
        api.client.put("/api/v1/cases/A-9", json=body, headers=api.auth(reviewer)).status_code
        == 201
    )
    system = api.token("case_system")
    corrected = {"title": "正式案件名", "unit_id": "U2", "events": []}
    response = api.client.put("/api/v1/cases/A-9", json=corrected, headers=api.auth(system))
    assert response.status_code == 200 and response.json()["unit_id"] == "U2"
    # Now U2's: U1's reviewer who created it may no longer change it.
    response = api.client.put("/api/v1/cases/A-9", json=body, headers=api.auth(reviewer))
    assert response.status_code == 403


# -- hostile requests cost nothing and break nothing --------------------------------------

HOSTILE_IDS = ["x" * 129, "BC\u202e4PM", "BC\n1", "BC\x00"]


def test_ids_names_and_numbers_are_validated_before_anything_is_written(api: Api) -> None:
    record = json.loads(api.stored_record(os.urandom(256)).model_dump_json())
    for bad in HOSTILE_IDS:
        response = _post_json(api, "/api/v1/ingest", json.dumps({**record, "officer_id": bad}))
        assert response.status_code == 422, (bad, response.text)
        case = {"title": "t", "unit_id": bad, "events": []}
        response = api.client.put("/api/v1/cases/C-1", json=case, headers=api.auth(api.admin))
        assert response.status_code == 422, (bad, response.text)
        device = {"kind": "body_camera", "unit_id": "U1", "officer_id": bad}
        response = api.client.put("/api/v1/devices/BC-1", json=device, headers=api.auth(api.admin))
        assert response.status_code == 422, (bad, response.text)
    long_case = "C" * 65
    response = api.client.put(
        f"/api/v1/cases/{long_case}",
        json={"title": "t", "unit_id": "U1", "events": []},
        headers=api.auth(api.admin),
    )
    assert response.status_code == 422
    assert api.get(f"/api/v1/media/{'m' * 37}").status_code == 422
    # NaN, Infinity and numbers beyond their columns.
    for name, value in (("duration_s", "NaN"), ("clock_offset_s", "Infinity"),
                        ("width", "99999999999"), ("size_bytes", "1" + "0" * 30)):  # fmt: skip
        rest = json.dumps({k: v for k, v in record.items() if k != name})
        body = rest[:-1] + f', "{name}": {value}}}'
        response = _post_json(api, "/api/v1/ingest", body)
        assert response.status_code == 422, (name, response.text)
    # Dates whose UTC form does not exist, ranges beyond any integer, broken cursors, deep
    # nesting: each a 4xx.
    for start in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        response = api.get("/api/v1/media", params={"start": start})
        assert 400 <= response.status_code < 500, (start, response.text)
    medium = api.ingested(os.urandom(256))
    response = api.get(
        f"/api/v1/media/{medium['id']}/original", headers={"Range": f"bytes={'9' * 400}-"}
    )
    assert response.status_code == 416
    for cursor in ("%%%", "eyJ4IjoxfQ", "A" * 5000):
        assert api.get("/api/v1/media", params={"cursor": cursor}).status_code == 422, cursor
        # A device cursor is the last device id of the page: any string is one.
        assert api.get("/api/v1/devices", params={"cursor": cursor}).status_code == 200
    response = _post_json(api, "/api/v1/ingest", "[" * 100_000 + "]" * 100_000)
    assert 400 <= response.status_code < 500
    with session_scope(api.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Media)) == 1
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(Device)) == 0


def _post_json(api: Api, path: str, body: str) -> Any:
    headers = {**api.auth(api.station), "Content-Type": "application/json"}
    return api.client.post(path, content=body, headers=headers)


def test_errors_name_no_sql_path_or_store_and_carry_a_request_id(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    medium = api.ingested(os.urandom(256))

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise SQLAlchemyError("INSERT INTO custody_event (secret) VALUES (/var/lib/store)")

    with caplog.at_level(logging.ERROR), patch.object(Session, "commit", broken):
        response = api.get(f"/api/v1/media/{medium['id']}/original")
    assert response.status_code == 503
    request_id = response.headers["x-request-id"]
    assert request_id in response.json()["detail"]
    assert "INSERT" not in response.text and "/var/lib" not in response.text
    assert any(request_id in r.getMessage() and "INSERT" in r.getMessage() for r in caplog.records)


def test_a_case_is_never_stored_without_its_associations(api: Api) -> None:
    medium = api.ingested(os.urandom(256), officer_id="O1")
    body = {
        "title": "t",
        "unit_id": "U1",
        "events": [
            {"event_id": "E1", "activity": "dispatch_110", "officer_ids": ["O1"],
             "start": T0.isoformat(), "end": (T0 + timedelta(minutes=5)).isoformat()}
        ],
    }  # fmt: skip

    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise SQLAlchemyError("the disk is full")

    with patch("api.association.reassociate_case", failing):
        response = api.client.put("/api/v1/cases/C-9", json=body, headers=api.auth(api.admin))
    assert response.status_code == 503
    assert api.get("/api/v1/cases/C-9").status_code == 404
    response = api.client.put("/api/v1/cases/C-9", json=body, headers=api.auth(api.admin))
    assert response.status_code == 201 and response.json()["media_ids"] == [medium["id"]]


def test_a_unit_sees_every_unit_below_it_and_its_it_changes_only_its_part(api: Api) -> None:
    def put_unit(unit: str, parent: str | None, token: str | None = None) -> Any:
        return api.client.put(
            f"/api/v1/units/{unit}", json=_unit_body(parent), headers=api.auth(token or api.admin)
        )

    assert put_unit("CO", None).status_code == 201  # 县局
    assert put_unit("P1", "CO").status_code == 201  # 派出所
    assert put_unit("P2", "CO").status_code == 201
    clips = {}
    for unit in ("CO", "P1", "P2", "P3"):
        station = api.token("station", unit_id=unit, station_id=f"dock-{unit}")
        clips[unit] = api.ingested(os.urandom(256), station_id=f"dock-{unit}", token=station)["id"]

    def visible(token: str) -> set[str]:
        return {m["id"] for m in api.get("/api/v1/media", token=token).json()["items"]}

    county = api.token("supervisor", unit_id="CO")
    assert visible(county) == {clips["CO"], clips["P1"], clips["P2"]}
    assert visible(api.token("supervisor", unit_id="P1")) == {clips["P1"]}
    # P3's footage came before P3 did: once filed under the county, the county sees it.
    assert put_unit("P3", "CO").status_code == 201
    assert clips["P3"] in visible(county)
    assert put_unit("CO", "P1").status_code == 422  # the county below its own station

    it_p1 = api.token("it_admin", unit_id="P1")
    assert put_unit("P1a", "P1", it_p1).status_code == 201  # a 警务室 below P1
    assert put_unit("P1", "P2", it_p1).status_code == 403  # its own unit stays put
    assert put_unit("P2", "P1", it_p1).status_code == 404  # P2 is not its to take
    assert put_unit("X9", "P2", it_p1).status_code == 403  # nor to add to
    listed = api.get("/api/v1/units", token=it_p1).json()["items"]
    assert [u["unit_id"] for u in listed] == ["P1", "P1a"]
    case = {"title": "案件", "unit_id": "P1a", "events": []}
    reviewer_co = api.token("reviewer", unit_id="CO")
    response = api.client.put("/api/v1/cases/K-1", json=case, headers=api.auth(reviewer_co))
    assert response.status_code == 201  # a case of a unit below
    assert (
        api.get("/api/v1/cases/K-1", token=api.token("reviewer", unit_id="P2")).status_code == 403
    )


def test_a_unit_sets_recording_rules_for_itself_and_below_and_says_where_each_came_from(
    api: Api,
) -> None:
    for unit, parent in (("CO", None), ("P1", "CO"), ("P2", "CO")):
        response = api.client.put(
            f"/api/v1/units/{unit}", json=_unit_body(parent), headers=api.auth(api.admin)
        )
        assert response.status_code == 201

    def put_rules(unit: str, body: dict[str, Any], token: str) -> Any:
        return api.client.put(
            f"/api/v1/units/{unit}/recording-rules", json=body, headers=api.auth(token)
        )

    county = api.token("supervisor", unit_id="CO")
    station = api.token("supervisor", unit_id="P1")
    response = put_rules(
        "CO", {"requirements": {"inspection": "full_process"}, "deadline_s": 48 * 3600}, county
    )
    assert response.status_code == 200, response.text
    assert put_rules("P1", {"deadline_s": 12 * 3600}, station).status_code == 200
    assert put_rules("CO", {"deadline_s": 3600}, station).status_code == 404  # above it
    assert put_rules("P1", {"requirements": {"karaoke": "none"}}, station).status_code == 422

    p1 = api.get("/api/v1/units/P1/recording-rules", token=county).json()
    assert p1["chain"] == ["CO", "P1"]
    assert p1["deadline"] == {"seconds": 12 * 3600, "source": "P1"}
    assert p1["requirements"]["inspection"] == {"requirement": "full_process", "source": "CO"}
    assert p1["requirements"]["dispatch_110"] == {
        "requirement": "full_process",
        "source": "default",
    }
    assert p1["gap_tolerance"] == {"seconds": 30, "source": "default"}
    assert p1["room_activities"] == ["interrogation"]
    p2 = api.get("/api/v1/units/P2/recording-rules", token=county).json()
    assert p2["deadline"] == {"seconds": 48 * 3600, "source": "CO"}  # inherited
    assert p2["overrides"]["deadline_s"] is None
