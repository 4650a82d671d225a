"""The api end to end, on both catalogues (SQLite, PostgreSQL) and both stores (folder, S3).

Real bytes go into the store with `put_file`, as a station would upload them, and come
back through the api.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from storage.catalogue.db import session_scope, upgrade
from storage.catalogue.errors import SchemaNotCurrent
from storage.catalogue.models import Media
from storage.catalogue.tokens import create_token
from storage.local_store import LocalStore
from storage.object_store import ObjectStore, open_store, proxy_key, thumbnail_key
from storage.s3_store import S3Store
from tests.fixtures_pg import PAIRED
from tests.ingest_records import T0, make_record
from wire.media_kinds import MediaKind
from wire.registration import IngestRecord

CONTRACT_MEDIA_FIELDS = {
    "id", "sha256", "size_bytes", "kind", "original_name", "device_id", "officer_id",
    "station_id", "recorded_start", "recorded_end", "duration_s", "width", "height",
    "video_codec", "audio_codec", "case_nos", "important", "playable", "ingested_at",
    "retention_until", "legal_hold", "recording_id",
}  # fmt: skip
EXTRA_MEDIA_FIELDS = {
    "unit_id", "time_source", "unplayable_reason", "has_proxy", "has_thumbnail",
    "device_serial", "device_registered", "clock_offset_s", "recorded_start_raw", "time_facts",
    "proxy_status", "proxy_error", "proxy_note", "renditions", "sidecar_of", "classification",
    "unreadable_fields",
}  # fmt: skip
CHINESE_NAME = "执法记录仪_20240501_080000.MP4"


@dataclass
class Api:
    client: TestClient
    store: ObjectStore
    admin: str
    station: str
    database_url: str
    files: Path
    it_admin: str = ""

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def upload(self, key: str, data: bytes, content_type: str) -> None:
        path = self.files / hashlib.sha256(key.encode()).hexdigest()
        path.write_bytes(data)
        self.store.put_file(
            key, path, sha256=hashlib.sha256(data).hexdigest(), content_type=content_type
        )

    def stored_record(
        self, data: bytes | None = None, *, proxy: bytes | None = None,
        thumbnail: bytes | None = None, **overrides: Any,
    ) -> IngestRecord:  # fmt: skip
        """Upload an original (and renditions) as a station would, and return its record."""
        data = os.urandom(2048) if data is None else data
        sha256 = hashlib.sha256(data).hexdigest()
        if proxy is not None:
            overrides["proxy_key"] = proxy_key(sha256, "video/mp4")
            overrides["proxy_content_type"] = "video/mp4"
            self.upload(overrides["proxy_key"], proxy, "video/mp4")
        if thumbnail is not None:
            overrides["thumbnail_key"] = thumbnail_key(sha256)
            self.upload(overrides["thumbnail_key"], thumbnail, "image/jpeg")
        record = make_record(data, **overrides)
        self.upload(record.original_key, data, "application/octet-stream")
        return record

    def ingest(self, record: IngestRecord, token: str | None = None) -> Any:
        return self.client.post(
            "/api/v1/ingest",
            content=record.model_dump_json(),
            headers={**self.auth(token or self.station), "Content-Type": "application/json"},
        )

    def ingested(
        self, data: bytes | None = None, *, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        response = self.ingest(self.stored_record(data, **kwargs), token)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def token(self, role: str, **kwargs: str) -> str:
        if role == "station":
            kwargs.setdefault("station_id", "dock-1")  # the station of make_record's records
        with session_scope(self.database_url) as session:
            return create_token(session, role=role, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {**self.auth(token or self.admin), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)


ApiT = TypeVar("ApiT", bound=Api)


def serve_api(cls: type[ApiT], database_url: str, store_url: str, tmp_path: Path) -> Iterator[ApiT]:
    """The api in-process over a migrated catalogue, with admin, station and it_admin tokens
    (shared by the api test modules' fixtures)."""
    upgrade(database_url)
    admin, station = _tokens(database_url)
    with session_scope(database_url) as session:
        it_admin = create_token(session, role="it_admin", name="it-desk")
    store = open_store(store_url)
    app = create_app(ApiSettings(database_url=database_url, storage_url=store_url), store=store)
    files = tmp_path / "uploads"
    files.mkdir()
    with TestClient(app) as client:
        yield cls(client, store, admin, station, database_url, files, it_admin)


def _tokens(database_url: str) -> tuple[str, str]:
    with session_scope(database_url) as session:
        admin = create_token(session, role="admin", name="admin")
        station = create_token(
            session, role="station", unit_id="U1", station_id="dock-1", name="dock-1"
        )
    return admin, station


@pytest.fixture
def api(database_url: str, store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, store_url, tmp_path)


@PAIRED
def test_ingest_registers_a_stored_original_once(api: Api) -> None:
    record = api.stored_record(original_name=CHINESE_NAME, case_no="2024-0001", important=True)
    first = api.ingest(record)
    assert first.status_code == 201, first.text
    media = first.json()
    assert set(media) == CONTRACT_MEDIA_FIELDS | EXTRA_MEDIA_FIELDS
    assert media["sha256"] == record.sha256 and media["size_bytes"] == record.size_bytes
    assert media["original_name"] == CHINESE_NAME
    assert media["case_nos"] == ["2024-0001"]
    assert media["unit_id"] == "U1"  # from the station's token
    assert media["recorded_start"] == "2024-05-01T08:00:00Z"
    assert media["retention_until"] is None  # evidence in a case, and important: permanent
    assert media["ingested_at"].endswith("Z")
    assert media["legal_hold"] is False and media["important"] is True
    assert media["recording_id"] is None

    again = api.ingest(record)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == media["id"]
    assert api.get(f"/api/v1/media/{media['id']}").json() == media


@PAIRED
def test_ingest_refuses_what_the_store_does_not_hold(api: Api) -> None:
    missing = make_record(os.urandom(100))
    response = api.ingest(missing)
    assert response.status_code == 422
    assert "not in the object store" in response.json()["detail"]

    stored = api.stored_record(os.urandom(100))
    wrong_size = stored.model_copy(update={"size_bytes": 99})
    response = api.ingest(wrong_size)
    assert response.status_code == 409 and "100 bytes" in response.json()["detail"]

    # Keys are derived from the content: a record cannot name another medium's object.
    assert api.store.stat(stored.original_key).sha256 == stored.sha256
    other = stored.model_copy(update={"sha256": hashlib.sha256(os.urandom(100)).hexdigest()})
    response = api.ingest(other)
    assert response.status_code == 422 and "original_key must be" in response.json()["detail"]

    no_proxy = stored.model_copy(update={"proxy_key": "proxies/nothing.mp4"})
    response = api.ingest(no_proxy)
    assert response.status_code == 422 and "proxy_key" in response.json()["detail"]

    bad = api.client.post("/api/v1/ingest", json={"sha256": "x"}, headers=api.auth(api.station))
    assert bad.status_code == 422

    assert api.get("/api/v1/media").json() == {"items": [], "next_cursor": None}


@PAIRED
def test_search_filters_and_walks_every_page_once(api: Api) -> None:
    hour = timedelta(hours=1)
    made = [
        api.ingested(recorded_start=T0 + i * hour, officer_id=f"O{i % 2}", device_id=f"D{i % 3}")
        for i in range(7)
    ]
    photo = api.ingested(
        kind=MediaKind.PHOTO, recorded_start=T0 + 20 * hour, recorded_end=None, important=True,
        case_no="C-9", original_name="IMG_0001.JPG",
    )  # fmt: skip
    everything = {m["id"] for m in [*made, photo]}

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = api.get("/api/v1/media", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [m["id"] for m in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(everything) and set(seen) == everything
    assert seen[0] == photo["id"]  # newest first

    def ids(**params: Any) -> set[str]:
        response = api.get("/api/v1/media", params=params)
        assert response.status_code == 200, response.text
        return {m["id"] for m in response.json()["items"]}

    assert ids(officer_id="O1") == {made[i]["id"] for i in (1, 3, 5)}
    assert ids(device_id="D0", officer_id="O0") == {made[i]["id"] for i in (0, 6)}
    assert ids(kind="photo") == ids(important="true") == ids(case_no="C-9") == {photo["id"]}
    assert ids(unit_id="U1") == everything and ids(unit_id="U2") == set()
    # 10:30-11:30 UTC (the start written in Shanghai time) overlaps only 11:00-11:01.
    window = {"start": "2024-05-01T18:30:00+08:00", "end": "2024-05-01T11:30:00Z"}
    assert ids(**window) == {made[3]["id"]}

    for params in (
        {"start": "2024-05-01T10:00:00"},  # no offset
        {"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"},
        {"cursor": "not-a-cursor"},
        {"limit": 0},
        {"limit": 501},
        {"kind": "document"},
    ):
        response = api.get("/api/v1/media", params=params)
        assert response.status_code == 422, (params, response.text)
        assert "detail" in response.json()


@PAIRED
def test_original_downloads_bit_exact_with_digest_and_ranges(api: Api) -> None:
    data = os.urandom(1_300_000)  # more than one 1 MiB chunk
    media = api.ingested(data, original_name=CHINESE_NAME)
    url = f"/api/v1/media/{media['id']}/original"
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"

    whole = api.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["repr-digest"] == digest
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-length"] == str(len(data))
    disposition = whole.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(CHINESE_NAME)}" in disposition

    part = api.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert part.headers["repr-digest"] == digest  # of the whole representation

    tail = api.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    open_ended = api.get(url, headers={"Range": f"bytes={len(data) - 5}-"})
    assert open_ended.status_code == 206 and open_ended.content == data[-5:]

    outside = api.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert outside.status_code == 416
    assert outside.headers["content-range"] == f"bytes */{len(data)}"

    stale = api.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == data

    head = api.client.head(url, headers=api.auth(api.admin))
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert head.headers["repr-digest"] == digest

    assert api.get("/api/v1/media/no-such-id").status_code == 404
    missing = api.get("/api/v1/media/no-such-id/original")
    assert missing.status_code == 404 and "no-such-id" in missing.json()["detail"]


@PAIRED
def test_proxy_and_thumbnail_play_or_say_why_not(api: Api) -> None:
    proxy = os.urandom(5000)
    thumb = os.urandom(300)
    clip = api.ingested(proxy=proxy, thumbnail=thumb)
    assert clip["has_proxy"] and clip["has_thumbnail"]

    played = api.get(f"/api/v1/media/{clip['id']}/proxy")
    assert played.status_code == 200 and played.content == proxy
    assert played.headers["content-type"] == "video/mp4"
    ranged = api.get(f"/api/v1/media/{clip['id']}/proxy", headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == proxy[100:200]
    shown = api.get(f"/api/v1/media/{clip['id']}/thumbnail")
    assert shown.status_code == 200 and shown.content == thumb
    assert shown.headers["content-type"] == "image/jpeg"

    photo = api.ingested(kind=MediaKind.PHOTO, original_name="IMG_1.JPG", recorded_end=None)
    response = api.get(f"/api/v1/media/{photo['id']}/proxy")
    assert response.status_code == 404 and "photo" in response.json()["detail"]
    broken = api.ingested(playable=False, unplayable_reason="no moov atom")
    response = api.get(f"/api/v1/media/{broken['id']}/proxy")
    assert response.status_code == 404 and "no moov atom" in response.json()["detail"]
    response = api.get(f"/api/v1/media/{broken['id']}/thumbnail")
    assert response.status_code == 404 and "thumbnail" in response.json()["detail"]


@PAIRED
def test_only_known_tokens_get_in_and_each_role_only_where_allowed(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    media = api.ingested()

    for headers in ({}, {"Authorization": "Bearer st_nonsense"}, {"Authorization": "Basic eDp5"}):
        response = api.client.get("/api/v1/media", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "detail" in response.json()
    assert api.client.post("/api/v1/ingest", json={}).status_code == 401

    # A station registers but may not read media.
    for path in ("", f"/{media['id']}", f"/{media['id']}/original", f"/{media['id']}/thumbnail"):
        response = api.get(f"/api/v1/media{path}", token=api.station)
        assert response.status_code == 403, path

    # A reviewer reads media but registers none; IT administers devices, never media.
    reviewer = api.token("reviewer")
    assert api.get("/api/v1/media", token=reviewer).status_code == 200
    assert api.ingest(api.stored_record(), token=reviewer).status_code == 403
    assert api.get("/api/v1/media", token=api.token("it_admin")).status_code == 403
    assert api.ingest(api.stored_record(), token=api.admin).status_code == 201

    assert api.client.get("/openapi.json").status_code == 200


@PAIRED
def test_each_role_sees_only_the_media_its_scope_allows(api: Api) -> None:
    for device, unit in (("BC-1", "U1"), ("BC-2", "U2")):
        body = {"kind": "body_camera", "serial": device, "unit_id": unit, "status": "active"}
        response = api.client.put(
            f"/api/v1/devices/{device}", json=body, headers=api.auth(api.admin)
        )
        assert response.status_code == 201, response.text
    mine = api.ingested(device_id="BC-1", officer_id="010001")
    other = api.ingested(device_id="BC-2", officer_id="010002", case_no="C-1")

    def visible(token: str) -> list[str]:
        response = api.get("/api/v1/media", token=token)
        assert response.status_code == 200, response.text
        return sorted(m["id"] for m in response.json()["items"])

    assert visible(api.admin) == sorted([mine["id"], other["id"]])
    unit_reviewer = api.token("reviewer", unit_id="U1")
    assert visible(unit_reviewer) == [mine["id"]]
    assert visible(api.token("officer", officer_id="010001")) == [mine["id"]]
    assert visible(api.token("case_system")) == [other["id"]]  # only media of cases
    # Outside the scope, a medium does not exist: 404, not 403.
    for path in ("", "/original", "/proxy", "/thumbnail", "/custody"):
        response = api.get(f"/api/v1/media/{other['id']}{path}", token=unit_reviewer)
        assert response.status_code == 404, (path, response.text)
    assert api.get(f"/api/v1/media/{mine['id']}", token=unit_reviewer).status_code == 200
    # An officer sees its footage but not the chain of custody (reviewer+).
    officer = api.token("officer", officer_id="010001")
    assert api.get(f"/api/v1/media/{mine['id']}/custody", token=officer).status_code == 403


def test_the_api_refuses_to_start_on_an_unmigrated_catalogue(
    database_url: str, local_store_url: str
) -> None:
    app = create_app(ApiSettings(database_url=database_url, storage_url=local_store_url))
    with pytest.raises(SchemaNotCurrent, match="station db upgrade"), TestClient(app):
        pass


class _PoolWatchingStore:
    """A store that notes how many catalogue connections are in use while bytes stream."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.engine: Any = None
        self.in_use_while_streaming: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        for chunk in self.inner.open_range(key, start, length):
            self.in_use_while_streaming.append(self.engine.pool.checkedout())
            yield chunk


def test_a_download_holds_no_catalogue_connection_while_it_streams(
    database_url: str, local_store_url: str, tmp_path: Path
) -> None:
    upgrade(database_url)
    admin, station = _tokens(database_url)
    store = _PoolWatchingStore(open_store(local_store_url))
    app = create_app(
        ApiSettings(database_url=database_url, storage_url=local_store_url), store=store
    )
    store.engine = app.state.session_factory.kw["bind"]
    with TestClient(app) as client:
        api = Api(client, store, admin, station, database_url, tmp_path)
        data = os.urandom(3_000_000)
        media = api.ingested(data)
        assert api.get(f"/api/v1/media/{media['id']}/original").content == data
    assert store.in_use_while_streaming and set(store.in_use_while_streaming) == {0}


@PAIRED
def test_reviewers_mark_and_unmark_important_with_a_reason_on_the_record(api: Api) -> None:
    media = api.ingested()
    ordinary_retention = media["retention_until"]
    assert media["important"] is False and ordinary_retention is not None
    reviewer = api.token("reviewer", name="审核员-1")
    path = f"/api/v1/media/{media['id']}/important"

    def put(body: dict[str, Any], token: str = reviewer) -> Any:
        return api.client.put(path, json=body, headers=api.auth(token))

    assert put({"important": True, "reason": "  "}).status_code == 422
    assert put({"important": True}).status_code == 422
    officer = api.token("officer", officer_id="010001")
    assert put({"important": True, "reason": "mine"}, officer).status_code == 403

    marked = put({"important": True, "reason": "嫌疑人拒捕"})
    assert marked.status_code == 200, marked.text
    assert marked.json()["important"] is True and marked.json()["retention_until"] is None
    assert put({"important": True, "reason": "again"}).status_code == 200  # no change
    unmarked = put({"important": False, "reason": "误标"}).json()
    assert unmarked["important"] is False
    assert unmarked["retention_until"] == ordinary_retention

    custody = api.get(f"/api/v1/media/{media['id']}/custody").json()["events"]
    changes = [
        (e["event"], e["actor"], e["detail"]["reason"])
        for e in custody
        if e["event"].endswith("marked_important")
    ]
    assert changes == [
        ("marked_important", "审核员-1", "嫌疑人拒捕"),
        ("unmarked_important", "审核员-1", "误标"),
    ]


@PAIRED
def test_a_malformed_row_is_served_with_what_can_be_read_and_the_fault_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """A row written by hand or by an old version must not fail every page that holds it."""
    good, bad = api.ingested(), api.ingested()
    with session_scope(api.database_url) as session:
        session.execute(
            sa.update(Media)
            .where(Media.id == bad["id"])
            .values(
                time_facts={"container_time_raw": 7, "surprise": True},
                renditions=[{"name": "betamax"}],
            )  # fmt: skip
        )
        session.commit()
    page = api.get("/api/v1/media", params={"limit": 10})
    assert page.status_code == 200, page.text
    items = {m["id"]: m for m in page.json()["items"]}
    assert items[bad["id"]]["unreadable_fields"] == ["renditions", "time_facts"]
    assert (items[bad["id"]]["renditions"], items[bad["id"]]["time_facts"]) == ([], None)
    assert items[bad["id"]]["sha256"] == bad["sha256"]  # the rest as stored
    assert items[good["id"]]["unreadable_fields"] == []
    assert f"medium {bad['id']}: unreadable stored fields renditions, time_facts" in caplog.text
    assert api.get(f"/api/v1/media/{bad['id']}").status_code == 200


@PAIRED
def test_a_value_the_driver_cannot_read_is_served_empty_too(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Text in a time column, JSON that does not parse: SQLite holds what it is given."""
    if not api.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's typed columns refuse such values when they are written")
    good, bad = api.ingested(), api.ingested()
    with session_scope(api.database_url) as session:
        session.execute(
            sa.text("UPDATE media SET recorded_start = '上午八点', renditions = '{not json'"
                    " WHERE id = :id"),
            {"id": bad["id"]},
        )  # fmt: skip
        session.commit()
    page = api.get("/api/v1/media", params={"limit": 10})
    assert page.status_code == 200, page.text
    items = {m["id"]: m for m in page.json()["items"]}
    assert items[bad["id"]]["unreadable_fields"] == ["recorded_start", "renditions"]
    assert (items[bad["id"]]["recorded_start"], items[bad["id"]]["renditions"]) == (None, [])
    assert items[bad["id"]]["recorded_end"] == bad["recorded_end"]
    assert items[good["id"]]["unreadable_fields"] == []
    assert f"medium {bad['id']}: unreadable stored fields recorded_start, renditions" in caplog.text
    assert api.get(f"/api/v1/media/{bad['id']}").status_code == 200


@PAIRED
def test_a_time_search_finds_a_long_recording_that_began_well_before_the_window(
    api: Api,
) -> None:
    """Time searches bound recorded_start below by the longest medium (for the index):
    that bound must never lose a medium overlapping the window."""
    long = api.ingested(recorded_start=T0, recorded_end=T0 + timedelta(hours=3),
                        duration_s=None)  # fmt: skip
    api.ingested(recorded_start=T0 - timedelta(days=1))
    window = {"start": (T0 + timedelta(hours=2, minutes=59)).isoformat(),
              "end": (T0 + timedelta(hours=4)).isoformat()}  # fmt: skip
    found = api.get("/api/v1/media", params=window).json()["items"]
    assert [m["id"] for m in found] == [long["id"]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ready_only_while_the_catalogue_and_the_store_answer(api: Api) -> None:
    # As `station storage init` leaves the store: its bucket or folder made.
    if isinstance(api.store, S3Store):
        api.store.raw_client().make_bucket(api.store.bucket, object_lock=True)
    else:
        assert isinstance(api.store, LocalStore)
        api.store.root.mkdir(parents=True, exist_ok=True)
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "catalogue": "ok", "store": "ok"}
    assert api.client.get("/healthz").status_code == 200
    # The store's folder or bucket gone (an unmounted disk, a wrong bucket): not ready.
    if isinstance(api.store, LocalStore):
        api.store.root.rename(api.store.root.with_name("moved"))
    else:
        api.store.bucket = "no-such-bucket-" + api.store.bucket[-6:]
    gone = api.client.get("/readyz")
    assert gone.status_code == 503 and gone.json()["store"] == "unreachable"
    assert gone.json()["catalogue"] == "ok"
    # Liveness does not depend on either.
    assert api.client.get("/healthz").status_code == 200
