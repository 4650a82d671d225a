"""The status page officers see at the dock: its json, the 导入 button, and the page itself
in a real Chromium (textContent rendering against hostile names, live refresh, Shanghai time)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import ConsoleMessage, Dialog, Error, Page, expect

from station.status import DockState, StatusBoard
from station.status_page import create_status_app
from tests.fixtures_browser import assert_real_glyphs

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def board() -> StatusBoard:
    return StatusBoard()


@pytest.fixture
def client(board: StatusBoard) -> Iterator[TestClient]:
    with TestClient(create_status_app(board), base_url="http://localhost") as c:
        yield c


def test_status_json_lists_each_dock_with_state_text_and_utc_times(
    board: StatusBoard, client: TestClient
) -> None:
    board.open("d1", "/media/evidence/CAM01")
    board.update(
        "d1",
        state=DockState.COPYING,
        device_id="44010000001510000001",
        officer_id="123456",
        bytes_total=100,
        bytes_copied=40,
    )
    response = client.get("/status.json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"docks", "now", "alerts"}
    assert body["alerts"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["now"])
    [dock] = body["docks"]
    assert dock["dock_id"] == "d1"
    assert dock["state"] == "copying"
    assert dock["state_text"] == "正在复制，请勿拔出"
    assert (dock["bytes_copied"], dock["bytes_total"]) == (40, 100)
    assert dock["docked_at"].endswith("Z")
    assert response.headers["cache-control"] == "no-store"


def test_import_press_sets_the_docks_touch_event(board: StatusBoard, client: TestClient) -> None:
    board.open("d1", "/media/evidence/CAM01")
    response = client.post("/docks/d1/import")
    assert response.status_code == 200
    assert response.json() == {"dock_id": "d1", "case_no": None, "touched": True}
    assert board.touched("d1").is_set()
    assert board.case_no("d1") is None


def test_a_case_number_given_with_the_press_is_the_docks(
    board: StatusBoard, client: TestClient
) -> None:
    board.open("d1", "/media/evidence/CAM01")
    board.open("d2", "/media/evidence/CAM02")
    refused = client.post("/docks/d2/import", json={"case_no": "A\u202e1"})  # a bidi override
    assert refused.status_code == 422 and not board.touched("d2").is_set()
    response = client.post("/docks/d1/import", json={"case_no": " A320100-2026-0042 "})
    assert response.status_code == 200 and response.json()["case_no"] == "A320100-2026-0042"
    assert board.case_no("d1") == "A320100-2026-0042"
    assert board.snapshot()[0]["case_no"] == "A320100-2026-0042"


def test_import_press_on_unknown_dock_is_404(client: TestClient) -> None:
    assert client.post("/docks/nope/import").status_code == 404


def test_import_press_routes_dock_ids_that_are_paths(
    board: StatusBoard, client: TestClient
) -> None:
    board.open("/media/evidence/CAM 01", "/media/evidence/CAM 01")
    assert client.post("/docks/%2Fmedia%2Fevidence%2FCAM%2001/import").status_code == 200
    assert board.touched("/media/evidence/CAM 01").is_set()


def test_import_press_from_another_site_is_refused(board: StatusBoard, client: TestClient) -> None:
    board.open("d1", "/media/evidence/CAM01")
    response = client.post("/docks/d1/import", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert not board.touched("d1").is_set()
    same_site = client.post("/docks/d1/import", headers={"Origin": "http://localhost"})
    assert same_site.status_code == 200


def test_requests_addressed_to_another_host_are_refused(board: StatusBoard) -> None:
    # A DNS-rebinding page reaches 127.0.0.1 with its own name in Host.
    with TestClient(create_status_app(board), base_url="http://evil.example") as c:
        assert c.get("/status.json").status_code == 400


def test_page_is_self_contained_and_locks_scripts_to_its_own(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<script src" not in html and "<link" not in html
    assert "http://" not in html and "https://" not in html
    assert "innerHTML" not in html and "insertAdjacentHTML" not in html
    csp = response.headers["content-security-policy"]
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def served(board: StatusBoard) -> Iterator[str]:
    """The status app under uvicorn on a free localhost port, in a thread."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_status_app(board),
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.025)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://localhost:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def test_status_page_in_chromium(board: StatusBoard, served: str, page: Page) -> None:
    dialogs: list[str] = []
    problems: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    def on_page_error(error: Error) -> None:
        problems.append(str(error))

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)

    board.open("safe", "/media/evidence/CAM01")
    board.update(
        "safe",
        device_id="44010000001510000001",
        device_serial="SN001",
        officer_id="123456",
        registered=True,
        state=DockState.SAFE_TO_UNDOCK,
        files_total=3,
        files_registered=1,
        docked_at=datetime(2024, 5, 1, 6, 3, 5, tzinfo=UTC),
        skipped=[
            {"rel_path": "DCIM/notes.txt", "reason": "os_artefact", "detail": ""},
            {"rel_path": "DCIM/bad.mp4", "reason": "unreadable", "detail": "EIO"},
        ],
    )
    board.open("hostile", f"/media/evidence/{HOSTILE}")
    board.update(
        "hostile",
        device_id=HOSTILE,
        registered=False,
        state=DockState.KEEP_DOCKED,
        files_total=1,
    )
    board.add_error("hostile", f"DCIM/{HOSTILE}.mp4：从设备复制失败")
    board.open("touch", "/media/evidence/CAM02")
    board.update("touch", device_id="CAM02", state=DockState.WAITING_TOUCH)

    page.goto(served)
    safe = page.locator("section.dock", has_text="SN001")
    expect(safe.locator(".verdict")).to_have_text("可以拔出")
    expect(safe).to_contain_text("123456")
    expect(safe).to_contain_text("已登记设备")
    expect(safe).to_contain_text("2024-05-01 14:03:05")  # 06:03:05Z in Asia/Shanghai
    expect(safe.locator(".progress-text")).to_have_text("已登记入库 1 / 3 个文件")
    # Unreadable entries are errors (the observer adds them); only the harmless ones count here.
    expect(safe.locator(".counts")).to_contain_text("跳过 1 个非视音频条目")

    hostile = page.locator("section.dock", has_text="未登记设备")
    expect(hostile.locator(".verdict")).to_have_text("请勿拔出")
    expect(hostile).to_contain_text("未登记设备（已导入，已通知信息通信部门）")
    expect(hostile.locator(".device")).to_have_text(f"设备 {HOSTILE}")
    expect(hostile.locator(".errors li")).to_have_text(f"DCIM/{HOSTILE}.mp4：从设备复制失败")
    assert page.locator("img").count() == 0

    # A change on the board shows up by polling, not by reloading the page.
    page.evaluate("window.__notReloaded = true")
    board.update("safe", state=DockState.COPYING, bytes_total=4 * 1024**3, bytes_copied=1024**3)
    expect(safe.locator(".verdict")).to_have_text("请勿拔出")
    expect(safe.locator(".progress-text")).to_have_text("已复制 1.0 GB / 4.0 GB（25%）")
    board.update("safe", state=DockState.DONE, files_registered=3, wiped=3)
    expect(safe.locator(".verdict")).to_have_text("可以拔出")
    expect(safe).to_contain_text("已从设备清除 3 个已入库文件")
    assert page.evaluate("window.__notReloaded") is True

    touch = page.locator("section.dock", has_text="CAM02")
    expect(safe.locator("button.import")).to_be_hidden()
    expect(safe.get_by_label("案件编号（可不填）")).to_be_hidden()
    touch.get_by_label("案件编号（可不填）").fill("A3201002026000042")
    touch.get_by_role("button", name="导入").click()
    assert board.touched("touch").wait(timeout=5), "pressing 导入 did not reach the board"
    assert board.case_no("touch") == "A3201002026000042"
    expect(touch.locator("dd", has_text="A3201002026000042")).to_be_visible()

    # When the agent stops answering, the page says its state may be out of date.
    expect(page.locator("#offline")).to_be_hidden()
    page.route("**/status.json", lambda route: route.abort())
    expect(page.locator("#offline")).to_be_visible(timeout=6000)

    assert dialogs == [], "hostile text ran as script"
    assert problems == [], "the page's script failed or was blocked by its own CSP"


def test_what_it_must_look_at_on_the_station_is_listed_above_the_docks(
    board: StatusBoard, client: TestClient
) -> None:
    board.add_station_error("暂存区中有不属于任何记录的文件，已移至 /var/q，未删除")
    body = client.get("/status.json").json()
    assert body["alerts"] == ["暂存区中有不属于任何记录的文件，已移至 /var/q，未删除"]
    assert 'id="alerts"' in client.get("/").text


def test_the_officer_can_download_the_docks_signed_receipt(
    board: StatusBoard, client: TestClient, tmp_path: Path
) -> None:
    from station.receipts import Receipt
    from station.status import DockObserver

    board.open("d1", "/media/evidence/CAM01")
    path = tmp_path / "r1.json"
    path.write_text('{"payload": "{}"}')
    DockObserver(board, "d1").safe_to_undock(Receipt("r1", path, files=3))
    (dock,) = client.get("/status.json").json()["docks"]
    assert (dock["receipt_id"], dock["receipt_files"], dock["state"]) == ("r1", 3, "safe_to_undock")
    got = client.get("/receipts/r1")
    assert got.status_code == 200 and got.content == path.read_bytes()
    assert "attachment" in got.headers["content-disposition"]
    assert client.get("/receipts/other").status_code == 404


def test_the_kiosk_draws_chinese_with_real_glyphs(
    board: StatusBoard, served: str, page: Page
) -> None:
    """Each character of 可以拔出 in the page's own font is drawn differently from the others
    and from a character no font has: without a CJK font they all come out as the same
    missing-glyph box (Makefile installs fonts-noto-cjk; deploy/README.md names it)."""
    board.open("safe", "/media/evidence/CAM01")
    board.update("safe", state=DockState.SAFE_TO_UNDOCK)
    page.goto(served)
    expect(page.locator(".verdict")).to_have_text("可以拔出")
    assert_real_glyphs(page, ".verdict", "可以拔出")
