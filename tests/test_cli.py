"""The `station` command as operators run it: real api process, real import process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.station_processes import STATION, free_port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    port = free_port()
    return {
        **os.environ,
        "STATION_DATABASE_URL": f"sqlite:///{tmp_path}/station.db",
        "STATION_STORAGE_URL": f"file://{tmp_path}/objects",
        "STATION_STATE_DIR": str(tmp_path / "state"),
        "STATION_API_URL": f"http://127.0.0.1:{port}",
        "STATION_ID": "test-station",
        "COLUMNS": "200",
    }


def _station(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STATION, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def api(env: dict[str, str]) -> Iterator[tuple[list[subprocess.Popen[bytes]], object]]:
    created = _station(
        env,
        "token",
        "create",
        "--role",
        "station",
        "--station-id",
        "test-station",
        "--name",
        "dock",
    )
    assert created.returncode == 0, created.stderr
    env["STATION_API_TOKEN"] = created.stdout.strip().splitlines()[-1]
    port = env["STATION_API_URL"].rsplit(":", 1)[1]

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [STATION, "api", "--port", port],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(env["STATION_API_URL"] + "/healthz", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                time.sleep(0.1)
        proc.kill()
        raise AssertionError("api did not start")

    procs = [start()]
    yield procs, start
    for p in procs:
        p.kill()
        p.wait()


def test_token_is_printed_as_the_last_line(env: dict[str, str]) -> None:
    result = _station(env, "token", "create", "--role", "admin")
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1].startswith("st_")


def test_unknown_role_is_refused_clearly(env: dict[str, str]) -> None:
    result = _station(env, "token", "create", "--role", "janitor")
    assert result.returncode != 0
    assert "janitor" in result.stdout + result.stderr


def test_tokens_are_listed_expire_and_are_revoked_by_name(env: dict[str, str]) -> None:
    from storage.catalogue.db import session_scope
    from storage.catalogue.tokens import authenticate

    made = _station(env, "token", "create", "--role", "reviewer", "--name", "desk-7",
                    "--expires-in", "30m")  # fmt: skip
    assert made.returncode == 0, made.stderr
    reviewer = made.stdout.strip().splitlines()[-1]
    made = _station(env, "token", "create", "--role", "station", "--station-id", "dock-3",
                    "--name", "dock-3")  # fmt: skip
    assert made.returncode == 0, made.stderr
    refused = _station(env, "token", "create", "--role", "station", "--name", "dock-x")
    assert refused.returncode != 0 and "--station-id" in refused.stdout
    bad = _station(env, "token", "create", "--role", "officer", "--officer-id", "1",
                   "--expires-in", "soon")  # fmt: skip
    assert bad.returncode != 0 and "30m" in bad.stdout

    listed = _station(env, "token", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("│")[2].strip(): line for line in listed.stdout.splitlines() if "│" in line}
    assert "有效" in rows["desk-7"] and "dock-3" in rows["dock-3"] and "不过期" in rows["dock-3"]

    revoked = _station(env, "token", "revoke", "desk-7")
    assert revoked.returncode == 0 and "已吊销" in revoked.stdout
    with session_scope(env["STATION_DATABASE_URL"]) as session:
        assert authenticate(session, reviewer) is None
    assert "已吊销" in _station(env, "token", "list").stdout
    unknown = _station(env, "token", "revoke", "nobody")
    assert unknown.returncode != 0 and "station token list" in unknown.stdout


def test_import_then_again_then_api_outage_resumes(
    api,
    env: dict[str, str],
    clips,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    procs, start = api
    vol = tmp_path / "ZFY-0002"
    (vol / "DCIM").mkdir(parents=True)
    shutil.copy(clips.h264_mp4, vol / "DCIM" / "A.MP4")
    (vol / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # a Mac touched the card

    first = _station(env, "import", str(vol), "--summary-json", str(tmp_path / "s1.json"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "可以拔出设备" in first.stdout
    assert "操作系统生成的文件" in first.stdout
    assert "最后一个原始文件登记于" in first.stdout
    summary = json.loads((tmp_path / "s1.json").read_text())
    assert summary["ok"] and summary["files"][0]["state"] == "registered"

    again = _station(env, "import", str(vol))
    assert again.returncode == 0
    assert "此前已导入 1 个" in again.stdout

    # The api goes down: the new file is staged and uploaded, then waits; exit non-zero.
    procs[0].kill()
    procs[0].wait()
    shutil.copy(clips.wav, vol / "DCIM" / "B.WAV")
    down = _station(env, "import", str(vol))
    assert down.returncode == 1
    assert "登记失败" in down.stdout and "B.WAV" in down.stdout
    assert "可以拔出设备" in down.stdout  # staged: the officer need not wait for the api

    procs.append(start())
    resumed = _station(env, "import", str(vol), "--summary-json", str(tmp_path / "s2.json"))
    assert resumed.returncode == 0, resumed.stdout
    files = json.loads((tmp_path / "s2.json").read_text())["files"]
    assert [(f["path"], f["state"]) for f in files] == [("DCIM/B.WAV", "registered")]


def test_import_without_token_says_what_to_do(env: dict[str, str], tmp_path: Path) -> None:
    env.pop("STATION_API_TOKEN", None)
    result = _station(env, "import", str(tmp_path))
    assert result.returncode == 2
    assert "station token create" in result.stdout


def test_import_shows_device_names_as_they_are_and_keeps_log_lines_off_the_screen(
    api,  # noqa: ANN001
    env: dict[str, str],
    clips,  # noqa: ANN001
    tmp_path: Path,
) -> None:
    """A name with rich markup is shown literally (it must not restyle or hide output), and
    ffmpeg's English complaints about a file go to the import log, not between the bars;
    the summary says in Chinese what became of the file."""
    vol = tmp_path / "ZFY-0003"
    (vol / "DCIM").mkdir(parents=True)
    shutil.copy(clips.h264_mp4, vol / "DCIM" / "V_0001.MP4")
    (vol / "DCIM" / "._[conceal]SECRET.MP4").write_bytes(b"\0\5\26\7")  # listed as skipped
    (vol / "DCIM" / "BROKEN.MP4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 5000)
    result = _station(env, "import", str(vol), "--summary-json", str(tmp_path / "s.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "._[conceal]SECRET.MP4" in result.stdout
    assert "无法读取或播放" in result.stdout and "BROKEN.MP4" in result.stdout
    for line in (result.stdout + result.stderr).splitlines():
        assert "WARNING" not in line and "Traceback" not in line, line
    log = (Path(env["STATION_STATE_DIR"]) / "import.log").read_text()
    assert "BROKEN.MP4" in log
    files = {f["path"]: f for f in json.loads((tmp_path / "s.json").read_text())["files"]}
    assert files["DCIM/BROKEN.MP4"]["state"] == "registered"  # kept as evidence
    assert files["DCIM/BROKEN.MP4"]["proxy_status"] == "none"

    verbose = _station(env, "import", str(vol), "-v")
    assert verbose.returncode == 0
