"""When a volume or an exported recording is ready to take (clock driven by the test)."""

from __future__ import annotations

from pathlib import Path

from station.export_watch import ExportWatcher
from station.open_files import open_for_writing
from station.volume_watch import VolumeWatcher, signature


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_volume_reported_once_settled_and_again_when_it_changes(tmp_path: Path) -> None:
    clock = Clock()
    watcher = VolumeWatcher([tmp_path / "media"], settle_s=2, clock=clock)
    assert watcher.poll() == ([], [])  # a mount root that does not exist yet holds nothing
    volume = tmp_path / "media" / "CAM"
    volume.mkdir(parents=True)
    (volume / "a.mp4").write_bytes(b"a")
    assert watcher.poll() == ([], [])
    clock.now = 1
    (volume / "b.mp4").write_bytes(b"b")  # still being written: the clock starts again
    assert watcher.poll() == ([], [])
    clock.now = 2.5
    assert watcher.poll() == ([], [])
    clock.now = 3.5
    assert watcher.poll() == ([volume], [])
    clock.now = 10
    assert watcher.poll() == ([], [])  # reported once

    (volume / "b.mp4").unlink()  # the agent wiped it: acknowledged, not a new dock
    watcher.acknowledge(volume, signature(volume))
    clock.now = 20
    assert watcher.poll() == ([], [])

    (volume / "c.mp4").write_bytes(b"c")  # a real change (e.g. the mount completed)
    watcher.poll()
    clock.now = 30
    assert watcher.poll() == ([volume], [])

    (volume / "c.mp4").unlink()
    (volume / "a.mp4").unlink()
    volume.rmdir()
    assert watcher.poll() == ([], [volume])


def test_export_file_taken_only_when_stable_and_closed(tmp_path: Path) -> None:
    clock = Clock()
    room = tmp_path / "ROOM-301"
    room.mkdir()
    writing: set[Path] = set()
    watcher = ExportWatcher([room], settle_s=5, clock=clock, busy=lambda c: c & writing)
    done = room / "done.mp4"
    done.write_bytes(b"finished")
    live = room / "live.mp4"
    live.write_bytes(b"growing")
    writing.add(live.resolve())
    assert watcher.poll() == {}
    clock.now = 6
    assert watcher.poll() == {room: {"done.mp4"}}  # live.mp4 is still open for writing
    writing.clear()
    clock.now = 7
    assert watcher.poll() == {room: {"live.mp4"}}
    clock.now = 20
    assert watcher.poll() == {}  # each file is handed over once


def test_open_for_writing_sees_this_process(tmp_path: Path) -> None:
    written = tmp_path / "w.mp4"
    read = tmp_path / "r.mp4"
    read.write_bytes(b"r")
    with written.open("wb"), read.open("rb"):
        assert open_for_writing({written.resolve(), read.resolve()}) == {written.resolve()}
    assert open_for_writing({written.resolve()}) == set()
