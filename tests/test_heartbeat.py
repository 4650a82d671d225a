"""The agent's heartbeat (station/heartbeat.py) against the real api in-process, and when
the api cannot be reached."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

from station.api_client import ApiClient
from station.heartbeat import Disk, Heartbeats, heartbeat_body
from station.journal import FileState, Journal
from station.status import DockState, StatusBoard
from tests.test_api_media import Api, serve_api


@pytest.fixture
def api(tmp_path: Path, local_store_url: str) -> Iterator[Api]:
    yield from serve_api(Api, f"sqlite:///{tmp_path / 'hb.db'}", local_store_url, tmp_path)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "state" / "journal.db") as journal:
        yield journal


def _board() -> StatusBoard:
    board = StatusBoard()
    board.open("/media/CAM1", "/media/CAM1")
    board.update("/media/CAM1", device_id="BC-1", device_serial="SN1", officer_id="100001",
                 state=DockState.SAFE_TO_UNDOCK)  # fmt: skip
    board.open("/media/CAM2", "/media/CAM2")
    board.update("/media/CAM2", state=DockState.UNDOCKED)
    board.open("/media/NO_NAME", "/media/NO_NAME")  # not identified (yet)
    board.add_station_error("对象存储无法连接，文件已暂存本机，将自动重试")
    return board


def _station_client(api: Api) -> ApiClient:
    client = TestClient(api.client.app, headers={"Authorization": f"Bearer {api.station}"})
    return ApiClient(cast(httpx.Client, client))  # a TestClient is an httpx.Client


def _stations(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/api/v1/stations", api.it_admin).json()["items"]
    return items


def test_the_agents_heartbeat_reaches_the_api_with_its_docks_disk_and_alarms(
    api: Api, journal: Journal, tmp_path: Path
) -> None:
    beats = Heartbeats(_station_client(api), "dock-1", board=_board(), journal=journal,
                       state_dir=tmp_path / "state", interval_s=60)  # fmt: skip
    assert beats.send()
    [station] = _stations(api)
    assert station["station_id"] == "dock-1" and station["online"] is True
    assert station["docked_devices"] == [
        {"device_id": "BC-1", "serial": "SN1", "officer_id": "100001", "state": "safe_to_undock"},
        {"device_id": "NO_NAME", "serial": None, "officer_id": None, "state": "identifying"},
    ]  # fmt: skip
    assert [a["code"] for a in station["alarms"]] == ["station_error"]
    total, used = station["storage_total_bytes"], station["storage_used_bytes"]
    assert isinstance(total, int) and isinstance(used, int) and total > used > 0
    assert station["version"] and station["heartbeat_interval_s"] == 60


def test_an_orderly_stop_says_the_station_is_offline(api: Api, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()  # one heartbeat, then the last one
    Heartbeats(_station_client(api), "dock-1", board=StatusBoard(), journal=None,
               state_dir=tmp_path, interval_s=30).run(stop)  # fmt: skip
    [station] = _stations(api)
    assert (station["online"], station["silent"]) == (False, False)


def test_low_disk_is_an_alarm_that_says_what_to_do() -> None:
    body = heartbeat_body(online=True, disk=Disk(total_bytes=1000, free_bytes=40), docks=[],
                          station_errors=[], stuck=[], interval_s=30, software_version="1.0")  # fmt: skip
    assert body["alarms"] == [{"code": "low_disk", "message":
        "采集站磁盘空间不足：仅剩 4%，新的文件可能无法导入；请联系信息通信部门清理或扩容"}]  # fmt: skip
    assert (body["storage_total_bytes"], body["storage_used_bytes"]) == (1000, 960)
    roomy = heartbeat_body(online=True, disk=Disk(total_bytes=1000, free_bytes=100), docks=[],
                           station_errors=[], stuck=[], interval_s=30, software_version="1.0")  # fmt: skip
    assert roomy["alarms"] == []
    unmeasured = heartbeat_body(online=True, disk=None, docks=[], station_errors=[], stuck=[],
                                interval_s=30, software_version="1.0")  # fmt: skip
    assert "storage_total_bytes" not in unmeasured


def test_failing_uploads_are_an_alarm_and_odd_texts_never_make_the_heartbeat_refused(
    api: Api, journal: Journal, tmp_path: Path
) -> None:
    for n in range(3):
        row = journal.discover("SN1", f"/DCIM/{n}.MP4", 10, 1, "video")
        journal.advance(row.id, FileState.STAGED, sha256=f"{n:064x}")
        if n:  # the first is merely waiting its turn
            journal.fail(row.id, "api unreachable\n\u202eregistering" + "x" * 900)
    board = StatusBoard()
    board.open("/media/" + "V" * 300, "/media/" + "V" * 300)
    board.update("/media/" + "V" * 300, officer_id="\u202e100001", device_serial="  ")
    board.add_station_error("暂存区异常：/var/station/\u202eevil\x00")
    beats = Heartbeats(_station_client(api), "dock-1", board=board, journal=journal,
                       state_dir=tmp_path / "state", interval_s=60)  # fmt: skip
    assert beats.send()
    [station] = _stations(api)
    failing = next(a for a in station["alarms"] if a["code"] == "upload_failing")
    assert failing["message"].startswith("2 个文件未能上传或登记")
    assert "\\u202e" in failing["message"] and len(failing["message"]) == 500
    assert failing["since"] is not None
    [dock] = station["docked_devices"]
    assert dock["device_id"] == "V" * 128 and dock["officer_id"] is None and dock["serial"] is None


def test_an_unreachable_api_is_logged_and_the_agent_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = ApiClient(httpx.Client(base_url="http://127.0.0.1:9", timeout=1))
    stop = threading.Event()
    stop.set()
    beats = Heartbeats(api, "dock-1", board=StatusBoard(), journal=None, state_dir=tmp_path,
                       interval_s=60)  # fmt: skip
    with caplog.at_level(logging.WARNING):
        assert not beats.send()
        beats.run(stop)  # returns: neither beat raises
    assert caplog.text.count("heartbeat of station dock-1 not sent") == 3
    assert "unreachable" in caplog.text
