"""The agent's heartbeat (station/heartbeat.py) against the real api in-process, and when
the api cannot be reached."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from station.api_client import ApiClient
from station.heartbeat import heartbeat_body, send_heartbeats
from station.status import DockState, StatusBoard
from tests.test_api_media import Api, serve_api


@pytest.fixture
def api(tmp_path: Path, local_store_url: str) -> Iterator[Api]:
    yield from serve_api(Api, f"sqlite:///{tmp_path / 'hb.db'}", local_store_url, tmp_path)


def _board() -> StatusBoard:
    board = StatusBoard()
    board.open("d1", "/media/CAM1")
    board.update("d1", device_id="BC-1", officer_id="100001", state=DockState.SAFE_TO_UNDOCK)
    board.open("d2", "/media/CAM2")
    board.update("d2", state=DockState.UNDOCKED)
    board.add_station_error("对象存储无法连接，文件已暂存本机，将自动重试")
    return board


def test_the_agents_heartbeat_reaches_the_api_with_its_docks_and_alarms(
    api: Api, tmp_path: Path
) -> None:
    client = TestClient(api.client.app, headers={"Authorization": f"Bearer {api.station}"})
    stop = threading.Event()
    stop.set()  # one heartbeat, then return
    send_heartbeats(ApiClient(client), "dock-1", _board(), tmp_path / "state", 60, stop)
    [station] = api.get("/api/v1/stations", api.it_admin).json()["items"]
    assert station["station_id"] == "dock-1"
    assert station["docked_devices"] == [
        {"device_id": "BC-1", "serial": None, "officer_id": "100001", "state": "safe_to_undock"}]  # fmt: skip
    assert [a["code"] for a in station["alarms"]] == ["station_error"]
    assert station["storage_total_bytes"] > station["storage_used_bytes"] > 0
    assert station["version"] and station["heartbeat_interval_s"] == 60


def test_low_disk_is_an_alarm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from station import heartbeat

    monkeypatch.setattr(heartbeat.shutil, "disk_usage",
                        lambda _path: heartbeat.shutil._ntuple_diskusage(1000, 960, 40))  # type: ignore[attr-defined]  # fmt: skip
    body = heartbeat_body(StatusBoard(), tmp_path, 30)
    assert body["alarms"] == [{"code": "low_disk", "message": "采集站磁盘空间不足：仅剩 4%"}]


def test_an_unreachable_api_is_logged_and_the_agent_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = ApiClient(httpx.Client(base_url="http://127.0.0.1:9", timeout=1))
    stop = threading.Event()
    stop.set()
    with caplog.at_level(logging.WARNING):
        send_heartbeats(api, "dock-1", StatusBoard(), tmp_path, 60, stop)
    assert "heartbeat of station dock-1 not sent" in caplog.text
