"""The device registry through the api, on both catalogues (SQLite, PostgreSQL).

The object store is the local folder only: devices never touch it, and media go through
it exactly as in test_api_media, which runs both stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.catalogue.db import session_scope
from storage.catalogue.models import ApiToken, Media
from storage.catalogue.tokens import hash_token
from tests.test_api_media import Api, serve_api

DEVICE_FIELDS = {
    "device_id", "kind", "serial", "unit_id", "officer_id", "status", "created_at", "updated_at",
}  # fmt: skip


class DeviceApi(Api):
    def put(self, device_id: str, body: dict[str, Any], token: str | None = None) -> Any:
        return self.client.put(
            f"/api/v1/devices/{device_id}", json=body, headers=self.auth(token or self.it_admin)
        )

    def registered(self, device_id: str, **body: Any) -> dict[str, Any]:
        response = self.put(device_id, {"kind": "body_camera", **body})
        assert response.status_code in (200, 201), response.text
        device: dict[str, Any] = response.json()
        return device

    def stored_media(self, media_id: str) -> Media:
        with session_scope(self.database_url) as session:
            media = session.scalars(select(Media).where(Media.id == media_id)).one()
            session.expunge(media)
        return media


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[DeviceApi]:
    yield from serve_api(DeviceApi, database_url, local_store_url, tmp_path)


def test_put_creates_then_replaces_a_device_naming_a_unit_not_known_yet(api: DeviceApi) -> None:
    body = {
        "kind": "body_camera",
        "serial": "SN-0001",
        "unit_id": "U-NOT-YET-KNOWN",  # units may arrive later
        "officer_id": "010203",
        "status": "active",
    }
    created = api.put("BC-0001", body)
    assert created.status_code == 201, created.text
    device = created.json()
    assert set(device) == DEVICE_FIELDS
    assert device["device_id"] == "BC-0001" and device["unit_id"] == "U-NOT-YET-KNOWN"
    assert device["created_at"].endswith("Z") and device["updated_at"] == device["created_at"]
    assert api.get("/api/v1/devices/BC-0001", token=api.it_admin).json() == device

    same = api.put("BC-0001", body)
    assert same.status_code == 200 and same.json() == device  # nothing changed, nothing moved

    # A replace is the whole device: what is left out is cleared.
    replaced = api.put("BC-0001", {"kind": "body_camera", "serial": "SN-0001", "status": "repair"})
    assert replaced.status_code == 200, replaced.text
    after = replaced.json()
    assert after["status"] == "repair" and after["officer_id"] is None and after["unit_id"] is None
    assert after["created_at"] == device["created_at"]
    assert after["updated_at"] >= device["updated_at"]

    room = api.put("ROOM-3", {"kind": "interview_room", "unit_id": "U1"})
    assert room.status_code == 201 and room.json()["status"] == "active"  # the default
    assert room.json()["serial"] is None

    missing = api.get("/api/v1/devices/BC-9999", token=api.it_admin)
    assert missing.status_code == 404 and "BC-9999" in missing.json()["detail"]


def test_put_refuses_an_unknown_kind_or_status_with_a_clear_422(api: DeviceApi) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("BC-1", {"kind": "drone"}, "body_camera"),
        ("BC-1", {"kind": "body_camera", "status": "broken"}, "retired"),
        ("BC-1", {"status": "active"}, "kind"),
        ("BC-1", {"kind": "body_camera", "serial": ""}, "serial"),
        ("BC-1", {"kind": "body_camera", "colour": "black"}, "colour"),
        ("unregistered", {"kind": "body_camera"}, "reserved"),
        ("B" * 129, {"kind": "body_camera"}, "128"),
    ]
    for device_id, body, mentioned in cases:
        response = api.put(device_id, body)
        assert response.status_code == 422, (body, response.text)
        assert mentioned in str(response.json()["detail"]), (body, response.text)
    assert api.get("/api/v1/devices", token=api.it_admin).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_a_serial_belongs_to_one_device_and_a_clash_names_the_holder(api: DeviceApi) -> None:
    api.registered("BC-A", serial="SN-1")
    clash = api.put("BC-B", {"kind": "body_camera", "serial": "SN-1"})
    assert clash.status_code == 409
    assert "'BC-A'" in clash.json()["detail"] and "SN-1" in clash.json()["detail"]
    assert api.get("/api/v1/devices/BC-B", token=api.it_admin).status_code == 404

    # Devices without a serial never clash; a device keeps its own serial on replace.
    api.registered("BC-B")
    api.registered("BC-C")
    assert api.put("BC-A", {"kind": "body_camera", "serial": "SN-1"}).status_code == 200
    replaced_clash = api.put("BC-B", {"kind": "body_camera", "serial": "SN-1"})
    assert replaced_clash.status_code == 409 and "'BC-A'" in replaced_clash.json()["detail"]

    # Once the serial moves off BC-A, BC-B may take it.
    api.registered("BC-A", serial="SN-2")
    assert api.registered("BC-B", serial="SN-1")["serial"] == "SN-1"


def test_each_role_only_where_allowed(api: DeviceApi) -> None:
    camera = {"kind": "body_camera", "serial": "SN-7", "unit_id": "U2"}
    assert api.client.put("/api/v1/devices/BC-7", json=camera).status_code == 401
    assert api.client.get("/api/v1/devices?serial=SN-7").status_code == 401
    assert api.client.get("/api/v1/devices/unregistered").status_code == 401

    assert api.put("BC-7", camera, token=api.admin).status_code == 201
    assert api.put("BC-7", camera, token=api.it_admin).status_code == 200
    assert api.put("BC-8", {"kind": "body_camera"}, token=api.station).status_code == 403

    # A station asks which device it has docked (whatever unit the device is in) ...
    found = api.get("/api/v1/devices", token=api.station, params={"serial": "SN-7"})
    assert found.status_code == 200, found.text
    assert [d["device_id"] for d in found.json()["items"]] == ["BC-7"]
    nothing = api.get("/api/v1/devices", token=api.station, params={"serial": "SN-none"})
    assert nothing.json() == {"items": [], "next_cursor": None}
    # ... and may not browse the registry otherwise.
    for path, params in (
        ("/api/v1/devices", {}),
        ("/api/v1/devices", {"unit_id": "U2"}),
        ("/api/v1/devices", {"serial": "SN-7", "unit_id": "U2"}),
        ("/api/v1/devices/BC-7", {}),
        ("/api/v1/devices/unregistered", {}),
    ):
        response = api.get(path, token=api.station, params=params)
        assert response.status_code == 403, (path, params)
    for token in (api.admin, api.it_admin):
        assert api.get("/api/v1/devices/BC-7", token=token).status_code == 200
        assert api.get("/api/v1/devices/unregistered", token=token).status_code == 200

    # IT administers devices but sees no media and registers none.
    assert api.get("/api/v1/media", token=api.it_admin).status_code == 403
    assert api.ingest(api.stored_record(), token=api.it_admin).status_code == 403

    reviewer = "st_" + "r" * 43
    with session_scope(api.database_url) as session:
        session.add(ApiToken(token_hash=hash_token(reviewer), role="reviewer", name="r"))
    assert api.put("BC-9", {"kind": "body_camera"}, token=reviewer).status_code == 403
    assert api.get("/api/v1/devices", token=reviewer, params={"serial": "SN-7"}).status_code == 403


def test_devices_are_found_by_serial_and_unit_page_by_page(api: DeviceApi) -> None:
    for i in range(5):
        api.registered(f"BC-{i}", serial=f"SN-{i}", unit_id="U1" if i % 2 else "U2")

    def ids(**params: Any) -> list[str]:
        response = api.get("/api/v1/devices", token=api.it_admin, params=params)
        assert response.status_code == 200, response.text
        return [d["device_id"] for d in response.json()["items"]]

    assert ids(unit_id="U1") == ["BC-1", "BC-3"]
    assert ids(serial="SN-4") == ["BC-4"] and ids(serial="SN-4", unit_id="U1") == []

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/devices", token=api.admin, params=params).json()
        seen += [d["device_id"] for d in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [f"BC-{i}" for i in range(5)]


def test_media_of_a_registered_device_are_filed_under_its_unit_and_officer(
    api: DeviceApi,
) -> None:
    api.registered("BC-0001", serial="SN-0001", unit_id="U9", officer_id="0042")
    api.registered("BC-0002", serial="SN-0002")  # in the registry, but issued to nobody

    # The station's token is of unit U1; the device's unit wins, its officer is the default.
    issued = api.ingested(device_id="BC-0001", officer_id=None, device_serial="SN-0001")
    assert (issued["unit_id"], issued["officer_id"]) == ("U9", "0042")
    # The officer the station names (chosen at the dock) wins over the registry's.
    named = api.ingested(device_id="BC-0001", officer_id="0777")
    assert (named["unit_id"], named["officer_id"]) == ("U9", "0777")
    # A device with no unit or officer leaves the station's unit and the record's officer.
    pooled = api.ingested(device_id="BC-0002", officer_id=None)
    assert (pooled["unit_id"], pooled["officer_id"]) == ("U1", None)
    stranger = api.ingested(device_id="SN-UNKNOWN", officer_id="0555")
    assert (stranger["unit_id"], stranger["officer_id"]) == ("U1", "0555")

    by_unit = api.get("/api/v1/media", params={"unit_id": "U9"}).json()["items"]
    assert {m["id"] for m in by_unit} == {issued["id"], named["id"]}


def test_media_of_unregistered_devices_are_flagged_for_it(api: DeviceApi) -> None:
    api.registered("BC-0001", serial="SN-0001")
    api.ingested(device_id="BC-0001", device_serial="SN-0001", device_registered=True)
    unknown: dict[str, Any] = {
        "device_id": "SN-XYZ",
        "device_serial": "SN-XYZ",
        "device_registered": False,
    }
    first = api.ingested(**unknown, clock_offset_s=-3.5)
    dock_2 = api.token("station", station_id="dock-2", unit_id="U1")
    last = api.ingested(**unknown, station_id="dock-2", token=dock_2)
    # The station thought this one registered; the registry decides.
    api.ingested(device_id="BC-GONE", device_registered=True)

    stored = api.stored_media(first["id"])
    assert stored.device_serial == "SN-XYZ" and stored.device_registered is False
    assert stored.clock_offset_s == -3.5
    assert api.stored_media(last["id"]).clock_offset_s is None

    def flagged() -> list[dict[str, Any]]:
        response = api.get("/api/v1/devices/unregistered", token=api.it_admin)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    gone, xyz = flagged()  # most recently seen first
    assert xyz == {
        "device_id": "SN-XYZ",
        "serial": "SN-XYZ",
        "first_seen": first["ingested_at"],
        "last_seen": last["ingested_at"],
        "media_count": 2,
        "station_ids": ["dock-1", "dock-2"],
        "serial_registered_as": None,
    }
    assert gone["device_id"] == "BC-GONE" and gone["serial"] is None and gone["media_count"] == 1

    # IT registers the camera under its own id: still listed, its media need relinking.
    api.registered("BC-0099", serial="SN-XYZ")
    assert [i["serial_registered_as"] for i in flagged()] == [None, "BC-0099"]
    # A device with the id the media carry takes them off the list.
    api.registered("SN-XYZ")
    api.registered("BC-GONE", status="lost")
    assert flagged() == []
