"""Real `station` processes for end-to-end tests: an api and an agent, started, killed and
restarted like an operator (or a power cut) would."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

STATION = str(Path(sys.executable).with_name("station"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class Station:
    """An api and an agent on SQLite and a local store under `root` (or `storage_url`)."""

    def __init__(self, root: Path, *, storage_url: str | None = None, **agent_env: str) -> None:
        self.root = root
        self.mount_root = root / "media"
        self.mount_root.mkdir(parents=True, exist_ok=True)
        self.api_url = f"http://127.0.0.1:{free_port()}"
        self.status_url = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **os.environ,
            "STATION_DATABASE_URL": f"sqlite:///{root}/catalogue.db",
            "STATION_STORAGE_URL": storage_url or f"file://{root}/objects",
            "STATION_STATE_DIR": str(root / "state"),
            "STATION_API_URL": self.api_url,
            "STATION_ID": "station-test",
            "STATION_MOUNT_ROOTS": str(self.mount_root),
            "STATION_SETTLE_S": "0.5",
            "STATION_EXPORT_SETTLE_S": "1",
            "STATION_STATUS_PORT": self.status_url.rsplit(":", 1)[1],
            **agent_env,
        }
        self.env["STATION_API_TOKEN"] = self.token("station")
        self.admin = httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {self.token('admin')}"}
        )
        self.api: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None

    def token(self, role: str) -> str:
        out = subprocess.run(
            [STATION, "token", "create", "--role", role]
            + (["--station-id", self.env["STATION_ID"]] if role == "station" else []),
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return out.stdout.strip().splitlines()[-1]

    def start_api(self) -> None:
        with (self.root / "api.log").open("ab") as log:  # the child keeps its own copy
            self.api = subprocess.Popen(
                [STATION, "api", "--port", self.api_url.rsplit(":", 1)[1]],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        wait_for("the api", self._healthy, 30)

    def start_agent(self) -> None:
        with (self.root / "agent.log").open("ab") as log:
            self.agent = subprocess.Popen([STATION, "agent"], env=self.env, stdout=log, stderr=log)
        wait_for("the agent's status page", lambda: self.status() is not None, 30)

    def kill_agent(self) -> None:
        """kill -9: no clean-up, as in a power cut."""
        assert self.agent is not None
        self.agent.send_signal(signal.SIGKILL)
        self.agent.wait()

    def stop_api(self) -> None:
        """The api goes away (an outage of the network or the server); start_api() again."""
        assert self.api is not None
        self.api.terminate()
        try:
            self.api.wait(10)
        except subprocess.TimeoutExpired:
            self.api.kill()
            self.api.wait()

    def journal(self) -> list[dict[str, Any]]:
        """The agent's journal rows as it last committed them (read-only; the agent may be
        running, or dead after kill_agent)."""
        path = Path(self.env["STATION_STATE_DIR"]) / "journal.db"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM files ORDER BY id")]
        except sqlite3.OperationalError:
            return []  # the agent has not made the table yet
        finally:
            db.close()

    def stop(self) -> None:
        for proc in (self.agent, self.api):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.admin.close()

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.api_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> list[dict[str, Any]] | None:
        try:
            docks: list[dict[str, Any]] = httpx.get(
                self.status_url + "/status.json", timeout=1
            ).json()["docks"]
            return docks
        except httpx.HTTPError:
            return None

    def register_device(self, device_id: str, serial: str, **fields: str) -> None:
        """IT registers an active body camera (PUT /api/v1/devices/{id})."""
        body = {"kind": "body_camera", "serial": serial, "status": "active", **fields}
        response = self.admin.put(f"/api/v1/devices/{device_id}", json=body)
        assert response.status_code in (200, 201), response.text

    def media(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.admin.get("/api/v1/media", params={"limit": 500}).json()[
            "items"
        ]
        return items

    def dock(self, build: Callable[[Path], None], label: str) -> Path:
        """Make a volume appear under the mount root at once, as a mount does."""
        aside = self.root / f".building-{label}"
        aside.mkdir()
        build(aside)
        volume = self.mount_root / label
        aside.rename(volume)
        return volume

    def agent_log(self) -> str:
        return (self.root / "agent.log").read_text(errors="replace")


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    """A `station api` process of a test's own (start the agent with `start_agent`)."""
    station = Station(tmp_path)
    station.start_api()
    yield station
    station.stop()
