"""Stations' heartbeats (POST /api/v1/stations/{id}/heartbeat) and their last state
(GET /api/v1/stations), through the api on both catalogues."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.catalogue import station_repo
from storage.catalogue.db import session_scope
from storage.catalogue.models import utc_now
from tests.test_api_media import Api, serve_api

BEAT: dict[str, Any] = {
    "online": True,
    "storage_total_bytes": 1000,
    "storage_used_bytes": 250,
    "docked_devices": [{"device_id": "BC-1", "officer_id": "100001", "state": "safe_to_undock"}],
    "alarms": [
        {
            "code": "upload_failing",
            "message": "上传失败，正在重试",
            "since": "2024-05-01T16:00:00+08:00",
        }
    ],  # fmt: skip
    "version": "0.1.0",
    "interval_s": 30,
}


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _beat(api: Api, station: str, token: str | None = None, **body: Any) -> Any:
    return api.client.post(f"/api/v1/stations/{station}/heartbeat", json=body,
                           headers=api.auth(token or api.station))  # fmt: skip


def _listed(api: Api, token: str | None = None) -> list[dict[str, Any]]:
    response = api.get("/api/v1/stations", token or api.it_admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_heartbeat_is_kept_as_the_stations_last_state(api: Api) -> None:
    response = _beat(api, "dock-1", **BEAT)
    assert response.status_code == 200, response.text
    first = response.json()
    assert (first["free_fraction"], first["silent"], first["client"]) == (0.75, False, "testclient")
    assert first["first_heartbeat_at"] == first["last_heartbeat_at"]
    assert first["alarms"] == [{"code": "upload_failing", "message": "上传失败，正在重试",
                                "since": "2024-05-01T08:00:00Z"}]  # fmt: skip
    again = _beat(api, "dock-1", **{**BEAT, "storage_used_bytes": 500, "docked_devices": [],
                                    "alarms": []}).json()  # fmt: skip
    assert again["first_heartbeat_at"] == first["first_heartbeat_at"]
    assert again["last_heartbeat_at"] >= first["last_heartbeat_at"]
    [station] = _listed(api)
    assert (station["free_fraction"], station["docked_devices"], station["alarms"]) == (0.5, [], [])
    assert station["heartbeat_interval_s"] == 30 and station["version"] == "0.1.0"


def test_a_station_speaks_only_for_itself_and_an_admin_for_any(api: Api) -> None:
    other = _beat(api, "dock-2", **BEAT)
    assert other.status_code == 403
    assert "STATION_ID=dock-1" in other.json()["detail"]  # says what to do
    assert (
        _beat(api, "dock-2", api.token("station", station_id="dock-2"), **BEAT).status_code == 200
    )
    assert _beat(api, "dock-3", api.admin, online=False).status_code == 200
    assert [s["station_id"] for s in _listed(api)] == ["dock-2", "dock-3"]


@pytest.mark.parametrize(
    "bad",
    [
        {"storage_total_bytes": 10, "storage_used_bytes": 11},
        {"storage_total_bytes": -1},
        {"interval_s": 0},
        {"online": "perhaps"},
        {"surprise": 1},
        {"alarms": [{"code": "x", "message": "m\u202e"}]},
        {"alarms": [{"message": "无代码"}]},
        {"alarms": [{"code": "x", "message": "m", "since": "2024-05-01T08:00:00"}]},
        {"docked_devices": [{"device_id": "d"}] * 65},
        {"docked_devices": [{"device_id": "d" * 129}]},
        {"docked_devices": [{"device_id": "d", "officer_id": "1\n2"}]},
        {"version": "v" * 65},
    ],
)
def test_a_malformed_heartbeat_is_refused(api: Api, bad: dict[str, Any]) -> None:
    response = _beat(api, "dock-1", **{**BEAT, **bad})
    assert response.status_code == 422, response.text
    assert _listed(api) == []


def test_a_station_is_silent_after_two_of_its_intervals(api: Api) -> None:
    now = utc_now()
    beat = station_repo.Heartbeat(online=True, storage_total_bytes=None,
                                  storage_used_bytes=None, docked_devices=[], alarms=[],
                                  version=None, interval_s=60)  # fmt: skip
    with session_scope(api.database_url) as session:
        station_repo.record_heartbeat(session, "late", beat, now=now - timedelta(seconds=130),
                                      client=None)  # fmt: skip
        station_repo.record_heartbeat(session, "on-time", beat, now=now - timedelta(seconds=100),
                                      client=None)  # fmt: skip
    supervisor = api.token("supervisor", unit_id="U1")  # stations serve every unit
    late, on_time = _listed(api, supervisor)
    assert (late["station_id"], late["silent"], on_time["silent"]) == ("late", True, False)
    assert 130 <= late["silent_for_s"] < 160 and 100 <= on_time["silent_for_s"] < 130
    assert late["free_fraction"] is None and late["storage_total_bytes"] is None
    assert _beat(api, "late", api.admin, interval_s=60).json()["silent"] is False


def test_a_catalogue_failure_is_a_503_with_a_request_id_and_no_sql(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with session_scope(api.database_url) as session:
        session.execute(sa.text("DROP TABLE station"))
        session.commit()
    response = api.get("/api/v1/stations", api.it_admin)
    assert response.status_code == 503, response.text
    request_id = response.headers["X-Request-ID"]
    assert request_id in response.json()["detail"]
    assert "SELECT" not in response.text
    assert f"request {request_id}" in caplog.text


def test_a_unit_sees_every_station_but_only_its_own_devices_docked_there(api: Api) -> None:
    for device, unit in (("BC-1", "U1"), ("BC-2", "U2")):
        response = api.client.put(f"/api/v1/devices/{device}", json={
            "kind": "body_camera", "serial": f"SN-{device}", "unit_id": unit,
            "officer_id": None, "status": "active"}, headers=api.auth(api.it_admin))  # fmt: skip
        assert response.status_code in (200, 201), response.text
    docked = [{"device_id": "BC-1", "officer_id": "100001"},
              {"device_id": "BC-2", "officer_id": "200001"},
              {"device_id": "BC-9", "officer_id": "900001"}]  # fmt: skip
    assert _beat(api, "dock-1", **{**BEAT, "docked_devices": docked}).status_code == 200

    def docked_at(token: str) -> list[str]:
        [station] = _listed(api, token)
        return [d["device_id"] for d in station["docked_devices"]]

    assert docked_at(api.token("supervisor", unit_id="U1")) == ["BC-1"]
    assert docked_at(api.token("supervisor", unit_id="U2")) == ["BC-2"]
    assert docked_at(api.it_admin) == ["BC-1", "BC-2", "BC-9"]  # BC-9: not registered yet


def test_a_first_heartbeat_sent_twice_at_once_is_recorded_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat = station_repo.Heartbeat(online=True, storage_total_bytes=None,
                                  storage_used_bytes=None, docked_devices=[], alarms=[],
                                  version="1", interval_s=60)  # fmt: skip
    first_at = utc_now() - timedelta(seconds=5)
    with session_scope(api.database_url) as session:
        station_repo.record_heartbeat(session, "dock-1", beat, now=first_at, client=None)

    # The second request looked before the first one's row was committed: it finds none,
    # and its insert then collides with that row.
    real_get = sa.orm.Session.get
    looks = []

    def get_before_the_other_commits(self: sa.orm.Session, *args: Any, **kwargs: Any) -> Any:
        looks.append(args)
        return None if len(looks) == 1 else real_get(self, *args, **kwargs)

    monkeypatch.setattr(sa.orm.Session, "get", get_before_the_other_commits)
    with session_scope(api.database_url) as session:
        station_repo.record_heartbeat(session, "dock-1", replace(beat, version="2"),
                                      now=utc_now(), client=None)  # fmt: skip
    monkeypatch.undo()
    assert len(looks) == 2  # it looked again after the collision, and updated the row
    [listed] = _listed(api)
    assert listed["version"] == "2"
    assert listed["first_heartbeat_at"] == first_at.isoformat().replace("+00:00", "Z")
