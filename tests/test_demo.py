"""`station demo`, the main job on embedded defaults, as a user runs it: it docks its simulated
camera, imports and wipes it, and the commands it prints work (the case it suggests
associates the shift's footage)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.station_processes import STATION, free_port


def test_the_demo_imports_its_camera_and_its_suggested_case_finds_the_footage(
    tmp_path: Path,
) -> None:
    port = free_port()  # the status page takes the next one
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [STATION, "demo", "--port", str(port)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "400"},
        )
    try:
        deadline = time.monotonic() + 180
        while "按 Ctrl-C 退出" not in log.read_text(errors="replace"):
            assert demo.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
        text = log.read_text()
        assert "导入完成，可以拔出" in text
        admin = re.search(r"管理员令牌（admin）：(st_\S+)", text)
        case = re.search(r"-d '(\{.*?\})' (http://\S+/api/v1/cases/DEMO-0001)", text)
        assert admin and case, text
        headers = {"Authorization": f"Bearer {admin[1]}"}
        with httpx.Client(headers=headers, timeout=30) as http:
            every = http.get(f"http://127.0.0.1:{port}/api/v1/media").json()["items"]
            # The camera's operation log is kept as evidence too (kind other).
            assert sorted(m["original_name"] for m in every if m["kind"] == "other") == [
                "device.log"
            ]
            media = [m for m in every if m["kind"] != "other"]
            parts = [m["original_name"] for m in media if m["recording_id"] is not None]
            assert len(media) == 5 and len(parts) == 2, media  # two segments, one recording
            assert http.put(case[2], json=json.loads(case[1])).status_code == 201
            linked = http.get(case[2]).json()["media_ids"]
        assert {m["id"] for m in media} <= set(linked)
        assert not [p for p in (tmp_path / "var/demo/media").rglob("*") if p.suffix == ".MP4"]
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
