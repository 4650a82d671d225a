"""`station import` end to end on real parts: every media file ends registered or reported."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from ingest.scan import ScanResult, SkipReason
from rules.retention import DEFAULT_RETENTION, LockMode
from simulation.footage import h264_aac_mp4
from station.api_client import ApiClient
from station.backlog import Backlog
from station.cli import app as station_cli
from station.facts import DerivedStage, DockFacts, FileFacts, StagedFacts
from station.importer import Importer, ImportOptions
from station.journal import FileState, Journal, JournalRow
from station.receipts import ReceiptBook
from station.recordings import Recordings
from storage.catalogue.db import session_scope, upgrade
from storage.catalogue.tokens import create_token
from storage.object_store import open_store, original_key
from tests.fixtures_pg import PAIRED
from tests.pipelines import pipeline_for
from wire.signatures import verify


class Recorder:
    """An ImportObserver that remembers what it was told; can sabotage one file."""

    def __init__(self, vanish: Path | None = None) -> None:
        self.vanish = vanish
        self.states: list[tuple[str, FileState]] = []
        self.failures: list[str] = []
        self.undocked_after: int | None = None
        self.kept_docked: list[str] | None = None

    def planned(self, scan: ScanResult, todo: list[JournalRow]) -> None:
        if self.vanish is not None:  # the card lost this file between scan and copy
            self.vanish.unlink()

    def copying(self, row: JournalRow) -> None: ...

    def copied_bytes(self, row: JournalRow, n: int) -> None: ...

    def reached(self, row: JournalRow, state: FileState) -> None:
        self.states.append((row.path, state))

    def failed(self, row: JournalRow, error: Exception) -> None:
        self.failures.append(row.path)

    def safe_to_undock(self, receipt: object) -> None:
        self.receipt = receipt
        self.undocked_after = sum(1 for _, s in self.states if s is FileState.STAGED)

    def keep_docked(self, not_copied: list[JournalRow]) -> None:
        self.kept_docked = [row.path for row in not_copied]


@pytest.fixture
def volume(tmp_path: Path, clips) -> Path:  # noqa: ANN001 - fixture from tests/fixtures_media.py
    vol = tmp_path / "ZFY-0001"
    (vol / "DCIM" / "100MEDIA").mkdir(parents=True)
    (vol / "RECORD").mkdir()
    (vol / "PHOTO").mkdir()
    shutil.copy(clips.h264_mp4, vol / "DCIM" / "100MEDIA" / "V_0001.MP4")
    shutil.copy(clips.mjpeg_avi, vol / "DCIM" / "100MEDIA" / "V_0002.AVI")
    shutil.copy(clips.truncated_mp4, vol / "DCIM" / "100MEDIA" / "V_0003.MP4")
    shutil.copy(clips.wav, vol / "RECORD" / "R_0001.WAV")
    shutil.copy(clips.jpg, vol / "PHOTO" / "P_0001.JPG")
    (vol / "DCIM" / "100MEDIA" / "V_0004.MP4").write_bytes(b"")
    (vol / "device.log").write_text("power on\n")
    return vol


@pytest.fixture
def station(tmp_path: Path, database_url: str, store_url: str):  # noqa: ANN001, ANN201
    """`station import` in-process against the api: the importer's run, then (as the command
    does) the recordings the device's segments form."""
    upgrade(database_url)
    with session_scope(database_url) as session:
        station_token = create_token(session, role="station", station_id="st-1", name="dock-1")
        admin_token = create_token(session, role="admin", name="admin")
    store = open_store(store_url)
    app = create_app(ApiSettings(database_url=database_url, storage_url=store_url), store=store)
    with TestClient(app) as http:
        http.headers["Authorization"] = f"Bearer {station_token}"
        admin = TestClient(app, headers={"Authorization": f"Bearer {admin_token}"})

        def run(  # noqa: ANN202
            vol: Path,
            observer: Recorder | None = None,
            case_no: str | None = None,
            api_down: bool = False,
            clock_offset_s: float | None = None,
        ):
            api = ApiClient(_unreachable()) if api_down else ApiClient(http)
            receipts = ReceiptBook.open(tmp_path / "state", tmp_path / "state" / "station.key")
            with Journal(tmp_path / "state" / "journal.db") as journal:
                pipeline = pipeline_for(journal, tmp_path / "state" / "staging", store, api)
                importer = Importer(pipeline, receipts=receipts)
                options = ImportOptions(
                    device_id=vol.name,
                    station_id="st-1",
                    officer_id="010001",
                    case_no=case_no,
                    clock_offset_s=clock_offset_s,
                )
                with importer:
                    report = importer.run(
                        vol, options, observer or Recorder(), finish_leftovers=True
                    )
                recordings = Recordings(journal, store, api, tmp_path / "state" / "recordings")
                recordings.assemble_all()
                Backlog(pipeline).run_due()  # the browser copies, as the command makes them
                recordings.assemble_all()
                receipts.send_pending(api, "st-1")
                return report

        yield run, admin


def _unreachable() -> httpx.Client:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    return httpx.Client(base_url="http://api.invalid", transport=httpx.MockTransport(refuse))


def _media_by_name(admin: TestClient) -> dict[str, dict]:
    items = admin.get("/api/v1/media", params={"limit": 500}).json()["items"]
    return {m["original_name"]: m for m in items}


@PAIRED
def test_every_media_file_is_registered_or_reported(station, volume: Path) -> None:
    run, admin = station
    observer = Recorder()
    report = run(volume, observer)

    assert report.ok, [(o.rel_path, o.error) for o in report.outcomes if o.error]
    assert {o.rel_path for o in report.outcomes} == {
        "DCIM/100MEDIA/V_0001.MP4",
        "DCIM/100MEDIA/V_0002.AVI",
        "DCIM/100MEDIA/V_0003.MP4",
        "PHOTO/P_0001.JPG",
        "RECORD/R_0001.WAV",
        "device.log",  # the camera's log: kept as evidence (kind other), never "not media"
    }
    assert {(s.rel_path, s.reason) for s in report.skipped} == {
        ("DCIM/100MEDIA/V_0004.MP4", SkipReason.EMPTY),
    }
    assert observer.undocked_after == 6  # safe to undock only once all are staged

    media = _media_by_name(admin)
    assert set(media) == {
        "V_0001.MP4",
        "V_0002.AVI",
        "V_0003.MP4",
        "P_0001.JPG",
        "R_0001.WAV",
        "device.log",
    }
    assert (media["device.log"]["kind"], media["device.log"]["playable"]) == ("other", False)
    for name, item in media.items():
        original = next(volume.rglob(name)).read_bytes()
        assert item["sha256"] == hashlib.sha256(original).hexdigest()
        body = admin.get(f"/api/v1/media/{item['id']}/original")
        assert body.content == original
        assert item["device_id"] == "ZFY-0001" and item["officer_id"] == "010001"

    truncated = media["V_0003.MP4"]
    assert truncated["playable"] is False
    assert "moov" in truncated["unplayable_reason"]
    assert admin.get(f"/api/v1/media/{truncated['id']}/proxy").status_code == 404

    assert media["V_0002.AVI"]["playable"] is True
    proxy = admin.get(f"/api/v1/media/{media['V_0002.AVI']['id']}/proxy")
    assert proxy.headers["content-type"] == "video/mp4"
    assert (
        admin.get(f"/api/v1/media/{media['R_0001.WAV']['id']}/proxy").headers["content-type"]
        == "audio/mp4"
    )
    thumb = admin.get(f"/api/v1/media/{media['P_0001.JPG']['id']}/thumbnail")
    assert thumb.content[:2] == b"\xff\xd8"


@PAIRED
def test_running_again_imports_nothing_twice(station, volume: Path) -> None:
    run, admin = station
    assert run(volume).ok
    again = run(volume)
    assert again.ok and again.outcomes == [] and again.already_imported == 6
    assert len(_media_by_name(admin)) == 6


@PAIRED
def test_unreadable_file_is_reported_and_the_rest_continue(station, volume: Path) -> None:
    run, admin = station
    gone = volume / "DCIM" / "100MEDIA" / "V_0002.AVI"
    observer = Recorder(vanish=gone)
    report = run(volume, observer)
    assert not report.ok
    failed = [o for o in report.outcomes if o.state is not FileState.REGISTERED]
    assert [o.rel_path for o in failed] == ["DCIM/100MEDIA/V_0002.AVI"]
    assert "cannot open" in str(failed[0].error)
    assert observer.failures == ["DCIM/100MEDIA/V_0002.AVI"]
    # The officer is told to keep the camera docked, never that it is safe to undock.
    assert observer.kept_docked == ["DCIM/100MEDIA/V_0002.AVI"]
    assert observer.undocked_after is None and report.safe_to_undock_s is None
    assert len(_media_by_name(admin)) == 5


def _ffprobe_codecs(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "probe.mp4"
    path.write_bytes(data)
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out


@PAIRED
def test_mjpeg_pcm_proxy_is_h264_aac(station, volume: Path, tmp_path: Path) -> None:
    run, admin = station
    assert run(volume).ok
    item = _media_by_name(admin)["V_0002.AVI"]
    proxy = admin.get(f"/api/v1/media/{item['id']}/proxy").content
    assert sorted(_ffprobe_codecs(proxy, tmp_path)) == ["aac", "h264"]


@PAIRED
def test_file_ffprobe_cannot_read_is_kept_and_flagged(station, volume: Path) -> None:
    run, admin = station
    garbage = os.urandom(50_000)
    (volume / "DCIM" / "100MEDIA" / "V_0009.MP4").write_bytes(garbage)
    assert run(volume).ok
    item = _media_by_name(admin)["V_0009.MP4"]
    assert item["playable"] is False and item["unplayable_reason"]
    assert admin.get(f"/api/v1/media/{item['id']}/original").content == garbage


@PAIRED
def test_case_no_at_the_dock_associates_the_footage(station, volume: Path) -> None:
    run, admin = station
    assert run(volume, case_no="A3201002026110001").ok
    found = admin.get("/api/v1/media", params={"case_no": "A3201002026110001"}).json()["items"]
    assert len(found) == 6
    assert all(m["case_nos"] == ["A3201002026110001"] for m in found)
    # Evidence from the dock on: each original locked in compliance mode as it was stored.
    store = admin.app.state.store  # type: ignore[attr-defined]
    for medium in found:
        lock = store.lock_of(original_key(medium["sha256"]))
        assert lock is not None and lock.mode == LockMode.COMPLIANCE, medium["original_name"]


@pytest.mark.parametrize(("database_url", "store_url"), [("sqlite", "s3"), ("sqlite", "local")],
                         indirect=True)  # fmt: skip
def test_each_original_is_locked_for_its_period_as_it_is_stored(station, volume: Path) -> None:
    run, admin = station
    assert run(volume).ok
    store = admin.app.state.store  # type: ignore[attr-defined]
    for medium in _media_by_name(admin).values():
        lock = store.lock_of(original_key(medium["sha256"]))
        assert lock is not None and lock.mode == LockMode.GOVERNANCE and not lock.legal_hold
        left = lock.until - datetime.now(UTC)
        assert timedelta(days=182) < left <= DEFAULT_RETENTION, medium["original_name"]


@PAIRED
def test_staged_files_are_finished_after_the_device_has_gone(
    station, volume: Path, tmp_path: Path
) -> None:
    run, admin = station
    down = run(volume, case_no="A-1", api_down=True)
    assert not down.ok and down.safe_to_undock_s is not None  # staged: safe to undock
    shutil.rmtree(volume)  # the officer undocked; the camera may overwrite its card
    empty = tmp_path / "OTHER-CAM"
    empty.mkdir()
    later = run(empty)  # any later import finishes what waits on the station disk
    assert later.ok and len(later.outcomes) == 6
    media = _media_by_name(admin)
    assert len(media) == 6
    # What the dock knew (officer, case) went with the files, not the later command line.
    assert {m["device_id"] for m in media.values()} == {"ZFY-0001"}
    assert all(m["case_nos"] == ["A-1"] and m["officer_id"] == "010001" for m in media.values())


@PAIRED
def test_lost_staged_copy_is_copied_again_from_the_docked_device(
    station, volume: Path, tmp_path: Path
) -> None:
    run, admin = station
    assert not run(volume, api_down=True).ok
    shutil.rmtree(tmp_path / "state" / "staging")  # the station's staging disk was replaced
    assert run(volume).ok
    assert len(_media_by_name(admin)) == 6


@PAIRED
def test_unreadable_part_of_the_card_fails_the_import(station, volume: Path) -> None:
    run, _ = station
    folder = volume
    for _ in range(40):
        folder = folder / "d"
    folder.mkdir(parents=True)
    observer = Recorder()
    report = run(volume, observer)
    assert not report.ok
    assert observer.kept_docked == [] and observer.undocked_after is None


def _done_row(journal: Journal, path: str, content: bytes) -> JournalRow:
    """A registered row whose derived work is done: its staging folder has served."""
    row = journal.discover("cam", path, len(content), 1, "video")
    staged = FileFacts(staged=StagedFacts("original.mp4", DockFacts("cam", "st")))
    sha = hashlib.sha256(content).hexdigest()
    journal.advance(row.id, FileState.STAGED, staged, sha256=sha)
    journal.advance(row.id, FileState.PROBED)
    journal.advance(row.id, FileState.UPLOADED)
    journal.advance(row.id, FileState.REGISTERED, media_id="m")
    journal.enqueue_derived(row.id, priority=1, recorded_at=None, stage=DerivedStage.DONE)
    return row


def test_start_up_sweeps_what_a_crash_left_on_the_station_disk(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    with Journal(tmp_path / "journal.db") as journal:
        done = _done_row(journal, "a.mp4", b"x")
        copying = journal.discover("cam", "b.mp4", 1, 1, "video")
        for row_id, name in ((done.id, "original.mp4"), (copying.id, "original.mp4.part")):
            (staging / str(row_id)).mkdir(parents=True)
            (staging / str(row_id) / name).write_bytes(b"x")
        (staging / "stray").mkdir()  # a replaced journal's staged copy: maybe evidence
        (staging / "stray" / "original.mp4").write_bytes(b"x")
        pipeline = pipeline_for(
            journal, staging, open_store(f"file://{tmp_path}/objects"), ApiClient(_unreachable())
        )
        with Importer(pipeline) as importer:
            moved = importer.sweep_staging()
    # The partial copy is gone with its folder; the registered file's copy (checked to be
    # its bytes) has done its job; bytes no journal row claims are moved aside, never deleted.
    assert sorted(p.name for p in staging.iterdir()) == []
    [quarantined] = moved
    assert (Path(quarantined) / "original.mp4").read_bytes() == b"x"


def test_the_sweep_never_deletes_bytes_a_restored_journal_mistakes_for_a_done_file(
    tmp_path: Path,
) -> None:
    """A journal restored from an old backup knows folder 1 as a file long done; the folder
    now holds another file's staged copy, never uploaded: it is quarantined, not deleted."""
    staging = tmp_path / "staging"
    with Journal(tmp_path / "journal.db") as journal:
        old = _done_row(journal, "old.mp4", b"o")
        (staging / str(old.id)).mkdir(parents=True)
        (staging / str(old.id) / "original.mp4").write_bytes(b"n")  # same size, other bytes
        pipeline = pipeline_for(
            journal, staging, open_store(f"file://{tmp_path}/objects"), ApiClient(_unreachable())
        )
        with Importer(pipeline) as importer:
            [quarantined] = importer.sweep_staging()
    assert (Path(quarantined) / "original.mp4").read_bytes() == b"n"


@PAIRED
def test_times_are_clock_corrected_and_camera_marks_arrive(
    station,  # noqa: ANN001
    tmp_path: Path,
    clips,  # noqa: ANN001
) -> None:
    run, admin = station
    vol = tmp_path / "ZFY-0009"
    (vol / "DCIM").mkdir(parents=True)
    (vol / "EMR").mkdir()
    # The camera runs 7 minutes fast: what it filmed at 09:00 Shanghai it stamped 09:07,
    # in the container (as UTC) and in the file name (local time).
    true_start = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    stamped = true_start + timedelta(minutes=7)
    h264_aac_mp4(vol / "DCIM" / "ZFY0009_20261127090700_0001.MP4", creation_time=stamped)
    shutil.copy(clips.h264_mp4, vol / "EMR" / "V_0002.MP4")  # the camera's important folder

    assert run(vol, clock_offset_s=420.0).ok
    media = _media_by_name(admin)
    filmed = media["ZFY0009_20261127090700_0001.MP4"]
    assert filmed["recorded_start"] == "2026-11-27T01:00:00Z"
    assert filmed["recorded_start_raw"] == "2026-11-27T01:07:00Z"
    assert (filmed["time_source"], filmed["clock_offset_s"]) == ("container", 420.0)
    assert filmed["time_facts"]["clock_corrected"] is True
    assert filmed["time_facts"]["name_time_raw"] == "2026-11-27T09:07:00"
    assert filmed["important"] is False and filmed["retention_until"] is not None
    marked = media["V_0002.MP4"]
    assert marked["important"] is True and marked["retention_until"] is None


# The receipt's path through the api is the same whatever catalogue and store: one of each.
@pytest.mark.parametrize(("database_url", "store_url"), [("sqlite", "local")], indirect=True)
def test_the_dock_is_signed_for_and_the_receipt_reaches_the_api(
    station, volume: Path, tmp_path: Path
) -> None:
    run, admin = station
    observer = Recorder()
    report = run(volume, observer)
    receipt = report.receipt
    assert receipt is not None and observer.receipt == receipt and receipt.files == 6
    signed = json.loads(receipt.path.read_text())
    document = verify(signed).document
    assert document["station_id"] == "st-1" and document["officer_id"] == "010001"
    by_path = {f["path"]: f for f in document["files"]}
    media = _media_by_name(admin)
    staged = by_path["DCIM/100MEDIA/V_0001.MP4"]
    assert staged["state"] == "staged" and staged["sha256"] == media["V_0001.MP4"]["sha256"]
    assert by_path["DCIM/100MEDIA/V_0004.MP4"]["state"] == "skipped"
    assert by_path["DCIM/100MEDIA/V_0004.MP4"]["reason"].startswith("empty")

    # Offline, with the file alone; an altered copy fails.
    checked = CliRunner().invoke(station_cli, ["receipt", "verify", str(receipt.path)])
    assert checked.exit_code == 0 and "回执签名有效" in checked.output, checked.output
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(dict(signed, payload=signed["payload"].replace(
        staged["sha256"], "0" * 64))))  # fmt: skip
    refused = CliRunner().invoke(station_cli, ["receipt", "verify", str(forged)])
    assert refused.exit_code == 1 and "回执校验失败" in refused.output

    # The api has it, with the media it names, and the custody report says so.
    medium = media["V_0001.MP4"]
    kept = admin.get(f"/api/v1/media/{medium['id']}/receipts").json()["receipts"]
    assert kept == [signed]
    report_doc = admin.get(f"/api/v1/media/{medium['id']}/custody/report").json()["document"]
    assert [r["receipt_id"] for r in report_doc["media"]["dock_receipts"]] == [receipt.receipt_id]
    keys = admin.get("/api/v1/keys").json()["keys"]
    assert signed["signature"]["key_id"] in {k["key_id"] for k in keys if k["owner_id"] == "st-1"}

    # Docked again: the next receipt says the files were taken before.
    again = run(volume).receipt
    assert again is not None and again.files == 0
    states = {f["state"] for f in json.loads(again.path.read_text())["document"]["files"]}
    assert states == {"imported_before", "skipped"}


@pytest.mark.parametrize(("database_url", "store_url"), [("postgresql", "local")], indirect=True)
def test_a_receipt_waits_on_the_station_while_the_api_is_down(station, volume: Path) -> None:
    run, admin = station
    report = run(volume, api_down=True)
    assert report.receipt is not None and report.receipt.path.exists()
    assert not report.receipt.path.with_suffix(".sent").exists()
    run(volume)  # the api is back: the receipt kept on the station disk goes with this run
    assert report.receipt.path.with_suffix(".sent").exists()
