"""Standards and the equipment report through the api, on both catalogues, with the
figures worked out by hand; the same report as CSV and XLSX with Chinese headers."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from storage.catalogue.db import session_scope
from storage.catalogue.models import Media
from tests.test_api_media import Api, serve_api


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _put(api: Api, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    return api.client.put(path, json=body, headers=api.auth(token or api.admin))


def _device(api: Api, device: str, kind: str, unit: str, status: str = "active") -> None:
    response = _put(api, f"/api/v1/devices/{device}", {"kind": kind, "serial": f"S-{device}",
                    "unit_id": unit, "officer_id": None, "status": status})  # fmt: skip
    assert response.status_code in (200, 201), response.text


def build(api: Api) -> None:
    # 分局: 10 officers (4 on duty); 城区 30 (10); 港口 7 (3).
    for unit, parent, officers, on_duty in (("FJ", None, 10, 4), ("P1", "FJ", 30, 10),
                                            ("P2", "FJ", 7, 3)):  # fmt: skip
        response = _put(api, f"/api/v1/units/{unit}", {"name": f"单位{unit}", "kind": "unit",
                        "parent_id": parent, "officer_count": officers,
                        "on_duty_officer_count": on_duty})  # fmt: skip
        assert response.status_code == 201, response.text
    # The 分局: a camera per officer, a terminal per two on-duty officers, for all below;
    # 港口 needs only 0.3 cameras per officer.
    fj = {"standards": [{"device_kind": "body_camera", "per": "officer", "ratio": 1},
                        {"device_kind": "handheld_terminal", "per": "on_duty_officer",
                         "ratio": 0.5}]}  # fmt: skip
    assert _put(api, "/api/v1/units/FJ/standards", fj).status_code == 200
    p2 = {"standards": [{"device_kind": "body_camera", "per": "officer", "ratio": 0.3}]}
    assert _put(api, "/api/v1/units/P2/standards", p2).status_code == 200
    for n in range(28):
        _device(api, f"BC-P1-{n}", "body_camera", "P1")
    _device(api, "BC-P1-R1", "body_camera", "P1", "repair")  # away: not counted
    _device(api, "BC-P1-L1", "body_camera", "P1", "lost")
    for n in range(3):
        _device(api, f"HT-P1-{n}", "handheld_terminal", "P1")
    for n in range(4):
        _device(api, f"BC-P2-{n}", "body_camera", "P2")
    # Footage docked now by two cameras, and by a third two months ago only.
    for device in ("BC-P1-0", "BC-P2-0", "BC-P1-1"):
        api.ingested(os.urandom(64), device_id=device)
    with session_scope(api.database_url) as session:
        session.execute(sa.update(Media).where(Media.device_id == "BC-P1-1").values(
            ingested_at=datetime.now(UTC) - timedelta(days=60)))  # fmt: skip
        session.commit()


def _rows(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {r["device_kind"]: (r["headcount"], r["required"], r["active"], r["shortfall"])
            for r in rows}  # fmt: skip


def test_the_equipment_report_rolls_standards_and_devices_up_the_tree(api: Api) -> None:
    build(api)
    body = api.get("/api/v1/units/FJ/equipment").json()
    units = {u["unit_id"]: _rows(u["rows"]) for u in body["units"]}
    # 城区 inherits the 分局's standards: 30 cameras for 30 officers, 28 active (the one in
    # repair and the lost one do not count); ceil(0.5 × 10) = 5 terminals, 3 active.
    assert units["P1"] == {"body_camera": (30, 30, 28, 2), "handheld_terminal": (10, 5, 3, 2)}
    # 港口: ceil(0.3 × 7) = 3 cameras, 4 active, none short; ceil(0.5 × 3) = 2 terminals.
    assert units["P2"] == {"body_camera": (7, 3, 4, 0), "handheld_terminal": (3, 2, 0, 2)}
    # The 分局 alone: 10 cameras, 2 terminals, none. Rolled up, shortfalls add unit by
    # unit (港口's spare camera does not equip 城区): 10 + 2 + 0 = 12, not 43 - 32 = 11.
    assert _rows(body["own_rows"]) == {"body_camera": (10, 10, 0, 10),
                                       "handheld_terminal": (4, 2, 0, 2)}  # fmt: skip
    assert _rows(body["rows"]) == {"body_camera": (47, 43, 32, 12),
                                   "handheld_terminal": (17, 9, 3, 6)}  # fmt: skip
    camera = next(r for r in body["rows"] if r["device_kind"] == "body_camera")
    assert camera["rate"] == pytest.approx(32 / 43)
    # Usage over the last 30 days: 35 active devices, two docked footage in it.
    usage = body["usage"]
    assert (usage["active"], usage["docked"]) == (35, 2)
    assert usage["rate"] == pytest.approx(2 / 35)
    assert body["idle"] == ["BC-P1-1"]
    # And per unit, each with those below it: 城区 (28 cameras, 3 terminals) and 港口 (4
    # cameras) each docked one camera in the period.
    per_unit = {u["unit_id"]: u["usage"] for u in body["units"]}
    assert {u: (v["active"], v["docked"]) for u, v in per_unit.items()} == {
        "FJ": (35, 2), "P1": (28 + 3, 1), "P2": (4, 1)}  # fmt: skip
    assert len(body["never_docked"]) == 32 and "BC-P1-0" not in body["never_docked"]

    standards = api.get("/api/v1/units/P2/standards").json()["standards"]
    assert [(s["device_kind"], s["ratio"], s["source"]) for s in standards] == [
        ("body_camera", 0.3, "P2"), ("handheld_terminal", 0.5, "FJ")]  # fmt: skip


def test_the_equipment_report_as_csv_and_xlsx(api: Api) -> None:
    build(api)
    response = api.get("/api/v1/units/FJ/equipment", params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    p2 = next(r for r in table if r["单位编号"] == "P2" and r["设备类型"] == "执法记录仪")
    assert (p2["应配数"], p2["在用数"], p2["缺口"], p2["配备基数"]) == ("3", "4", "0", "民警")

    response = api.get("/api/v1/units/FJ/equipment", params={"format": "xlsx"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("单位编号", "单位名称", "设备类型")
    fj_camera = next(r for r in rows if r[0] == "FJ" and r[2] == "执法记录仪")
    assert fj_camera[6:10] == (43, 32, round(32 / 43, 4), 12)
    # Usage per unit (with those below it), and the devices that did not dock.
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["装备配备", "使用率", "闲置设备"]
    usage = list(book["使用率"].iter_rows(values_only=True))
    assert usage[0] == ("单位编号", "单位名称", "统计开始", "统计结束", "在用数",
                        "期间采集设备数", "使用率")  # fmt: skip
    assert {r[0]: r[4:6] for r in usage[1:]} == {"FJ": (35, 2), "P1": (31, 1), "P2": (4, 1)}
    idle = list(book["闲置设备"].iter_rows(values_only=True))
    assert ("BC-P1-1", "期间未采集") in idle and len(idle) == 1 + 32 + 1


def test_standards_are_validated_and_kept_within_the_callers_units(api: Api) -> None:
    build(api)
    twice = {"standards": [{"device_kind": "body_camera", "per": "officer", "ratio": 1}] * 2}
    response = _put(api, "/api/v1/units/P1/standards", twice)
    assert response.status_code == 422 and "twice" in response.text
    for bad in ({"device_kind": "drone", "per": "officer", "ratio": 1},
                {"device_kind": "body_camera", "per": "citizen", "ratio": 1},
                {"device_kind": "body_camera", "per": "officer", "ratio": -1}):  # fmt: skip
        assert _put(api, "/api/v1/units/P1/standards", {"standards": [bad]}).status_code == 422
    it_p2 = api.token("it_admin", unit_id="P2")
    one = {"standards": [{"device_kind": "body_camera", "per": "officer", "ratio": 1}]}
    assert _put(api, "/api/v1/units/P1/standards", one, it_p2).status_code == 404
    assert _put(api, "/api/v1/units/P2/standards", one, it_p2).status_code == 200
    assert api.get("/api/v1/units/FJ/equipment", it_p2).status_code == 404
    # Replacing with none: P2 inherits again.
    assert _put(api, "/api/v1/units/P2/standards", {"standards": []}, it_p2).status_code == 200
    standards = api.get("/api/v1/units/P2/standards", it_p2).json()["standards"]
    assert {s["source"] for s in standards} == {"FJ"}
    bad_period = api.get("/api/v1/units/FJ/equipment", params={
        "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"})  # fmt: skip
    assert bad_period.status_code == 422
