"""The station's heartbeat to the api: online, disk, docked devices, alarms, version
(DOMAIN.md "What existing management platforms exchange"). The api turns a silent or full
station into an early warning; the station works on without the api, so a heartbeat that
cannot be sent is logged and the next one tried on time.

What the station reports is read here (disk, journal, status board) and written into the
api's body by one pure function, `heartbeat_body`. Texts are fitted to what the api
accepts (escaped, cut to length) rather than refused there: a camera's odd officer id or a
long error must not make every heartbeat of the station a 422.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import PurePath
from typing import Any

from station.api_client import ApiClient, ApiError
from station.journal import Journal, JournalRow
from station.status import DockState, StatusBoard
from wire.text import escaped, plain

log = logging.getLogger(__name__)

LOW_DISK_FRACTION = 0.10
"""Below this share of free space on the station disk, the station raises `low_disk`."""
MAX_ITEMS = 64  # the api's bound on docked devices and on alarms
_ID_MAX, _CODE_MAX, _MESSAGE_MAX = 128, 64, 500  # wire.text Id / DeviceRef, Code, Title


@dataclass(frozen=True)
class Disk:
    total_bytes: int
    free_bytes: int


def package_version() -> str:
    try:
        return version("evidence-station")
    except PackageNotFoundError:
        return "unknown"


def heartbeat_body(
    *,
    online: bool,
    disk: Disk | None,
    docks: Sequence[dict[str, Any]],
    station_errors: Sequence[str],
    stuck: Sequence[JournalRow],
    interval_s: float,
    software_version: str,
) -> dict[str, Any]:
    """The body of POST /api/v1/stations/{id}/heartbeat. `docks` are the status board's
    snapshots, `station_errors` its alerts about the station itself, `stuck` the journal's
    rows waiting on the station disk after a failed upload or registration; `disk` is None
    when the state folder could not be measured."""
    alarms: list[dict[str, Any]] = []
    if (
        disk is not None
        and disk.total_bytes
        and disk.free_bytes / disk.total_bytes < LOW_DISK_FRACTION
    ):
        alarms.append({"code": "low_disk", "message": _message(
            f"采集站磁盘空间不足：仅剩 {disk.free_bytes / disk.total_bytes:.0%}，"
            "新的文件可能无法导入；请联系信息通信部门清理或扩容")})  # fmt: skip
    if stuck:
        alarms.append(_upload_failing(stuck))
    alarms += [{"code": "station_error", "message": _message(text)}
               for text in station_errors[-10:]]  # fmt: skip
    body: dict[str, Any] = {
        "online": online,
        "docked_devices": [_docked(d) for d in docks if d["state"] != DockState.UNDOCKED][
            :MAX_ITEMS
        ],
        "alarms": alarms[:MAX_ITEMS],
        "version": _fit_code(software_version) or "unknown",
        "interval_s": interval_s,
    }
    if disk is not None:
        body["storage_total_bytes"] = disk.total_bytes
        body["storage_used_bytes"] = disk.total_bytes - disk.free_bytes
    return body


def _upload_failing(stuck: Sequence[JournalRow]) -> dict[str, Any]:
    last = stuck[-1].error or ""
    alarm: dict[str, Any] = {"code": "upload_failing", "message": _message(
        f"{len(stuck)} 个文件未能上传或登记，已暂存在本机并自动重试；如持续出现，请检查采集站"
        f"网络或联系信息通信部门。最近一次错误：{last}")}  # fmt: skip
    staged = [r.staged_at for r in stuck if r.staged_at is not None]
    if staged:
        alarm["since"] = _iso(min(staged))
    return alarm


def _docked(dock: dict[str, Any]) -> dict[str, Any]:
    device_id = dock["device_id"] or PurePath(dock["volume"]).name or dock["volume"]
    entry = {"device_id": device_id[:_ID_MAX] or "unknown", "state": _fit_code(dock["state"])}
    for key, field in (("serial", "device_serial"), ("officer_id", "officer_id")):
        value = _fit_id(dock[field])
        if value is not None:
            entry[key] = value
    return {k: v for k, v in entry.items() if v is not None}


def _message(text: str) -> str:
    return escaped(text)[:_MESSAGE_MAX]


def _fit_id(value: str | None) -> str | None:
    """`value` when the api takes it as an id (plain, 1 to 128 characters), else None."""
    value = (value or "").strip()
    if not value or len(value) > _ID_MAX:
        return None
    try:
        return plain(value)
    except ValueError:
        return None


def _fit_code(value: str | None) -> str | None:
    fitted = _fit_id(value)
    return fitted if fitted is not None and len(fitted) <= _CODE_MAX else None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Heartbeats:
    """Sends this station's heartbeat now and every `interval_s`, and a last one saying it
    is offline when the agent stops in order (the platform then need not wait for silence).
    Nothing here raises: the station works without the api."""

    def __init__(
        self,
        api: ApiClient,
        station_id: str,
        *,
        board: StatusBoard,
        journal: Journal | None,
        state_dir: PurePath,
        interval_s: float,
    ) -> None:
        self._api = api
        self._station_id = station_id
        self._board = board
        self._journal = journal
        self._state_dir = state_dir
        self._interval_s = interval_s

    def body(self, *, online: bool = True) -> dict[str, Any]:
        """What the station reports now (reads the disk and the journal)."""
        try:
            usage = shutil.disk_usage(self._state_dir)
            disk: Disk | None = Disk(usage.total, usage.free)
        except OSError as exc:
            log.warning("cannot measure the station disk at %s: %s", self._state_dir, exc)
            disk = None
        stuck = [] if self._journal is None else [r for r in self._journal.pending() if r.attempts]
        return heartbeat_body(
            online=online, disk=disk, docks=self._board.snapshot(),
            station_errors=self._board.alerts(), stuck=stuck, interval_s=self._interval_s,
            software_version=package_version(),
        )  # fmt: skip

    def send(self, *, online: bool = True) -> bool:
        """One heartbeat; False (and logged) when it could not be sent."""
        try:
            self._api.heartbeat(self._station_id, self.body(online=online))
        except (ApiError, OSError) as exc:
            log.warning("heartbeat of station %s not sent: %s", self._station_id, exc)
            return False
        except Exception:
            log.exception("heartbeat of station %s failed", self._station_id)
            return False
        return True

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; the first heartbeat at once."""
        while True:
            self.send()
            if stop.wait(self._interval_s):
                break
        self.send(online=False)
