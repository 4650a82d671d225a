"""Segments of one recording (自动合成): imported, grouped, merged, registered, played back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from simulation import footage
from station.api_client import ApiClient
from station.facts import DockFacts, FileFacts, ProbeFacts, RegisteredFacts, StagedFacts
from station.journal import FileState, Journal
from station.recordings import Recordings, recording_id
from storage.object_store import merged_proxy_key, open_store, proxy_key
from tests.fixtures_pg import PAIRED
from tests.test_api_media import Api, serve_api
from tests.test_import import station  # noqa: F401  (the fixture)
from wire.media_kinds import MediaKind

START = datetime(2026, 11, 27, 1, 30, 0, tzinfo=UTC)  # 09:30:00 in Asia/Shanghai
SEGMENT_S = 2


def _camera(root: Path, starts: list[datetime]) -> Path:
    """A body camera volume holding one recording split into segments starting at `starts`."""
    folder = root / "ZFY001" / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    for n, start in enumerate(starts, 1):
        local = (start + timedelta(hours=8)).strftime("%Y%m%d%H%M%S")
        footage.h264_aac_mp4(
            folder / f"ZFY001_{local}_{n:04d}.MP4", seconds=SEGMENT_S, creation_time=start
        )
    return root / "ZFY001"


def _parts(admin: TestClient) -> list[dict[str, Any]]:
    items = admin.get("/api/v1/media", params={"limit": 100}).json()["items"]
    return sorted(items, key=lambda m: m["original_name"])


@PAIRED
def test_three_consecutive_segments_form_one_merged_recording(
    station: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    run, admin = station
    starts = [START + timedelta(seconds=SEGMENT_S * i) for i in range(3)]
    assert run(_camera(tmp_path / "vol", starts)).ok

    media = _parts(admin)
    assert len(media) == 3
    rec_id = media[0]["recording_id"]
    assert rec_id == recording_id(media[0]["sha256"])
    assert all(m["recording_id"] == rec_id for m in media)

    got = admin.get(f"/api/v1/recordings/{rec_id}")
    assert got.status_code == 200, got.text
    recording = got.json()
    assert [p["media_id"] for p in recording["parts"]] == [m["id"] for m in media]
    assert [p["original_name"] for p in recording["parts"]] == [m["original_name"] for m in media]
    assert recording["gaps"] == []
    assert len(recording["joins"]) == 2
    assert all(abs(j["gap_s"]) < 0.5 for j in recording["joins"])
    assert recording["merge_method"] == "stream_copy" and recording["has_merged_proxy"]
    assert recording["recorded_start"] == "2026-11-27T01:30:00Z"

    played = admin.get(f"/api/v1/recordings/{rec_id}/proxy", headers={"Range": "bytes=0-99"})
    assert played.status_code == 206, played.text
    assert played.headers["content-type"] == "video/mp4"
    assert played.headers["content-range"].startswith("bytes 0-99/")
    assert len(played.content) == 100
    for m in media:  # the playback is in every part's chain of custody
        events = admin.get(f"/api/v1/media/{m['id']}/custody").json()["events"]
        plays = [e for e in events if e["event"] == "played_proxy"]
        assert len(plays) == 1 and plays[0]["detail"]["recording_id"] == rec_id

    # A second import run changes nothing: the recording is registered once.
    assert run(tmp_path / "vol" / "ZFY001").ok
    assert admin.get(f"/api/v1/recordings/{rec_id}").json() == recording


@PAIRED
def test_a_gap_between_segments_is_reported(station: Any, tmp_path: Path) -> None:  # noqa: F811
    run, admin = station
    starts = [START, START + timedelta(seconds=2), START + timedelta(seconds=2 + 2 + 5)]
    assert run(_camera(tmp_path / "vol", starts)).ok

    media = _parts(admin)
    rec_id = media[0]["recording_id"]
    assert rec_id is not None and all(m["recording_id"] == rec_id for m in media)
    recording = admin.get(f"/api/v1/recordings/{rec_id}").json()
    assert len(recording["parts"]) == 3
    [gap] = recording["gaps"]
    assert gap["after_media_id"] == media[1]["id"] and gap["before_media_id"] == media[2]["id"]
    assert gap["gap_s"] == pytest.approx(5.0, abs=0.5)
    assert gap["to"] == "2026-11-27T01:30:09Z"
    assert gap["from"] is not None and gap["from"] < gap["to"]


# -- PUT validation, against the api alone ------------------------------------------------


@pytest.fixture
def api(database_url: str, store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, store_url, tmp_path)


def _body(parts: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "station_id": "dock-1",
        "device_id": "BC-0001",
        "parts": [{"media_id": p["id"], "sha256": p["sha256"]} for p in parts],
        "joins": [
            {"before": a["id"], "after": b["id"], "gap_s": 0.0}
            for a, b in zip(parts, parts[1:], strict=False)
        ],
    }
    body.update(overrides)
    return body


def _put(api: Api, rec_id: str, body: dict[str, Any]) -> Any:
    return api.client.put(f"/api/v1/recordings/{rec_id}", json=body, headers=api.auth(api.station))


@PAIRED
def test_a_station_of_one_unit_registers_recordings_the_registry_files_elsewhere(
    api: Api,
) -> None:
    body = {"kind": "body_camera", "serial": "BC-9", "unit_id": "U2", "status": "active"}
    assert api.client.put("/api/v1/devices/BC-9", json=body, headers=api.auth(api.admin)).is_success
    parts = [api.ingested(device_id="BC-9"), api.ingested(device_id="BC-9")]
    assert {p["unit_id"] for p in parts} == {"U2"}
    station_of_u1 = api.token("station", unit_id="U1")
    response = api.client.put(
        "/api/v1/recordings/rec-u", json=_body(parts), headers=api.auth(station_of_u1)
    )
    assert response.status_code == 201, response.text


@PAIRED
def test_put_registers_then_replaces_a_recording(api: Api) -> None:
    parts = [api.ingested(), api.ingested(), api.ingested()]
    merged = b"merged proxy bytes"
    key = merged_proxy_key(hashlib.sha256(merged).hexdigest(), "video/mp4")
    api.upload(key, merged, "video/mp4")
    body = _body(
        parts,
        merged_proxy_key=key,
        merged_proxy_content_type="video/mp4",
        merge_method="transcoded",
    )
    created = _put(api, "rec-1", body)
    assert created.status_code == 201, created.text
    assert created.json()["merge_method"] == "transcoded"
    again = _put(api, "rec-1", body)
    assert again.status_code == 200 and again.json() == created.json()
    assert api.get(f"/api/v1/media/{parts[0]['id']}").json()["recording_id"] == "rec-1"
    proxy = api.get("/api/v1/recordings/rec-1/proxy")
    assert proxy.status_code == 200 and proxy.content == merged

    # Parts 2 and 3 move to another recording: rec-1 is left with one part and goes.
    moved = _put(api, "rec-2", _body(parts[1:]))
    assert moved.status_code == 201, moved.text
    assert api.get("/api/v1/recordings/rec-1").status_code == 404
    assert api.get(f"/api/v1/media/{parts[0]['id']}").json()["recording_id"] is None
    assert api.get(f"/api/v1/media/{parts[2]['id']}").json()["recording_id"] == "rec-2"
    assert api.get("/api/v1/recordings/rec-2/proxy").status_code == 404  # none merged


@PAIRED
def test_put_refuses_unknown_parts_bad_joins_and_foreign_keys(api: Api) -> None:
    parts = [api.ingested(), api.ingested()]
    unknown = {"id": "no-such-media", "sha256": "0" * 64}
    assert _put(api, "r", _body([parts[0], unknown])).status_code == 422
    wrong_sha = {**parts[1], "sha256": "f" * 64}
    assert _put(api, "r", _body([parts[0], wrong_sha])).status_code == 422
    swapped = [{"before": parts[1]["id"], "after": parts[0]["id"], "gap_s": 0.0}]
    assert _put(api, "r", _body(parts, joins=swapped)).status_code == 422
    assert _put(api, "r", _body(parts, joins=[])).status_code == 422
    # A merged proxy key must be a merged key, derived from content, and stored.
    for key in [
        proxy_key(parts[0]["sha256"], "video/mp4"),
        merged_proxy_key("a" * 64, "video/mp4"),
    ]:
        body = _body(
            parts,
            merged_proxy_key=key,
            merged_proxy_content_type="video/mp4",
            merge_method="stream_copy",
        )
        assert _put(api, "r", body).status_code == 422, key
    assert _put(api, "r", _body(parts, merge_method="stream_copy")).status_code == 422
    assert api.get("/api/v1/recordings/r").status_code == 404
    assert api.get(f"/api/v1/media/{parts[0]['id']}").json()["recording_id"] is None


@PAIRED
def test_a_reader_sees_a_recording_only_through_its_parts(api: Api) -> None:
    parts = [api.ingested(), api.ingested()]
    assert _put(api, "rec", _body(parts)).status_code == 201
    own = api.token("officer", officer_id="010203", name="own")
    other = api.token("officer", officer_id="999999", name="other")
    assert api.get("/api/v1/recordings/rec", own).status_code == 200
    assert api.get("/api/v1/recordings/rec", other).status_code == 404
    assert api.get("/api/v1/recordings/rec", api.station).status_code == 403


def test_a_recording_the_api_refused_is_registered_at_a_later_round(tmp_path: Path) -> None:
    answers = iter([503, 201])
    puts: list[str] = []

    def api_side(request: httpx.Request) -> httpx.Response:
        puts.append(request.url.path)
        return httpx.Response(next(answers), json={"detail": "busy"})

    api = ApiClient(
        httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(api_side))
    )
    with Journal(tmp_path / "journal.db") as journal:
        for n in range(2):  # two registered segments, 2 s each, back to back (no proxies)
            row = journal.discover("cam", f"DCIM/ZFY_{n + 1:04d}.MP4", 10, 1, "video")
            facts = FileFacts(
                staged=StagedFacts("original.mp4", DockFacts("cam", "st-1")),
                probe=ProbeFacts(kind=MediaKind.VIDEO, duration_s=float(SEGMENT_S)),
                registered=RegisteredFacts(
                    "cam", START + timedelta(seconds=2 * n), important=False, in_case=False
                ),
            )
            for state in list(FileState)[1:5]:
                row = journal.advance(row.id, state, facts, sha256=f"{n}" * 64, media_id=f"m{n}")
        recordings = Recordings(journal, open_store(f"file://{tmp_path}/objects"), api, tmp_path)
        assert recordings.assemble("cam").failed == [recording_id("0" * 64)]
        recordings.retry()
        recordings.retry()  # registered: nothing left to retry
    assert puts == [f"/api/v1/recordings/{recording_id('0' * 64)}"] * 2
