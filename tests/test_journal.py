"""The journal: one row per (device, path, size, mtime), moving only forward, durable."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from station.facts import DockFacts, FileFacts, Lineage, ProbeFacts, StagedFacts
from station.journal import FileState, Journal, JournalBusy
from wire.media_kinds import MediaKind

STAGED = FileFacts(staged=StagedFacts(name="o", dock=DockFacts(device_id="cam1", station_id="s")))


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "j.db") as journal:
        yield journal


def test_same_file_found_again_is_the_same_row(journal: Journal) -> None:
    a = journal.discover("cam1", "DCIM/1.MP4", 10, 111, "video")
    again = journal.discover("cam1", "DCIM/1.MP4", 10, 111, "video")
    rewritten = journal.discover("cam1", "DCIM/1.MP4", 10, 222, "video")
    assert a.id == again.id
    assert rewritten.id != a.id  # a file rewritten on the camera is a new file


def test_rows_only_move_forward_and_keep_their_facts(journal: Journal) -> None:
    row = journal.discover("cam1", "a.mp4", 10, 1, "video")
    row = journal.advance(row.id, FileState.STAGED, STAGED, sha256="ab" * 32)
    assert row.staged_at is not None
    probed = replace(row.facts, probe=ProbeFacts(kind=MediaKind.VIDEO, duration_s=2.5))
    row = journal.advance(row.id, FileState.PROBED, probed)
    assert row.facts == probed
    assert journal.get(row.id).facts.dock.device_id == "cam1"  # typed, all the way through
    with pytest.raises(ValueError):
        journal.advance(row.id, FileState.STAGED)


def test_state_survives_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    row = journal.discover("cam1", "a.mp4", 10, 1, "video")
    journal.advance(row.id, FileState.STAGED, STAGED, sha256="cd" * 32)
    journal.fail(row.id, "api unreachable")
    journal.close()
    with Journal(tmp_path / "j.db") as again:
        reopened = again.discover("cam1", "a.mp4", 10, 1, "video")
    assert reopened.state is FileState.STAGED
    assert reopened.sha256 == "cd" * 32
    assert reopened.error == "api unreachable"


def test_only_one_process_uses_a_journal(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db"), pytest.raises(JournalBusy):
        Journal(tmp_path / "j.db")
    Journal(tmp_path / "j.db").close()  # released on close


def test_lost_staged_copy_goes_back_to_discovered(journal: Journal) -> None:
    row = journal.discover("cam1", "a.mp4", 10, 1, "video")
    journal.advance(row.id, FileState.STAGED, STAGED, sha256="ab" * 32)
    assert [r.id for r in journal.pending()] == [row.id]
    again = journal.restage(row.id, "staged copy missing")
    assert (again.state, again.sha256, again.facts) == (FileState.DISCOVERED, None, FileFacts())
    assert journal.pending() == []


def test_restaging_a_new_revision_keeps_the_revision_it_supersedes(journal: Journal) -> None:
    row = journal.discover("cam1", "a.mp4", 10, 1, "video")
    for state in list(FileState)[1:5]:
        row = journal.advance(row.id, state, STAGED, sha256="ab" * 32, media_id="m1")
    new = journal.supersede(row.id, "bytes on the device differ")
    new = journal.advance(new.id, FileState.STAGED, replace(new.facts, staged=STAGED.staged))
    again = journal.restage(new.id, "staged copy missing")
    assert again.facts.lineage == Lineage(supersedes=row.id, why="bytes on the device differ")


def test_journal_of_an_earlier_station_version_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "j.db")
    old.execute(
        "CREATE TABLE files (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, path TEXT NOT NULL,"
        " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, kind TEXT NOT NULL,"
        " state TEXT NOT NULL, sha256 TEXT, staged_at TEXT, facts TEXT NOT NULL DEFAULT '{}',"
        " media_id TEXT, error TEXT, updated_at TEXT NOT NULL,"
        " UNIQUE (device_id, path, size, mtime_ns))"
    )
    old.execute(
        "INSERT INTO files (device_id, path, size, mtime_ns, kind, state, updated_at)"
        " VALUES ('cam1', 'a.mp4', 10, 1, 'video', 'registered', 'x')"
    )
    old.commit()
    old.close()
    with Journal(tmp_path / "j.db") as journal:
        row = journal.discover("cam1", "a.mp4", 10, 1, "video")
        assert (row.device_key, row.state, row.attempts) == ("cam1", FileState.REGISTERED, 0)
        assert row.revision == 0
        assert journal.supersede(row.id, "changed").revision == 1  # the new unique key holds


def test_a_file_changed_on_the_device_gets_a_new_revision_to_import(journal: Journal) -> None:
    row = journal.discover("cam1", "a.mp4", 10, 1, "video")
    for state in list(FileState)[1:5]:
        row = journal.advance(row.id, state, sha256="ab" * 32, media_id="m1")
    assert [r.id for r in journal.registered_on("cam1")] == [row.id]

    new = journal.supersede(row.id, "bytes on the device differ")
    assert (new.state, new.revision, new.facts.lineage.supersedes) == (
        FileState.DISCOVERED,
        1,
        row.id,
    )
    # Found again at the next scan: the new revision is what is imported...
    assert journal.discover("cam1", "a.mp4", 10, 1, "video").id == new.id
    # ...and the old one, whose bytes are no longer on the device, is never wiped.
    assert journal.registered_on("cam1") == []
    assert journal.get(row.id).state is FileState.REGISTERED


def test_free_form_facts_of_a_version_1_journal_become_typed(tmp_path: Path) -> None:
    """A station upgraded in place keeps every row: what it knew survives as typed facts, a
    row that had its proxy made keeps it (attached), one caught mid-way is probed again."""
    import json
    import sqlite3

    with Journal(tmp_path / "j.db"):
        pass
    old = sqlite3.connect(tmp_path / "j.db")
    old.execute("PRAGMA user_version=0")
    dock = {"device_id": "CAM-1", "station_id": "st", "officer_id": "010001", "case_no": None}
    registered = {
        "staged_name": "original.mp4",
        "dock": dock,
        "playable": True,
        "duration_s": 2.0,
        "proxy_key": "proxies/" + "a" * 64 + ".mp4",
        "proxy_content_type": "video/mp4",
        "uploaded_at": "2026-11-30T08:00:00+00:00",
        "original_key": "originals/" + "a" * 64,
        "recorded_start": "2026-11-30T07:00:00+00:00",
        "important": True,
        "wiped_at": "2026-11-30T08:05:00+00:00",
        "wipe_reported": False,
    }
    midway = {"staged_name": "original.mp4", "dock": dock, "playable": False, "duration_s": None}
    for path, state, facts in (
        ("a.mp4", "released", registered),
        ("b.mp4", "processed", midway),
    ):
        old.execute(
            "INSERT INTO files (device_key, path, size, mtime_ns, kind, state, facts, updated_at)"
            " VALUES ('CAM-1', ?, 10, 1, 'video', ?, ?, 'x')",
            (path, state, json.dumps(facts)),
        )
    old.commit()
    old.close()
    with Journal(tmp_path / "j.db") as journal:
        done = journal.discover("CAM-1", "a.mp4", 10, 1, "video")
        assert done.facts.dock.officer_id == "010001"
        assert done.facts.registered is not None and done.facts.registered.important
        assert done.facts.wipe is not None and not done.facts.wipe.reported
        assert [r.id for r in journal.unreported_wipes()] == [done.id]
        job = journal.derived_of(done.id)
        assert job is not None and job.facts.attached
        assert [r.key for r in job.facts.renditions] == [registered["proxy_key"]]
        midway_row = journal.discover("CAM-1", "b.mp4", 10, 1, "video")
        assert midway_row.state is FileState.PROBED
        assert [r.id for r in journal.pending()] == [midway_row.id]
