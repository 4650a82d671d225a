"""PUT /api/v1/media/{id}/derived and the renditions it attaches: a station tells the api, after
registration, what it derived; the api checks every object is stored and keeps the record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.object_store import rendition_key, thumbnail_key
from tests.test_api_media import Api, serve_api


@pytest.fixture
def api(database_url: str, store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, store_url, tmp_path)


def _pending(api: Api, **overrides: Any) -> dict[str, Any]:
    return api.ingested(proxy_status="pending", playable=False, **overrides)


def _attach(api: Api, media_id: str, body: dict[str, Any], token: str | None = None) -> Any:
    return api.client.put(
        f"/api/v1/media/{media_id}/derived", json=body, headers=api.auth(token or api.station)
    )


H264 = {"name": "h264", "content_type": "video/mp4", "codec": "avc1", "encoder": "copy"}
HEVC = {"name": "hevc", "content_type": "video/mp4", "codec": "hvc1", "encoder": "copy"}


def test_a_medium_registered_pending_plays_once_its_renditions_are_attached(api: Api) -> None:
    media = _pending(api)
    assert (media["proxy_status"], media["playable"], media["has_proxy"]) == (
        "pending",
        False,
        False,
    )
    api.upload(rendition_key(media["sha256"], "hevc"), b"hevc bytes", "video/mp4")
    first = _attach(api, media["id"], {"proxy_status": "pending", "renditions": [HEVC]})
    assert first.status_code == 200, first.text
    assert (first.json()["playable"], first.json()["has_proxy"]) == (True, False)
    served = api.client.get(
        f"/api/v1/media/{media['id']}/renditions/hevc", headers=api.auth(api.admin)
    )
    assert served.status_code == 200 and served.content == b"hevc bytes"

    api.upload(rendition_key(media["sha256"], "h264"), b"h264 bytes", "video/mp4")
    api.upload(thumbnail_key(media["sha256"]), b"\xff\xd8jpeg", "image/jpeg")
    body = {"proxy_status": "ready", "renditions": [HEVC, H264], "thumbnail": True}
    ready = _attach(api, media["id"], body).json()
    assert (ready["proxy_status"], ready["has_proxy"], ready["has_thumbnail"]) == (
        "ready",
        True,
        True,
    )
    proxy = api.client.get(f"/api/v1/media/{media['id']}/proxy", headers=api.auth(api.admin))
    assert proxy.content == b"h264 bytes"
    again = _attach(api, media["id"], body)  # a station retrying after a lost answer
    assert again.status_code == 200
    custody = api.get(f"/api/v1/media/{media['id']}/custody").json()["events"]
    assert [e["event"] for e in custody].count("proxy_made") == 2  # the retry recorded nothing


def test_nothing_is_attached_that_is_not_in_the_store(api: Api) -> None:
    media = _pending(api)
    missing = _attach(api, media["id"], {"proxy_status": "ready", "renditions": [H264]})
    assert missing.status_code == 422 and "not in the object store" in missing.json()["detail"]
    no_thumb = _attach(api, media["id"], {"proxy_status": "none", "thumbnail": True})
    assert no_thumb.status_code == 422
    api.upload(rendition_key(media["sha256"], "hevc"), b"x", "video/mp4")
    not_ready = _attach(api, media["id"], {"proxy_status": "ready", "renditions": [HEVC]})
    assert not_ready.status_code == 422 and "h264 or aac" in not_ready.json()["detail"]
    twice = _attach(api, media["id"], {"proxy_status": "pending", "renditions": [HEVC, HEVC]})
    assert twice.status_code == 422
    assert api.get(f"/api/v1/media/{media['id']}").json()["proxy_status"] == "pending"


def test_a_failed_browser_copy_is_shown_with_its_reason_and_in_custody(api: Api) -> None:
    media = _pending(api)
    body = {"proxy_status": "failed", "proxy_error": "no frame decodes", "unplayable_reason": "x"}
    failed = _attach(api, media["id"], body).json()
    assert (failed["proxy_status"], failed["proxy_error"], failed["playable"]) == (
        "failed",
        "no frame decodes",
        False,
    )
    custody = api.get(f"/api/v1/media/{media['id']}/custody").json()["events"]
    made = [e for e in custody if e["event"] == "proxy_made"]
    assert made[-1]["outcome"] == "failed" and made[-1]["detail"]["error"] == "no frame decodes"


def test_only_a_station_attaches_and_only_to_a_medium_that_exists(api: Api) -> None:
    media = _pending(api)
    reviewer = api.token("reviewer", name="r")
    refused = _attach(api, media["id"], {"proxy_status": "none"}, token=reviewer)
    assert refused.status_code == 403
    assert _attach(api, "no-such-id", {"proxy_status": "none"}).status_code == 404
    odd = _attach(api, media["id"], {"proxy_status": "none", "extra": 1})
    assert odd.status_code == 422


def test_a_sidecar_finds_its_medium_whichever_is_registered_first(api: Api) -> None:
    data = b"the main recording" * 100
    main_sha = hashlib.sha256(data).hexdigest()
    sidecar = api.ingested(b"<gpx/>", kind="other", sidecar_of_sha256=main_sha, playable=False)
    assert sidecar["sidecar_of"] is None  # its medium is not registered yet
    main = api.ingested(data)
    assert api.get(f"/api/v1/media/{sidecar['id']}").json()["sidecar_of"] == main["id"]
    assert main["sidecar_of"] is None and main["kind"] == "video"
    assert sidecar["kind"] == "other"


def test_what_plays_is_never_taken_away_by_a_later_attach(api: Api) -> None:
    """The same bytes docked at a second station: its backlog's first step (an HEVC copy,
    still pending) must not make the medium, ready already, pending again."""
    media = _pending(api)
    for name in ("h264", "hevc"):
        api.upload(rendition_key(media["sha256"], name), name.encode(), "video/mp4")
    _attach(api, media["id"], {"proxy_status": "ready", "renditions": [H264]})
    later = _attach(api, media["id"], {"proxy_status": "pending", "renditions": [HEVC]}).json()
    assert later["proxy_status"] == "ready" and later["has_proxy"] is True
    assert sorted(r["name"] for r in later["renditions"]) == ["h264", "hevc"]
    failed = _attach(api, media["id"], {"proxy_status": "failed", "proxy_error": "x"}).json()
    assert (failed["proxy_status"], failed["proxy_error"], failed["playable"]) == (
        "ready",
        None,
        True,
    )
