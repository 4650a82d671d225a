"""`station demo`, the main job on embedded defaults, as a user runs it: it docks its simulated
camera, imports and wipes it, pushes its case (which associates the shift's footage), and
the commands it prints work."""

from __future__ import annotations

import re
import shlex

import httpx

from tests.demo_site import DEMO_CAMERA, DemoSite


def test_the_demo_imports_its_camera_and_its_case_finds_the_footage(demo_site: DemoSite) -> None:
    text = demo_site.printed
    assert "导入完成，可以拔出" in text
    assert f"管理页面：{demo_site.address}/ui/" in text
    with demo_site.api() as http:
        # The demo camera's (other tests sharing this demo dock cameras of their own).
        every = http.get("/api/v1/media", params={"device_id": DEMO_CAMERA}).json()["items"]
        # The camera's operation log is kept as evidence too (kind other).
        assert sorted(m["original_name"] for m in every if m["kind"] == "other") == ["device.log"]
        media = [m for m in every if m["kind"] != "other"]
        parts = [m["original_name"] for m in media if m["recording_id"] is not None]
        assert len(media) == 5 and len(parts) == 2, media  # two segments, one recording
    # The case command it prints answers with the case and all the shift's footage.
    command = re.search(r"查看演示案件及其自动关联的录像：(curl .*)", text)
    assert command, text
    argv = shlex.split(command[1])
    url = argv[-1]
    headers = dict([argv[argv.index("-H") + 1].split(": ", 1)])
    linked = httpx.get(url, headers=headers, timeout=30).json()["media_ids"]
    assert {m["id"] for m in every} <= set(linked)
    # Wiped after verify (other tests' cameras, unregistered, are never wiped).
    assert not [
        p for p in (demo_site.base / "media/ZFY-DEMO-0001").rglob("*") if p.suffix == ".MP4"
    ]
