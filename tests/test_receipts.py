"""Dock receipts at the api: kept only when signed by a key registered for the station that
sends them; a retry is kept once; a station speaks only for itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.test_api_media import Api, serve_api
from wire.signatures import public_pem, sign


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, local_store_url, tmp_path)


def _receipt(key: Ed25519PrivateKey, station_id: str = "dock-1", **extra: Any) -> dict[str, Any]:
    return sign(
        {
            "kind": "dock_receipt", "receipt_id": str(uuid.uuid4()), "station_id": station_id,
            "device_id": "BC-0001", "device_serial": None, "officer_id": "010203",
            "case_no": None, "clock_offset_s": 1.5, "docked_at": "2026-12-03T01:00:00Z",
            "signed_at": "2026-12-03T01:02:00Z",
            "files": [{"path": "DCIM/A.MP4", "size_bytes": 10, "sha256": "a" * 64,
                       "state": "staged", "reason": None}],
            **extra,
        },
        key,
    )  # fmt: skip


def test_a_receipt_is_kept_only_under_the_stations_own_key(api: Api) -> None:
    station = api.auth(api.station)
    key = Ed25519PrivateKey.generate()
    receipt = _receipt(key)
    unknown = api.client.post("/api/v1/receipts", json=receipt, headers=station)
    assert unknown.status_code == 409 and "register the station's key" in unknown.json()["detail"]

    pem = {"public_key_pem": public_pem(key.public_key())}
    assert (
        api.client.put("/api/v1/stations/dock-2/key", json=pem, headers=station).status_code == 403
    )
    registered = api.client.put("/api/v1/stations/dock-1/key", json=pem, headers=station)
    assert registered.status_code == 200
    assert (
        api.client.put("/api/v1/stations/dock-1/key", json=pem, headers=station).status_code == 200
    )

    kept = api.client.post("/api/v1/receipts", json=receipt, headers=station)
    assert kept.status_code == 201 and kept.json()["new"] is True
    retried = api.client.post("/api/v1/receipts", json=receipt, headers=station)
    assert retried.status_code == 200 and retried.json()["new"] is False

    other = api.client.post("/api/v1/receipts", json=_receipt(key, "dock-2"), headers=station)
    assert other.status_code == 403
    altered = dict(receipt, payload=receipt["payload"].replace("010203", "999999"))
    assert api.client.post("/api/v1/receipts", json=altered, headers=station).status_code == 409
    bogus = {"public_key_pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}
    assert (
        api.client.put("/api/v1/stations/dock-1/key", json=bogus, headers=station).status_code
        == 422
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_receipt_id_must_be_a_uuid(api: Api) -> None:
    station = api.auth(api.station)
    key = Ed25519PrivateKey.generate()
    api.client.put("/api/v1/stations/dock-1/key", headers=station,
                   json={"public_key_pem": public_pem(key.public_key())})  # fmt: skip
    traversal = _receipt(key, receipt_id="../../etc/passwd")
    refused = api.client.post("/api/v1/receipts", json=traversal, headers=station)
    assert refused.status_code == 422 and "not a dock receipt" in refused.json()["detail"]
