"""The station agent as a real process against what really arrives at a dock: hostile volumes,
interview-room recorders still writing, many devices at once, officers who undock before
registration finishes, and docks that wait for the officer's touch."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ingest.scan import printable_name
from tests.fixtures_media import Clips
from tests.station_processes import Station, free_port, wait_for

# -- helpers ---------------------------------------------------------------------------------


def put_clip(clips: Clips, dst: Path | bytes, tag: str) -> str:
    """Copy the session's H.264 clip to `dst` with `tag` appended (distinct bytes, as distinct
    recordings have); return its SHA-256."""
    data = clips.h264_mp4.read_bytes() + tag.encode()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def dock_of(station: Station, volume: Path) -> dict[str, Any] | None:
    return next((d for d in station.status() or [] if d["dock_id"] == str(volume)), None)


def wait_dock(
    station: Station, volume: Path, *states: str, timeout_s: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        dock = dock_of(station, volume)
        return dock if dock is not None and dock["state"] in states else None

    dock: dict[str, Any] = wait_for(f"dock {volume.name} {'/'.join(states)}", check, timeout_s)
    return dock


def tree(root: Path) -> dict[bytes, tuple[int, int, int, bytes | None]]:
    """Every entry under `root` (names as bytes): (type, size, mtime_ns, link target). Read
    without following links or opening anything (a FIFO would block)."""
    out: dict[bytes, tuple[int, int, int, bytes | None]] = {}
    stack = [os.fsencode(root)]
    while stack:
        folder = stack.pop()
        for entry in os.scandir(folder):
            info = entry.stat(follow_symlinks=False)
            link = os.readlink(entry.path) if entry.is_symlink() else None
            out[entry.path] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, link)
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return out


def outside_state(root: Path) -> dict[bytes, tuple[int, int, int, bytes | None]]:
    """The test's folder except what the station may write: its state dir, store, catalogue,
    logs, and folders the test itself builds or moves volumes through."""
    mine = (b"state", b"objects", b"catalogue.db", b"api.log", b"agent.log", b"pocket")
    prefix = os.fsencode(root) + b"/"
    return {
        k: v
        for k, v in tree(root).items()
        if not k[len(prefix) :].startswith(mine) and not k[len(prefix) :].startswith(b".building-")
    }


def journal_rows(station: Station) -> list[dict[str, Any]]:
    """The agent's journal, read-only (WAL lets us read while the agent writes)."""
    db = sqlite3.connect(f"file:{station.root}/state/journal.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT path, state, facts FROM files ORDER BY id").fetchall()
    finally:
        db.close()
    return [{"path": p, "state": s, "facts": json.loads(f)} for p, s, f in rows]


def larger_than_free_disk(path: Path) -> int:
    """A size no station disk here can stage: 50 GB, or more when the disk has more free."""
    return max(50 * 10**9, shutil.disk_usage(path).free + 64 * 2**30)


# -- a. hostile volume -----------------------------------------------------------------------

ODD_NAMES = [
    b"..\\..\\..\\etc\\cron.d\\evil.mp4",  # a Windows traversal: one plain name here
    b"%2e%2e%2fescape.mp4",
    b"...MP4",
    b"ctl\x07\x1b[2J\r\nname.mp4",  # bell, an ANSI screen clear, CR LF
    b"\xff\xfe.mp4",  # not UTF-8
]


def test_hostile_volume_imports_only_its_own_media_and_says_why_it_skipped_the_rest(
    station: Station, clips: Clips, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    secret_sha = put_clip(clips, outside / "secret.mp4", "secret")
    put_clip(clips, outside / "dir" / "hidden.mp4", "hidden")
    expected: dict[str, str] = {}  # sha256 -> original name as the api must keep it

    def build(v: Path) -> None:
        (v / "DCIM").mkdir()
        for i in (1, 2):
            expected[put_clip(clips, v / "DCIM" / f"V_000{i}.MP4", f"normal-{i}")] = f"V_000{i}.MP4"
        (v / "DCIM" / "LINK.MP4").symlink_to(outside / "secret.mp4")
        (v / "UP.MP4").symlink_to("../../outside/secret.mp4")
        (v / "etc").symlink_to("/etc")
        (v / "LINKDIR").symlink_to(outside / "dir")
        os.mkfifo(v / "DCIM" / "PIPE.MP4")
        os.mknod(v / "DCIM" / "SOCK.MP4", 0o600 | stat.S_IFSOCK)
        odd = os.fsencode(v / "DCIM") + b"/"
        for n, raw in enumerate(ODD_NAMES):
            expected[put_clip(clips, odd + raw, f"odd-{n}")] = printable_name(os.fsdecode(raw))
        os.mkdir(odd + b"...")
        expected[put_clip(clips, odd + b".../..mp4", "dots")] = "..mp4"
        with (v / "DCIM" / "HUGE.MP4").open("wb") as f:
            f.truncate(larger_than_free_disk(v))  # sparse: a claim, not bytes

    volume = station.dock(build, "HOSTILE-CAM")
    before = outside_state(tmp_path)
    station.start_agent()

    # The FIFO, socket and giant claim block nothing: every real clip is registered.
    wait_for(f"{len(expected)} media", lambda: len(station.media()) == len(expected), 45)
    dock = wait_dock(station, volume, "keep_docked")
    media = station.media()
    assert {m["sha256"]: m["original_name"] for m in media} == expected
    assert {m["device_id"] for m in media} == {"HOSTILE-CAM"}

    # The secret behind the links never left its folder. (Once the backlog has settled:
    # originals register first, and its uploads in flight come and go under .part names.)
    wait_for(
        "browser copies settled",
        lambda: all(m["proxy_status"] != "pending" for m in station.media()),
        60,
    )
    stored = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert not [p for p in stored if secret_sha in p.name]
    assert secret_sha not in {hashlib.sha256(p.read_bytes()).hexdigest() for p in stored}

    # The giant is refused up front, in words the officer understands; the dock is not safe
    # to undock, and the camera (and everything else outside the station's state) untouched.
    assert dock["state"] == "keep_docked"
    (huge_error,) = [e for e in dock["errors"] if "HUGE.MP4" in e]
    assert "磁盘空间不足" in huge_error and "设备上的文件未动" in huge_error
    assert outside_state(tmp_path) == before

    # Staging used the station's own names, whatever the device called its files.
    rows = [r for r in journal_rows(station) if r["state"] == "registered"]
    assert len(rows) == len(expected)
    assert {r["facts"]["staged"]["name"] for r in rows} == {"original.mp4"}

    # Every entry left behind is reported with its reason.
    skipped = {(s["rel_path"], s["reason"]) for s in dock["skipped"]}
    assert {
        ("DCIM/LINK.MP4", "symlink"),
        ("UP.MP4", "symlink"),
        ("etc", "symlink"),
        ("LINKDIR", "symlink"),
        ("DCIM/PIPE.MP4", "special_file"),
        ("DCIM/SOCK.MP4", "special_file"),
    } <= skipped


# -- b. interview room -----------------------------------------------------------------------

RECORDER = """
import sys, time
src, dst, write_s, hold_s = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
data = open(src, "rb").read()
step = max(1, len(data) // 20)
with open(dst, "wb") as f:
    for at in range(0, len(data), step):
        f.write(data[at : at + step])
        f.flush()
        time.sleep(write_s / 20)
    time.sleep(hold_s)  # the interview goes on in silence: open, not growing
"""


def test_interview_room_file_is_taken_once_closed_and_a_finished_one_at_once(
    tmp_path: Path, clips: Clips
) -> None:
    room = tmp_path / "exports" / "ROOM-301"
    room.mkdir(parents=True)
    recording = tmp_path / "recording.mp4"
    recording_sha = put_clip(clips, recording, "interview-2")
    station = Station(tmp_path, STATION_EXPORT_DIRS=str(room))
    recorder: subprocess.Popen[bytes] | None = None
    try:
        station.start_api()
        station.start_agent()
        # Well past the agent's settle time (0.5 s) and export poll (1 s), both while growing
        # and while open but silent.
        write_s, hold_s = 3.0, 3.0
        recorder = subprocess.Popen(
            [sys.executable, "-c", RECORDER, str(recording), str(room / "INT_0002.MP4"),
             str(write_s), str(hold_s)]
        )  # fmt: skip
        finished_sha = put_clip(clips, room / "INT_0001.MP4", "interview-1")

        # The finished file is taken while the other is still being written.
        wait_for("the finished file", lambda: len(station.media()) == 1, 15)
        assert recorder.poll() is None, "the recorder finished first: lengthen write_s/hold_s"
        while recorder.poll() is None:
            assert [m["sha256"] for m in station.media()] == [finished_sha]
            time.sleep(0.2)
        assert recorder.returncode == 0

        wait_for("the closed recording", lambda: len(station.media()) == 2, 20)
        media = {m["sha256"]: m for m in station.media()}
        assert set(media) == {finished_sha, recording_sha}  # whole, never a partial copy
        assert {(m["device_id"], m["officer_id"]) for m in media.values()} == {("ROOM-301", None)}
        assert media[recording_sha]["original_name"] == "INT_0002.MP4"
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.kill()
            recorder.wait()
        station.stop()


# -- c. many at once -------------------------------------------------------------------------


def failing_card(clips: Clips, v: Path) -> set[str]:
    """One good clip; a file larger than the station disk; 200 FIFOs; a nest too deep to
    read (a damaged card). Returns the SHA-256 of what can be imported."""
    (v / "DCIM").mkdir()
    good = put_clip(clips, v / "DCIM" / "V_1.MP4", f"{v.name}-1")
    with (v / "DCIM" / "HUGE.MP4").open("wb") as f:
        f.truncate(larger_than_free_disk(v))
    for i in range(200):
        os.mkfifo(v / "DCIM" / f"F_{i:03d}.MP4")
    deep = v.joinpath(*["d"] * 40)
    deep.mkdir(parents=True)
    put_clip(clips, deep / "DEEP.MP4", "deep")
    return {good}


def test_eight_docked_at_once_all_good_ones_finish_despite_a_failing_one(
    station: Station, clips: Clips
) -> None:
    labels = [f"CAM-{n:02d}" for n in range(1, 9)]
    failing = "CAM-05"
    for label in labels:
        station.register_device(f"BC-{label}", label, officer_id=f"0100{label[-2:]}")
    station.start_agent()

    shas: dict[str, set[str]] = {}
    for label in labels:
        v = station.root / f".building-{label}"
        v.mkdir()
        if label == failing:
            shas[label] = failing_card(clips, v)
        else:
            (v / "DCIM").mkdir()
            shas[label] = {
                put_clip(clips, v / "DCIM" / f"V_{i}.MP4", f"{label}-{i}") for i in (1, 2)
            }
    volumes = {label: station.mount_root / label for label in labels}
    began = time.monotonic()
    for label in labels:  # all eight appear within a few milliseconds
        (station.root / f".building-{label}").rename(volumes[label])

    for label in labels:
        if label != failing:
            dock = wait_dock(station, volumes[label], "done", timeout_s=60)
            assert (dock["wiped"], dock["errors"]) == (2, [])
            assert not list((volumes[label] / "DCIM").iterdir())
    print(f"7 good docks done {time.monotonic() - began:.1f} s after docking")

    wait_for("15 media", lambda: len(station.media()) == 15, 30)
    by_device: dict[str, set[str]] = {}
    for m in station.media():
        by_device.setdefault(m["device_id"], set()).add(m["sha256"])
    assert by_device == {f"BC-{label}": shas[label] for label in labels}

    bad = wait_for(
        "the failing dock's good clip wiped",
        lambda: (d := dock_of(station, volumes[failing])) and d["wiped"] == 1 and d,
    )
    assert bad["state"] == "keep_docked"
    assert any("HUGE.MP4" in e and "磁盘空间不足" in e for e in bad["errors"])
    assert any("d/d/d" in e for e in bad["errors"])  # the officer learns why it must stay
    left = {p.name for p in (volumes[failing] / "DCIM").iterdir()}
    assert left == {"HUGE.MP4"} | {f"F_{i:03d}.MP4" for i in range(200)}


# -- d. undocked before registration ---------------------------------------------------------


class ApiLink:
    """The network between the agent and the api, which a test can break: `cut` drops
    registrations unanswered (as an api that went down), `stall` holds them (as an api that
    hangs) until released. Everything else, and everything once mended, passes through."""

    def __init__(self, api_url: str) -> None:
        self.cut = threading.Event()
        self.stall = threading.Event()
        self._released = threading.Event()
        upstream = httpx.Client(base_url=api_url, timeout=30)
        link = self

        class Forward(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/api/v1/ingest"):
                    if link.stall.is_set():
                        link._released.wait(60)
                    if link.cut.is_set():
                        self.close_connection = True  # no answer at all
                        return
                skip = {"host", "content-length", "connection", "accept-encoding"}
                answer = upstream.request(
                    self.command,
                    self.path,
                    content=body,
                    headers={k: v for k, v in self.headers.items() if k.lower() not in skip},
                )
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in {"content-length", "transfer-encoding", "connection",
                                         "content-encoding", "date", "server"}:  # fmt: skip
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._upstream = upstream
        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Forward)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        self.stall.clear()
        self._released.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._upstream.close()


@pytest.fixture
def linked(tmp_path: Path) -> Iterator[tuple[Station, ApiLink]]:
    """A station whose agent reaches its api through an ApiLink."""
    station = Station(tmp_path)
    station.start_api()
    link = ApiLink(station.api_url)
    station.env["STATION_API_URL"] = link.url
    yield station, link
    station.stop()
    link.close()


def camera_card(clips: Clips, tags: list[str]) -> Callable[[Path], None]:
    def build(v: Path) -> None:
        (v / "DCIM").mkdir()
        for i, tag in enumerate(tags, start=1):
            put_clip(clips, v / "DCIM" / f"V_{i:04d}.MP4", tag)

    return build


def test_undocked_before_registration_registers_from_station_disk_and_wipes_only_same_bytes(
    linked: tuple[Station, ApiLink], clips: Clips, tmp_path: Path
) -> None:
    station, link = linked
    station.register_device("BC-0100", "ZFY-0100", unit_id="U1", officer_id="010100")
    link.cut.set()  # the api is down for registrations from here on
    station.start_agent()
    volume = station.dock(camera_card(clips, ["a", "b", "c"]), "ZFY-0100")

    wait_dock(station, volume, "safe_to_undock")
    wait_for(
        "3 failed registrations",
        lambda: len((dock_of(station, volume) or {}).get("errors", [])) == 3,
    )
    assert station.media() == []
    pocket = tmp_path / "pocket"
    pocket.mkdir()
    volume.rename(pocket / volume.name)  # the officer leaves with the camera
    wait_dock(station, volume, "undocked")

    link.cut.clear()  # the api is back: the retry loop finishes from the station's disk
    wait_for("3 media registered", lambda: len(station.media()) == 3, 30)
    media = {m["original_name"]: m for m in station.media()}
    assert {(m["device_id"], m["officer_id"]) for m in media.values()} == {("BC-0100", "010100")}
    staging = station.root / "state" / "staging"
    wait_for("the staged copies released", lambda: not list(staging.iterdir()), 10)

    # Back on duty: one file was changed on the camera keeping its size and time (the
    # journal's key), and a new recording was made.
    changed = pocket / volume.name / "DCIM" / "V_0001.MP4"
    info = changed.stat()
    with changed.open("r+b") as f:
        f.seek(info.st_size // 2)
        f.write(b"\0tampered\0")
    os.utime(changed, ns=(info.st_atime_ns, info.st_mtime_ns))
    new_sha = put_clip(clips, pocket / volume.name / "DCIM" / "V_0004.MP4", "d")
    (pocket / volume.name).rename(volume)

    dock = wait_dock(station, volume, "done")
    # The changed bytes are imported as a medium of their own, then wiped like the rest: the
    # two unchanged files, the new recording and the changed one.
    assert dock["wiped"] == 4, dock["errors"]
    assert list((volume / "DCIM").iterdir()) == []
    (noted,) = dock["errors"]
    assert "V_0001.MP4" in noted and "作为新文件导入" in noted
    shas = {m["sha256"] for m in station.media()}
    assert new_sha in shas and len(shas) == 5
    events = station.admin.get(f"/api/v1/media/{media['V_0002.MP4']['id']}/custody").json()
    assert events["events"][-1]["event"] == "wiped_from_device"
    # The registered original's chain says its name on the camera came to hold other bytes.
    events = station.admin.get(f"/api/v1/media/{media['V_0001.MP4']['id']}/custody").json()
    kinds = [e["event"] for e in events["events"]]
    assert "wiped_from_device" not in kinds and kinds[-1] == "wipe_failed"
    assert "differ" in events["events"][-1]["detail"]["reason"]


def test_camera_docked_again_while_its_last_dock_still_registers_is_imported(
    linked: tuple[Station, ApiLink], clips: Clips, tmp_path: Path
) -> None:
    station, link = linked
    link.stall.set()  # the api hangs on registrations
    station.start_agent()
    volume = station.dock(camera_card(clips, ["first"]), "ZFY-0200")
    wait_dock(station, volume, "safe_to_undock")
    pocket = tmp_path / "pocket"
    pocket.mkdir()
    volume.rename(pocket / volume.name)
    wait_dock(station, volume, "undocked")
    put_clip(clips, pocket / volume.name / "DCIM" / "V_0002.MP4", "second")
    (pocket / volume.name).rename(volume)
    time.sleep(2)  # settled again (0.5 s) while the first dock still waits on the api
    link.release()

    wait_for("both recordings registered", lambda: len(station.media()) == 2, 30)
    wait_dock(station, volume, "done")


# -- e. touch to import ----------------------------------------------------------------------


def test_touch_mode_waits_for_the_officer_then_imports_into_the_case_given(
    tmp_path: Path, clips: Clips
) -> None:
    station = Station(tmp_path, STATION_IMPORT_MODE="touch")
    try:
        station.start_api()
        station.start_agent()
        volume = station.dock(camera_card(clips, ["a", "b"]), "ZFY-0300")
        dock = wait_dock(station, volume, "waiting_touch")
        time.sleep(1.5)
        dock = dock_of(station, volume)
        assert dock is not None and (dock["state"], dock["files_total"]) == ("waiting_touch", 0)
        assert station.media() == [] and journal_rows(station) == []

        url = f"{station.status_url}/docks/{quote(str(volume), safe='')}/import"
        assert httpx.post(url, headers={"Origin": "http://evil.example"}).status_code == 403
        assert httpx.post(f"{station.status_url}/docks/nope/import").status_code == 404
        # The officer types the case number on the kiosk before pressing 导入.
        assert httpx.post(url, json={"case_no": "A-2026-0300"}).status_code == 200

        wait_for("2 media", lambda: len(station.media()) == 2, 30)
        done = wait_dock(station, volume, "done")
        assert done["case_no"] == "A-2026-0300"
        assert [m["case_nos"] for m in station.media()] == [["A-2026-0300"]] * 2

        # A case of another unit is not linked at the dock, and the officer is told so.
        case = {"title": "他单位案件", "unit_id": "U-OTHER", "events": []}
        assert station.admin.put("/api/v1/cases/B-2026-0001", json=case).status_code == 201
        other = station.dock(camera_card(clips, ["c"]), "ZFY-0301")
        wait_dock(station, other, "waiting_touch")
        press = f"{station.status_url}/docks/{quote(str(other), safe='')}/import"
        assert httpx.post(press, json={"case_no": "B-2026-0001"}).status_code == 200
        finished = wait_dock(station, other, "done")
        assert [e for e in finished["errors"] if "B-2026-0001 未能关联" in e]
        assert len(station.media()) == 3
        assert [m["case_nos"] for m in station.media() if m["case_nos"] == []] == [[]]
    finally:
        station.stop()
