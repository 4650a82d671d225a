"""What monitoring sees: the agent's Prometheus metrics after a real dock, the api's JSON log
lines carrying the request id its answers name, and the example alert rules passing promtool
(their syntax, and cases where each alert must fire or stay quiet)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from station.cli import app as station_cli
from tests.station_processes import STATION, Station, free_port, wait_for
from tests.test_agent import camera

RULES = Path(__file__).parent.parent / "deploy" / "prometheus"


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scraped(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    try:
        return samples(url)
    except httpx.ConnectError:
        return None


def test_agent_metrics_count_a_dock_and_api_logs_are_json_with_request_ids(
    tmp_path: Path,
    clips,  # noqa: ANN001
) -> None:
    port = free_port()
    station = Station(tmp_path, STATION_METRICS_PORT=str(port), STATION_LOG_FORMAT="json")
    try:
        station.start_api()
        station.register_device("BC-0001", "ZFY-0001", unit_id="U1", officer_id="010001")
        station.start_agent()
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        # The status page comes up before the agent's store and journal, metrics after them.
        before = wait_for("the agent's metrics", lambda: scraped(metrics_url), 30)
        assert before[("station_backlog_files", (("state", "staged"),))] == 0
        assert before[("station_disk_free_bytes", ())] > 0
        assert 0 < before[("station_disk_free_ratio", ())] <= 1

        volume = station.dock(camera(clips, n=2), "ZFY-0001")
        wait_for("5 files registered", lambda: len(station.media()) == 5)
        wait_for("the dock done", lambda: any(d["state"] == "done" for d in station.status() or []))
        after = wait_for(
            "the dock counted",
            lambda: (
                (m := samples(metrics_url)).get(("station_docks_total", (("outcome", "done"),)))
                and m
            ),
        )
        assert after[("station_files_total", (("state", "staged"),))] == 5
        assert after[("station_files_total", (("state", "registered"),))] == 5
        # Every file is copied once (the log file too: it is kept as evidence).
        copied = sum(m["size_bytes"] for m in station.media())
        assert after[("station_copied_bytes_total", ())] == copied
        assert after[("station_dock_to_safe_seconds_count", ())] == 1
        assert after[("station_backlog_files", (("state", "uploaded"),))] == 0
        assert not list(volume.glob("DCIM/*"))  # wiped, so the dock really ended

        answer = station.admin.get("/api/v1/media", params={"limit": 1})
        request_id = answer.headers["X-Request-ID"]
        lines = wait_for(
            "the request in the api's log",
            lambda: [
                line
                for line in (tmp_path / "api.log").read_text().splitlines()
                if request_id in line
            ],
        )
        entry = json.loads(lines[0])
        assert entry["request_id"] == request_id
        assert entry["logger"] == "uvicorn.access" and "/api/v1/media" in entry["message"]
        assert {"time", "level"} <= entry.keys()
        # The agent's log records are JSON too (its start-up lines to the console are not).
        records = [json.loads(line) for line in station.agent_log().splitlines()
                   if line.startswith("{")]  # fmt: skip
        assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    finally:
        station.stop()


def test_a_log_format_other_than_text_or_json_is_refused() -> None:
    result = CliRunner().invoke(station_cli, ["storage", "init"], env={"STATION_LOG_FORMAT": "xml"})
    assert result.exit_code == 2 and "应为 text 或 json" in result.output


def test_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make system-deps` installs Debian's prometheus"
    checked = subprocess.run(
        [promtool, "check", "rules", "evidence-alerts.yml"],
        cwd=RULES, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "evidence-alerts.test.yml"],
        cwd=RULES, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_an_agent_whose_metrics_port_is_taken_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        station = Station(tmp_path, STATION_METRICS_PORT=str(port), STATION_STATUS_PORT="0")
        try:
            station.start_api()
            ended = subprocess.run(
                [STATION, "agent"], env=station.env, capture_output=True, text=True, timeout=60
            )
        finally:
            station.stop()
    assert ended.returncode == 2, ended.stdout + ended.stderr
    assert f"无法在 127.0.0.1:{port} 提供监控指标" in ended.stdout
