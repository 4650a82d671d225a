"""The station's heartbeat to the api: online, disk, docked devices, alarms, version
(DOMAIN.md "What existing management platforms exchange"). The api turns a silent or full
station into an early warning; the station works on without the api, so a heartbeat that
cannot be sent is logged and the next one tried on time."""

from __future__ import annotations

import logging
import shutil
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from station.api_client import ApiClient, ApiError
from station.status import DockState, StatusBoard

log = logging.getLogger(__name__)

LOW_DISK_FRACTION = 0.10


def package_version() -> str:
    try:
        return version("evidence-station")
    except PackageNotFoundError:
        return "unknown"


def heartbeat_body(board: StatusBoard, state_dir: Path, interval_s: float) -> dict[str, Any]:
    """What the station reports now."""
    state_dir.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(state_dir)
    alarms = []
    if disk.total and disk.free / disk.total < LOW_DISK_FRACTION:
        alarms.append({"code": "low_disk",
                       "message": f"采集站磁盘空间不足：仅剩 {disk.free / disk.total:.0%}"})  # fmt: skip
    alarms += [{"code": "station_error", "message": text[:500]} for text in board.alerts()[-10:]]
    docked = [
        {
            k: v
            for k, v in (
                ("device_id", d["device_id"] or d["volume"]),
                ("serial", d["device_serial"]),
                ("officer_id", d["officer_id"]),
                ("state", d["state"]),
            )
            if v
        }  # fmt: skip
        for d in board.snapshot()
        if d["state"] != DockState.UNDOCKED
    ]
    return {
        "online": True,
        "storage_total_bytes": disk.total,
        "storage_used_bytes": disk.total - disk.free,
        "docked_devices": docked[:64],
        "alarms": alarms[:64],
        "version": package_version(),
        "interval_s": interval_s,
    }


def send_heartbeats(
    api: ApiClient, station_id: str, board: StatusBoard, state_dir: Path, interval_s: float,
    stop: threading.Event,
) -> None:  # fmt: skip
    """One heartbeat now and one every `interval_s` until `stop` is set."""
    while True:
        try:
            api.heartbeat(station_id, heartbeat_body(board, state_dir, interval_s))
        except (ApiError, OSError) as exc:
            log.warning("heartbeat of station %s not sent: %s", station_id, exc)
        if stop.wait(interval_s):
            return
