"""`station demo` as the site the pages' tests run against: the api with its pages, the
agent and its kiosk, a simulated camera imported, the demo case pushed and its footage
associated, and the demo user, exactly as `make demo` leaves them.

One demo per test session (per xdist worker): the tests that share it each add their own
users, cases, devices and docks, and look only at what they added or at the demo camera's."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.station_processes import STATION, free_port

DEMO_CAMERA = "13010000001510000001"
"""The device id of the demo's simulated camera (simulation/simulator.py)."""


@dataclass(frozen=True)
class DemoSite:
    address: str
    """The api, pages under /ui/."""
    kiosk: str
    """The station's status page."""
    admin_token: str
    password: str
    """Of the demo user `demo` (admin)."""
    base: Path
    """The demo's var/demo: its media folder is where cameras dock."""
    printed: str
    """What the demo printed by the time it was ready."""

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.address, timeout=30,
                            headers={"Authorization": f"Bearer {self.admin_token}"})  # fmt: skip

    def wait_playable(self, timeout_s: float = 180) -> None:
        """Until every video and audio of the demo camera has its browser copy: the demo is
        ready once its footage is registered, and the copies follow (slower on a busy
        machine)."""
        deadline = time.monotonic() + timeout_s
        with self.api() as api:
            while True:
                items = api.get("/api/v1/media", params={"device_id": DEMO_CAMERA}).json()["items"]
                waiting = [m["original_name"] for m in items
                           if m["kind"] in ("video", "audio") and not m["has_proxy"]]  # fmt: skip
                if not waiting:
                    return
                assert time.monotonic() < deadline, f"no browser copy yet of {waiting}"
                time.sleep(0.5)

    def person(self, username: str, role: str, password: str, unit_id: str | None = None) -> None:
        """An account IT made whose person has signed in once and set `password` as their own
        (a password IT sets must be replaced at first sign-in)."""
        given = f"Given-{password}"
        with self.api() as api:
            made = api.post("/api/v1/users", json={"username": username, "password": given,
                                                   "role": role, "unit_id": unit_id})  # fmt: skip
            assert made.status_code == 201, made.text
        with httpx.Client(base_url=self.address, timeout=30) as person:
            signed = person.post("/api/v1/sign-in", json={"username": username, "password": given})
            assert signed.status_code == 200, signed.text
            changed = person.post(
                "/api/v1/session/password",
                headers={"X-CSRF-Token": signed.json()["csrf_token"]},
                json={"current_password": given, "new_password": password},
            )
            assert changed.status_code == 204, changed.text


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    cwd = tmp_path_factory.mktemp("demo")
    port = free_port()
    log = cwd / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen([STATION, "demo", "--port", str(port)], cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "400"})  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while "按 Ctrl-C 退出" not in log.read_text(errors="replace"):
            assert demo.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        text = log.read_text()
        admin = re.search(r"管理员令牌（admin）：(st_\S+)", text)
        pages = re.search(r"管理页面：(http://\S+)/ui/\s+用户名：demo\s+密码：(\S+)", text)
        assert admin and pages, text
        yield DemoSite(address=pages[1], kiosk=f"http://127.0.0.1:{port + 1}/",
                       admin_token=admin[1], password=pages[2], base=cwd / "var/demo",
                       printed=text)  # fmt: skip
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
