"""Cases and association through the api, on both catalogues (SQLite, PostgreSQL).

The object store is the local folder only: cases never touch it beyond registration.
Media from `make_record` are one-minute clips by officer 010203 on BC-0001 from T0.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from tests.ingest_records import T0
from tests.test_api_media import Api, serve_api
from wire.media_kinds import MediaKind

SHANGHAI = timezone(timedelta(hours=8))
OFFICER = "010203"  # make_record's officer
MINUTE = timedelta(minutes=1)


def at(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()


def event(
    event_id: str = "E1",
    *,
    start: datetime = T0 - 10 * MINUTE,
    end: datetime = T0 + 30 * MINUTE,
    officers: tuple[str, ...] = (OFFICER,),
    activity: str = "dispatch_110",
    room_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "activity": activity,
        "officer_ids": list(officers),
        "start": at(start),
        "end": at(end),
    }
    if room_id is not None:
        body["room_id"] = room_id
    return body


class CasesApi(Api):
    def put_case(
        self,
        case_no: str,
        events: list[dict[str, Any]],
        *,
        token: str | None = None,
        unit_id: str | None = None,
        title: str = "盗窃案",
    ) -> Any:
        body = {"title": title, "unit_id": unit_id, "events": events}
        return self.client.put(
            f"/api/v1/cases/{case_no}", json=body, headers=self.auth(token or self.admin)
        )

    def case(self, case_no: str, token: str | None = None) -> dict[str, Any]:
        response = self.get(f"/api/v1/cases/{case_no}", token=token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def links(self, case_no: str) -> dict[str, tuple[str, str | None, str | None]]:
        return {
            link["media_id"]: (link["source"], link["event_id"], link["rule"])
            for link in self.case(case_no)["links"]
        }

    def media(self, media_id: str) -> dict[str, Any]:
        response = self.get(f"/api/v1/media/{media_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def associate(self, case_no: str, media_ids: list[str], reason: str, token: str) -> Any:
        return self.client.post(
            f"/api/v1/cases/{case_no}/media",
            json={"media_ids": media_ids, "reason": reason},
            headers=self.auth(token),
        )

    def dissociate(self, case_no: str, media_id: str, reason: str | None, token: str) -> Any:
        params = {} if reason is None else {"reason": reason}
        return self.client.delete(
            f"/api/v1/cases/{case_no}/media/{media_id}", params=params, headers=self.auth(token)
        )

    def case_events(self, media_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/api/v1/media/{media_id}/custody")
        assert response.status_code == 200, response.text
        return [
            e
            for e in response.json()["events"]
            if e["event"] in ("associated_with_case", "dissociated_from_case")
        ]


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[CasesApi]:
    yield from serve_api(CasesApi, database_url, local_store_url, tmp_path)


def test_put_creates_then_replaces_and_get_returns_the_case(api: CasesApi) -> None:
    system = api.token("case_system", name="case-system")
    created = api.put_case("A-1", [event("E1"), event("E2", activity="inspection")], token=system)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["case_no"] == "A-1" and body["title"] == "盗窃案" and body["unit_id"] is None
    assert body["updated_by"] == "case-system"
    first = body["events"][0]
    assert first["start"] == "2024-05-01T07:50:00Z" and first["end"] == "2024-05-01T08:30:00Z"
    assert first["officer_ids"] == [OFFICER] and first["room_id"] is None
    assert {e["event_id"] for e in body["events"]} == {"E1", "E2"}
    assert api.case("A-1", token=system) == body

    replaced = api.put_case("A-1", [event("E3", activity="other")], title="new", token=system)
    assert replaced.status_code == 200, replaced.text
    case = api.case("A-1")
    assert case["title"] == "new" and [e["event_id"] for e in case["events"]] == ["E3"]
    assert api.get("/api/v1/cases/NOPE").status_code == 404


def test_refused_events_are_422_and_nothing_is_saved(api: CasesApi) -> None:
    refused = {
        "zero-length": ([event(start=T0, end=T0)], "empty"),
        "over 8 hours": ([event(start=T0, end=T0 + timedelta(hours=8, seconds=1))], "longer"),
        "ends first": ([event(start=T0, end=T0 - MINUTE)], "before it starts"),
        "duplicate": ([event("E1"), event("E1")], "more than once: E1"),
        "unknown activity": ([event(activity="jaywalking")], "interrogation"),
    }
    for name, (events, words) in refused.items():
        response = api.put_case("B-1", events)
        assert response.status_code == 422, name
        assert words in str(response.json()["detail"]), (name, response.text)

    naive = event()
    naive["start"] = "2024-05-01T08:00:00"
    response = api.put_case("B-1", [naive])
    assert response.status_code == 422 and "timezone" in response.text.lower()
    extra = api.client.put(
        "/api/v1/cases/B-1",
        json={"title": "t", "unit_id": None, "events": [], "colour": "red"},
        headers=api.auth(api.admin),
    )
    assert extra.status_code == 422
    assert api.get("/api/v1/cases/B-1").status_code == 404

    eight_hours = api.put_case("B-1", [event(start=T0, end=T0 + timedelta(hours=8))])
    assert eight_hours.status_code == 201, eight_hours.text


def test_only_case_writers_push_cases_and_only_reviewers_associate(api: CasesApi) -> None:
    media = api.ingested()
    system = api.token("case_system", name="case-system")
    assert api.put_case("C-1", [], token=system).status_code == 201
    for role in ("officer", "it_admin", "station"):
        kwargs = {"officer_id": OFFICER} if role == "officer" else {}
        token = api.token(role, **kwargs)
        assert api.put_case("C-1", [], token=token).status_code == 403, role
        assert api.get("/api/v1/cases/C-1", token=token).status_code == 403, role
        assert api.associate("C-1", [media["id"]], "why", token).status_code == 403, role
    # The case-handling system pushes cases; associating by hand is the reviewers' job.
    assert api.associate("C-1", [media["id"]], "why", system).status_code == 403
    assert api.dissociate("C-1", media["id"], "why", system).status_code == 403


def test_a_unit_token_reads_and_writes_only_its_units_cases(api: CasesApi) -> None:
    u1_system = api.token("case_system", unit_id="U1")
    u1_reviewer = api.token("reviewer", unit_id="U1")
    assert api.put_case("D-2", [], unit_id="U2").status_code == 201
    # Another unit's case: 403 to read or write; a unit token cannot file a case elsewhere.
    assert api.put_case("D-2", [], unit_id="U1", token=u1_system).status_code == 403
    assert api.put_case("D-9", [], unit_id="U2", token=u1_system).status_code == 403
    assert api.put_case("D-9", [], token=u1_reviewer).status_code == 403  # no unit given
    assert api.get("/api/v1/cases/D-2", token=u1_reviewer).status_code == 403
    assert api.put_case("D-1", [], unit_id="U1", token=u1_system).status_code == 201
    assert api.case("D-1", token=u1_reviewer)["unit_id"] == "U1"

    # Media outside the reviewer's unit do not exist for it.
    response = api.client.put(
        "/api/v1/devices/BC-2",
        json={"kind": "body_camera", "serial": "BC-2", "unit_id": "U2", "status": "active"},
        headers=api.auth(api.admin),
    )
    assert response.status_code == 201, response.text
    theirs = api.ingested(device_id="BC-2")
    response = api.associate("D-1", [theirs["id"]], "looks related", u1_reviewer)
    assert response.status_code == 404
    assert api.case("D-1")["media_ids"] == []


def test_footage_arriving_after_the_case_is_associated_and_kept(api: CasesApi) -> None:
    system = api.token("case_system", name="case-system")
    assert (
        api.put_case("F-1", [event("E1", start=T0 + 6 * MINUTE)], token=system).status_code == 201
    )

    # The clip ends at T0+1min: 5 minutes before the event, touching the tolerance.
    touching = api.ingested()
    assert touching["case_nos"] == ["F-1"] and touching["retention_until"] is None
    too_early = api.ingested(recorded_start=T0 - MINUTE - timedelta(seconds=1))
    assert too_early["case_nos"] == [] and too_early["retention_until"] is not None
    someone_else = api.ingested(officer_id="999999", recorded_start=T0 + 10 * MINUTE)
    assert someone_else["case_nos"] == []

    assert api.links("F-1") == {touching["id"]: ("auto", "E1", "officer")}
    (associated,) = api.case_events(touching["id"])
    assert associated["event"] == "associated_with_case"
    assert associated["actor"] == "dock-1" and associated["role"] == "station"
    assert associated["detail"]["case_no"] == "F-1" and associated["detail"]["source"] == "auto"
    assert associated["detail"]["event_id"] == "E1" and associated["detail"]["rule"] == "officer"


def test_a_case_arriving_after_the_footage_associates_it(api: CasesApi) -> None:
    clip = api.ingested()
    photo = api.ingested(
        kind=MediaKind.PHOTO, recorded_start=T0 + 20 * MINUTE, recorded_end=None,
        original_name="IMG_0001.JPG",
    )  # fmt: skip
    assert clip["retention_until"] is not None
    system = api.token("case_system", name="case-system")
    response = api.put_case("G-1", [event("E1")], token=system)
    assert response.status_code == 201, response.text
    assert sorted(response.json()["media_ids"]) == sorted([clip["id"], photo["id"]])
    assert api.media(clip["id"])["case_nos"] == ["G-1"]
    assert api.media(clip["id"])["retention_until"] is None
    (associated,) = api.case_events(clip["id"])
    assert associated["actor"] == "case-system" and associated["role"] == "case_system"
    assert associated["detail"]["reason"]  # says why, in words

    # Sending the same case again changes nothing and records nothing.
    assert api.put_case("G-1", [event("E1")], token=system).status_code == 200
    assert len(api.case_events(clip["id"])) == 1


def test_a_resent_case_drops_stale_auto_links_but_keeps_manual_and_dock(api: CasesApi) -> None:
    auto = api.ingested()
    by_hand = api.ingested(recorded_start=T0 + 2 * MINUTE)
    docked = api.ingested(recorded_start=T0 + 4 * MINUTE, case_no="H-1")
    reviewer = api.token("reviewer", name="reviewer-li")
    system = api.token("case_system", name="case-system")
    assert api.put_case("H-1", [event("E1")], token=system).status_code == 201
    assert api.links("H-1") == {
        auto["id"]: ("auto", "E1", "officer"),
        by_hand["id"]: ("auto", "E1", "officer"),
        docked["id"]: ("dock", None, None),
    }
    confirmed = api.associate("H-1", [by_hand["id"]], "officer confirmed", reviewer)
    assert confirmed.status_code == 200, confirmed.text

    moved = event("E1", start=T0 + 2 * timedelta(hours=1), end=T0 + 3 * timedelta(hours=1))
    assert api.put_case("H-1", [moved], token=system).status_code == 200
    assert api.links("H-1") == {
        by_hand["id"]: ("manual", "E1", "officer"),
        docked["id"]: ("dock", None, None),
    }
    dropped = api.media(auto["id"])
    assert dropped["case_nos"] == [] and dropped["retention_until"] is not None
    added, removed = api.case_events(auto["id"])
    assert removed["event"] == "dissociated_from_case" and removed["actor"] == "case-system"
    assert removed["detail"]["source"] == "auto" and removed["detail"]["case_no"] == "H-1"
    manual = api.case_events(by_hand["id"])[-1]
    assert manual["detail"]["source"] == "manual"
    assert manual["detail"]["reason"] == "officer confirmed"
    assert manual["actor"] == "reviewer-li"


def test_an_interview_room_recording_matches_its_room_without_an_officer(api: CasesApi) -> None:
    start = T0 + timedelta(hours=3)
    room = api.ingested(device_id="ROOM-3", officer_id=None, recorded_start=start)
    other_room = api.ingested(device_id="ROOM-4", officer_id=None, recorded_start=start)
    interrogation = event(
        "Q1", start=start, end=start + timedelta(hours=1), officers=("777777",),
        activity="interrogation", room_id="ROOM-3",
    )  # fmt: skip
    assert api.put_case("R-1", [interrogation]).status_code == 201
    assert api.links("R-1") == {room["id"]: ("auto", "Q1", "room")}
    assert api.media(other_room["id"])["case_nos"] == []


def test_reviewers_associate_and_dissociate_by_hand_with_reasons(api: CasesApi) -> None:
    reviewer = api.token("reviewer", name="reviewer-li")
    unrelated = api.ingested(officer_id="999999")
    assert api.put_case("M-1", [event("E1")]).status_code == 201
    matched = api.ingested(b"m" * 2048)  # associated automatically on arrival

    # Refused: no reason, unknown media, unknown case.
    assert api.associate("M-1", [unrelated["id"]], "   ", reviewer).status_code == 422
    assert api.associate("M-1", ["no-such-id"], "why", reviewer).status_code == 404
    assert api.associate("M-404", [unrelated["id"]], "why", reviewer).status_code == 404
    assert api.dissociate("M-1", matched["id"], None, reviewer).status_code == 422
    assert api.dissociate("M-1", matched["id"], "", reviewer).status_code == 422
    assert api.dissociate("M-1", unrelated["id"], "why", reviewer).status_code == 404
    assert api.case("M-1")["media_ids"] == [matched["id"]]

    response = api.associate("M-1", [unrelated["id"]], "seen at the scene on 2nd camera", reviewer)
    assert response.status_code == 200, response.text
    assert api.media(unrelated["id"])["retention_until"] is None
    (associated,) = api.case_events(unrelated["id"])
    assert associated["actor"] == "reviewer-li" and associated["role"] == "reviewer"
    assert associated["at"].endswith("Z")
    assert associated["detail"] == {
        "case_no": "M-1", "source": "manual", "event_id": None, "rule": None,
        "reason": "seen at the scene on 2nd camera",
    }  # fmt: skip

    response = api.dissociate("M-1", matched["id"], "another incident", reviewer)
    assert response.status_code == 200, response.text
    assert response.json()["media_ids"] == [unrelated["id"]]
    kept = api.media(matched["id"])  # the medium stays, no longer permanent
    assert kept["case_nos"] == [] and kept["retention_until"] is not None
    dissociated = api.case_events(matched["id"])[-1]
    assert dissociated["event"] == "dissociated_from_case"
    assert dissociated["actor"] == "reviewer-li"
    assert dissociated["detail"] == {
        "case_no": "M-1", "source": "auto", "event_id": "E1", "rule": "officer",
        "reason": "another incident",
    }  # fmt: skip

    # Neither re-sending the case nor registering the footage again brings it back.
    assert api.put_case("M-1", [event("E1")]).status_code == 200
    again = api.stored_record(b"m" * 2048, device_id="BC-0009", original_path="DCIM/B.MP4")
    assert api.ingest(again).status_code == 200
    assert api.case("M-1")["media_ids"] == [unrelated["id"]]
    # ...until a reviewer associates it by hand again.
    assert api.associate("M-1", [matched["id"]], "mistake", reviewer).status_code == 200
    assert api.links("M-1")[matched["id"]] == ("manual", None, None)
    later = event("E1", start=T0 + timedelta(hours=5), end=T0 + timedelta(hours=6))
    assert api.put_case("M-1", [later]).status_code == 200
    assert set(api.case("M-1")["media_ids"]) == {matched["id"], unrelated["id"]}


def test_the_tolerance_is_configurable(
    api: CasesApi, database_url: str, local_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATION_ASSOCIATION_TOLERANCE_S", "0")
    assert ApiSettings().association_tolerance_s == 0
    settings = ApiSettings(
        database_url=database_url, storage_url=local_store_url, association_tolerance_s=0
    )
    with TestClient(create_app(settings, store=api.store)) as strict:
        api.client = strict
        assert api.put_case("T-1", [event("E1", start=T0 + 2 * MINUTE)]).status_code == 201
        assert api.ingested()["case_nos"] == []  # ends one minute before: outside at 0 s
        assert api.ingested(recorded_start=T0 + MINUTE)["case_nos"] == ["T-1"]  # touching
