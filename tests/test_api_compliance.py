"""The compliance report through the api, on both catalogues: a 分局 with two 派出所 and a
刑警大队, their officers, cameras, an interview room, cases and footage that is on time,
late, partial, missing, joined from segments, and in the interview room with and without
a gap. Every expected figure is worked out by hand below, next to what it comes from.

Footage is registered now; events lie in the past. So footage of an event that ended
more than its unit's deadline ago is late by (now - due), and footage of a recent event is
on time.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from storage.catalogue.db import session_scope
from storage.catalogue.models import Media
from tests.test_api_media import Api, serve_api
from wire.media_kinds import MediaKind
from wire.zones import SHOWN_ZONE

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
H = timedelta(hours=1)
M = timedelta(minutes=1)

UNITS = {
    "FJ": (None, "南大港管理区分局", "sub_bureau"),
    "PCS1": ("FJ", "城区派出所", "police_station"),
    "PCS2": ("FJ", "港口派出所", "police_station"),
    "XJ": ("FJ", "刑警大队", "brigade"),
}
# device: (kind, unit, officer)
DEVICES = {
    "BC-1": ("body_camera", "PCS1", "100001"),
    "BC-2": ("body_camera", "PCS1", "100002"),
    "BC-3": ("body_camera", "PCS2", "200001"),
    "BC-4": ("body_camera", "XJ", "300001"),
    "ROOM-1": ("interview_room", "XJ", None),
}


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


@dataclass
class Scene:
    api: Api
    media: dict[str, list[str]] = field(default_factory=dict)
    """Media ids by a label of what they are."""

    def footage(self, label: str, device: str, start: datetime, end: datetime) -> str:
        kind, _unit, officer = DEVICES[device]
        body = self.api.ingested(
            os.urandom(256),
            device_id=device,
            officer_id=officer,
            recorded_start=start,
            recorded_end=end,
            duration_s=(end - start).total_seconds(),
            original_name=f"{label}_{len(self.media.get(label, []))}.MP4",
            original_path=f"DCIM/{label}_{len(self.media.get(label, []))}.MP4",
        )
        self.media.setdefault(label, []).append(body["id"])
        return str(body["id"])

    def put(self, path: str, body: dict[str, Any]) -> Any:
        response = self.api.client.put(path, json=body, headers=self.api.auth(self.api.admin))
        assert response.status_code in (200, 201), response.text
        return response.json()


def _event(
    event_id: str, activity: str, officers: list[str], start: datetime, end: datetime,
    room: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "event_id": event_id,
        "activity": activity,
        "officer_ids": officers,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }
    if room is not None:
        body["room_id"] = room
    return body


def build(api: Api) -> Scene:
    scene = Scene(api)
    for unit, (parent, name, kind) in UNITS.items():
        scene.put(f"/api/v1/units/{unit}", {"name": name, "kind": kind, "parent_id": parent,
                                            "officer_count": 20, "on_duty_officer_count": 5})  # fmt: skip
    for device, (kind, unit, officer) in DEVICES.items():
        scene.put(f"/api/v1/devices/{device}", {"kind": kind, "serial": f"SN-{device}",
                  "unit_id": unit, "officer_id": officer, "status": "active"})  # fmt: skip
    # 港口派出所 gives itself 2 hours, not the default 24, to store footage.
    scene.put("/api/v1/units/PCS2/recording-rules", {"deadline_s": 2 * 3600})

    scene.put("/api/v1/cases/C-PCS1", {"title": "城区派出所 案件", "unit_id": "PCS1", "events": [
        _event("ontime", "dispatch_110", ["100001"], NOW - 3 * H, NOW - 3 * H + 30 * M),
        _event("late", "stop_and_check", ["100002"], NOW - 72 * H, NOW - 72 * H + 20 * M),
        _event("partial", "onsite_penalty", ["100001"], NOW - 5 * H, NOW - 4 * H),
        _event("joined", "scene_search_seizure", ["100001"], NOW - 8 * H, NOW - 7 * H),
        _event("missing", "forced_execution", ["100002"], NOW - 30 * H, NOW - 29 * H),
        _event("keysteps", "inspection", ["100001"], NOW - 6 * H, NOW - 6 * H + 30 * M),
        _event("other", "other", ["100001"], NOW - 10 * H, NOW - 9 * H),
    ]})  # fmt: skip
    scene.put("/api/v1/cases/C-XJ", {"title": "刑警大队 案件", "unit_id": "XJ", "events": [
        _event("room-ok", "interrogation", ["300001"], NOW - 10 * H, NOW - 9 * H, "ROOM-1"),
        _event("room-gap", "interrogation", ["300001"], NOW - 12 * H, NOW - 11 * H, "ROOM-1"),
    ]})  # fmt: skip
    scene.put("/api/v1/cases/C-PCS2", {"title": "港口派出所 案件", "unit_id": "PCS2", "events": [
        _event("short-deadline", "dispatch_110", ["200001"], NOW - 4 * H, NOW - 3 * H),
    ]})  # fmt: skip

    # ontime: one clip from a minute before to a minute after: covers it all.
    scene.footage("ontime", "BC-1", NOW - 3 * H - M, NOW - 3 * H + 31 * M)
    # late: covered, registered now, 72 h - 20 min - 24 h = 47 h 40 min after its due time.
    scene.footage("late", "BC-2", NOW - 72 * H, NOW - 72 * H + 20 * M)
    # partial: two clips on their own with a minute between them (> 30 s).
    scene.footage("partial", "BC-1", NOW - 5 * H, NOW - 4 * H - 31 * M)
    scene.footage("partial", "BC-1", NOW - 4 * H - 30 * M, NOW - 4 * H)
    # joined: the same minute between two segments of one recording: not a gap.
    first = scene.footage("joined", "BC-1", NOW - 8 * H, NOW - 7 * H - 31 * M)
    second = scene.footage("joined", "BC-1", NOW - 7 * H - 30 * M, NOW - 7 * H)
    _join(scene, "rec-joined", first, second, gap_s=60)
    # keysteps: two minutes of a thirty-minute inspection are enough for key steps.
    scene.footage("keysteps", "BC-1", NOW - 6 * H + 10 * M, NOW - 6 * H + 12 * M)
    # room-ok: the room's recorder throughout.
    scene.footage("room-ok", "ROOM-1", NOW - 10 * H - M, NOW - 9 * H + M)
    # room-gap: the room's recorder stopped for two minutes; the officer's body camera ran
    # throughout, but does not stand in for the room's recorder.
    scene.footage("room-gap", "ROOM-1", NOW - 12 * H, NOW - 11 * H - 32 * M)
    scene.footage("room-gap", "ROOM-1", NOW - 11 * H - 30 * M, NOW - 11 * H)
    scene.footage("room-gap-bodycam", "BC-4", NOW - 12 * H, NOW - 11 * H)
    # short-deadline: covered, registered now: 3 h after its end, 1 h past 港口's 2 h.
    scene.footage("short-deadline", "BC-3", NOW - 4 * H, NOW - 3 * H)
    # Footage of no event: one judged non-evidential by a reviewer, one left alone.
    judged = scene.footage("stray-judged", "BC-2", NOW - 40 * H, NOW - 40 * H + 5 * M)
    scene.footage("stray", "BC-1", NOW - 41 * H, NOW - 41 * H + 5 * M)
    scene.put(f"/api/v1/media/{judged}/classification",
              {"classification": "non_evidential", "reason": "误触录像，无执法内容"})  # fmt: skip
    return scene


def _join(scene: Scene, recording: str, first: str, second: str, gap_s: float) -> None:
    parts = [scene.api.get(f"/api/v1/media/{m}").json() for m in (first, second)]
    response = scene.api.client.put(
        f"/api/v1/recordings/{recording}",
        json={
            "station_id": "dock-1",
            "parts": [{"media_id": p["id"], "sha256": p["sha256"]} for p in parts],
            "joins": [{"before": first, "after": second, "gap_s": gap_s}],
        },
        headers=scene.api.auth(scene.api.station),
    )
    assert response.status_code == 201, response.text


def _report(api: Api, token: str | None = None, **params: str) -> Any:
    query = {"start": (NOW - 96 * H).isoformat(), "end": (NOW + H).isoformat(), **params}
    response = api.get("/api/v1/compliance", token, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_report_judges_every_event_by_its_units_rules(api: Api) -> None:
    scene = build(api)
    supervisor = api.token("supervisor", unit_id="FJ", name="督察")
    body = _report(api, supervisor)
    events = {e["event_id"]: e for e in body["events"]}
    assert set(events) == {"ontime", "late", "partial", "joined", "missing", "keysteps",
                           "other", "room-ok", "room-gap", "short-deadline"}  # fmt: skip
    expected = {
        # event: (requirement, status, coverage)
        "ontime": ("full_process", "compliant", 1.0),
        "late": ("full_process", "late", 1.0),
        "partial": ("full_process", "partial", 59 / 60),
        "joined": ("full_process", "compliant", 1.0),
        "missing": ("full_process", "missing", 0.0),
        "keysteps": ("key_steps", "compliant", 2 / 30),
        "other": ("none", "compliant", 0.0),
        "room-ok": ("full_process", "compliant", 1.0),
        "room-gap": ("full_process", "partial", 58 / 60),
        "short-deadline": ("full_process", "late", 1.0),
    }
    for event_id, (requirement, status, coverage) in expected.items():
        got = events[event_id]
        assert (got["requirement"], got["status"]) == (requirement, status), got
        assert got["coverage"] == pytest.approx(coverage, abs=1e-6), got
    assert events["partial"]["longest_gap_s"] == 60
    assert events["room-gap"]["longest_gap_s"] == 120
    assert events["room-gap"]["needs_room"] is True
    # The room's recorder only: the body camera's clip is not behind the judgement.
    assert events["room-gap"]["media_ids"] == sorted(scene.media["room-gap"])
    assert events["joined"]["media_ids"] == sorted(scene.media["joined"])
    assert events["missing"]["media_ids"] == []
    # Late by the time since its due time: NOW is when the module was imported, which in a
    # whole run may be many minutes before this test.
    late = events["late"]
    assert late["due_at"] == _z(NOW - 72 * H + 20 * M + 24 * H)
    since_now = (datetime.now(UTC) - NOW).total_seconds()
    assert 47 * 3600 + 40 * 60 <= late["late_by_s"] <= 47 * 3600 + 40 * 60 + since_now + 1
    short = events["short-deadline"]
    assert short["due_at"] == _z(NOW - 3 * H + 2 * H)
    assert 3600 <= short["late_by_s"] <= 3600 + since_now + 1
    assert events["ontime"]["late_by_s"] is None

    rules = {r["unit_id"]: r for r in body["rules"]}
    assert set(rules) == {"PCS1", "PCS2", "XJ"}
    assert (rules["PCS2"]["deadline_s"], rules["PCS2"]["deadline_source"]) == (7200, "PCS2")
    assert (rules["PCS1"]["deadline_s"], rules["PCS1"]["deadline_source"]) == (86400, "default")


def test_the_summary_rolls_units_up_the_tree_and_counts_each_officer(api: Api) -> None:
    build(api)
    body = _report(api, api.token("supervisor", unit_id="FJ"))
    units = {row["unit_id"]: row for row in body["summary"]["by_unit"]}
    assert set(units) == set(UNITS)

    def counts(row: dict[str, Any]) -> tuple[int, ...]:
        names = ("events", "required", "compliant", "partial", "missing", "late", "media",
                 "categorised")  # fmt: skip
        return tuple(row[n] for n in names)

    # 城区: 7 events, 6 required (not `other`): ontime, joined, keysteps compliant; partial;
    # missing; late. Media: ontime 1, late 1, partial 2, joined 2, keysteps 1, two strays;
    # all but the stray left alone are in the case or judged.
    assert counts(units["PCS1"]) == (7, 6, 3, 1, 1, 1, 9, 8)
    assert units["PCS1"]["activation_rate"] == pytest.approx(5 / 6)
    assert units["PCS1"]["late_rate"] == pytest.approx(1 / 5)
    assert units["PCS1"]["categorisation_rate"] == pytest.approx(8 / 9)
    # 刑警大队: two interrogations, one compliant, one partial; room 3 media + body camera 1.
    assert counts(units["XJ"]) == (2, 2, 1, 1, 0, 0, 4, 4)
    # 港口: one event, late under its own 2-hour deadline.
    assert counts(units["PCS2"]) == (1, 1, 0, 0, 0, 1, 1, 1)
    assert units["PCS2"]["late_rate"] == 1.0
    # 分局: itself (nothing of its own) and the three below it.
    assert counts(units["FJ"]) == (10, 9, 4, 2, 1, 2, 14, 13)
    assert units["FJ"]["activation_rate"] == pytest.approx(8 / 9)
    assert units["FJ"]["late_rate"] == pytest.approx(2 / 8)
    assert (units["FJ"]["name"], units["PCS1"]["parent_id"]) == ("南大港管理区分局", "FJ")
    assert counts(body["summary"]["total"]) == counts(units["FJ"])

    officers = {row["officer_id"]: row for row in body["summary"]["by_officer"]}
    # 100001: ontime, partial, joined, keysteps, other (none required); media 1+2+2+1 and
    # the stray left alone.
    assert counts(officers["100001"]) == (5, 4, 3, 1, 0, 0, 7, 6)
    # 100002: late and missing; the late clip and the judged stray.
    assert counts(officers["100002"]) == (2, 2, 0, 0, 1, 1, 2, 2)
    assert officers["100002"]["activation_rate"] == 0.5
    assert counts(officers["300001"]) == (2, 2, 1, 1, 0, 0, 1, 1)
    assert counts(officers["200001"]) == (1, 1, 0, 0, 0, 1, 1, 1)


def test_a_supervisor_sees_only_their_units_and_can_drill_into_a_figure(api: Api) -> None:
    build(api)
    pcs1 = api.token("supervisor", unit_id="PCS1")
    body = _report(api, pcs1)
    assert {e["case_no"] for e in body["events"]} == {"C-PCS1"}
    assert [row["unit_id"] for row in body["summary"]["by_unit"]] == ["PCS1"]
    assert {r["officer_id"] for r in body["summary"]["by_officer"]} == {"100001", "100002"}
    outside = api.get("/api/v1/compliance", pcs1, params={
        "unit_id": "XJ", "start": NOW.isoformat(), "end": (NOW + H).isoformat()})  # fmt: skip
    assert outside.status_code == 404, outside.text
    # Drill down: the events behind 100002's missing figure; the summary stays whole.
    drilled = _report(api, pcs1, officer_id="100002", status="missing")
    assert [e["event_id"] for e in drilled["events"]] == ["missing"]
    assert drilled["summary"] == body["summary"]
    # One unit of the tree, asked by a supervisor above it.
    xj = _report(api, api.token("supervisor", unit_id="FJ"), unit_id="XJ")
    assert {e["event_id"] for e in xj["events"]} == {"room-ok", "room-gap"}
    reviewer = api.get("/api/v1/compliance", api.token("reviewer", unit_id="PCS1"),
                       params={"start": NOW.isoformat(), "end": (NOW + H).isoformat()})  # fmt: skip
    assert reviewer.status_code == 403


def test_bad_periods_are_refused_with_what_to_do(api: Api) -> None:
    for params, words in [
        ({"start": NOW.isoformat(), "end": NOW.isoformat()}, "after"),
        ({"start": (NOW - 500 * 24 * H).isoformat(), "end": NOW.isoformat()}, "at most"),
        ({"start": "2026-01-01T00:00:00", "end": NOW.isoformat()}, "timezone"),
        ({"end": NOW.isoformat()}, "missing"),
    ]:
        response = api.get("/api/v1/compliance", params=params)
        assert response.status_code == 422, (params, response.text)
        assert words in response.text.lower(), response.text


def test_a_classification_is_a_reviewers_judgement_in_custody(api: Api) -> None:
    medium = api.ingested(kind=MediaKind.VIDEO)
    path = f"/api/v1/media/{medium['id']}/classification"
    reviewer = api.token("reviewer", name="案管")
    body = {"classification": "non_evidential", "reason": "空白录像"}
    response = api.client.put(path, json=body, headers=api.auth(reviewer))
    assert response.status_code == 200, response.text
    assert response.json()["classification"] == "non_evidential"
    again = api.client.put(path, json=body, headers=api.auth(reviewer))
    assert again.status_code == 200
    back = {"classification": None, "reason": "复核后撤销"}
    assert api.client.put(path, json=back, headers=api.auth(reviewer)).status_code == 200
    custody = api.get(f"/api/v1/media/{medium['id']}/custody").json()
    judged = [e for e in custody["events"] if e["event"] == "classified"]
    assert [(e["detail"]["classification"], e["detail"]["reason"]) for e in judged] == [
        ("non_evidential", "空白录像"),
        (None, "复核后撤销"),
    ]
    no_reason = api.client.put(path, json={"classification": "non_evidential"},
                               headers=api.auth(reviewer))  # fmt: skip
    assert no_reason.status_code == 422
    officer = api.token("officer", officer_id=medium["officer_id"])
    assert api.client.put(path, json=body, headers=api.auth(officer)).status_code == 403


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_the_report_as_csv_and_xlsx_in_chinese_and_shanghai_time(api: Api) -> None:
    build(api)
    supervisor = api.token("supervisor", unit_id="FJ")
    period = {"start": (NOW - 96 * H).isoformat(), "end": (NOW + H).isoformat()}
    response = api.get("/api/v1/compliance", supervisor, params={**period, "format": "csv"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    late = next(r for r in rows if r["事项编号"] == "late")
    assert (late["结果"], late["记录要求"], late["执法活动"]) == (
        "逾期存储",
        "全过程",
        "当场盘问、检查",
    )
    shanghai = (NOW - 72 * H).astimezone(SHOWN_ZONE).strftime("%Y-%m-%d %H:%M:%S")
    assert late["开始时间"] == shanghai
    assert len(rows) == 10

    response = api.get("/api/v1/compliance", supervisor, params={**period, "format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["事项清单", "单位汇总", "民警汇总"]
    units = list(book["单位汇总"].iter_rows(values_only=True))
    assert units[0][:4] == ("单位编号", "单位名称", "事项数", "应录事项")
    fj = next(r for r in units if r[0] == "FJ")
    assert fj[1:4] == ("南大港管理区分局", 10, 9)


def test_a_units_association_tolerance_decides_which_footage_joins_its_cases(api: Api) -> None:
    scene = Scene(api)
    for unit in ("STRICT", "LAX"):
        scene.put(f"/api/v1/units/{unit}", {"name": unit, "kind": "police_station",
                  "parent_id": None, "officer_count": 1, "on_duty_officer_count": 1})  # fmt: skip
    scene.put("/api/v1/units/STRICT/recording-rules", {"association_tolerance_s": 0})
    for device, unit, officer in (("BC-S", "STRICT", "S1"), ("BC-L", "LAX", "L1")):
        scene.put(f"/api/v1/devices/{device}", {"kind": "body_camera", "serial": device,
                  "unit_id": unit, "officer_id": officer, "status": "active"})  # fmt: skip
    # Both clips end two minutes before their officer's event starts.
    start = NOW - 5 * H
    ids = {}
    for device, officer in (("BC-S", "S1"), ("BC-L", "L1")):
        body = api.ingested(os.urandom(64), device_id=device, officer_id=officer,
                            recorded_start=start - 12 * M, recorded_end=start - 2 * M,
                            duration_s=600.0)  # fmt: skip
        ids[device] = body["id"]
    for unit, officer in (("STRICT", "S1"), ("LAX", "L1")):
        scene.put(f"/api/v1/cases/C-{unit}", {"title": unit, "unit_id": unit, "events": [
            _event("E1", "dispatch_110", [officer], start, start + H)]})  # fmt: skip
    assert api.get("/api/v1/cases/C-STRICT").json()["media_ids"] == []
    assert api.get("/api/v1/cases/C-LAX").json()["media_ids"] == [ids["BC-L"]]
    # Footage arriving after the case is judged by the same rule.
    late = api.ingested(os.urandom(64), device_id="BC-S", officer_id="S1",
                        recorded_start=start + 10 * M, recorded_end=start + 20 * M,
                        duration_s=600.0)  # fmt: skip
    assert api.get("/api/v1/cases/C-STRICT").json()["media_ids"] == [late["id"]]


def test_a_recording_whose_later_part_came_at_a_later_dock_is_not_late(api: Api) -> None:
    """The part covering the event was stored the day it was recorded; the recording's
    next part did not fit on the station and came two days later. The event's footage was
    stored in time: the later part does not make it late."""
    scene = build(api)
    scene.put("/api/v1/cases/C-DOCKS", {"title": "两次采集", "unit_id": "PCS1", "events": [
        _event("two-docks", "dispatch_110", ["100001"], NOW - 60 * H, NOW - 60 * H + 20 * M),
    ]})  # fmt: skip
    first = scene.footage("two-docks", "BC-1", NOW - 60 * H - M, NOW - 60 * H + 21 * M)
    second = scene.footage("two-docks", "BC-1", NOW - 60 * H + 21 * M, NOW - 60 * H + 40 * M)
    _join(scene, "rec-two-docks", first, second, gap_s=0)
    with session_scope(api.database_url) as session:
        session.execute(sa.update(Media).where(Media.id == first)
                        .values(ingested_at=NOW - 59 * H))  # fmt: skip
        session.commit()
    events = {e["event_id"]: e for e in _report(api, api.token("supervisor"))["events"]}
    assert (events["two-docks"]["status"], events["two-docks"]["late_by_s"]) == ("compliant", None)
    assert events["two-docks"]["media_ids"] == sorted([first, second])
