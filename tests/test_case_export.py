"""A case's evidence as a BagIt bag, from the api (a zip) and from `station export`: valid
and complete by the `bagit` package's own validator, originals bit-exact, signed, in the
audit trail and each medium's custody; a damaged original is refused, a flipped byte in the
bag is found."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bagit
import pytest
from typer.testing import CliRunner

from api.settings import ApiSettings
from station.cli import app as station_cli
from storage.key_file import load_key
from storage.local_store import LocalStore
from storage.object_store import original_key
from tests.test_api_media import Api, serve_api
from wire.signatures import key_id_of, verify

ORIGINALS = (b"first original " * 300, b"second original " * 200)


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _case_with_media(api: Api) -> list[dict[str, Any]]:
    media = [api.ingested(data, proxy=b"proxy of " + data[:10]) for data in ORIGINALS]
    admin = api.auth(api.admin)
    api.client.put("/api/v1/cases/A-2026-01", headers=admin,
                   json={"title": "故意伤害案", "unit_id": "U1", "events": []})  # fmt: skip
    linked = api.client.post("/api/v1/cases/A-2026-01/media", headers=admin,
                             json={"media_ids": [m["id"] for m in media], "reason": "证据"})  # fmt: skip
    assert linked.status_code == 200
    return media


def _trusted() -> Any:
    public = load_key(ApiSettings().api_signing_key_file).public_key()
    return {key_id_of(public): public}


def _check_bag(root: Path, media: list[dict[str, Any]], exporter: str) -> bagit.Bag:
    bag = bagit.Bag(str(root))
    bag.validate()  # manifests, tag manifest, Payload-Oxum: raises when anything is off
    assert set(bag.algorithms) == {"sha256"}
    assert bag.info["Case-Number"] == "A-2026-01" and bag.info["Case-Unit"] == "U1"
    assert bag.info["Exporter"] == exporter and bag.info["Export-Time"].endswith("Z")
    case = json.loads((root / "data" / "case.json").read_text())
    assert case["title"] == "故意伤害案"
    for medium, data in zip(media, ORIGINALS, strict=True):
        (entry,) = [m for m in case["media"] if m["id"] == medium["id"]]
        assert (root / "data" / entry["original"]).read_bytes() == data
        assert bag.entries[f"data/{entry['original']}"]["sha256"] == medium["sha256"]
        report = json.loads((root / "data" / "custody" / f"{medium['id']}.json").read_text())
        assert verify(report, _trusted()).document["media"]["sha256"] == medium["sha256"]
        assert (root / "data" / "proxies" / f"{medium['id']}.mp4").exists()
    signature = verify(json.loads((root / "signature.json").read_text()), _trusted()).document
    manifest = hashlib.sha256((root / "manifest-sha256.txt").read_bytes()).hexdigest()
    assert signature["manifest_sha256"] == manifest and signature["case_no"] == "A-2026-01"
    info = hashlib.sha256((root / "bag-info.txt").read_bytes()).hexdigest()
    assert signature["bag_info_sha256"] == info
    assert "signature.json" in (root / "tagmanifest-sha256.txt").read_text()
    return bag


def test_the_api_exports_a_valid_signed_bag(api: Api, tmp_path: Path) -> None:
    media = _case_with_media(api)
    response = api.get("/api/v1/cases/A-2026-01/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path / "unpacked")
    root = tmp_path / "unpacked" / "bag-A-2026-01"
    _check_bag(root, media, exporter="admin")

    trail = api.get("/api/v1/audit", params={"action": "GET /api/v1/cases/{case_no}/export"})
    (entry,) = trail.json()["items"]
    assert entry["target"] == "A-2026-01" and entry["status"] == 200
    events = api.get(f"/api/v1/media/{media[0]['id']}/custody").json()["events"]
    assert events[-1]["event"] == "exported" and events[-1]["detail"]["case_no"] == "A-2026-01"

    # A byte flipped in the bag is found by the validator.
    original = next((root / "data" / "originals").iterdir())
    damaged = bytearray(original.read_bytes())
    damaged[5] ^= 0x01
    original.write_bytes(bytes(damaged))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(root)).validate()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_station_export_writes_the_bag_into_a_folder(api: Api, tmp_path: Path) -> None:
    media = _case_with_media(api)
    dest = tmp_path / "for-the-prosecutor"
    env = {"STATION_DATABASE_URL": api.database_url, "STATION_STORAGE_URL":
           LocalStore(api.store.root).root.as_uri()}  # type: ignore[attr-defined]  # fmt: skip
    result = CliRunner().invoke(station_cli, ["export", "A-2026-01", str(dest)], env=env)
    assert result.exit_code == 0, result.output
    assert "已导出案件 A-2026-01 的证据包：2 个媒体" in result.output
    _check_bag(dest, media, exporter=_cli_actor(api))
    again = CliRunner().invoke(station_cli, ["export", "A-2026-01", str(dest)], env=env)
    assert again.exit_code == 1 and "不是空文件夹" in again.output
    missing = CliRunner().invoke(station_cli, ["export", "NO-SUCH", str(tmp_path / "x")], env=env)
    assert missing.exit_code == 1 and "no case" in missing.output


def _cli_actor(api: Api) -> str:
    (entry,) = api.get("/api/v1/audit", params={"action": "case.export"}).json()["items"]
    assert entry["target"] == "A-2026-01" and entry["detail"]["media"] == 2
    return str(entry["actor"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_damaged_original_is_not_exported(api: Api, tmp_path: Path) -> None:
    media = _case_with_media(api)
    path = api.store.root / original_key(media[1]["sha256"])  # type: ignore[attr-defined]
    path.chmod(0o644)
    path.write_bytes(b"not the evidence")
    response = api.get("/api/v1/cases/A-2026-01/export")
    assert response.status_code == 409 and media[1]["id"] in response.json()["detail"]
    stranger = api.token("reviewer", unit_id="U2")
    assert api.get("/api/v1/cases/A-2026-01/export", token=stranger).status_code == 403
