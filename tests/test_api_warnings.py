"""Early warnings through the api (and /metrics), on both catalogues: each appears when its
cause does, names what it is about and since when, and is gone once the cause goes."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.catalogue.db import session_scope
from storage.catalogue.models import Station
from tests.test_api_media import Api, serve_api

NOW = datetime.now(UTC).replace(microsecond=0)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _put(api: Api, path: str, body: dict[str, Any]) -> None:
    response = api.client.put(path, json=body, headers=api.auth(api.admin))
    assert response.status_code in (200, 201), response.text


def _warnings(api: Api, token: str | None = None, **params: str) -> dict[tuple[str, str], Any]:
    response = api.get("/api/v1/warnings", token, params=params)
    assert response.status_code == 200, response.text
    return {(w["kind"], w["subject"]): w for w in response.json()["items"]}


def _dock(api: Api, device: str, officer: str, start: datetime, end: datetime, **kw: Any) -> None:
    api.ingested(os.urandom(128), device_id=device, officer_id=officer, recorded_start=start,
                 recorded_end=end, duration_s=(end - start).total_seconds(), **kw)  # fmt: skip


def _world(api: Api) -> None:
    for unit, parent in (("FJ", None), ("P1", "FJ"), ("P2", "FJ")):
        _put(api, f"/api/v1/units/{unit}", {"name": unit, "kind": "police_station",
             "parent_id": parent, "officer_count": 10, "on_duty_officer_count": 3})  # fmt: skip
    for device, unit, officer in (("BC-1", "P1", "A"), ("BC-2", "P1", "B"), ("BC-9", "P2", "Z")):
        _put(api, f"/api/v1/devices/{device}", {"kind": "body_camera", "serial": f"S-{device}",
             "unit_id": unit, "officer_id": officer, "status": "active"})  # fmt: skip
    # Officer A handled a 110 call that ended 30 hours ago; B one that ended an hour ago.
    _put(api, "/api/v1/cases/C1", {"title": "接处警", "unit_id": "P1", "events": [
        {"event_id": "E1", "activity": "dispatch_110", "officer_ids": ["A"],
         "start": (NOW - 31 * H).isoformat(), "end": (NOW - 30 * H).isoformat()},
        {"event_id": "E2", "activity": "dispatch_110", "officer_ids": ["B"],
         "start": (NOW - 2 * H).isoformat(), "end": (NOW - H).isoformat()},
    ]})  # fmt: skip


def test_an_undocked_camera_and_its_unrecorded_event_warn_until_the_dock(api: Api) -> None:
    _world(api)
    found = _warnings(api)
    due = (NOW - 30 * H + 24 * H).isoformat().replace("+00:00", "Z")
    camera = found[("device_not_docked", "BC-1")]
    assert (camera["since"], camera["unit_id"]) == (due, "P1")
    assert camera["detail"]["last_use_event"] == "C1/E1"
    assert found[("event_unrecorded", "C1/E1")]["since"] == due
    # B's call ended an hour ago: not yet due, no warning about it or B's camera.
    assert not {k for k in found if k[1] in ("BC-2", "C1/E2")}

    # A docks: the camera and the event clear; the footage was stored late, which warns.
    _dock(api, "BC-1", "A", NOW - 31 * H, NOW - 30 * H)
    found = _warnings(api)
    assert ("device_not_docked", "BC-1") not in found
    assert ("event_unrecorded", "C1/E1") not in found
    late = found[("stored_late", "BC-1")]
    assert late["detail"]["media"] == 1
    assert late["detail"]["worst_delay_s"] >= 30 * 3600


def test_a_camera_whose_clock_was_off_warns_until_a_dock_with_a_good_clock(api: Api) -> None:
    _world(api)
    _dock(api, "BC-2", "B", NOW - 2 * H, NOW - H, clock_offset_s=-900.0)
    found = _warnings(api, kind="device_clock_off")
    assert list(found) == [("device_clock_off", "BC-2")]
    assert found[("device_clock_off", "BC-2")]["detail"] == {"clock_offset_s": -900.0}
    _dock(api, "BC-2", "B", NOW - 2 * H + M, NOW - H, clock_offset_s=2.0)
    assert _warnings(api, kind="device_clock_off") == {}


def test_silent_and_full_stations_warn_and_metrics_count_warnings(api: Api) -> None:
    with session_scope(api.database_url) as session:
        session.add_all([
            Station(station_id="dock-quiet", online=True, storage_total_bytes=100,
                    storage_used_bytes=50, docked_devices=[], alarms=[], version="1",
                    heartbeat_interval_s=60, first_heartbeat_at=NOW - H,
                    last_heartbeat_at=NOW - 10 * M),
            Station(station_id="dock-full", online=True, storage_total_bytes=1000,
                    storage_used_bytes=950, docked_devices=[], version="1",
                    alarms=[{"code": "upload_failing", "message": "上传失败，请检查网络"}],
                    heartbeat_interval_s=3600, first_heartbeat_at=NOW - H,
                    last_heartbeat_at=NOW - M),
        ])  # fmt: skip
        session.commit()
    found = _warnings(api)
    assert ("station_silent", "dock-quiet") in found
    assert ("station_silent", "dock-full") not in found  # one minute of an hour's interval
    assert found[("station_low_disk", "dock-full")]["detail"]["free_fraction"] == 0.05
    assert ("station_alarm", "dock-full/upload_failing") in found
    metrics = api.client.get("/metrics")  # no token: for the monitoring network
    assert metrics.status_code == 200
    text = metrics.text
    assert 'evidence_warnings_open{kind="station_silent"} 1.0' in text
    assert 'evidence_station_disk_free_ratio{station_id="dock-full"} 0.05' in text


def test_warnings_stay_within_the_callers_units(api: Api) -> None:
    _world(api)
    p2 = api.token("supervisor", unit_id="P2")
    assert not [k for k in _warnings(api, p2) if k[0] in ("device_not_docked", "event_unrecorded")]
    it_p1 = api.token("it_admin", unit_id="P1")
    assert ("device_not_docked", "BC-1") in _warnings(api, it_p1)
    assert ("device_not_docked", "BC-1") in _warnings(api, api.token("supervisor", unit_id="FJ"))
    outside = api.get("/api/v1/warnings", p2, params={"unit_id": "P1"})
    assert outside.status_code == 404
    assert api.get("/api/v1/warnings", api.token("reviewer")).status_code == 403
    bad = api.get("/api/v1/warnings", params={"kind": "weather"})
    assert bad.status_code == 422


def test_warnings_as_a_csv_file(api: Api) -> None:
    _world(api)
    response = api.get("/api/v1/warnings", params={"format": "csv"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    camera = next(r for r in rows if r["对象"] == "BC-1")
    assert camera["预警类型"] == "执法记录仪使用后未按时采集"
    assert '"last_use_event": "C1/E1"' in camera["详情"]
