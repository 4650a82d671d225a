"""The station agent under faults, as real processes on real files: killed (kill -9) at
several points of a file's life and restarted, the object store killed and restarted under
it, the station disk too full to take a camera's footage.

What must hold after each (DESIGN.md, "the life of a file"): every media file on the camera
is registered exactly once, with the SHA-256 of its bytes on the camera; every stored
original hashes to its key; no partial copy is ever taken for a whole one; the camera loses
only files that are registered.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from station.api_client import ApiClient
from station.importer import FREE_SPACE_MARGIN, Importer, ImportOptions, StationDiskFull
from station.journal import FileState, Journal
from storage.object_store import open_store
from tests.fixtures_s3 import SeaweedFSProcess
from tests.pipelines import pipeline_for
from tests.station_processes import Station, wait_for
from tests.test_import import Recorder

MIB = 1024 * 1024

Footage = dict[str, str]
"""Media files of a camera: path on the volume -> SHA-256 of its bytes."""


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def camera(
    clips,  # noqa: ANN001
    tag: str,
    footage: Footage,
    *,
    clips_n: int = 3,
    big_mib: tuple[int, ...] = (),
) -> Callable[[Path], None]:
    """A camera volume: `clips_n` small H.264 clips and one clip padded to each size in
    `big_mib` (zeros after the moov: ffprobe and the remux proxy read only the streams),
    every file distinct; fills `footage` as it builds, before the agent can see the volume."""

    def build(volume: Path) -> None:
        (volume / "DCIM").mkdir()
        for i in range(clips_n):
            path = volume / "DCIM" / f"V_{i:04d}.MP4"
            shutil.copy(clips.h264_mp4, path)
            with path.open("ab") as f:
                f.write(f"{tag}-{i}".encode())
        zeros = bytes(4 * MIB)
        for i, mib in enumerate(big_mib):
            path = volume / "DCIM" / f"BIG_{i:02d}.MP4"
            shutil.copy(clips.h264_mp4, path)
            with path.open("ab") as f:
                for _ in range(mib // 4):
                    f.write(zeros)
                f.write(f"{tag}-big-{i}".encode())
        (volume / "device.log").write_text("power on\n")  # not media: never taken nor wiped
        for path in sorted((volume / "DCIM").iterdir()):
            footage[f"DCIM/{path.name}"] = sha256_of(path)

    return build


def poll_tightly(what: str, check: Callable[[], Any], timeout_s: float) -> Any:
    """`wait_for` at a 2 ms cadence, to catch a moment that lasts a fraction of a second."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.002)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def kill_agent_when(
    station: Station, what: str, check: Callable[[], Any], timeout_s: float = 30.0
) -> Any:
    """kill -9 the agent the moment `check` holds; returns what it returned."""
    try:
        result = poll_tightly(what, check, timeout_s)
    except AssertionError as exc:
        station.kill_agent()
        raise AssertionError(f"{exc}\n{tail(station)}") from None
    station.kill_agent()
    return result


def tail(station: Station, lines: int = 30) -> str:
    return "\n".join(station.agent_log().splitlines()[-lines:])


def parts_under(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.part"))


def assert_no_parts_left(directory: Path) -> None:
    """No copy's `NAME.part` is left; a proxy or thumbnail of a registered file may still be
    rendering into its `.NAME.….part` (the camera is wiped before proxies are made), so those
    are waited for."""
    assert [p for p in parts_under(directory) if not p.name.startswith(".")] == []
    wait_for("the proxies' work files gone", lambda: not parts_under(directory), 60)


def footage_rows(station: Station) -> list[dict[str, Any]]:
    """The journal's rows of the cameras' footage (not of their logs)."""
    return [r for r in station.journal() if r["path"] != "device.log"]


def log_row(station: Station) -> dict[str, Any]:
    return next(r for r in station.journal() if r["path"] == "device.log")


def registered(station: Station) -> Counter[str]:
    """How many media of the cameras' footage the api holds per SHA-256 (their logs are
    registered too, as kind other)."""
    return Counter(m["sha256"] for m in station.media() if m["kind"] != "other")


def assert_camera_lost_only_registered(volume: Path, footage: Footage, shas: Counter[str]) -> None:
    """Every file still on the camera is its original bytes; every file gone is registered."""
    for rel, sha in footage.items():
        path = volume / rel
        if path.exists():
            assert sha256_of(path) == sha, f"{rel} changed on the camera"
        else:
            assert shas[sha] == 1, f"{rel} left the camera but is not registered"
    assert (volume / "device.log").exists()


def assert_all_registered_once(station: Station, *cameras: Footage) -> list[dict[str, Any]]:
    """Every media file of `cameras` registered exactly once under its SHA-256 on the
    camera, and nothing else but the cameras' logs (kept as evidence of kind other; a partial
    copy would be registered under another digest); returns the footage's media."""
    media = [m for m in station.media() if m["kind"] != "other"]
    counts = Counter(m["sha256"] for m in media)
    assert counts == Counter(sha for footage in cameras for sha in footage.values()), counts
    assert not [m for m in media if m["original_name"].endswith(".part")]
    return media


def assert_local_originals_intact(objects: Path, footage: Footage) -> None:
    originals = {p.name: p for p in (objects / "originals").iterdir()}
    assert set(footage.values()) <= set(originals)
    for name, path in originals.items():
        assert sha256_of(path) == name, f"stored original {name} does not hash to its key"


def assert_wiped_once_each(station: Station, media: list[dict[str, Any]]) -> None:
    """The custody of each medium records its wipe from the camera, once."""
    for m in media:
        events = station.admin.get(f"/api/v1/media/{m['id']}/custody").json()["events"]
        wipes = [e for e in events if e["event"] == "wiped_from_device"]
        assert len(wipes) == 1, (m["original_name"], events)


def wait_until_imported_and_wiped(station: Station, volume: Path, footage: Footage) -> None:
    def done() -> bool:
        on_camera = [rel for rel in footage if (volume / rel).exists()]
        return not on_camera and set(footage.values()) <= set(registered(station))

    try:
        wait_for("every file registered and wiped from the camera", done, 45)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{tail(station)}") from None


# -- kill -9 and restart ------------------------------------------------------------------


def test_agent_killed_during_a_copy_recopies_the_file_whole_after_restart(
    station: Station,
    clips,  # noqa: ANN001
) -> None:
    station.register_device("BC-0101", "CAM-A", officer_id="010101")
    footage: Footage = {}
    station.start_agent()
    volume = station.dock(camera(clips, "a", footage, big_mib=(300,)), "CAM-A")
    big = volume / "DCIM" / "BIG_00.MP4"
    staging = station.root / "state" / "staging"

    def big_part() -> list[Path]:
        found = []
        for part in parts_under(staging):
            try:
                if part.stat().st_size >= 16 * MIB:
                    found.append(part)
            except FileNotFoundError:
                pass  # a small clip's copy, renamed into place meanwhile
        return found

    part = kill_agent_when(station, "a .part of the 300 MB clip in staging", big_part)[0]

    # The crash left a partial copy; the journal never took it for a staged file.
    assert part.exists() and part.stat().st_size < big.stat().st_size
    rows = {r["path"]: r for r in station.journal()}
    assert rows["DCIM/BIG_00.MP4"]["state"] == "discovered"
    assert rows["DCIM/BIG_00.MP4"]["sha256"] is None
    assert_camera_lost_only_registered(volume, footage, registered(station))

    station.start_agent()
    wait_until_imported_and_wiped(station, volume, footage)

    media = assert_all_registered_once(station, footage)
    assert_local_originals_intact(station.root / "objects", footage)
    assert_no_parts_left(station.root / "state")
    assert {r["state"] for r in footage_rows(station)} == {"released"}
    assert log_row(station)["state"] == "registered"  # kept as evidence, left on the camera
    assert_wiped_once_each(station, media)


def test_agent_killed_with_files_uploaded_but_unregistered_registers_them_once_after_restart(
    station: Station,
    clips,  # noqa: ANN001
) -> None:
    station.register_device("BC-0102", "CAM-B", officer_id="010102")
    station.stop_api()
    footage: Footage = {}
    station.start_agent()
    volume = station.dock(camera(clips, "b", footage, clips_n=4), "CAM-B")

    def all_waiting_at_uploaded() -> bool:
        rows = footage_rows(station)
        return len(rows) == len(footage) and all(
            r["state"] == "uploaded" and r["error"] for r in rows
        )

    wait_for("every file uploaded and its registration failed", all_waiting_at_uploaded, 30)
    station.kill_agent()
    assert_camera_lost_only_registered(volume, footage, Counter())  # the api was down

    station.start_api()
    station.start_agent()
    wait_until_imported_and_wiped(station, volume, footage)

    media = assert_all_registered_once(station, footage)
    # Docked while the registry could not be asked: still filed under the registered device
    # and its officer, and copied once (the journal knows the camera by its serial).
    assert {(m["device_id"], m["officer_id"]) for m in media} == {("BC-0102", "010102")}
    assert len(footage_rows(station)) == len(footage)
    assert_local_originals_intact(station.root / "objects", footage)
    assert_no_parts_left(station.root / "state")
    assert_wiped_once_each(station, media)


def test_agent_killed_before_and_during_the_wipe_wipes_and_records_each_file_once(
    station: Station,
    clips,  # noqa: ANN001
) -> None:
    station.register_device("BC-0103", "CAM-C", officer_id="010103")
    footage: Footage = {}
    station.start_agent()
    # The wipe goes in path order: the big clip first, hashed on the camera for a moment
    # before its delete; the small clips after it.
    volume = station.dock(camera(clips, "c", footage, clips_n=4, big_mib=(100,)), "CAM-C")

    def all_registered() -> bool:
        rows = footage_rows(station)
        return len(rows) == len(footage) and all(
            r["state"] in ("registered", "released") for r in rows
        )

    # 1. Right after the last registration: before the wipe deletes anything (it hashes the
    # big clip on the camera first, which takes a moment).
    kill_agent_when(station, "every file registered", all_registered)
    assert_camera_lost_only_registered(volume, footage, registered(station))
    remaining = [rel for rel in footage if (volume / rel).exists()]
    assert remaining, "the wipe ended before the kill"

    # 2. Restarted, the agent docks the camera again and wipes: killed as a file leaves
    # the camera: usually between its delete and the journal's `released` (what a crash
    # there must not lose is the wipe's record in the media's custody).
    station.start_agent()
    kill_agent_when(
        station, "a file wiped", lambda: any(not (volume / rel).exists() for rel in remaining)
    )
    assert_camera_lost_only_registered(volume, footage, registered(station))

    station.start_agent()
    wait_until_imported_and_wiped(station, volume, footage)

    media = assert_all_registered_once(station, footage)
    assert_local_originals_intact(station.root / "objects", footage)
    wait_for(
        "every wipe in the journal and reported",
        lambda: all(
            r["state"] == "released" and json.loads(r["facts"])["wipe"]["reported"]
            for r in footage_rows(station)
        ),
        15,
    )
    assert len(footage_rows(station)) == len(footage)
    assert_wiped_once_each(station, media)


# -- the object store goes down -------------------------------------------------------------


@pytest.fixture
def own_seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFSProcess]:
    """A SeaweedFS of this test's own: it is killed and restarted."""
    weed = SeaweedFSProcess(tmp_path_factory.mktemp("seaweedfs-outage"))
    weed.start()
    yield weed
    weed.stop()


def test_store_killed_while_uploading_is_waited_out_and_registration_completes(
    tmp_path: Path,
    own_seaweedfs: SeaweedFSProcess,
    clips,  # noqa: ANN001
) -> None:
    station = Station(tmp_path, storage_url=own_seaweedfs.server.url_for("evidence"))
    station.start_api()
    try:
        station.start_agent()
        before: Footage = {}
        station.dock(camera(clips, "d", before, clips_n=2), "CAM-D")
        wait_for(
            "the first camera registered",
            lambda: set(registered(station)) == set(before.values()),
            30,
        )

        footage: Footage = {}
        # 40 MB goes up in parts (over the 32 MiB single-PUT threshold).
        volume = station.dock(camera(clips, "e", footage, clips_n=3, big_mib=(40,)), "CAM-E")

        def big_uploading() -> bool:
            rows = {r["path"]: r for r in station.journal() if r["device_key"] == "CAM-E"}
            big = rows.get("DCIM/BIG_00.MP4")
            return big is not None and big["state"] == "probed"

        # Its upload starts as its row is probed: the store dies under it.
        poll_tightly("the 40 MB clip of the second camera uploading", big_uploading, 30)
        own_seaweedfs.kill()

        def waiting() -> list[dict[str, Any]]:
            return [
                r
                for r in station.journal()
                if r["device_key"] == "CAM-E" and r["state"] != "registered" and r["error"]
            ]

        # Usually the 40 MB clip itself is cut off mid-upload; on a loaded machine its upload
        # may beat the kill, and then the files processed after it are what waits.
        wait_for("uploads failing while the store is down", waiting, 30)
        dock = next(d for d in station.status() or [] if d["device_id"] == "CAM-E")
        assert any("上传存储失败" in e for e in dock["errors"]), dock
        assert dock["state"] == "safe_to_undock", dock  # all staged: the officer may go

        own_seaweedfs.start()  # same data folder, same ports
        wait_for(
            "the retry loop registering the waiting files",
            lambda: set(registered(station)) == set(before.values()) | set(footage.values()),
            60,
        )

        media = assert_all_registered_once(station, before, footage)
        store = own_seaweedfs.server.raw_client()
        for m in media:
            response = store.get_object("evidence", f"originals/{m['sha256']}")
            try:
                assert hashlib.sha256(response.read()).hexdigest() == m["sha256"]
            finally:
                response.close()
                response.release_conn()
        big = next(m for m in media if m["original_name"] == "BIG_00.MP4")
        served = station.admin.get(f"/api/v1/media/{big['id']}/original")
        assert served.status_code == 200
        assert hashlib.sha256(served.content).hexdigest() == footage["DCIM/BIG_00.MP4"]
        assert all(r["error"] is None for r in station.journal())
        assert volume.is_dir()
    finally:
        station.stop()


# -- the station disk is nearly full -----------------------------------------------------------


@pytest.fixture
def small_station_disk(tmp_path: Path) -> Iterator[Path]:
    """STATION_STATE_DIR on a tmpfs with room for the importer's free-space margin plus
    200 MiB: one 70 MiB clip and room for its proxy fit, a second does not."""
    state = tmp_path / "state"
    state.mkdir()
    size_mib = FREE_SPACE_MARGIN // MIB + 200
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(state)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except FileNotFoundError:
        pytest.skip("no `mount` command: cannot make a small station disk")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the station disk (needs root): {mounted.stderr}")
    yield state
    if subprocess.run(["umount", str(state)], check=False, timeout=30).returncode != 0:
        subprocess.run(["umount", "--lazy", str(state)], check=False, timeout=30)


def test_full_station_disk_stops_the_copy_keeps_the_device_docked_and_the_file_untouched(
    tmp_path: Path,
    small_station_disk: Path,
    clips,  # noqa: ANN001
) -> None:
    station = Station(tmp_path)
    station.start_api()
    try:
        station.register_device("BC-0301", "CAM-F", officer_id="010301")
        station.start_agent()
        footage: Footage = {}
        volume = station.dock(camera(clips, "f", footage, clips_n=2, big_mib=(70, 70)), "CAM-F")

        def dock_settled() -> dict[str, Any] | None:
            docks = [d for d in station.status() or [] if d["device_id"] == "BC-0301"]
            if docks and docks[0]["state"] == "keep_docked" and docks[0]["wiped"] > 0:
                return docks[0]
            return None

        dock = wait_for("the dock stopped for want of disk space", dock_settled, 30)
        full = [e for e in dock["errors"] if "采集站磁盘空间不足" in e]
        assert len(full) == 1, dock["errors"]
        left_behind = next(rel for rel in footage if rel in full[0])
        assert left_behind.startswith("DCIM/BIG_"), full

        shas = registered(station)
        assert shas[footage[left_behind]] == 0  # nothing registered for what did not fit
        assert set(shas) == {sha for rel, sha in footage.items() if rel != left_behind}
        assert_camera_lost_only_registered(volume, footage, shas)
        assert sha256_of(volume / left_behind) == footage[left_behind]
        rows = {r["path"]: r for r in station.journal()}
        assert rows[left_behind]["state"] == "discovered"
        assert_no_parts_left(small_station_disk)

        # Space is back once the rest is registered (its staged copies are removed):
        # docking again takes the file that did not fit.
        aside = tmp_path / "undocked-CAM-F"
        volume.rename(aside)
        wait_for(
            "the undock seen",
            lambda: any(d["state"] == "undocked" for d in station.status() or []),
            15,
        )
        aside.rename(volume)
        wait_until_imported_and_wiped(station, volume, footage)
        assert_all_registered_once(station, footage)
        assert_local_originals_intact(tmp_path / "objects", footage)
    finally:
        station.stop()


def test_a_recording_whose_proxy_would_not_fit_is_not_copied(
    tmp_path: Path, small_station_disk: Path
) -> None:
    # 150 MiB fits the 200 MiB above the margin, but not with its browser copy beside it.
    volume = tmp_path / "CAM-P"
    (volume / "DCIM").mkdir(parents=True)
    with (volume / "DCIM" / "LONG.MP4").open("wb") as f:
        f.truncate(150 * MIB)
    with Journal(small_station_disk / "journal.db") as journal:
        api = ApiClient(httpx.Client(base_url="http://127.0.0.1:9"))
        store = open_store(f"file://{tmp_path}/objects")
        with Importer(
            pipeline_for(journal, small_station_disk / "staging", store, api)
        ) as importer:
            report = importer.run(volume, ImportOptions("BC-P", "S1"), Recorder())
    (outcome,) = report.outcomes
    assert isinstance(outcome.error, StationDiskFull), outcome.error
    assert "browser copy" in str(outcome.error)
    assert outcome.state is FileState.DISCOVERED
