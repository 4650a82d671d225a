"""The pages for people, in Debian's Chromium against `station demo` as a user runs it: sign
in, find the demo case, play and seek its footage, download an original and check its hash,
associate with a reason and see it in custody, drill into a compliance figure, watch a new
dock reach 可以拔出 on the kiosk; and a reviewer of another unit sees nothing of this one.
Each page is photographed at 1366×768 and the picture checked not to be blank."""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, Response, expect

from simulation.simulator import SimulatedCamera, build_camera_volume
from tests.demo_site import DEMO_CAMERA, DemoSite
from tests.fixtures_browser import assert_real_glyphs, screenshot

UNIT = "130100000000"
PASSWORD = "Pages-Test-2026!"
PEOPLE = {
    "rev130": ("reviewer", UNIT),
    "sup130": ("supervisor", UNIT),
    "rev999": ("reviewer", "999999999999"),
}


@pytest.fixture(scope="module")
def site(demo_site: DemoSite) -> Iterator[DemoSite]:
    demo_site.wait_playable()
    for username, (role, unit) in PEOPLE.items():
        demo_site.person(username, role, PASSWORD, unit)
    yield demo_site


def api_get(site: DemoSite, path: str, **params: Any) -> Any:
    with site.api() as api:
        response = api.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def demo_media(site: DemoSite, name_ends: str) -> dict[str, Any]:
    items = api_get(site, "/api/v1/media", case_no="DEMO-0001", device_id=DEMO_CAMERA)["items"]
    return next(m for m in items if m["original_name"].endswith(name_ends))


def sign_in(page: Page, site: DemoSite, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.address}/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login\.html"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    # Signed in, then sent on from /ui/ to the first page this person may open.
    expect(page).to_have_url(re.compile(r"/ui/(review|supervision|audit|equipment)\.html$"))
    expect(page.locator("#top .who")).to_contain_text(username)


def test_signing_in_and_out_with_a_password_or_a_token(
    site: DemoSite, page: Page, screens: Path
) -> None:
    page.goto(f"{site.address}/ui/review.html?case_no=DEMO-0001")
    expect(page).to_have_url(re.compile(r"/ui/login\.html\?next="))
    assert_real_glyphs(page, "h1", "执法音视频管理")
    screenshot(page, screens, "login")
    page.get_by_label("用户名").fill("demo")
    page.get_by_label("密码", exact=True).fill("not the password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.locator("#why")).to_contain_text("用户名或密码错误")
    page.get_by_label("密码", exact=True).fill(site.password)
    page.get_by_role("button", name="登录", exact=True).click()
    # Back to the page asked for, signed in as the demo's admin.
    expect(page).to_have_url(re.compile(r"/ui/review\.html\?case_no=DEMO-0001$"))
    expect(page.locator("#top .who")).to_contain_text("demo（系统管理员）")
    cookie = next(c for c in page.context.cookies() if c["name"] == "evidence_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/ui/login\.html"))
    # The old cookie is dead on the server, not just forgotten by this browser.
    ended = httpx.get(f"{site.address}/api/v1/session",
                      cookies={"evidence_session": cookie["value"]})  # fmt: skip
    assert ended.status_code == 401

    with site.api() as api:
        made = api.post("/api/v1/tokens", json={"role": "reviewer", "unit_id": UNIT,
                                                "name": "案管中心终端"})  # fmt: skip
    assert made.status_code == 201, made.text
    page.get_by_label("令牌").fill(made.json()["token"])
    page.get_by_role("button", name="用令牌登录").click()
    expect(page.locator("#top .who")).to_contain_text("案管中心终端（案管审核")


def test_after_signing_in_a_link_only_leads_to_a_page_of_this_site(
    site: DemoSite, page: Page
) -> None:
    for sneaky in ("//evil.example/", "/\\evil.example/", "/%09/evil.example/",
                   "https://evil.example/ui/"):  # fmt: skip
        page.goto(f"{site.address}/ui/login.html?next={quote(sneaky)}")
        page.get_by_label("用户名").fill("rev130")
        page.get_by_label("密码", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="登录", exact=True).click()
        expect(page.locator("#top .who")).to_contain_text("rev130")
        assert page.url.startswith(f"{site.address}/ui/"), (sneaky, page.url)
        page.context.clear_cookies()


def test_a_password_it_gave_is_replaced_at_first_sign_in(site: DemoSite, page: Page) -> None:
    with site.api() as api:
        made = api.post("/api/v1/users", json={"username": "new130", "password": "Given-By-IT-1",
                                               "role": "reviewer", "unit_id": UNIT})  # fmt: skip
        assert made.status_code == 201, made.text
    page.goto(f"{site.address}/ui/review.html?case_no=DEMO-0001")
    page.get_by_label("用户名").fill("new130")
    page.get_by_label("密码", exact=True).fill("Given-By-IT-1")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(re.compile(r"/ui/password\.html\?next="))
    expect(page.locator("#why")).to_be_visible()
    page.get_by_label("当前密码").fill("Given-By-IT-1")
    page.get_by_label(re.compile("^新密码")).fill("Only-Mine-2026")
    page.get_by_label("再次输入新密码").fill("Only-Mine-2027")
    page.get_by_role("button", name="保存新密码").click()
    expect(page.locator("#problem")).to_have_text("两次输入的新密码不一致")
    page.get_by_label("再次输入新密码").fill("Only-Mine-2026")
    page.get_by_role("button", name="保存新密码").click()
    # On to the page first asked for, with the password only the person knows.
    expect(page).to_have_url(re.compile(r"/ui/review\.html\?case_no=DEMO-0001$"))
    expect(page.locator("#results tbody tr")).to_have_count(6)


def test_signing_in_by_keyboard_alone(site: DemoSite, page: Page) -> None:
    page.goto(f"{site.address}/ui/")
    expect(page.get_by_label("用户名")).to_be_focused()
    page.keyboard.type("rev130")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#top .who")).to_contain_text("rev130")
    # On to the search, and a search, without the mouse.
    page.get_by_label("案件编号").focus()
    page.keyboard.type("DEMO-0001")
    page.keyboard.press("Enter")
    expect(page.locator("#results tbody tr")).to_have_count(6)


def test_a_reviewer_finds_the_case_and_follows_it_onto_its_time_line(
    site: DemoSite, page: Page, screens: Path
) -> None:
    sign_in(page, site, "rev130")
    page.get_by_label("案件编号").fill("DEMO-0001")
    page.get_by_role("button", name="检索").click()
    results = page.locator("#results tbody tr")
    expect(results).to_have_count(6)  # the demo camera's shift: 5 recordings and its log
    expect(page.locator("#results")).to_contain_text("分段录像")
    # Thumbnails drawn, not just asked for (a broken image is `complete` too).
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img.thumb')]"
        ".every((i) => i.complete && i.naturalWidth > 0)"
    )
    screenshot(page, screens, "review")

    page.locator("#case-hit").get_by_role("link", name="DEMO-0001").click()
    expect(page.locator("#title")).to_have_text("案件 DEMO-0001：演示案件")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".row")).to_have_count(1 + 1 + 3 + 1)  # event, recording, 3 files, log
    # The two segments are one item on the line, opening the recording's own view.
    recording = timeline.locator(".row.recording")
    expect(recording).to_contain_text("分段录像（2 段）")
    expect(recording.locator("a.bar")).to_have_count(1)
    expect(page.locator("#events")).to_contain_text("当场盘问、检查")
    expect(page.locator("#media tbody tr")).to_have_count(6)
    expect(page.locator("#media")).to_contain_text("自动关联（事项 E1，按警号）")
    screenshot(page, screens, "case")
    recording.locator("a.bar").click()
    panel = page.locator("#recording-panel")
    expect(panel).to_contain_text("各段之间没有缺失")
    expect(panel.locator("video")).to_be_visible()
    panel.get_by_role("link", name="第 2 段").click()
    expect(page.locator("#title")).to_have_text(re.compile(r"_0002\.MP4$"))


def test_the_player_plays_and_seeks_through_ranges(
    site: DemoSite, page: Page, screens: Path
) -> None:
    media = demo_media(site, "_0001.MP4")
    sign_in(page, site, "rev130")
    proxied: list[Response] = []
    shanghai = datetime.fromisoformat(media["recorded_start"]).astimezone(ZoneInfo("Asia/Shanghai"))
    page.on("response", lambda r: proxied.append(r) if r.url.endswith("/proxy") else None)
    page.goto(f"{site.address}/ui/media.html?id={media['id']}")
    expect(page.locator("#sha256")).to_have_text(media["sha256"])
    # In Shanghai time, though this browser's own zone is New York's.
    expect(page.locator("#facts")).to_contain_text(shanghai.strftime("%Y-%m-%d %H:%M:%S 至"))
    expect(page.locator("#video")).to_be_attached()
    page.evaluate("async () => { const v = document.querySelector('#video'); v.muted = true; "
                  "await v.play(); }")  # fmt: skip
    page.wait_for_function(
        "() => { const v = document.querySelector('#video'); "
        "return !v.paused && v.currentTime > 0.3; }",
        timeout=60_000,  # a busy machine decodes slowly
    )
    page.evaluate("() => { const v = document.querySelector('#video'); v.pause(); "
                  "v.currentTime = 7; }")  # fmt: skip
    page.wait_for_function(
        "() => { const v = document.querySelector('#video'); "
        "return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - 7) < 0.5; }",
        timeout=60_000,
    )
    assert proxied and all(r.status == 206 for r in proxied), [r.status for r in proxied]
    expect(page.get_by_role("link", name="查看整段录像")).to_be_visible()
    screenshot(page, screens, "media")


def test_the_original_downloads_bit_exact_with_its_sha256(site: DemoSite, page: Page) -> None:
    media = demo_media(site, "_0003.AVI")
    sign_in(page, site, "rev130")
    page.goto(f"{site.address}/ui/media.html?id={media['id']}")
    shown = page.locator("#sha256")
    expect(shown).to_have_text(media["sha256"])
    with page.expect_download() as download:
        page.get_by_role("link", name="下载原始文件").click()
    assert download.value.suggested_filename == media["original_name"]
    saved = Path(download.value.path())
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == shown.inner_text()
    assert saved.stat().st_size == media["size_bytes"]
    custody = api_get(site, f"/api/v1/media/{media['id']}/custody")["events"]
    assert any(e["event"] == "downloaded_original" and e["actor"] == "rev130" for e in custody)


def test_associating_with_a_reason_is_in_the_custody_chain(site: DemoSite, page: Page) -> None:
    media = demo_media(site, "_0004.WAV")
    with site.api() as api:
        put = api.put("/api/v1/cases/PAGES-0001",
                      json={"title": "页面测试案件", "unit_id": UNIT, "events": []})  # fmt: skip
        assert put.status_code in (200, 201), put.text
    sign_in(page, site, "rev130")
    page.goto(f"{site.address}/ui/media.html?id={media['id']}")
    page.get_by_label("关联到案件").fill("PAGES-0001")
    page.get_by_role("button", name="关联", exact=True).click()
    # A reason is required, and asked for before anything is sent.
    expect(page.locator("#message")).to_contain_text("请先填写操作原因")
    page.get_by_label("操作原因（必填，记入监管链）").fill("询问录音，与盘查相关")
    page.get_by_role("button", name="关联", exact=True).click()
    expect(page.locator("#message")).to_contain_text("关联到案件 PAGES-0001：已完成")
    expect(page.locator("#facts")).to_contain_text("PAGES-0001")
    row = page.locator("#custody tbody tr", has_text="关联案件").filter(has_text="PAGES-0001")
    expect(row).to_contain_text("询问录音，与盘查相关")
    expect(row).to_contain_text("rev130")
    custody = api_get(site, f"/api/v1/media/{media['id']}/custody")["events"]
    linked = [e for e in custody if e["event"] == "associated_with_case"
              and e["detail"]["case_no"] == "PAGES-0001"]  # fmt: skip
    assert linked and linked[0]["actor"] == "rev130"
    assert linked[0]["detail"]["reason"] == "询问录音，与盘查相关"


def test_marking_holding_dissociating_and_exporting_from_the_pages(
    site: DemoSite, page: Page, tmp_path: Path
) -> None:
    media = demo_media(site, "_0005.JPG")
    with site.api() as api:
        put = api.put("/api/v1/cases/PAGES-0002",
                      json={"title": "解除关联测试", "unit_id": UNIT, "events": []})  # fmt: skip
        assert put.status_code in (200, 201), put.text
        linked = api.post("/api/v1/cases/PAGES-0002/media",
                          json={"media_ids": [media["id"]], "reason": "误关联"})  # fmt: skip
        assert linked.status_code == 200, linked.text
    sign_in(page, site, "rev130")
    page.goto(f"{site.address}/ui/media.html?id={media['id']}")
    page.get_by_label("操作原因（必填，记入监管链）").fill("现场照片，作为重点")
    page.get_by_role("button", name="标记为重要").click()
    expect(page.locator("#facts")).to_contain_text("重要")
    expect(page.get_by_role("button", name="取消重要标记")).to_be_visible()
    page.get_by_role("button", name="设置法律保全").click()
    expect(page.locator("#facts")).to_contain_text("法律保全")
    after = api_get(site, f"/api/v1/media/{media['id']}")
    assert after["important"] is True and after["legal_hold"] is True

    page.goto(f"{site.address}/ui/case.html?no=PAGES-0002")
    expect(page.locator("#media tbody tr")).to_have_count(1)
    page.get_by_label("原因（保全、解除关联时必填）").fill("与本案无关")
    page.get_by_role("button", name="解除关联").click()
    expect(page.locator("#media")).to_contain_text("还没有关联的音视频")
    custody = api_get(site, f"/api/v1/media/{media['id']}/custody")["events"]
    assert [e["detail"]["reason"] for e in custody if e["event"] == "dissociated_from_case"] == [
        "与本案无关"
    ]

    page.goto(f"{site.address}/ui/case.html?no=DEMO-0001")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出证据包（BagIt）").click()
    bag = tmp_path / "bag.zip"
    download.value.save_as(bag)
    with zipfile.ZipFile(bag) as z:
        names = z.namelist()
    assert any(n.endswith("bagit.txt") for n in names)
    assert len([n for n in names if "/data/originals/" in n]) == 6, names


def test_a_change_without_the_sessions_csrf_token_is_refused(site: DemoSite, page: Page) -> None:
    media = demo_media(site, "_0003.AVI")
    sign_in(page, site, "rev130")
    status = page.evaluate(
        "async (id) => (await fetch(`/api/v1/media/${id}/important`, {method: 'PUT', "
        "headers: {'Content-Type': 'application/json'}, "
        "body: JSON.stringify({important: true, reason: 'forged'})})).status",
        media["id"],
    )
    assert status == 403
    assert api_get(site, f"/api/v1/media/{media['id']}")["important"] is False


def test_a_supervisor_drills_from_a_compliance_figure_to_its_events_and_media(
    site: DemoSite, page: Page, screens: Path
) -> None:
    sign_in(page, site, "sup130")
    page.get_by_role("link", name="督察监管").click()
    # The demo case's stop-and-check is covered only in part by the shift's footage.
    partial = page.get_by_role("button", name="不完整 1，查看明细")
    expect(partial).to_be_visible()
    expect(page.locator("#units-table")).to_contain_text(UNIT)
    expect(page.locator("#chart svg rect")).to_have_count(1)
    screenshot(page, screens, "supervision")
    partial.click()
    drill = page.locator("#drill-panel")
    expect(drill.locator("h2")).to_contain_text("明细：不完整")
    row = drill.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("E1 当场盘问、检查")
    expect(row).to_contain_text("不完整")
    expect(row.get_by_role("link", name=re.compile(r"^#\d+$"))).to_have_count(4)  # the recordings
    row.get_by_role("link", name="#1").click()
    expect(page).to_have_url(re.compile(r"/ui/media\.html\?id="))
    expect(page.locator("#facts")).to_contain_text("DEMO-0001")


def test_the_audit_page_shows_the_verified_chain_and_who_viewed_what(
    site: DemoSite, page: Page, screens: Path
) -> None:
    media = demo_media(site, "_0002.MP4")
    sign_in(page, site, "rev130")
    page.goto(f"{site.address}/ui/media.html?id={media['id']}")
    expect(page.locator("#sha256")).to_have_text(media["sha256"])
    page.context.clear_cookies()

    sign_in(page, site, "sup130")
    page.goto(f"{site.address}/ui/audit.html")
    expect(page.locator("#verify")).to_contain_text("审计链完整")
    page.get_by_label("操作人").fill("rev130")
    page.get_by_label("对象").fill(media["id"])
    page.get_by_role("button", name="查询").click()
    viewed = page.locator("#entries tbody tr", has_text="查看音视频")
    expect(viewed.first).to_contain_text("rev130")
    screenshot(page, screens, "audit")


def test_a_reviewer_of_another_unit_sees_nothing_of_this_one(site: DemoSite, page: Page) -> None:
    media = demo_media(site, "_0001.MP4")
    sign_in(page, site, "rev999")
    expect(page.locator("#top nav a")).to_have_text(["案件与音视频"])
    page.get_by_label("案件编号").fill("DEMO-0001")
    page.get_by_role("button", name="检索").click()
    expect(page.locator("#results")).to_contain_text("没有符合条件的音视频")
    page.get_by_label("案件编号").fill("")
    page.get_by_role("button", name="检索").click()
    expect(page.locator("#results")).to_contain_text("没有符合条件的音视频")
    page.goto(f"{site.address}/ui/media.html?id={media['id']}")
    expect(page.locator("main h1")).to_have_text("没有这个音视频")
    page.goto(f"{site.address}/ui/case.html?no=DEMO-0001")
    expect(page.locator("main h1")).to_have_text("无权查看案件 DEMO-0001")
    expect(page.locator("main")).not_to_contain_text("演示案件")
    page.goto(f"{site.address}/ui/supervision.html")
    expect(page.locator("#message")).to_contain_text("无权")
    # And not through the api either, with this person's own session.
    assert page.request.get(f"{site.address}/api/v1/media/{media['id']}/proxy").status == 404


def test_the_kiosk_shows_a_new_dock_reach_safe_to_undock(
    site: DemoSite, page: Page, screens: Path
) -> None:
    camera = SimulatedCamera(device_id="13010000001510000002", officer_id="010002",
                             label="ZFY-PAGES-0002")  # fmt: skip
    page.goto(site.kiosk)
    build_camera_volume(site.base / "media", camera)
    dock = page.locator("section.dock", has_text="ZFY-PAGES-0002")
    expect(dock.locator(".verdict")).to_have_text("可以拔出", timeout=120_000)
    expect(dock.locator(".receipt")).to_contain_text("采集回执已签名", timeout=60_000)
    expect(dock).to_contain_text("已登记入库 6 / 6 个文件")
    dock.scroll_into_view_if_needed()
    screenshot(page, screens, "kiosk")
