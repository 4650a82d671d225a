"""Heartbeats, stations and the per-file records of management platforms, through the api
on both catalogues."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ingest_records import T0
from tests.test_api_media import Api, serve_api
from wire.media_kinds import MediaKind
from wire.zones import SHOWN_ZONE


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _beat(api: Api, station: str, token: str | None = None, **body: Any) -> Any:
    return api.client.post(f"/api/v1/stations/{station}/heartbeat", json=body,
                           headers=api.auth(token or api.station))  # fmt: skip


def test_a_station_reports_its_state_and_only_its_own(api: Api) -> None:
    beat = {"online": True, "storage_total_bytes": 1000, "storage_used_bytes": 250,
            "docked_devices": [{"device_id": "BC-1", "officer_id": "100001",
                                "state": "safe_to_undock"}],
            "alarms": [{"code": "upload_failing", "message": "上传失败，正在重试"}],
            "version": "0.1.0", "interval_s": 30}  # fmt: skip
    response = _beat(api, "dock-1", **beat)
    assert response.status_code == 200, response.text
    first = response.json()
    assert (first["free_fraction"], first["silent"], first["client"]) == (0.75, False, "testclient")
    again = _beat(api, "dock-1", **{**beat, "storage_used_bytes": 500}).json()
    assert again["first_heartbeat_at"] == first["first_heartbeat_at"]
    assert again["free_fraction"] == 0.5
    listed = api.get("/api/v1/stations", api.it_admin).json()["items"]
    assert [(s["station_id"], s["docked_devices"][0]["state"]) for s in listed] == [
        ("dock-1", "safe_to_undock")]  # fmt: skip
    other = _beat(api, "dock-2", online=True)
    assert other.status_code == 403 and "dock-1" in other.text
    for bad in ({"storage_total_bytes": 10, "storage_used_bytes": 11}, {"interval_s": 0},
                {"alarms": [{"code": "x", "message": "m\u202e"}]}, {"surprise": 1}):  # fmt: skip
        assert _beat(api, "dock-1", **bad).status_code == 422, bad


def test_files_are_the_platforms_records_in_pages_oldest_first(api: Api) -> None:
    response = api.client.put("/api/v1/units/U1", json={"name": "城区派出所", "kind": "police_station",
        "parent_id": None, "officer_count": 5, "on_duty_officer_count": 2},
        headers=api.auth(api.admin))  # fmt: skip
    assert response.status_code == 201
    response = api.client.put("/api/v1/devices/BC-0001", json={"kind": "body_camera",
        "serial": "S1", "unit_id": "U1", "officer_id": "010203", "status": "active"},
        headers=api.auth(api.admin))  # fmt: skip
    assert response.status_code == 201
    video = api.ingested(os.urandom(100), proxy=os.urandom(50), thumbnail=b"\xff\xd8" + os.urandom(9),
                         important=True)  # fmt: skip
    audio = api.ingested(os.urandom(100), kind=MediaKind.AUDIO, duration_s=12.6)
    photo = api.ingested(os.urandom(100), kind=MediaKind.PHOTO, duration_s=None)
    other = api.ingested(os.urandom(100), kind=MediaKind.OTHER, duration_s=None)
    for _ in range(3):
        api.ingested(os.urandom(100))
    supervisor = api.token("supervisor", unit_id="U1")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/interop/files", supervisor, params=params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len({r["wjbh"] for r in seen}) == 7
    assert [r["wjbh"] for r in seen[:4]] == [video["id"], audio["id"], photo["id"], other["id"]]
    by_id = {r["wjbh"]: r for r in seen}
    v = by_id[video["id"]]
    assert (v["wjlx"], v["bzlx"], v["wjsc"], v["jgdm"], v["dwmc"], v["jybh"], v["cpxh"],
            v["gzz_xh"], v["jy_xm"]) == (0, 1, 60, "U1", "城区派出所", "010203", "BC-0001",
                                          "dock-1", None)  # fmt: skip
    assert v["pssj"] == T0.astimezone(SHOWN_ZONE).isoformat()
    assert v["pssj"].endswith("+08:00")
    assert v["bfwz"].endswith(f"/api/v1/media/{video['id']}/proxy")
    assert v["sltxdwz"].endswith(f"/api/v1/media/{video['id']}/thumbnail")
    assert v["scsj"].endswith("+08:00") and v["wjdx"] == 100
    assert [by_id[m["id"]]["wjlx"] for m in (audio, photo, other)] == [1, 2, 4]
    assert by_id[audio["id"]]["wjsc"] == 13 and by_id[photo["id"]]["bfwz"] is None
    # Registered after a moment: only what came later.
    later = api.get("/api/v1/interop/files", supervisor,
                    params={"start": seen[4]["scsj"]}).json()["items"]  # fmt: skip
    assert {r["wjbh"] for r in seen[4:]} <= {r["wjbh"] for r in later}
    assert video["id"] not in {r["wjbh"] for r in later}
    # Another unit's supervisor sees none of it; a bad cursor is refused.
    assert api.get("/api/v1/interop/files", api.token("supervisor", unit_id="U2")).json()[
        "items"] == []  # fmt: skip
    assert api.get("/api/v1/interop/files", params={"cursor": "nope"}).status_code == 422
