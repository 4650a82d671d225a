"""Page sessions over HTTP: signing in with a password or a token, the cookie's flags, the
CSRF token every change must carry, the session's end (sign-out, idle, disabled user,
revoked token), and IT's accounts routes keeping each granter within what they hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rules.grants import grant_problem
from rules.web_session import IDLE, LIFETIME, live
from storage.catalogue import web_sessions
from storage.catalogue.db import session_scope
from storage.catalogue.models import utc_now
from storage.catalogue.tokens import create_token
from tests.test_api_media import Api, serve_api

GIVEN = "Given-Horse-8"
"""What IT sets: the person must replace it before doing anything else."""
PASSWORD = "Correct-Horse-9"
"""What the person then chooses."""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: sessions are plain rows, the same on PostgreSQL (which the site test of
    issue 13 runs them on)."""
    return f"sqlite:///{tmp_path}/catalogue.db"


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _user(api: Api, username: str, role: str = "reviewer", unit: str | None = "U1") -> None:
    """A user IT made, who has since signed in once and set their own password."""
    made = api.client.post("/api/v1/users", headers=api.auth(api.admin),
                           json={"username": username, "password": GIVEN, "role": role,
                                 "unit_id": unit})  # fmt: skip
    assert made.status_code == 201, made.text
    client = TestClient(api.client.app)
    first = client.post("/api/v1/sign-in", json={"username": username, "password": GIVEN})
    assert first.status_code == 200 and first.json()["must_change_password"] is True
    changed = client.post("/api/v1/session/password",
                          headers={"X-CSRF-Token": first.json()["csrf_token"]},
                          json={"current_password": GIVEN, "new_password": PASSWORD})  # fmt: skip
    assert changed.status_code == 204, changed.text


def _signed_in(api: Api, username: str) -> tuple[TestClient, str]:
    """A client of its own (its own cookie jar) signed in as `username`; its CSRF token."""
    client = TestClient(api.client.app)
    answer = client.post("/api/v1/sign-in", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf_token"]


def test_signing_in_sets_a_strict_http_only_cookie_that_speaks_for_the_person(api: Api) -> None:
    _user(api, "li.na")
    client = TestClient(api.client.app)
    answer = client.post("/api/v1/sign-in", json={"username": "li.na", "password": PASSWORD})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert "evidence_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Secure" not in cookie  # plain http here
    me = client.get("/api/v1/session").json()
    assert (me["username"], me["role"], me["unit_id"], me["via"]) == ("li.na", "reviewer", "U1",
                                                                      "password")  # fmt: skip
    # The person's requests are the person's in the audit trail.
    client.get("/api/v1/media")
    trail = api.get("/api/v1/audit", params={"actor": "li.na"}).json()["items"]
    assert "GET /api/v1/media" in [e["action"] for e in trail]
    assert "user.sign_in" in [e["action"] for e in trail]


def test_a_password_someone_else_set_must_be_changed_before_anything_else(api: Api) -> None:
    made = api.client.post("/api/v1/users", headers=api.auth(api.admin),
                           json={"username": "li.na", "password": GIVEN, "role": "reviewer",
                                 "unit_id": "U1"})  # fmt: skip
    assert made.status_code == 201 and made.json()["must_change_password"] is True
    client = TestClient(api.client.app)
    csrf = client.post("/api/v1/sign-in", json={"username": "li.na", "password": GIVEN}).json()[
        "csrf_token"
    ]
    assert client.get("/api/v1/session").json()["must_change_password"] is True
    refused = client.get("/api/v1/media")
    assert refused.status_code == 403 and "must be changed first" in refused.json()["detail"]
    change = {"current_password": "not it", "new_password": PASSWORD}
    path, headers = "/api/v1/session/password", {"X-CSRF-Token": csrf}
    assert client.post(path, headers=headers, json=change).status_code == 422
    same = {"current_password": GIVEN, "new_password": GIVEN}
    assert "不能与当前密码相同" in client.post(path, headers=headers, json=same).json()["detail"]
    weak = {"current_password": GIVEN, "new_password": "short"}
    assert client.post(path, headers=headers, json=weak).status_code == 422
    ok = {"current_password": GIVEN, "new_password": PASSWORD}
    assert client.post(path, headers=headers, json=ok).status_code == 204
    # The same session goes on, now with everything the role allows.
    assert client.get("/api/v1/media").status_code == 200
    assert client.get("/api/v1/session").json()["must_change_password"] is False
    # A reset by IT asks for a new choice again, and ends the session.
    reset = api.client.post("/api/v1/users/li.na/password", headers=api.auth(api.admin),
                            json={"password": "Another-Given-7"})  # fmt: skip
    assert reset.json()["must_change_password"] is True
    assert client.get("/api/v1/session").status_code == 401
    trail = api.get("/api/v1/audit", params={"target": "li.na", "action": "user."}).json()["items"]
    assert [e["action"] for e in trail][:2] == ["user.passwd", "user.passwd_own"]


def test_a_bearer_token_cannot_use_the_password_change(api: Api) -> None:
    answer = api.client.post("/api/v1/session/password", headers=api.auth(api.admin),
                             json={"current_password": "x", "new_password": PASSWORD})  # fmt: skip
    assert answer.status_code == 409


def test_a_wrong_password_or_unknown_name_gets_the_same_answer(api: Api) -> None:
    _user(api, "li.na")
    wrong = api.client.post("/api/v1/sign-in", json={"username": "li.na", "password": "nope"})
    unknown = api.client.post("/api/v1/sign-in", json={"username": "who", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


def test_sign_in_takes_json_only(api: Api) -> None:
    # A form posted from another site cannot send JSON without the browser asking first.
    _user(api, "li.na")
    form = api.client.post("/api/v1/sign-in", data={"username": "li.na", "password": PASSWORD})
    assert form.status_code == 422
    both = api.client.post("/api/v1/sign-in", json={"username": "li.na", "token": "st_x"})
    assert both.status_code == 422


def test_a_change_needs_the_sessions_csrf_token(api: Api) -> None:
    _user(api, "li.na")
    client, csrf = _signed_in(api, "li.na")
    media = api.ingested()
    body = {"important": True, "reason": "重点"}
    path = f"/api/v1/media/{media['id']}/important"
    assert client.put(path, json=body).status_code == 403
    assert client.put(path, json=body, headers={"X-CSRF-Token": "guess"}).status_code == 403
    octets = client.put(path, json=body, headers=[("X-CSRF-Token", "é".encode("latin-1"))])
    assert octets.status_code == 403
    assert client.put(path, json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    custody = api.get(f"/api/v1/media/{media['id']}/custody").json()["events"]
    assert [e["actor"] for e in custody if e["event"] == "marked_important"] == ["li.na"]


def test_signing_out_ends_the_session_on_the_server(api: Api) -> None:
    _user(api, "li.na")
    client, csrf = _signed_in(api, "li.na")
    secret = client.cookies["evidence_session"]
    assert client.post("/api/v1/sign-out").status_code == 403  # a change: CSRF token needed
    assert client.post("/api/v1/sign-out", headers={"X-CSRF-Token": csrf}).status_code == 204
    replay = TestClient(api.client.app, cookies={"evidence_session": secret})
    assert replay.get("/api/v1/session").status_code == 401


def test_a_disabled_user_or_new_password_ends_their_sessions_at_once(api: Api) -> None:
    _user(api, "li.na")
    _user(api, "wang.wei")
    first, _ = _signed_in(api, "li.na")
    second, _ = _signed_in(api, "wang.wei")
    admin = api.auth(api.admin)
    assert api.client.post("/api/v1/users/li.na/disable", headers=admin).status_code == 200
    assert first.get("/api/v1/session").status_code == 401
    assert first.post("/api/v1/sign-in", json={"username": "li.na", "password": PASSWORD}
                      ).status_code == 401  # fmt: skip
    reset = api.client.post("/api/v1/users/wang.wei/password", headers=admin,
                            json={"password": "Another-Horse-10"})  # fmt: skip
    assert reset.status_code == 200
    assert second.get("/api/v1/session").status_code == 401


def test_a_token_session_ends_with_its_token_and_station_tokens_cannot_sign_in(api: Api) -> None:
    with session_scope(api.database_url) as session:
        token = create_token(session, role="reviewer", unit_id="U1", name="案管终端")
    client = TestClient(api.client.app)
    assert client.post("/api/v1/sign-in", json={"token": token}).status_code == 200
    assert client.get("/api/v1/session").json()["via"] == "token"
    station = TestClient(api.client.app)
    assert station.post("/api/v1/sign-in", json={"token": api.station}).status_code == 401
    token_id = next(t["id"] for t in api.get("/api/v1/tokens").json()["items"]
                    if t["name"] == "案管终端")  # fmt: skip
    revoked = api.client.post(f"/api/v1/tokens/{token_id}/revoke", headers=api.auth(api.admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/api/v1/session").status_code == 401


def test_sessions_end_after_idle_time_and_after_their_lifetime(api: Api) -> None:
    _user(api, "li.na")
    client, _ = _signed_in(api, "li.na")
    secret = client.cookies["evidence_session"]
    now = utc_now()
    with session_scope(api.database_url) as session:
        assert web_sessions.find(session, secret, now + IDLE - timedelta(seconds=5))
        # Used just now: the idle clock starts again, but the lifetime does not.
        assert web_sessions.find(session, secret, now + IDLE + timedelta(minutes=20))
        assert web_sessions.find(session, secret, now + LIFETIME + timedelta(seconds=1)) is None
    assert not live(created_at=now, last_seen_at=now, ended_at=None, now=now + IDLE)


def test_a_unit_bound_it_admin_grants_only_within_its_units(api: Api) -> None:
    with session_scope(api.database_url) as session:
        it = create_token(session, role="it_admin", unit_id="U1", name="it-u1")
    headers = api.auth(it)
    body = {"username": "zhao.lei", "password": GIVEN, "role": "reviewer"}
    assert api.client.post("/api/v1/users", headers=headers, json=body).status_code == 403
    other = api.client.post("/api/v1/users", headers=headers, json={**body, "unit_id": "U2"})
    assert other.status_code == 403
    admin = api.client.post("/api/v1/users", headers=headers,
                            json={**body, "role": "admin", "unit_id": "U1"})  # fmt: skip
    assert admin.status_code == 403
    made = api.client.post("/api/v1/users", headers=headers, json={**body, "unit_id": "U1"})
    assert made.status_code == 201
    weak = api.client.post("/api/v1/users", headers=headers,
                           json={**body, "username": "x", "password": "short", "unit_id": "U1"})  # fmt: skip
    assert weak.status_code == 422 and "密码至少" in weak.json()["detail"]
    _user(api, "outside", unit="U2")
    assert [u["username"] for u in api.client.get("/api/v1/users", headers=headers).json()[
        "items"]] == ["zhao.lei"]  # fmt: skip
    assert api.client.post("/api/v1/users/outside/disable", headers=headers).status_code == 404
    token = api.client.post("/api/v1/tokens", headers=headers,
                            json={"role": "case_system", "unit_id": "U1"})  # fmt: skip
    assert token.status_code == 201 and token.json()["token"].startswith("st_")
    assert api.client.post("/api/v1/tokens", headers=headers,
                           json={"role": "case_system"}).status_code == 403  # fmt: skip
    # A station id is in no unit: only a granter of every unit makes station tokens.
    station = api.client.post("/api/v1/tokens", headers=headers,
                              json={"role": "station", "unit_id": "U1", "station_id": "dock-1"})  # fmt: skip
    assert station.status_code == 403


def test_an_unbound_it_admin_cannot_see_or_reset_an_admin(api: Api) -> None:
    admin = api.client.post("/api/v1/users", headers=api.auth(api.admin),
                            json={"username": "root.li", "password": GIVEN, "role": "admin"})  # fmt: skip
    assert admin.status_code == 201
    it = api.auth(api.it_admin)  # bound to no unit
    listed = api.client.get("/api/v1/users", headers=it).json()["items"]
    assert "root.li" not in [u["username"] for u in listed]
    reset = api.client.post("/api/v1/users/root.li/password", headers=it,
                            json={"password": "Take-Over-123"})  # fmt: skip
    assert reset.status_code == 404
    assert api.client.post("/api/v1/users/root.li/disable", headers=it).status_code == 404


def test_a_user_and_a_token_never_share_a_name(api: Api) -> None:
    _user(api, "li.na")
    clash = api.client.post("/api/v1/tokens", headers=api.auth(api.admin),
                            json={"role": "reviewer", "name": "li.na"})  # fmt: skip
    assert clash.status_code == 422 and "a user is named" in clash.json()["detail"]
    taken = api.client.post("/api/v1/users", headers=api.auth(api.admin),
                            json={"username": "it-desk", "password": GIVEN, "role": "reviewer"})  # fmt: skip
    assert taken.status_code == 422 and "接口令牌" in taken.json()["detail"]
    colon = api.client.post("/api/v1/users", headers=api.auth(api.admin),
                            json={"username": "token:x", "password": GIVEN, "role": "reviewer"})  # fmt: skip
    assert colon.status_code == 422


def test_grants_never_exceed_what_the_granter_holds() -> None:
    assert (
        grant_problem(granter_role="admin", granter_units=None, role="admin", unit_id=None) is None
    )
    assert grant_problem(granter_role="it_admin", granter_units=None, role="admin", unit_id=None)
    units = frozenset({"U1", "U1-1"})
    assert grant_problem(granter_role="it_admin", granter_units=units, role="officer",
                         unit_id="U1-1") is None  # fmt: skip
    assert grant_problem(granter_role="it_admin", granter_units=units, role="officer", unit_id=None)
    assert grant_problem(granter_role="it_admin", granter_units=units, role="officer", unit_id="U2")
    assert grant_problem(granter_role="it_admin", granter_units=units, role="station", unit_id="U1")
    assert grant_problem(granter_role="it_admin", granter_units=None, role="station",
                         unit_id=None) is None  # fmt: skip
