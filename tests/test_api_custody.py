"""The chain of custody through the api, on both catalogues (SQLite, PostgreSQL).

The object store is the local folder only: custody never touches it beyond what
test_api_media covers on both stores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from storage.catalogue.errors import CatalogueError
from tests.ingest_records import T0
from tests.test_api_media import Api, serve_api
from wire.registration import IngestRecord

EVENT_FIELDS = {
    "at", "event", "actor", "role", "station_id", "device_id", "client", "detail", "outcome",
    "viewing",
}  # fmt: skip
SHANGHAI = timezone(timedelta(hours=8))
CLIENT = "testclient"  # the address Starlette's TestClient reports


class CustodyApi(Api):
    def ingested_record(self, record: IngestRecord) -> dict[str, Any]:
        response = self.ingest(record)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def custody(self, media_id: str, token: str | None = None) -> list[dict[str, Any]]:
        response = self.get(f"/api/v1/media/{media_id}/custody", token=token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert set(body) == {"media_id", "events"} and body["media_id"] == media_id
        for event in body["events"]:
            assert set(event) == EVENT_FIELDS
            assert event["at"].endswith("Z")
        events: list[dict[str, Any]] = body["events"]
        return events

    def codes(self, media_id: str) -> list[str]:
        return [e["event"] for e in self.custody(media_id)]

    def report(self, media_id: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = self.auth(token) if token is not None else {}
        return self.client.post(f"/api/v1/media/{media_id}/custody", json=body, headers=headers)


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[CustodyApi]:
    yield from serve_api(CustodyApi, database_url, local_store_url, tmp_path)


def test_registration_writes_copied_stored_registered_in_order(api: CustodyApi) -> None:
    staged = (T0 + timedelta(hours=1)).astimezone(SHANGHAI)  # any offset; written back in UTC
    record = api.stored_record(
        staged_at=staged, uploaded_at=T0 + timedelta(hours=1, minutes=5), case_no="2024-0001"
    )
    media = api.ingested_record(record)

    copied, stored, registered = api.custody(media["id"])
    assert [copied["event"], stored["event"], registered["event"]] == [
        "copied_from_device",
        "stored",
        "registered",
    ]
    assert copied["at"] == "2024-05-01T09:00:00Z"
    assert stored["at"] == "2024-05-01T09:05:00Z"
    assert registered["at"] == media["ingested_at"]
    for event in (copied, stored, registered):
        assert event["actor"] == "dock-1" and event["role"] == "station"
        assert event["station_id"] == "dock-1" and event["device_id"] == "BC-0001"
        assert event["client"] == CLIENT and event["outcome"] == "ok"
    assert copied["detail"]["original_path"] == record.original_path
    assert copied["detail"]["sha256"] == record.sha256
    assert copied["detail"]["size_bytes"] == record.size_bytes
    assert stored["detail"]["original_key"] == record.original_key
    assert registered["detail"] == {"case_no": "2024-0001"}

    # A station retrying its registration (lost response) adds nothing.
    assert api.ingest(record).status_code == 200
    assert api.codes(media["id"]) == ["copied_from_device", "stored", "registered"]

    # Without uploaded_at there is no `stored` step to tell.
    plain = api.ingested()
    assert api.codes(plain["id"]) == ["copied_from_device", "registered"]


def test_the_same_bytes_from_another_device_are_seen_again_once(api: CustodyApi) -> None:
    data = os.urandom(1000)
    media = api.ingested(data)
    other = api.stored_record(
        data,
        device_id="BC-0002",
        original_path="DCIM/100MEDIA/COPY.MP4",
        station_id="dock-2",
        staged_at=T0 + timedelta(days=1),
    )
    dock_2 = api.token("station", unit_id="U1", station_id="dock-2", name="dock-2")
    assert api.ingest(other).status_code == 403  # dock-1's token does not speak for dock-2
    again = api.ingest(other, token=dock_2)
    assert again.status_code == 200 and again.json()["id"] == media["id"]
    assert again.json()["device_id"] == "BC-0001"  # the first registration still rules
    assert api.ingest(other, token=dock_2).status_code == 200  # a retry of the same sighting

    events = api.custody(media["id"])
    assert [e["event"] for e in events] == ["copied_from_device", "registered", "seen_again"]
    seen = events[-1]
    assert seen["device_id"] == "BC-0002" and seen["station_id"] == "dock-2"
    assert seen["detail"]["original_path"] == "DCIM/100MEDIA/COPY.MP4"
    assert seen["detail"]["staged_at"] == "2024-05-02T08:00:00Z"
    assert seen["actor"] == "dock-2" and seen["client"] == CLIENT


def test_reads_of_content_are_recorded_with_who_and_from_where(api: CustodyApi) -> None:
    data = os.urandom(4096)
    proxy = os.urandom(3000)
    media = api.ingested(data, proxy=proxy, thumbnail=b"\xff\xd8jpeg")
    url = f"/api/v1/media/{media['id']}"

    assert api.get(f"{url}/original").content == data
    part = api.get(f"{url}/original", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == data[1000:2000]
    assert api.get(f"{url}/original", headers={"Range": "bytes=5000-"}).status_code == 416
    assert api.client.head(f"{url}/original", headers=api.auth(api.admin)).status_code == 200

    # A browser playing: the first request from byte 0, then ranges further on, then again.
    first = api.get(f"{url}/proxy", headers={"Range": "bytes=0-"})
    assert first.status_code == 206 and first.content == proxy
    follow_up = api.get(f"{url}/proxy", headers={"Range": "bytes=1000-1999"})
    assert follow_up.status_code == 206 and follow_up.content == proxy[1000:2000]
    assert api.get(f"{url}/proxy").content == proxy

    assert api.get(f"{url}/thumbnail").status_code == 200  # not recorded: too noisy
    assert api.get(url).status_code == 200  # metadata: not recorded

    reads = api.custody(media["id"])[2:]
    assert [(e["event"], e["outcome"]) for e in reads] == [
        ("downloaded_original", "ok"),
        ("downloaded_original", "ok"),
        ("downloaded_original", "failed"),
        ("played_proxy", "ok"),  # one viewing: the three requests folded into it
    ]
    for event in reads:
        assert event["actor"] == "admin" and event["role"] == "admin"
        assert event["client"] == CLIENT
    whole, ranged, refused, played = (e["detail"] for e in reads)
    viewing = reads[-1]["viewing"]
    assert whole == {"status": 200, "range": None, "requested_range": None, "bytes": 4096}
    assert ranged["status"] == 206 and ranged["range"] == "bytes 1000-1999/4096"
    assert ranged["bytes"] == 1000
    assert refused["status"] == 416 and refused["requested_range"] == "bytes=5000-"
    assert played["range"] == "bytes 0-2999/3000"  # how the viewing started
    assert viewing["requests"] == 3 and viewing["bytes"] == 3000 + 1000 + 3000
    assert viewing["last_range"] is None and viewing["last_at"] >= viewing["first_at"]
    assert all(e["viewing"] is None for e in reads[:-1])


def test_a_read_that_cannot_be_recorded_is_not_served(
    api: CustodyApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = api.ingested(os.urandom(500))

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise CatalogueError("the catalogue is read-only")

    monkeypatch.setattr("storage.catalogue.custody_repo.record_event", broken)
    response = api.get(f"/api/v1/media/{media['id']}/original")
    assert response.status_code == 503 and "not served" in response.json()["detail"]


def test_a_station_reports_a_wipe_once_even_when_it_retries(api: CustodyApi) -> None:
    record = api.stored_record()
    media = api.ingested_record(record)
    wiped_at = datetime.now(SHANGHAI).replace(microsecond=0) + timedelta(seconds=1)
    body = {
        "event": "wiped_from_device",
        "at": wiped_at.isoformat(),
        "device_id": record.device_id,
        "path": record.original_path,
        "sha256_verified": record.sha256,
    }
    created = api.report(media["id"], body, api.station)
    assert created.status_code == 201, created.text
    event = created.json()
    assert set(event) == EVENT_FIELDS
    assert event["event"] == "wiped_from_device" and event["at"] == wiped_at.astimezone(
        UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert event["actor"] == "dock-1" and event["role"] == "station"
    assert event["device_id"] == "BC-0001" and event["client"] == CLIENT
    assert event["outcome"] == "ok"
    assert event["detail"]["original_path"] == record.original_path

    retried = api.report(media["id"], body, api.station)
    assert retried.status_code == 200 and retried.json() == event
    assert api.codes(media["id"]).count("wiped_from_device") == 1

    failed = {**body, "event": "wipe_failed", "reason": "card is write-protected"}
    response = api.report(media["id"], failed, api.admin)
    assert response.status_code == 201 and response.json()["outcome"] == "failed"
    assert response.json()["detail"]["reason"] == "card is write-protected"

    wrong_hash = {**body, "sha256_verified": "0" * 64}
    response = api.report(media["id"], wrong_hash, api.station)
    assert response.status_code == 422 and "sha256_verified" in response.json()["detail"]
    for bad in ({**body, "event": "registered"}, {**body, "at": "2024-05-01T10:00:00"}):
        assert api.report(media["id"], bad, api.station).status_code == 422, bad

    assert api.report(media["id"], body, api.it_admin).status_code == 403
    assert api.report(media["id"], body).status_code == 401
    assert api.report("no-such-id", body, api.station).status_code == 404
    assert api.codes(media["id"]) == [
        "copied_from_device",
        "registered",
        "wiped_from_device",
        "wipe_failed",
    ]


def test_only_admins_read_the_chain_for_now(api: CustodyApi) -> None:
    media = api.ingested()
    path = f"/api/v1/media/{media['id']}/custody"
    assert api.get(path, token=api.station).status_code == 403
    assert api.get(path, token=api.it_admin).status_code == 403
    assert api.client.get(path).status_code == 401
    assert api.get("/api/v1/media/no-such-id/custody").status_code == 404
