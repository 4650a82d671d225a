"""The journal: one row per (device, path, size, mtime), moving only forward, durable."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.journal import FileState, Journal, JournalBusy


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
    row = journal.advance(row.id, FileState.STAGED, sha256="ab" * 32, facts={"staged_name": "o"})
    assert row.staged_at is not None
    row = journal.advance(row.id, FileState.PROCESSED, facts={"playable": True})
    assert row.facts == {"staged_name": "o", "playable": True}
    with pytest.raises(ValueError):
        journal.advance(row.id, FileState.STAGED)


def test_state_survives_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    row = journal.discover("cam1", "a.mp4", 10, 1, "video")
    journal.advance(row.id, FileState.STAGED, sha256="cd" * 32, facts={"staged_name": "o"})
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
    journal.advance(row.id, FileState.STAGED, sha256="ab" * 32, facts={"staged_name": "o"})
    assert [r.id for r in journal.pending()] == [row.id]
    again = journal.restage(row.id, "staged copy missing")
    assert (again.state, again.sha256, again.facts) == (FileState.DISCOVERED, None, {})
    assert journal.pending() == []


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
    assert (new.state, new.revision, new.facts["supersedes"]) == (
        FileState.DISCOVERED,
        1,
        row.id,
    )
    # Found again at the next scan: the new revision is what is imported...
    assert journal.discover("cam1", "a.mp4", 10, 1, "video").id == new.id
    # ...and the old one, whose bytes are no longer on the device, is never wiped.
    assert journal.registered_on("cam1") == []
    assert journal.get(row.id).state is FileState.REGISTERED
