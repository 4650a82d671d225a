"""The station's durable journal: one row per file found on a device, moving only forward.

    discovered → staged → processed → uploaded → registered → released

(`released`: wiped from the device after its bytes there were checked against the registered
SHA-256; rows of devices that are never wiped stay `registered`.)

A row is keyed by (device key, path on device, size, mtime), so docking the same camera again
finds the same rows and nothing is imported twice (a file whose bytes changed on the device
under the same key gets a new `revision` of its row, imported anew); a crash resumes from the last state
written here. Each transition is committed (synchronous=FULL) before the next step starts.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any


class FileState(StrEnum):
    DISCOVERED = "discovered"
    STAGED = "staged"
    PROCESSED = "processed"
    UPLOADED = "uploaded"
    REGISTERED = "registered"
    RELEASED = "released"


_ORDER = list(FileState)

_FILES = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    device_key TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    sha256 TEXT,
    staged_at TEXT,
    facts TEXT NOT NULL DEFAULT '{}',
    media_id TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    updated_at TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    UNIQUE (device_key, path, size, mtime_ns, revision)
);
"""
_SCHEMA = (
    _FILES
    + """
CREATE TABLE IF NOT EXISTS usb_cameras (
    vid INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    usb_serial TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (vid, pid, usb_serial, camera_id)
);
CREATE TABLE IF NOT EXISTS recordings (
    id TEXT PRIMARY KEY,
    parts TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
"""
)
# Retries of a file that could not be uploaded or registered back off up to this long.
MAX_BACKOFF_S = 600.0
FIRST_BACKOFF_S = 5.0


@dataclass(frozen=True)
class JournalRow:
    id: int
    device_key: str
    """The device's stable key: its serial when known (not the registry's id, which the
    station may not be able to ask for at every dock), else the volume's name."""
    path: str
    size: int
    mtime_ns: int
    kind: str
    state: FileState
    sha256: str | None
    staged_at: datetime | None
    facts: dict[str, Any]
    """What later steps need from earlier ones (probe summary, derived files, object keys)."""
    media_id: str | None
    error: str | None
    attempts: int = 0
    revision: int = 0


def _now() -> str:
    return datetime.now(UTC).isoformat()


class JournalBusy(Exception):
    """Another process (an import, or the agent) holds this station's journal."""


class Journal:
    """The journal database under STATION_STATE_DIR; safe to share between threads.

    One process at a time: two importers sharing a staging area would write the same
    staged files. Opening takes an exclusive lock (released by close() or process exit).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            raise JournalBusy(
                f"the journal {path} is in use by another import or by the station agent"
            ) from exc
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            _upgrade(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._lock_file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def discover(
        self, device_key: str, path: str, size: int, mtime_ns: int, kind: str
    ) -> JournalRow:
        """The row for this file (its latest revision), created as `discovered` when new."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO files (device_key, path, size, mtime_ns, kind, state,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (device_key, path, size, mtime_ns, kind, FileState.DISCOVERED, _now()),
            )
            cur = self._db.execute(
                "SELECT * FROM files WHERE device_key=? AND path=? AND size=? AND mtime_ns=?"
                " ORDER BY revision DESC LIMIT 1",
                (device_key, path, size, mtime_ns),
            )
            return _row(cur)

    def supersede(self, row_id: int, why: str) -> JournalRow:
        """A registered file's bytes on the device are no longer the registered ones, under
        the same name, size and time: a new revision of its row, `discovered`, imports them
        as what they are now. The old row stays registered (its bytes are in the store) and
        is never wiped."""
        with self._lock:
            old = _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))
            cur = self._db.execute(
                "INSERT INTO files (device_key, path, size, mtime_ns, kind, state, facts,"
                " updated_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    old.device_key,
                    old.path,
                    old.size,
                    old.mtime_ns,
                    old.kind,
                    FileState.DISCOVERED,
                    json.dumps({"supersedes": old.id, "why": why}),
                    _now(),
                    old.revision + 1,
                ),
            )
            self._db.execute(
                "UPDATE files SET facts=?, updated_at=? WHERE id=?",
                (json.dumps({**old.facts, "superseded_by": cur.lastrowid}), _now(), old.id),
            )
            return _row(self._db.execute("SELECT * FROM files WHERE id=?", (cur.lastrowid,)))

    def get(self, row_id: int) -> JournalRow:
        with self._lock:
            return _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))

    def advance(
        self,
        row_id: int,
        state: FileState,
        *,
        sha256: str | None = None,
        facts: dict[str, Any] | None = None,
        media_id: str | None = None,
    ) -> JournalRow:
        """Move a row forward to `state`, merging `facts`; clears its last error."""
        with self._lock:
            current = _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))
            if _ORDER.index(state) <= _ORDER.index(current.state):
                raise ValueError(f"journal row {row_id} cannot go from {current.state} to {state}")
            merged = {**current.facts, **(facts or {})}
            self._db.execute(
                "UPDATE files SET state=?, sha256=COALESCE(?, sha256),"
                " staged_at=CASE WHEN ?='staged' THEN ? ELSE staged_at END,"
                " facts=?, media_id=COALESCE(?, media_id), error=NULL, attempts=0,"
                " next_attempt_at=NULL, updated_at=? WHERE id=?",
                (state, sha256, state, _now(), json.dumps(merged), media_id, _now(), row_id),
            )
            return _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))

    def restage(self, row_id: int, why: str) -> JournalRow:
        """The one step back: a row whose staged copy was lost goes back to `discovered`, to
        be copied from the device again (never past `uploaded`: then the store has it)."""
        with self._lock:
            current = _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))
            if current.state in (FileState.REGISTERED, FileState.RELEASED):
                raise ValueError(f"journal row {row_id} is registered; it is never copied again")
            self._db.execute(
                "UPDATE files SET state=?, sha256=NULL, staged_at=NULL, facts='{}', error=?,"
                " updated_at=? WHERE id=?",
                (FileState.DISCOVERED, why, _now(), row_id),
            )
            return _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))

    def pending(self, *, due_only: bool = False) -> list[JournalRow]:
        """Rows staged but not yet registered: their bytes wait on the station disk.
        `due_only`: only those whose back-off after a failure has run out."""
        query = "SELECT * FROM files WHERE state IN (?, ?, ?)"
        params: list[str] = [FileState.STAGED, FileState.PROCESSED, FileState.UPLOADED]
        if due_only:
            query += " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            params.append(_now())
        with self._lock:
            return _rows(self._db.execute(query + " ORDER BY id", params))

    def registered_on(self, device_key: str) -> list[JournalRow]:
        """Rows of a device that are registered but still on it (candidates for wiping),
        except those whose bytes changed on the device since (superseded)."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM files WHERE device_key=? AND state=?"
                " AND json_extract(facts, '$.superseded_by') IS NULL ORDER BY id",
                (device_key, FileState.REGISTERED),
            )
            return _rows(cur)

    def imported_on(self, device_key: str) -> list[JournalRow]:
        """Rows of a device the api has registered (wiped from it or not): the files its
        recordings are grouped from."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM files WHERE device_key=? AND state IN (?, ?) ORDER BY id",
                (device_key, FileState.REGISTERED, FileState.RELEASED),
            )
            return _rows(cur)

    def devices_imported(self) -> list[str]:
        """Keys of the devices with registered (or released) rows."""
        with self._lock:
            cur = self._db.execute(
                "SELECT DISTINCT device_key FROM files WHERE state IN (?, ?) ORDER BY device_key",
                (FileState.REGISTERED, FileState.RELEASED),
            )
            return [device_key for (device_key,) in cur.fetchall()]

    def recording_parts(self, recording_id: str) -> list[str] | None:
        """The media ids the api last registered for this recording, or None if never."""
        with self._lock:
            found = self._db.execute(
                "SELECT parts FROM recordings WHERE id=?", (recording_id,)
            ).fetchone()
        return None if found is None else list(json.loads(found[0]))

    def recording_registered(self, recording_id: str, parts: list[str]) -> None:
        """Note that the api holds this recording with these parts (media ids, in order)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO recordings VALUES (?, ?, ?)",
                (recording_id, json.dumps(parts), _now()),
            )

    def note(self, row_id: int, facts: dict[str, Any]) -> None:
        """Merge facts into a row without changing its state."""
        with self._lock:
            current = _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))
            self._db.execute(
                "UPDATE files SET facts=?, updated_at=? WHERE id=?",
                (json.dumps({**current.facts, **facts}), _now(), row_id),
            )

    def unreported_wipes(self) -> list[JournalRow]:
        """Rows wiped from their device whose wipe the api has not recorded yet, and whose
        back-off after a failed report (see fail) has run out."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM files WHERE state=? AND json_extract(facts, '$.wipe_reported') = 0"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
                (FileState.RELEASED, _now()),
            )
            return _rows(cur)

    def remember_camera(self, vid: int, pid: int, usb_serial: str, camera_id: str) -> None:
        """Note that the camera that told `camera_id` was behind this USB identity."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO usb_cameras VALUES (?, ?, ?, ?, ?)",
                (vid, pid, usb_serial, camera_id, _now()),
            )

    def cameras_behind(self, vid: int, pid: int, usb_serial: str) -> list[str]:
        """The camera IDs ever seen behind this USB identity at this station."""
        with self._lock:
            cur = self._db.execute(
                "SELECT camera_id FROM usb_cameras WHERE vid=? AND pid=? AND usb_serial=?"
                " ORDER BY camera_id",
                (vid, pid, usb_serial),
            )
            return [camera_id for (camera_id,) in cur.fetchall()]

    def fail(self, row_id: int, error: str) -> JournalRow:
        """Record why a row is stuck; it stays in its state and is retried after a back-off
        that doubles with each failure (5 s, 10 s, ... up to 10 minutes)."""
        with self._lock:
            current = _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))
            delay = min(FIRST_BACKOFF_S * 2**current.attempts, MAX_BACKOFF_S)
            retry_at = (datetime.now(UTC) + timedelta(seconds=delay)).isoformat()
            self._db.execute(
                "UPDATE files SET error=?, attempts=attempts+1, next_attempt_at=?, updated_at=?"
                " WHERE id=?",
                (error, retry_at, _now(), row_id),
            )
            return _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring a journal written by an earlier version of the station to this schema."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(files)")}
    if "device_id" in columns:
        db.execute("ALTER TABLE files RENAME COLUMN device_id TO device_key")
    if "attempts" not in columns:
        db.execute("ALTER TABLE files ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    if "next_attempt_at" not in columns:
        db.execute("ALTER TABLE files ADD COLUMN next_attempt_at TEXT")
    if "revision" not in columns:  # a new unique key: SQLite rebuilds the table for that
        names = ", ".join(row[1] for row in db.execute("PRAGMA table_info(files)"))
        db.execute("BEGIN IMMEDIATE")
        db.execute("ALTER TABLE files RENAME TO files_before_revisions")
        db.execute(_FILES)
        db.execute(f"INSERT INTO files ({names}) SELECT {names} FROM files_before_revisions")
        db.execute("DROP TABLE files_before_revisions")
        db.execute("COMMIT")
    db.execute("CREATE INDEX IF NOT EXISTS files_state ON files (state, next_attempt_at)")


def _row(cur: sqlite3.Cursor) -> JournalRow:
    rows = _rows(cur)
    if not rows:
        raise KeyError("no such journal row")
    return rows[0]


def _rows(cur: sqlite3.Cursor) -> list[JournalRow]:
    names = [d[0] for d in cur.description]
    return [_from_db(dict(zip(names, values, strict=True))) for values in cur.fetchall()]


def _from_db(r: dict[str, Any]) -> JournalRow:
    return JournalRow(
        id=r["id"],
        device_key=r["device_key"],
        path=r["path"],
        size=r["size"],
        mtime_ns=r["mtime_ns"],
        kind=r["kind"],
        state=FileState(r["state"]),
        sha256=r["sha256"],
        staged_at=datetime.fromisoformat(r["staged_at"]) if r["staged_at"] else None,
        facts=json.loads(r["facts"]),
        media_id=r["media_id"],
        error=r["error"],
        attempts=r["attempts"],
        revision=r["revision"],
    )
