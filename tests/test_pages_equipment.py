"""The equipment page (装备管理) in Chromium against the demo site: IT registers devices (and
the cameras stations saw unregistered), files units and their standards and sees the
shortfall, makes accounts and tokens; a supervisor sees only what the api lets them read."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Dialog, Page, Response, expect

from storage.catalogue.models import DeviceStatus
from storage.object_store import open_store
from tests.demo_site import DemoSite
from tests.fixtures_browser import screenshot
from tests.ingest_records import make_record

EQUIPMENT = "/ui/equipment.html"
DEMO_UNIT = "130100000000"  # the demo camera's unit (the demo itself files no units)


def sign_in(page: Page, site: DemoSite, username: str = "demo", password: str = "") -> None:
    page.goto(f"{site.address}/ui/login.html?next={EQUIPMENT}")
    page.get_by_label("用户名", exact=True).fill(username)
    page.get_by_label("密码", exact=True).fill(password or site.password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("heading", name="装备管理", level=1)).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def accept(dialog: Dialog) -> None:
    dialog.accept()


def ok(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return response.json()


def seen_by_a_station(site: DemoSite, device_id: str, serial: str, station_id: str) -> None:
    """A camera docked at a station that did not find it in the registry: its footage is
    uploaded to the store and registered as a station does, flagged unregistered."""
    with site.api() as admin:
        secret = ok(admin.post("/api/v1/tokens", json={"role": "station", "station_id": station_id,
                                                        "name": station_id}))["token"]  # fmt: skip
    data = os.urandom(4096)
    record = make_record(data, device_id=device_id, device_serial=serial,
                         device_registered=False, station_id=station_id, officer_id=None)  # fmt: skip
    blob = site.base / f"{device_id}.upload"
    blob.write_bytes(data)
    open_store(f"file://{site.base / 'objects'}").put_file(
        record.original_key, blob, sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/octet-stream",
    )  # fmt: skip
    blob.unlink()
    station = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=site.address, headers=station, timeout=30) as client:
        ok(client.post("/api/v1/ingest", content=record.model_dump_json(),
                       headers={"Content-Type": "application/json"}))  # fmt: skip
        ok(client.post(f"/api/v1/stations/{station_id}/heartbeat",
                       json={"online": True, "version": "0.1.0"}))  # fmt: skip


def file_demo_unit(site: DemoSite) -> None:
    unit = {"name": "演示市公安局", "kind": "bureau", "parent_id": None, "officer_count": 40,
            "on_duty_officer_count": 20}  # fmt: skip
    with site.api() as admin:
        ok(admin.put(f"/api/v1/units/{DEMO_UNIT}", json=unit))


def test_it_registers_a_device_to_an_officer_and_unit(page: Page, demo_site: DemoSite) -> None:
    sign_in(page, demo_site)
    devices = page.get_by_role("region", name="设备登记与配发")
    # The page's own names for the statuses cover exactly the catalogue's.
    offered = devices.get_by_label("状态", exact=True).locator("option")
    assert sorted(offered.evaluate_all("os => os.map((o) => o.value)")) == sorted(DeviceStatus)
    devices.get_by_label("设备编号", exact=True).fill("ZFY-PAGE-0101")
    devices.get_by_label("设备类型", exact=True).select_option(label="执法记录仪")
    devices.get_by_label("序列号", exact=True).fill("SN-PAGE-0101")
    devices.get_by_label("所属单位", exact=True).fill(DEMO_UNIT)
    devices.get_by_label("配发民警警号", exact=True).fill("300301")
    devices.get_by_label("状态", exact=True).select_option(label="在用")
    devices.get_by_role("button", name="保存登记").click()

    expect(page.get_by_role("status")).to_have_text("已登记设备 ZFY-PAGE-0101")
    row = devices.get_by_role("row").filter(has_text="ZFY-PAGE-0101")
    expect(row).to_contain_text("SN-PAGE-0101")
    expect(row).to_contain_text("300301")
    expect(row).to_contain_text("在用")
    expect(devices.get_by_label("设备编号", exact=True)).to_have_value("")  # ready for the next

    with demo_site.api() as admin:
        device = ok(admin.get("/api/v1/devices/ZFY-PAGE-0101"))
    assert {k: device[k] for k in ("kind", "serial", "unit_id", "officer_id", "status")} == {
        "kind": "body_camera", "serial": "SN-PAGE-0101", "unit_id": DEMO_UNIT,
        "officer_id": "300301", "status": "active",
    }  # fmt: skip


def test_a_camera_a_station_saw_unregistered_is_registered_from_its_row(
    page: Page, demo_site: DemoSite
) -> None:
    seen_by_a_station(demo_site, "ZFY-SEEN-0042", "SN-SEEN-0042", "dock-page")
    sign_in(page, demo_site)

    unregistered = page.get_by_role("region", name=re.compile("^未登记设备"))
    seen = unregistered.get_by_role("row").filter(has_text="ZFY-SEEN-0042")
    expect(seen).to_contain_text("SN-SEEN-0042")
    expect(seen).to_contain_text("dock-page")
    expect(seen).to_contain_text("1 个")
    stations = page.get_by_role("region", name="采集工作站")
    expect(stations.get_by_role("row").filter(has_text="dock-page")).to_contain_text("在线")

    seen.get_by_role("button", name="登记 ZFY-SEEN-0042").click()
    devices = page.get_by_role("region", name="设备登记与配发")
    expect(devices.get_by_label("设备编号", exact=True)).to_have_value("ZFY-SEEN-0042")
    expect(devices.get_by_label("序列号", exact=True)).to_have_value("SN-SEEN-0042")
    expect(devices.get_by_text("在 dock-page 接入过，已导入 1 个音视频")).to_be_visible()
    # The form takes the keyboard at the first field still to fill.
    expect(devices.locator("input:focus")).to_have_attribute(
        "name", re.compile("unit_id|officer_id")
    )
    devices.get_by_label("所属单位", exact=True).fill(DEMO_UNIT)
    devices.get_by_label("配发民警警号", exact=True).fill("300342")
    devices.get_by_role("button", name="保存登记").click()

    expect(page.get_by_role("status")).to_have_text("已登记设备 ZFY-SEEN-0042")
    expect(seen).to_have_count(0)
    expect(devices.get_by_role("row").filter(has_text="ZFY-SEEN-0042")).to_contain_text("300342")
    with demo_site.api() as admin:
        device = ok(admin.get("/api/v1/devices/ZFY-SEEN-0042"))
        still = ok(admin.get("/api/v1/devices/unregistered"))["items"]
    assert (device["serial"], device["unit_id"], device["officer_id"]) == (
        "SN-SEEN-0042", DEMO_UNIT, "300342",
    )  # fmt: skip
    assert "ZFY-SEEN-0042" not in {u["device_id"] for u in still}


def test_a_unit_filed_with_a_standard_shows_its_shortfall(page: Page, demo_site: DemoSite) -> None:
    unit = "130109000000"
    with demo_site.api() as admin:  # one camera in service, in a unit not filed yet
        ok(admin.put("/api/v1/devices/ZFY-GAP-0001",
                     json={"kind": "body_camera", "unit_id": unit, "officer_id": "300901"}))  # fmt: skip
    sign_in(page, demo_site)

    page.get_by_role("button", name=f"为 {unit} 建档").click()
    form = page.get_by_role("form", name="新增单位")
    expect(form.get_by_label("单位编号", exact=True)).to_have_value(unit)
    expect(form.get_by_label("单位名称", exact=True)).to_be_focused()
    form.get_by_label("单位名称", exact=True).fill("测试派出所")
    form.get_by_label("单位类型", exact=True).select_option(label="派出所")
    form.get_by_label("民警人数", exact=True).fill("5")
    form.get_by_label("在岗民警人数", exact=True).fill("3")
    form.get_by_role("button", name="保存单位").click()
    expect(page.get_by_role("status")).to_have_text("已新增单位 测试派出所")
    tree = page.get_by_role("navigation", name="单位树")
    expect(tree.get_by_role("button", name="测试派出所")).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("heading", name="测试派出所", level=2)).to_be_visible()

    standards = page.get_by_role("region", name="配备标准")
    standards.get_by_label("执法记录仪配备基数").select_option(label="按民警")
    standards.get_by_label("执法记录仪每人配备数").fill("1")
    standards.get_by_role("button", name="保存配备标准").click()
    expect(page.get_by_role("status")).to_have_text("已保存配备标准")
    expect(standards.get_by_role("row").filter(has_text="执法记录仪")).to_contain_text("本单位设定")

    report = page.get_by_role("region", name="装备配备与使用情况")
    cameras = report.get_by_role("row").filter(has_text="执法记录仪")
    expect(cameras.get_by_role("cell")).to_have_text(
        ["执法记录仪", "每名民警配 1 台", "5", "5", "1", re.compile("20.0%"), "缺 4 台"]
    )
    expect(cameras.get_by_text("缺 4 台")).to_have_class(re.compile(r"\bchip\b.*\bbad\b"))
    expect(report.get_by_text("ZFY-GAP-0001：从未采集")).to_be_visible()

    with page.expect_download() as download:
        report.get_by_role("link", name="导出 CSV").click()
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    camera = next(r for r in rows if r["单位编号"] == unit and r["设备类型"] == "执法记录仪")
    assert (camera["应配数"], camera["在用数"], camera["缺口"]) == ("5", "1", "4"), camera


def test_it_makes_an_account_and_a_token_shown_once(page: Page, demo_site: DemoSite) -> None:
    sign_in(page, demo_site)
    page.on("dialog", accept)

    users = page.get_by_role("region", name="用户账号")
    new_user = users.get_by_role("form", name="新建用户")
    new_user.get_by_label("用户名", exact=True).fill("page-reviewer")
    new_user.get_by_label("姓名", exact=True).fill("页面审核员")
    new_user.get_by_label("角色", exact=True).select_option(label="案管审核")
    new_user.get_by_label("初始密码", exact=True).fill("Review-Desk-2026!")
    new_user.get_by_role("button", name="创建用户").click()
    expect(page.get_by_role("status")).to_have_text("已创建用户 page-reviewer（案管审核）")
    account = users.get_by_role("row").filter(has_text="page-reviewer")
    expect(account).to_contain_text("页面审核员")
    expect(account).to_contain_text("正常")

    account.get_by_role("button", name="重置 page-reviewer 的密码").click()
    reset = users.get_by_role("form", name=re.compile("重置 page-reviewer 的密码"))
    expect(reset.get_by_label("新密码")).to_be_focused()
    reset.get_by_label("新密码").fill("Second-Desk-2026!")
    reset.get_by_role("button", name="设置新密码").click()
    expect(page.get_by_role("status")).to_have_text("已为 page-reviewer 设置新密码")
    with httpx.Client(base_url=demo_site.address, timeout=30) as anyone:
        signed = anyone.post("/api/v1/sign-in",
                             json={"username": "page-reviewer", "password": "Second-Desk-2026!"})  # fmt: skip
        assert signed.status_code == 200, signed.text

    account.get_by_role("button", name="停用 page-reviewer").click()
    expect(account).to_contain_text("已停用")
    with demo_site.api() as admin:
        listed = {u["username"]: u for u in ok(admin.get("/api/v1/users"))["items"]}
    assert listed["page-reviewer"]["role"] == "reviewer" and listed["page-reviewer"]["disabled"]

    tokens = page.get_by_role("region", name="接口令牌")
    new_token = tokens.get_by_role("form", name="发放令牌")
    new_token.get_by_label("名称", exact=True).fill("案管系统接口")
    new_token.get_by_label("角色", exact=True).select_option(label="执法办案系统")
    new_token.get_by_label("有效天数", exact=True).fill("30")
    new_token.get_by_role("button", name="发放令牌").click()
    shown = tokens.get_by_role("alert")
    expect(shown).to_contain_text("令牌只显示这一次")
    secret = shown.get_by_label("新令牌").inner_text()
    assert secret.startswith("st_")
    issued = tokens.get_by_role("row").filter(has_text="案管系统接口")
    expect(issued).to_contain_text("有效")
    bearer = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=demo_site.address, headers=bearer, timeout=30) as system:
        assert ok(system.get("/api/v1/session"))["role"] == "case_system"
        issued.get_by_role("button", name="吊销令牌 案管系统接口").click()
        expect(issued).to_contain_text("已吊销")
        assert system.get("/api/v1/session").status_code == 401


def test_a_supervisor_sees_the_units_and_report_but_nothing_the_api_refuses(
    page: Page, demo_site: DemoSite, screens: Path
) -> None:
    file_demo_unit(demo_site)
    demo_site.person("page-supervisor", "supervisor", "Watch-Desk-2026!")
    refused: list[str] = []

    def note(response: Response) -> None:
        if "/api/" in response.url and response.status >= 400:
            refused.append(f"{response.status} {response.url}")

    page.on("response", note)
    sign_in(page, demo_site, "page-supervisor", "Watch-Desk-2026!")
    expect(page.get_by_role("navigation", name="单位树")).to_be_visible()
    expect(page.get_by_role("region", name="采集工作站")).to_be_visible()
    expect(page.get_by_text("您的角色（督察/法制）无权查看")).to_be_visible()
    for hidden in ("设备登记与配发", "用户账号", "接口令牌"):
        expect(page.get_by_role("region", name=hidden)).to_have_count(0)
    expect(page.get_by_role("button", name="新增顶级单位")).to_be_hidden()
    tree = page.get_by_role("navigation", name="单位树")
    expect(tree.get_by_role("button", name="演示市公安局")).to_be_visible()
    expect(page.get_by_role("region", name="装备配备与使用情况")).to_be_visible()
    expect(page.get_by_role("link", name="导出 CSV")).to_be_visible()
    # Read-only: the standards are shown, nothing offers to change them or the unit.
    expect(page.get_by_role("region", name="配备标准")).to_be_visible()
    expect(page.get_by_role("button", name="保存配备标准")).to_be_hidden()
    expect(page.get_by_role("button", name="修改单位信息")).to_be_hidden()
    expect(page.get_by_role("status")).to_be_hidden()
    assert refused == []
    screenshot(page, screens, "equipment-supervisor")


def test_the_page_fits_1366_by_768_with_the_report_above_the_fold(
    page: Page, demo_site: DemoSite, screens: Path
) -> None:
    file_demo_unit(demo_site)
    sign_in(page, demo_site)
    expect(page.get_by_role("heading", name="装备配备与使用情况")).to_be_in_viewport()
    expect(page.get_by_role("navigation", name="单位树")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scroll
    screenshot(page, screens, "equipment")
