"""The chain-of-custody report: signed JSON and a printable Chinese page, checked offline
with openssl as the page says, and refused by the signature check once altered."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.settings import ApiSettings
from storage.key_file import load_key
from tests.test_api_media import Api, serve_api
from wire.signatures import SignatureInvalid, key_id_of, verify


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _api_key() -> Any:
    public = load_key(ApiSettings().api_signing_key_file).public_key()
    return {key_id_of(public): public}


def test_the_report_lists_every_step_oldest_first_and_is_signed(api: Api) -> None:
    media = api.ingested(b"footage " * 200, uploaded_at=None)
    assert api.get(f"/api/v1/media/{media['id']}/original").status_code == 200
    admin = api.auth(api.admin)
    api.client.put("/api/v1/cases/C-7", headers=admin,
                   json={"title": "t", "unit_id": "U1", "events": []})  # fmt: skip
    api.client.post("/api/v1/cases/C-7/media", headers=admin,
                    json={"media_ids": [media["id"]], "reason": "现场执法录像"})  # fmt: skip

    response = api.get(f"/api/v1/media/{media['id']}/custody/report")
    assert response.status_code == 200
    document = verify(response.json(), _api_key()).document
    assert document["kind"] == "custody_report" and document["generated_by"] == "admin"
    assert document["media"]["sha256"] == media["sha256"]
    assert document["media"]["case_nos"] == ["C-7"]
    assert document["media"]["retention_class"] == "permanent"
    steps = document["steps"]
    assert [s["at"] for s in steps] == sorted(s["at"] for s in steps)
    custody = [s["what"] for s in steps if s["source"] == "custody"]
    assert custody == ["copied_from_device", "registered", "downloaded_original",
                       "associated_with_case"]  # fmt: skip
    audited = [s["what"] for s in steps if s["source"] == "audit"]
    assert "GET /api/v1/media/{media_id}/original" in audited
    assert all(len(s["audit_hash"]) == 64 for s in steps if s["source"] == "audit")
    copied = steps[[s["what"] for s in steps].index("copied_from_device")]
    assert copied["detail"]["sha256"] == media["sha256"] and copied["station_id"] == "dock-1"
    # Reading the report is itself an access on record.
    again = api.get(f"/api/v1/media/{media['id']}/custody/report").json()["document"]
    assert "GET /api/v1/media/{media_id}/custody/report" in [s["what"] for s in again["steps"]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_altered_report_fails_its_signature(api: Api) -> None:
    media = api.ingested()
    signed = api.get(f"/api/v1/media/{media['id']}/custody/report").json()
    forged = dict(signed, payload=signed["payload"].replace(media["sha256"], "0" * 64))
    with pytest.raises(SignatureInvalid, match="altered after signing"):
        verify(forged, _api_key())
    readable = json.loads(json.dumps(signed))
    readable["document"]["media"]["officer_id"] = "someone else"
    with pytest.raises(SignatureInvalid, match="readable copy was altered"):
        verify(readable, _api_key())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_printable_page_states_the_hashes_and_checks_offline(api: Api, tmp_path: Path) -> None:
    media = api.ingested()
    page = api.get(f"/api/v1/media/{media['id']}/custody/report", params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "执法音视频证据保管链报告" in text and media["sha256"] in text
    assert "从设备复制并计算哈希" in text and "openssl pkeyutl -verify" in text
    signed = api.get(f"/api/v1/media/{media['id']}/custody/report").json()
    assert signed["signature"]["key_id"] in text

    # What the page tells a prosecutor's clerk to do, done here with openssl.
    (tmp_path / "payload.bin").write_bytes(signed["payload"].encode())
    (tmp_path / "signature.bin").write_bytes(base64.b64decode(signed["signature"]["value"]))
    (tmp_path / "key.pem").write_text(signed["signature"]["public_key_pem"])
    checked = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin",
         "-in", "payload.bin", "-sigfile", "signature.bin"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout
    (tmp_path / "payload.bin").write_bytes(signed["payload"].replace("dock-1", "dock-9").encode())
    tampered = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin",
         "-in", "payload.bin", "-sigfile", "signature.bin"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tampered.returncode != 0
