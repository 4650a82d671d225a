"""The per-file records of management platforms (GET /api/v1/interop/files), through the
api on both catalogues."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage.catalogue.db import session_scope
from storage.catalogue.models import Media
from tests.ingest_records import T0
from tests.test_api_media import Api, serve_api
from wire.media_kinds import MediaKind
from wire.zones import SHOWN_ZONE


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def settle(api: Api, seconds: float = 60) -> None:
    """Every registration so far made `seconds` older (polls are served settled ones)."""
    with session_scope(api.database_url) as session:
        for media_id, at in session.execute(sa.select(Media.id, Media.ingested_at)).all():
            session.execute(sa.update(Media).where(Media.id == media_id)
                            .values(ingested_at=at - timedelta(seconds=seconds)))  # fmt: skip
        session.commit()


def test_files_are_the_platforms_records_in_pages_oldest_first(api: Api) -> None:
    response = api.client.put("/api/v1/units/U1", json={"name": "城区派出所", "kind": "police_station",
        "parent_id": None, "officer_count": 5, "on_duty_officer_count": 2},
        headers=api.auth(api.admin))  # fmt: skip
    assert response.status_code == 201
    response = api.client.put("/api/v1/devices/BC-0001", json={"kind": "body_camera",
        "serial": "S1", "unit_id": "U1", "officer_id": "010203", "status": "active"},
        headers=api.auth(api.admin))  # fmt: skip
    assert response.status_code == 201
    video = api.ingested(os.urandom(100), proxy=os.urandom(50), thumbnail=b"\xff\xd8" + os.urandom(9),
                         important=True)  # fmt: skip
    audio = api.ingested(os.urandom(100), kind=MediaKind.AUDIO, duration_s=12.6)
    photo = api.ingested(os.urandom(100), kind=MediaKind.PHOTO, duration_s=None)
    other = api.ingested(os.urandom(100), kind=MediaKind.OTHER, duration_s=None)
    media = [video, audio, photo, other] + [api.ingested(os.urandom(100)) for _ in range(3)]
    settle(api)
    supervisor = api.token("supervisor", unit_id="U1")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/interop/files", supervisor, params=params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len({r["wjbh"] for r in seen}) == 7
    assert [r["wjbh"] for r in seen[:4]] == [video["id"], audio["id"], photo["id"], other["id"]]
    by_id = {r["wjbh"]: r for r in seen}
    v = by_id[video["id"]]
    assert (v["wjlx"], v["bzlx"], v["wjsc"], v["jgdm"], v["dwmc"], v["jybh"], v["cpxh"],
            v["gzz_xh"], v["jy_xm"]) == (0, 1, 60, "U1", "城区派出所", "010203", "BC-0001",
                                          "dock-1", None)  # fmt: skip
    assert v["pssj"] == T0.astimezone(SHOWN_ZONE).isoformat()
    assert v["pssj"].endswith("+08:00")
    assert v["bfwz"] == f"http://testserver/api/v1/media/{video['id']}/proxy"  # absolute
    assert v["sltxdwz"] == f"http://testserver/api/v1/media/{video['id']}/thumbnail"
    assert api.get(v["bfwz"], supervisor).status_code in (200, 206)
    assert v["scsj"].endswith("+08:00") and v["wjdx"] == 100
    assert [by_id[m["id"]]["wjlx"] for m in (audio, photo, other)] == [1, 2, 4]
    assert by_id[audio["id"]]["wjsc"] == 13 and by_id[photo["id"]]["bfwz"] is None
    assert [r["wjbh"] for r in seen] == [m["id"] for m in media]  # registration order

    # Registered at or after a moment, before one, within both: what a poll asks.
    def ids(**params: str) -> list[str]:
        page = api.get("/api/v1/interop/files", supervisor, params=params)
        assert page.status_code == 200, page.text
        return [r["wjbh"] for r in page.json()["items"]]

    assert ids(start=seen[4]["scsj"]) == [m["id"] for m in media[4:]]
    assert ids(end=seen[4]["scsj"]) == [m["id"] for m in media[:4]]
    assert ids(start=seen[2]["scsj"], end=seen[3]["scsj"]) == [photo["id"]]
    refused = api.get("/api/v1/interop/files", supervisor,
                      params={"start": seen[3]["scsj"], "end": seen[2]["scsj"]})  # fmt: skip
    assert refused.status_code == 422 and "after" in refused.json()["detail"]
    # Another unit's supervisor sees none of it; a bad cursor is refused.
    assert api.get("/api/v1/interop/files", api.token("supervisor", unit_id="U2")).json()[
        "items"] == []  # fmt: skip
    assert api.get("/api/v1/interop/files", params={"cursor": "nope"}).status_code == 422


def test_a_unit_unknown_here_has_its_code_without_a_name_and_case_systems_see_cases(
    api: Api,
) -> None:
    elsewhere = api.token("station", unit_id="U9", station_id="dock-1")
    loose = api.ingested(os.urandom(100), token=elsewhere, duration_s=None)
    in_case = api.ingested(os.urandom(100), case_no="2024-0007")
    settle(api)
    everything = api.get("/api/v1/interop/files").json()["items"]
    assert [r["wjbh"] for r in everything] == [loose["id"], in_case["id"]]
    assert (everything[0]["jgdm"], everything[0]["dwmc"], everything[0]["wjsc"]) == (
        "U9", None, None)  # fmt: skip
    assert everything[0]["bfwz"] is None and everything[0]["sltxdwz"] is None
    cases = api.get("/api/v1/interop/files", api.token("case_system")).json()["items"]
    assert [r["wjbh"] for r in cases] == [in_case["id"]]


def test_a_poll_is_served_only_registrations_old_enough_to_have_committed(api: Api) -> None:
    """A registration younger than 30 s may still be one of two committing in the other
    order of their times: it is served by a later poll, never skipped."""
    first = api.ingested(os.urandom(100))
    settle(api)
    young = api.ingested(os.urandom(100))
    page = api.get("/api/v1/interop/files").json()
    assert [r["wjbh"] for r in page["items"]] == [first["id"]]
    # Asking past it explicitly changes nothing; once it is old enough, the next poll from
    # the last record held gets it.
    held = page["items"][-1]["scsj"]
    later = api.get("/api/v1/interop/files", params={"start": held, "end": "2999-01-01T00:00:00Z"})
    assert [r["wjbh"] for r in later.json()["items"]] == [first["id"]]
    settle(api)  # (moves the first back as far again: it is now before `held`)
    again = api.get("/api/v1/interop/files", params={"start": held}).json()
    assert [r["wjbh"] for r in again["items"]] == [young["id"]]
