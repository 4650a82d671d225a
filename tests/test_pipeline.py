"""Evidence first: originals registered before anything is derived; the backlog's browser copies
attached afterwards, in order, honestly. Real ffmpeg, the api in-process, the real journal."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.encoders import PRESETS
from simulation import footage
from station.api_client import ApiClient
from station.backlog import Backlog, DerivedOutcome
from station.facts import DerivedStage
from station.importer import Importer, ImportOptions, ImportReport
from station.journal import Journal, JournalRow, Priority
from station.pipeline import MAX_PROXY_ATTEMPTS, Pipeline
from station.wipe import wipe_registered
from tests.fixtures_pg import PAIRED
from tests.pipelines import pipeline_for
from tests.test_api_media import Api, serve_api
from tests.test_import import Recorder


@dataclass
class Dock:
    api: Api
    journal: Journal
    pipeline: Pipeline
    volume: Path

    def run(self, options: ImportOptions | None = None) -> ImportReport:
        with Importer(self.pipeline) as importer:
            return importer.run(
                self.volume, options or ImportOptions("CAM-1", "dock-1", "010001"), Recorder()
            )

    def media(self) -> dict[str, dict]:
        items = self.api.get("/api/v1/media", params={"limit": 500}).json()["items"]
        return {m["original_name"]: m for m in items}

    def row_of(self, name: str) -> JournalRow:
        return next(r for r in self.journal.imported_on("CAM-1") if r.path.endswith(name))

    def make_due(self) -> None:
        """Let the back-off of every failed try run out now."""
        db = sqlite3.connect(self.journal_path)
        db.execute("UPDATE derived SET next_attempt_at = NULL")
        db.commit()
        db.close()

    @property
    def journal_path(self) -> Path:
        return self.volume.parent / "state" / "journal.db"


@pytest.fixture
def api(database_url: str, store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, store_url, tmp_path)


@pytest.fixture
def dock(api: Api, tmp_path: Path) -> Iterator[Dock]:
    volume = tmp_path / "CAM-1"
    (volume / "DCIM").mkdir(parents=True)
    station = TestClient(api.client.app, headers={"Authorization": f"Bearer {api.station}"})
    with Journal(tmp_path / "state" / "journal.db") as journal:
        pipeline = pipeline_for(
            journal, tmp_path / "state" / "staging", api.store, ApiClient(station)
        )
        yield Dock(api, journal, pipeline, volume)


@PAIRED
def test_originals_are_registered_before_any_browser_copy_and_it_follows(
    dock: Dock,
    clips,  # noqa: ANN001
) -> None:
    shutil.copy(clips.h264_mp4, dock.volume / "DCIM" / "V_0001.MP4")
    shutil.copy(clips.jpg, dock.volume / "DCIM" / "P_0001.JPG")
    assert dock.run().ok

    before = dock.media()
    video, photo = before["V_0001.MP4"], before["P_0001.JPG"]
    # Searchable and stored now; nothing derived yet, and nothing claims it plays.
    assert (video["proxy_status"], video["playable"], video["renditions"]) == ("pending", False, [])
    assert photo["proxy_status"] == "none"
    refused = dock.api.client.get(
        f"/api/v1/media/{video['id']}/proxy", headers=dock.api.auth(dock.api.admin)
    )
    assert refused.status_code == 404 and "pending" in refused.json()["detail"]
    original = dock.api.client.get(
        f"/api/v1/media/{video['id']}/original", headers=dock.api.auth(dock.api.admin)
    )
    assert original.content == clips.h264_mp4.read_bytes()

    Backlog(dock.pipeline).run_due()
    after = dock.media()
    video, photo = after["V_0001.MP4"], after["P_0001.JPG"]
    assert (video["proxy_status"], video["playable"], video["has_thumbnail"]) == (
        "ready",
        True,
        True,
    )
    assert [(r["name"], r["encoder"]) for r in video["renditions"]] == [("h264", "copy")]
    assert (photo["proxy_status"], photo["has_thumbnail"], photo["playable"]) == (
        "none",
        True,
        False,
    )
    played = dock.api.client.get(
        f"/api/v1/media/{video['id']}/proxy", headers=dock.api.auth(dock.api.admin)
    )
    assert played.status_code == 200 and played.content[4:8] == b"ftyp"
    custody = dock.api.get(f"/api/v1/media/{video['id']}/custody").json()["events"]
    assert [e["event"] for e in custody] == [
        "copied_from_device",
        "stored",
        "registered",
        "downloaded_original",
        "proxy_made",
        "played_proxy",
    ]
    assert not (dock.pipeline.staging_root / str(dock.row_of("V_0001.MP4").id)).exists()


@PAIRED
def test_an_hevc_recording_plays_in_hevc_browsers_before_its_h264_proxy_is_made(
    dock: Dock,
    clips,  # noqa: ANN001
) -> None:
    shutil.copy(clips.hevc_mp4, dock.volume / "DCIM" / "V_0003.MP4")
    assert dock.run().ok
    stop = threading.Event()
    steps: list[DerivedOutcome] = []

    def after(outcome: DerivedOutcome) -> None:
        steps.append(outcome)
        if len(steps) == 2:  # the quick renditions made and attached
            stop.set()

    Backlog(dock.pipeline).run_due(stop=stop, on_step=after)
    hevc = dock.media()["V_0003.MP4"]
    assert hevc["proxy_status"] == "pending"
    assert [(r["name"], r["codec"]) for r in hevc["renditions"]] == [("hevc", "hvc1")]
    assert hevc["playable"] is True  # in a browser that decodes HEVC
    served = dock.api.client.get(
        f"/api/v1/media/{hevc['id']}/renditions/hevc", headers=dock.api.auth(dock.api.admin)
    )
    assert served.status_code == 200 and b"hvcC" in served.content

    Backlog(dock.pipeline).run_due()
    hevc = dock.media()["V_0003.MP4"]
    assert hevc["proxy_status"] == "ready"
    assert sorted(r["name"] for r in hevc["renditions"]) == ["h264", "hevc"]
    assert next(r for r in hevc["renditions"] if r["name"] == "h264")["encoder"] == "libx264"


@PAIRED
def test_a_failed_hardware_encode_is_made_in_software_and_says_so(
    dock: Dock,
    clips,  # noqa: ANN001
) -> None:
    shutil.copy(clips.mjpeg_avi, dock.volume / "DCIM" / "V_0002.AVI")
    assert dock.run().ok
    # A VAAPI preset whose encoder this ffmpeg lacks fails as a broken driver would.
    broken = dataclasses.replace(PRESETS["vaapi"], ffmpeg_encoder="h264_vaapi_not_built_here")
    hardware = dataclasses.replace(dock.pipeline, encoder=broken)
    Backlog(hardware).run_due()
    avi = dock.media()["V_0002.AVI"]
    assert (avi["proxy_status"], avi["playable"]) == ("ready", True)
    assert "vaapi" in avi["proxy_note"] and "software" in avi["proxy_note"]


@PAIRED
def test_a_browser_copy_that_keeps_failing_ends_failed_with_the_reason(
    dock: Dock,
    clips,  # noqa: ANN001
) -> None:
    shutil.copy(clips.mjpeg_avi, dock.volume / "DCIM" / "V_0002.AVI")
    assert dock.run().ok
    broken = dataclasses.replace(PRESETS["software"], ffmpeg_encoder="libx264_not_built_here")
    failing = dataclasses.replace(dock.pipeline, encoder=broken)
    backlog = Backlog(failing)
    for attempt in range(1, MAX_PROXY_ATTEMPTS + 1):
        backlog.run_due()
        avi = dock.media()["V_0002.AVI"]
        if attempt < MAX_PROXY_ATTEMPTS:  # retried with back-off, never silently
            assert avi["proxy_status"] == "pending"
            job = dock.journal.derived_of(dock.row_of("V_0002.AVI").id)
            assert job is not None and job.attempts == attempt and "attempt" in str(job.facts.error)
            dock.make_due()
    assert (avi["proxy_status"], avi["playable"]) == ("failed", False)
    assert "libx264_not_built_here" in avi["proxy_error"]
    custody = dock.api.get(f"/api/v1/media/{avi['id']}/custody").json()["events"]
    assert [e["outcome"] for e in custody if e["event"] == "proxy_made"][-1] == "failed"


@PAIRED
def test_an_mp4_whose_media_data_is_missing_is_kept_and_never_called_playable(
    dock: Dock, tmp_path: Path
) -> None:
    stub = footage.index_without_data_mp4(dock.volume / "DCIM" / "V_0009.MP4")
    assert dock.run().ok
    backlog = Backlog(dock.pipeline)
    backlog.run_due()  # its stream copy holds no data: rejected; the transcode is tried
    media = dock.media()["V_0009.MP4"]
    assert (media["proxy_status"], media["playable"], media["renditions"]) == ("pending", False, [])
    for _ in range(MAX_PROXY_ATTEMPTS):  # ffmpeg cannot encode what is not there either
        dock.make_due()
        backlog.run_due()
    media = dock.media()["V_0009.MP4"]
    assert (media["proxy_status"], media["playable"]) == ("failed", False)
    assert media["proxy_error"] and media["unplayable_reason"]
    assert media["size_bytes"] == stub.stat().st_size  # the original is kept, as evidence


def test_the_backlog_takes_important_and_in_case_media_first_then_the_newest(
    tmp_path: Path,
) -> None:
    t0 = datetime(2026, 11, 30, 8, tzinfo=UTC)
    with Journal(tmp_path / "j.db") as journal:
        ids = {}
        for name, priority, hours in (
            ("old", Priority.NORMAL, 0),
            ("new", Priority.NORMAL, 5),
            ("important-old", Priority.FIRST, 1),
            ("in-case-new", Priority.FIRST, 3),
            ("no-time", Priority.NORMAL, None),
        ):
            row = journal.discover("cam", name, 1, 1, "video")
            ids[row.id] = name
            at = None if hours is None else t0 + timedelta(hours=hours)
            journal.enqueue_derived(
                row.id, priority=priority, recorded_at=at, stage=DerivedStage.QUICK
            )
        order = [ids[job.file_id] for job in journal.derived_due()]
    assert order == ["in-case-new", "important-old", "new", "old", "no-time"]
    with Journal(tmp_path / "j.db") as reopened:  # journal state: it survives a restart
        assert [ids[job.file_id] for job in reopened.derived_due()] == order


@PAIRED
def test_a_clock_the_station_set_at_the_dock_is_in_every_file_s_custody(
    dock: Dock,
    clips,  # noqa: ANN001
) -> None:
    shutil.copy(clips.h264_mp4, dock.volume / "DCIM" / "V_0001.MP4")
    shutil.copy(clips.wav, dock.volume / "DCIM" / "R_0001.WAV")
    set_at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    options = ImportOptions("CAM-1", "dock-1", "010001", clock_offset_s=-420.0, clock_set_at=set_at)
    assert dock.run(options).ok
    for medium in dock.media().values():
        events = dock.api.get(f"/api/v1/media/{medium['id']}/custody").json()["events"]
        assert events[0]["event"] == "device_clock_set"
        assert events[0]["detail"] == {"offset_before_s": -420.0, "set_to": set_at.isoformat()}
        assert medium["clock_offset_s"] == -420.0  # the files were stamped before the set


@PAIRED
def test_a_sidecar_is_kept_and_tied_to_its_medium(dock: Dock, clips) -> None:  # noqa: ANN001
    shutil.copy(clips.h264_mp4, dock.volume / "DCIM" / "GH010001.MP4")
    low_res = dock.volume / "DCIM" / "GL010001.LRV"
    shutil.copy(clips.h264_mp4, low_res)
    with low_res.open("ab") as f:  # other bytes than the medium's, as a real .LRV has
        f.write(b"\0")
    (dock.volume / "DCIM" / "GH010001.GPX").write_text("<gpx/>")
    assert dock.run().ok
    media = dock.media()
    main = media["GH010001.MP4"]
    assert media["GL010001.LRV"]["sidecar_of"] == main["id"]
    assert media["GH010001.GPX"]["sidecar_of"] == main["id"]
    assert media["GH010001.GPX"]["kind"] == "other"
    assert main["sidecar_of"] is None


@PAIRED
def test_the_wipe_after_verify_waits_for_the_original_only(dock: Dock, clips) -> None:  # noqa: ANN001
    """A camera leaves the dock emptied as soon as its originals are registered and re-checked
    on it, however far behind the browser copies are."""
    shutil.copy(clips.hevc_mp4, dock.volume / "DCIM" / "V_0003.MP4")
    assert dock.run().ok
    summary = wipe_registered(
        dock.volume,
        "CAM-1",
        journal=dock.journal,
        api=dock.pipeline.api,
        station_id="dock-1",
    )
    assert summary.wiped == ["DCIM/V_0003.MP4"]
    assert not (dock.volume / "DCIM" / "V_0003.MP4").exists()
    medium = dock.media()["V_0003.MP4"]
    assert medium["proxy_status"] == "pending"  # nothing derived yet
    events = dock.api.get(f"/api/v1/media/{medium['id']}/custody").json()["events"]
    assert "wiped_from_device" in [e["event"] for e in events]

    Backlog(dock.pipeline).run_due()  # the staged copy is what the backlog works from
    assert dock.media()["V_0003.MP4"]["proxy_status"] == "ready"
