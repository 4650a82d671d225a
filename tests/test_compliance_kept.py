"""The compliance report keeps its judgements and day counts between requests; on both
catalogues, after each kind of change that can alter a report, the report served from what
was kept must equal one made from nothing, and must show the change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from api.compliance_judgements import _bunches
from rules.compliance import EventFacts
from storage.catalogue.db import session_scope
from tests.test_api_compliance import DEVICES, NOW, UNITS, H, M, Scene, _event, _join, build
from tests.test_api_media import Api, serve_api


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


PERIOD = {"start": (NOW - 96 * H).isoformat(), "end": (NOW + H).isoformat()}


def kept_rows(api: Api) -> tuple[int, int]:
    with session_scope(api.database_url) as session:
        events = session.execute(text("SELECT COUNT(*) FROM event_judgement")).scalar_one()
        days = session.execute(text("SELECT COUNT(*) FROM day_tally")).scalar_one()
    return int(events), int(days)


def report(api: Api, token: str) -> dict[str, Any]:
    response = api.get("/api/v1/compliance", token, params=PERIOD)
    assert response.status_code == 200, response.text
    body = response.json()
    body.pop("generated_at")
    return dict(body)


def from_nothing(api: Api, token: str) -> dict[str, Any]:
    with session_scope(api.database_url) as session:
        session.execute(text("DELETE FROM event_judgement"))
        session.execute(text("DELETE FROM day_tally"))
        session.commit()
    return report(api, token)


def same_as_from_nothing(api: Api, token: str) -> dict[str, Any]:
    kept = report(api, token)
    assert kept == from_nothing(api, token)
    return kept


def events_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["event_id"]: e for e in body["events"]}


def test_a_report_from_kept_judgements_follows_every_change(api: Api) -> None:
    scene: Scene = build(api)
    supervisor = api.token("supervisor", unit_id="FJ", name="督察")
    first = report(api, supervisor)
    events, days = kept_rows(api)
    assert events == len(first["events"]) == 10
    assert days >= 3  # the whole UTC days of the period
    assert report(api, supervisor) == first  # served from what was kept

    # Footage docked for the missing event: it is now covered, and late.
    scene.footage("missing-found", "BC-2", NOW - 30 * H, NOW - 29 * H)
    body = same_as_from_nothing(api, supervisor)
    assert events_of(body)["missing"]["status"] == "late"

    # The partial event's two clips joined into one recording: the minute between them is
    # a join, not a gap.
    first_part, second_part = scene.media["partial"]
    _join(scene, "rec-partial", first_part, second_part, gap_s=60)
    body = same_as_from_nothing(api, supervisor)
    assert events_of(body)["partial"]["status"] == "compliant"

    # The room's gap tolerated by 刑警大队's own rules.
    scene.put("/api/v1/units/XJ/recording-rules", {"gap_tolerance_s": 180})
    body = same_as_from_nothing(api, supervisor)
    assert events_of(body)["room-gap"]["status"] == "compliant"

    # The case-handling system moves an event to where there is no footage.
    moved = _event("keysteps", "inspection", ["100001"], NOW - 50 * H, NOW - 50 * H + 30 * M)
    case = api.get("/api/v1/cases/C-PCS1").json()
    others = [
        {k: e[k] for k in ("event_id", "activity", "officer_ids", "start", "end")}
        for e in case["events"]
        if e["event_id"] != "keysteps"
    ]
    scene.put("/api/v1/cases/C-PCS1", {"title": case["title"], "unit_id": "PCS1",
                                       "events": [*others, moved]})  # fmt: skip
    body = same_as_from_nothing(api, supervisor)
    assert events_of(body)["keysteps"]["status"] == "missing"

    # A stray clip judged non-evidential: the categorisation count moves.
    before = body["summary"]["total"]["categorised"]
    stray = scene.media["stray"][0]
    scene.put(f"/api/v1/media/{stray}/classification",
              {"classification": "non_evidential", "reason": "误触"})  # fmt: skip
    body = same_as_from_nothing(api, supervisor)
    assert body["summary"]["total"]["categorised"] == before + 1

    # 港口派出所 moves under 刑警大队, whose gap tolerance it now inherits; its deadline
    # stays its own.
    parent, name, kind = UNITS["PCS2"]
    assert parent == "FJ"
    scene.put("/api/v1/units/PCS2", {"name": name, "kind": kind, "parent_id": "XJ",
                                     "officer_count": 20, "on_duty_officer_count": 5})  # fmt: skip
    body = same_as_from_nothing(api, supervisor)
    rules = {r["unit_id"]: r for r in body["rules"]}
    assert rules["PCS2"]["gap_tolerance_source"] == "XJ"
    assert {u["unit_id"]: u["parent_id"] for u in body["summary"]["by_unit"]}["PCS2"] == "XJ"
    assert DEVICES["BC-3"][1] == "PCS2"


def test_events_days_apart_are_judged_from_separate_reads_of_footage() -> None:
    def at(hours: float, length_h: float = 1) -> EventFacts:
        start = NOW + hours * H
        return EventFacts("C", f"E{hours}", "dispatch_110", None, ("1",), start,
                          start + length_h * H)  # fmt: skip

    # A long event reaches the next one; a gap of more than two days starts a new bunch.
    events = [at(100), at(0, length_h=60), at(10), at(0.5), at(200)]
    bunches = [[e.event_id for e in b] for b in _bunches(events)]
    assert bunches == [["E0", "E0.5", "E10", "E100"], ["E200"]]
    assert list(_bunches([])) == []


def test_an_event_judged_again_alone_still_sees_its_whole_recording(api: Api) -> None:
    """An event inside a join of a recording whose next part lies hours later: judged with
    the rest of the period or alone after a dock of that day, the recording is one piece."""
    scene = build(api)
    supervisor = api.token("supervisor", unit_id="FJ")
    start = NOW - 78 * H - 50 * M
    scene.put("/api/v1/cases/C-JOIN", {"title": "录像中段", "unit_id": "PCS1", "events": [
        _event("in-join", "dispatch_110", ["100001"], start, start + 20 * M)]})  # fmt: skip
    first = scene.footage("in-join", "BC-1", NOW - 80 * H, NOW - 79 * H)
    second = scene.footage("in-join", "BC-1", NOW - 76 * H, NOW - 75 * H)
    _join(scene, "rec-in-join", first, second, gap_s=3 * 3600)
    # Covered (docked now, days after: late, but covered).
    judged = events_of(report(api, supervisor))["in-join"]
    assert (judged["status"], judged["coverage"]) == ("late", 1.0)

    # Another officer's clip of that day: the day's events are judged again, on their own.
    scene.footage("elsewhere", "BC-3", start, start + 5 * M)
    body = same_as_from_nothing(api, supervisor)
    assert (events_of(body)["in-join"]["status"], events_of(body)["in-join"]["coverage"]) == (
        "late", 1.0)  # fmt: skip
    assert events_of(body)["in-join"]["media_ids"] == sorted([first, second])
