"""Retention through the api and `station retention run`, on both catalogues: legal holds on
media and cases, the deletion job that takes only expired, unheld, unassociated media and
leaves tombstones, and early deletion that needs a second person."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from station.cli import app as station_cli
from storage.catalogue.models import utc_now
from storage.object_store import original_key
from tests.test_api_media import Api, serve_api

REASON = "涉及当事人隐私，经法制部门审核"


class RetentionApi(Api):
    def put(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        return self.client.put(path, json=body, headers=self.auth(token or self.admin))

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        return self.client.post(path, json=body, headers=self.auth(token or self.admin))

    def codes(self, media_id: str) -> list[str]:
        return [e["event"] for e in self.get(f"/api/v1/media/{media_id}/custody").json()["events"]]

    def run_job(self, store_url: str) -> Any:
        result = CliRunner().invoke(
            station_cli,
            ["retention", "run"],
            env={"STATION_DATABASE_URL": self.database_url, "STATION_STORAGE_URL": store_url},
        )
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[RetentionApi]:
    yield from serve_api(RetentionApi, database_url, local_store_url, tmp_path)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_hold_on_a_medium_is_set_and_lifted_with_its_reasons(api: RetentionApi) -> None:
    media = api.ingested()
    held = api.put(f"/api/v1/media/{media['id']}/hold", {"hold": True, "reason": "复议期间"})
    assert held.status_code == 200 and held.json()["legal_hold"] is True
    lifted = api.put(f"/api/v1/media/{media['id']}/hold", {"hold": False, "reason": "复议结束"})
    assert lifted.json()["legal_hold"] is False
    assert api.codes(media["id"])[-2:] == ["legal_hold_set", "legal_hold_released"]
    other = api.token("reviewer", unit_id="U2")
    assert api.put(f"/api/v1/media/{media['id']}/hold", {"hold": True, "reason": "x"},
                   token=other).status_code == 404  # fmt: skip
    officer = api.token("officer", unit_id="U1", officer_id="010203")
    assert api.put(f"/api/v1/media/{media['id']}/hold", {"hold": True, "reason": "x"},
                   token=officer).status_code == 403  # fmt: skip
    trail = api.get("/api/v1/audit", params={"action": "PUT /api/v1/media/{media_id}/hold"})
    assert [e["status"] for e in trail.json()["items"]] == [403, 404, 200, 200]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_hold_on_a_case_keeps_its_media(api: RetentionApi) -> None:
    media = api.ingested()
    case = {"title": "盗窃案", "unit_id": "U1", "events": []}
    assert api.put("/api/v1/cases/C-1", case).status_code == 201
    assert api.post("/api/v1/cases/C-1/media",
                    {"media_ids": [media["id"]], "reason": "现场录像"}).status_code == 200  # fmt: skip
    held = api.put("/api/v1/cases/C-1/hold", {"hold": True, "reason": "移送起诉"})
    assert held.status_code == 200
    assert held.json() == {"case_no": "C-1", "legal_hold": True, "media_ids": [media["id"]]}
    assert api.codes(media["id"])[-1] == "legal_hold_set"
    assert api.put("/api/v1/cases/C-9/hold", {"hold": True, "reason": "x"}).status_code == 404
    other = api.token("reviewer", unit_id="U2")
    assert api.put("/api/v1/cases/C-1/hold", {"hold": False, "reason": "x"},
                   token=other).status_code == 403  # fmt: skip


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_permanent_category_keeps_a_medium_permanently(api: RetentionApi) -> None:
    media = api.ingested()
    assert media["retention_until"] is not None
    judged = api.put(f"/api/v1/media/{media['id']}/classification",
                     {"classification": "obstruction", "reason": "当事人阻碍执法"})  # fmt: skip
    assert judged.status_code == 200 and judged.json()["retention_until"] is None
    back = api.put(f"/api/v1/media/{media['id']}/classification",
                   {"classification": "non_evidential", "reason": "误判"})  # fmt: skip
    assert back.json()["retention_until"] is not None


def test_the_job_deletes_only_what_nothing_keeps_and_leaves_tombstones(
    api: RetentionApi, local_store_url: str
) -> None:
    # Recorded in 2024: their 183 days are long over, unless something keeps them.
    free = api.ingested(b"free " * 100, proxy=b"proxy bytes", thumbnail=b"jpeg")
    held = api.ingested()
    in_case = api.ingested()
    important = api.ingested(important=True)
    recent = api.ingested(recorded_start=utc_now() - timedelta(days=10))
    api.put(f"/api/v1/media/{held['id']}/hold", {"hold": True, "reason": "复议期间"})
    api.put("/api/v1/cases/C-1", {"title": "t", "unit_id": "U1", "events": []})
    api.post("/api/v1/cases/C-1/media", {"media_ids": [in_case["id"]], "reason": "证据"})

    assert "已按保存期限删除 1 个媒体" in api.run_job(local_store_url).output
    gone = api.get(f"/api/v1/media/{free['id']}")
    assert gone.status_code == 410
    tombstone = gone.json()["tombstone"]
    assert tombstone["sha256"] == free["sha256"] and tombstone["how"] == "expired"
    assert tombstone["deleted_by"].startswith("station-cli:")
    for kept in (held, in_case, important, recent):
        assert api.get(f"/api/v1/media/{kept['id']}").status_code == 200
    assert not api.store.exists(original_key(free["sha256"]))
    assert not any(k.endswith(".jpg") for k in api.store.list_keys("thumbnails"))
    assert api.store.exists(original_key(held["sha256"]))

    (entry,) = api.get("/api/v1/audit", params={"action": "media.delete"}).json()["items"]
    assert entry["seq"] == tombstone["audit_seq"] and entry["target"] == free["id"]
    assert entry["detail"]["sha256"] == hashlib.sha256(b"free " * 100).hexdigest()
    assert entry["detail"]["how"] == "expired"
    # A second run finds nothing more; an officer of another unit learns nothing of it.
    assert "删除 0 个媒体" in api.run_job(local_store_url).output
    stranger = api.token("officer", unit_id="U2", officer_id="999")
    assert api.get(f"/api/v1/media/{free['id']}", token=stranger).status_code == 404


def test_an_early_deletion_needs_a_second_person(api: RetentionApi) -> None:
    media = api.ingested(recorded_start=utc_now() - timedelta(days=1))
    li = api.token("reviewer", unit_id="U1", name="li")
    li_again = api.token("supervisor", unit_id="U1", name="li")
    wang = api.token("supervisor", unit_id="U1", name="wang")
    asked = api.post(f"/api/v1/media/{media['id']}/deletion-requests", {"reason": REASON}, li)
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["status"] == "pending" and request["requested_by"] == "li"
    assert api.post(f"/api/v1/media/{media['id']}/deletion-requests", {"reason": REASON},
                    li).status_code == 409  # fmt: skip
    assert api.get(f"/api/v1/media/{media['id']}").status_code == 200  # nothing deleted yet

    approve = f"/api/v1/deletion-requests/{request['id']}/approve"
    assert api.post(approve, {"reason": "同意"}, li).status_code == 403  # a reviewer
    same_person = api.post(approve, {"reason": "同意"}, li_again)
    assert same_person.status_code == 403 and "another person" in same_person.json()["detail"]
    approved = api.post(approve, {"reason": "同意删除"}, wang)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "wang"
    assert api.post(approve, {"reason": "again"}, wang).status_code == 409

    gone = api.get(f"/api/v1/media/{media['id']}").json()["tombstone"]
    assert gone["how"] == "early" and gone["deleted_by"] == "li" and gone["approved_by"] == "wang"
    assert not api.store.exists(original_key(media["sha256"]))
    (entry,) = api.get("/api/v1/audit", params={"action": "media.delete"}).json()["items"]
    assert entry["actor"] == "li" and entry["detail"]["approved_by"] == "wang"
    assert entry["detail"]["deletion_request_id"] == request["id"]
    assert entry["detail"]["sha256"] == media["sha256"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_evidence_and_held_media_cannot_be_asked_for(api: RetentionApi) -> None:
    important = api.ingested(important=True)
    held = api.ingested()
    in_case = api.ingested()
    api.put(f"/api/v1/media/{held['id']}/hold", {"hold": True, "reason": "复议期间"})
    api.put("/api/v1/cases/C-1", {"title": "t", "unit_id": "U1", "events": []})
    api.post("/api/v1/cases/C-1/media", {"media_ids": [in_case["id"]], "reason": "证据"})
    for media, why in ((important, "permanently"), (held, "legal hold"), (in_case, "case")):
        refused = api.post(f"/api/v1/media/{media['id']}/deletion-requests", {"reason": REASON})
        assert refused.status_code == 409 and why in refused.json()["detail"], refused.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_request_can_be_turned_down_or_withdrawn(api: RetentionApi) -> None:
    media = api.ingested()
    li = api.token("reviewer", unit_id="U1", name="li")
    zhao = api.token("reviewer", unit_id="U1", name="zhao")
    asked = api.post(f"/api/v1/media/{media['id']}/deletion-requests", {"reason": REASON}, li)
    reject = f"/api/v1/deletion-requests/{asked.json()['id']}/reject"
    assert api.post(reject, {"reason": "不同意"}, zhao).status_code == 403
    withdrawn = api.post(reject, {"reason": "撤回"}, li)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "rejected"
    pending = api.get("/api/v1/deletion-requests", params={"status": "pending"}).json()
    assert pending["items"] == []
    assert api.get(f"/api/v1/media/{media['id']}").status_code == 200
    assert api.codes(media["id"])[-1] == "deletion_requested"
