"""From a camera whose clock runs 7 minutes fast to its case: three segments imported,
clock-corrected, merged into one recording and associated with the enforcement event they
recorded, whichever arrives first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_pg import PAIRED
from tests.test_import import station  # noqa: F401  (the fixture)
from tests.test_recordings import SEGMENT_S, _camera

FAST = timedelta(minutes=7)
# What the officer filmed, by a true clock: 08:57:00-08:57:06 Shanghai, in three segments.
FILMED = datetime(2026, 11, 27, 0, 57, 0, tzinfo=UTC)
# The stop-and-check it belongs to, as the case-handling system knows it: 08:45-08:53. The
# footage starts 4 minutes after its end, inside the default 5-minute tolerance; by the
# camera's fast clock it would start 11 minutes after, and match nothing.
EVENT = {
    "event_id": "E1",
    "activity": "stop_and_check",
    "officer_ids": ["010001"],
    "start": "2026-11-27T08:45:00+08:00",
    "end": "2026-11-27T08:53:00+08:00",
}


def _put_case(admin: Any) -> None:
    body = {"title": "盘查", "unit_id": None, "events": [EVENT]}
    response = admin.put("/api/v1/cases/A-2026-0042", json=body)
    assert response.status_code in (200, 201), response.text


@PAIRED
@pytest.mark.parametrize("case_first", [True, False], ids=["case-first", "footage-first"])
def test_a_fast_camera_s_split_recording_reaches_its_case(
    station: Any,  # noqa: F811
    tmp_path: Path,
    case_first: bool,
) -> None:
    run, admin = station
    if case_first:
        _put_case(admin)
    # The camera stamps every segment (container and file name) by its own clock.
    stamped = [FILMED + FAST + timedelta(seconds=SEGMENT_S * i) for i in range(3)]
    assert run(_camera(tmp_path / "vol", stamped), clock_offset_s=FAST.total_seconds()).ok
    if not case_first:
        _put_case(admin)

    items = admin.get("/api/v1/media", params={"case_no": "A-2026-0042"}).json()["items"]
    parts = sorted(items, key=lambda m: m["recorded_start"])
    assert len(parts) == 3
    assert [m["recorded_start"] for m in parts] == [
        (FILMED + timedelta(seconds=SEGMENT_S * i)).isoformat().replace("+00:00", "Z")
        for i in range(3)
    ]
    assert all(m["recorded_start_raw"] != m["recorded_start"] for m in parts)
    assert all(m["retention_until"] is None for m in parts)  # evidence: kept permanently

    case = admin.get("/api/v1/cases/A-2026-0042").json()
    assert sorted(case["media_ids"]) == sorted(m["id"] for m in parts)
    assert {(link["source"], link["event_id"], link["rule"]) for link in case["links"]} == {
        ("auto", "E1", "officer")
    }

    recording = admin.get(f"/api/v1/recordings/{parts[0]['recording_id']}").json()
    assert [p["media_id"] for p in recording["parts"]] == [m["id"] for m in parts]
    assert recording["gaps"] == [] and recording["merge_method"] == "stream_copy"


@PAIRED
@pytest.mark.parametrize("case_first", [True, False], ids=["case-first", "footage-first"])
def test_an_event_one_segment_records_claims_the_whole_recording(
    station: Any,  # noqa: F811
    tmp_path: Path,
    case_first: bool,
) -> None:
    run, admin = station
    # Only the first segment starts within 5 minutes of the event's end (08:52); the camera
    # split one continuous recording, and the later segments are the same evidence.
    event = {**EVENT, "end": "2026-11-27T08:52:00+08:00"}
    body = {"title": "盘查", "unit_id": None, "events": [event]}
    if case_first:
        assert admin.put("/api/v1/cases/A-2026-0043", json=body).status_code == 201
    starts = [FILMED + timedelta(seconds=SEGMENT_S * i) for i in range(3)]
    assert run(_camera(tmp_path / "vol", starts)).ok
    if not case_first:
        assert admin.put("/api/v1/cases/A-2026-0043", json=body).status_code == 201

    case = admin.get("/api/v1/cases/A-2026-0043").json()
    media = admin.get("/api/v1/media", params={"limit": 10}).json()["items"]
    assert len(media) == 3 and len({m["recording_id"] for m in media}) == 1
    assert sorted(case["media_ids"]) == sorted(m["id"] for m in media)
