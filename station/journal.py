"""The station's durable journal: one row per file found on a device, moving only forward.

    discovered → staged → probed → uploaded → registered → released

(`released`: wiped from the device after its bytes there were checked against the registered
SHA-256; rows of devices that are never wiped stay `registered`.) Derived work (browser
copies, thumbnail) is a backlog beside the rows, in the `derived` table: it starts once a row
is registered and never holds the evidence path up.

A row is keyed by (device key, path on device, size, mtime), so docking the same camera again
finds the same rows and nothing is imported twice (a file whose bytes changed on the device
under the same key gets a new `revision` of its row, imported anew); a crash resumes from the
last state written here. Each transition is committed (synchronous=FULL) before the next step
starts. Facts are typed (station/facts.py) and stored as JSON by `facts.dump`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from station import facts as facts_json
from station.facts import (
    DerivedFacts,
    DerivedStage,
    DockFacts,
    FileFacts,
    Lineage,
    ProbeFacts,
    RegisteredFacts,
    RenditionFacts,
    StagedFacts,
    UploadFacts,
    WipeFacts,
)
from wire.derived import ProxyStatus
from wire.media_kinds import MediaKind


class FileState(StrEnum):
    DISCOVERED = "discovered"
    STAGED = "staged"
    PROBED = "probed"
    UPLOADED = "uploaded"
    REGISTERED = "registered"
    RELEASED = "released"


_ORDER = list(FileState)
SCHEMA_VERSION = 2
"""1: facts as free-form JSON (before typed facts and the derived backlog); 2: this."""

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
    registered_at TEXT NOT NULL,
    merged INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS derived (
    file_id INTEGER PRIMARY KEY REFERENCES files (id),
    stage TEXT NOT NULL,
    priority INTEGER NOT NULL,
    recorded_at TEXT,
    facts TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS derived_order ON derived (stage, priority, recorded_at);
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
    """The kind the file's name implies (the probe may find another: `facts.probe.kind`)."""
    state: FileState
    sha256: str | None
    staged_at: datetime | None
    facts: FileFacts
    media_id: str | None
    error: str | None
    attempts: int = 0
    revision: int = 0


class Priority:
    """Backlog order: lower first."""

    FIRST = 0
    """Marked important on the camera, or in a case already."""
    NORMAL = 1


@dataclass(frozen=True)
class DerivedJob:
    """A registered medium's derived work (browser copies, thumbnail) in the backlog."""

    file_id: int
    stage: DerivedStage
    priority: int
    recorded_at: datetime | None
    facts: DerivedFacts
    attempts: int = 0


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _retry_at(attempts: int) -> str:
    delay = min(FIRST_BACKOFF_S * 2**attempts, MAX_BACKOFF_S)
    return (datetime.now(UTC) + timedelta(seconds=delay)).isoformat()


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
            fresh = not self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='files'"
            ).fetchone()
            self._db.executescript(_SCHEMA)
            _upgrade(self._db, fresh=fresh)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._lock_file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, row_id: int) -> JournalRow:
        return _row(self._db.execute("SELECT * FROM files WHERE id=?", (row_id,)))

    # -- the evidence path ---------------------------------------------------------------

    def discover(
        self, device_key: str, path: str, size: int, mtime_ns: int, kind: str
    ) -> JournalRow:
        """The row for this file (its latest revision), created as `discovered` when new."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO files (device_key, path, size, mtime_ns, kind, state,"
                " facts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    device_key,
                    path,
                    size,
                    mtime_ns,
                    kind,
                    FileState.DISCOVERED,
                    facts_json.dump(FileFacts()),
                    _now(),
                ),
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
            old = self._get(row_id)
            new = FileFacts(lineage=Lineage(supersedes=old.id, why=why))
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
                    facts_json.dump(new),
                    _now(),
                    old.revision + 1,
                ),
            )
            assert cur.lastrowid is not None
            lineage = dataclasses.replace(old.facts.lineage, superseded_by=cur.lastrowid)
            self._put_facts(old.id, dataclasses.replace(old.facts, lineage=lineage))
            return self._get(cur.lastrowid)

    def get(self, row_id: int) -> JournalRow:
        with self._lock:
            return self._get(row_id)

    def advance(
        self,
        row_id: int,
        state: FileState,
        facts: FileFacts | None = None,
        *,
        sha256: str | None = None,
        media_id: str | None = None,
    ) -> JournalRow:
        """Move a row forward to `state` with its `facts` now (unchanged when None); clears
        its last error."""
        with self._lock:
            current = self._get(row_id)
            if _ORDER.index(state) <= _ORDER.index(current.state):
                raise ValueError(f"journal row {row_id} cannot go from {current.state} to {state}")
            self._db.execute(
                "UPDATE files SET state=?, sha256=COALESCE(?, sha256),"
                " staged_at=CASE WHEN ?='staged' THEN ? ELSE staged_at END,"
                " facts=?, media_id=COALESCE(?, media_id), error=NULL, attempts=0,"
                " next_attempt_at=NULL, updated_at=? WHERE id=?",
                (
                    state,
                    sha256,
                    state,
                    _now(),
                    facts_json.dump(facts or current.facts),
                    media_id,
                    _now(),
                    row_id,
                ),
            )
            return self._get(row_id)

    def restage(self, row_id: int, why: str) -> JournalRow:
        """The one step back: a row whose staged copy was lost goes back to `discovered`, to
        be copied from the device again (never past `uploaded`: then the store has it). Its
        lineage (the revision it supersedes) stays."""
        with self._lock:
            current = self._get(row_id)
            if current.state in (FileState.REGISTERED, FileState.RELEASED):
                raise ValueError(f"journal row {row_id} is registered; it is never copied again")
            kept = FileFacts(lineage=current.facts.lineage)
            self._db.execute(
                "UPDATE files SET state=?, sha256=NULL, staged_at=NULL, facts=?, error=?,"
                " updated_at=? WHERE id=?",
                (FileState.DISCOVERED, facts_json.dump(kept), why, _now(), row_id),
            )
            return self._get(row_id)

    def pending(self, *, due_only: bool = False) -> list[JournalRow]:
        """Rows staged but not yet registered: their bytes wait on the station disk.
        `due_only`: only those whose back-off after a failure has run out."""
        query = "SELECT * FROM files WHERE state IN (?, ?, ?)"
        params: list[str] = [FileState.STAGED, FileState.PROBED, FileState.UPLOADED]
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
                " AND json_extract(facts, '$.lineage.superseded_by') IS NULL ORDER BY id",
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

    def note(self, row_id: int, change: Callable[[FileFacts], FileFacts]) -> JournalRow:
        """Change a row's facts without changing its state (`change` gets the current ones,
        under the journal's lock)."""
        with self._lock:
            current = self._get(row_id)
            self._put_facts(row_id, change(current.facts))
            return self._get(row_id)

    def _put_facts(self, row_id: int, facts: FileFacts) -> None:
        self._db.execute(
            "UPDATE files SET facts=?, updated_at=? WHERE id=?",
            (facts_json.dump(facts), _now(), row_id),
        )

    def unreported_wipes(self) -> list[JournalRow]:
        """Rows wiped from their device whose wipe the api has not recorded yet, and whose
        back-off after a failed report (see fail) has run out."""
        with self._lock:
            cur = self._db.execute(
                "SELECT * FROM files WHERE state=? AND json_extract(facts, '$.wipe.reported') = 0"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id",
                (FileState.RELEASED, _now()),
            )
            return _rows(cur)

    def fail(self, row_id: int, error: str) -> JournalRow:
        """Record why a row is stuck; it stays in its state and is retried after a back-off
        that doubles with each failure (5 s, 10 s, ... up to 10 minutes)."""
        with self._lock:
            current = self._get(row_id)
            self._db.execute(
                "UPDATE files SET error=?, attempts=attempts+1, next_attempt_at=?, updated_at=?"
                " WHERE id=?",
                (error, _retry_at(current.attempts), _now(), row_id),
            )
            return self._get(row_id)

    def proxy_room_promised(self) -> int:
        """Bytes the browser copies still to be made will need on the station disk: a
        recording's proxy is at most about its own size (photos get only a thumbnail)."""
        with self._lock:
            (total,) = self._db.execute(
                "SELECT COALESCE(SUM(f.size), 0) FROM files f LEFT JOIN derived d"
                " ON d.file_id = f.id WHERE f.kind != ? AND ("
                "   f.state IN (?, ?, ?) OR (d.stage IS NOT NULL AND d.stage != ?))",
                (
                    MediaKind.PHOTO,
                    FileState.STAGED,
                    FileState.PROBED,
                    FileState.UPLOADED,
                    DerivedStage.DONE,
                ),
            ).fetchone()
            return int(total)

    def register(
        self,
        row_id: int,
        facts: FileFacts,
        *,
        media_id: str,
        priority: int,
        recorded_at: datetime | None,
        stage: DerivedStage,
    ) -> tuple[JournalRow, DerivedJob]:
        """uploaded → registered and the medium's derived work into the backlog, in one
        transaction: a crash never leaves a registered row that nothing will derive from."""
        with self._lock:
            current = self._get(row_id)
            if current.state is not FileState.UPLOADED:
                raise ValueError(f"journal row {row_id} is {current.state}, not uploaded")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "UPDATE files SET state=?, facts=?, media_id=?, error=NULL, attempts=0,"
                    " next_attempt_at=NULL, updated_at=? WHERE id=?",
                    (FileState.REGISTERED, facts_json.dump(facts), media_id, _now(), row_id),
                )
                self._insert_derived(row_id, priority, recorded_at, stage)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return self._get(row_id), self._derived(row_id)

    # -- the derived backlog -------------------------------------------------------------

    def enqueue_derived(
        self, row_id: int, *, priority: int, recorded_at: datetime | None, stage: DerivedStage
    ) -> DerivedJob:
        """Put a registered medium's derived work in the backlog (once: a second call keeps
        what is there)."""
        with self._lock:
            self._insert_derived(row_id, priority, recorded_at, stage)
            return self._derived(row_id)

    def _insert_derived(
        self, row_id: int, priority: int, recorded_at: datetime | None, stage: DerivedStage
    ) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO derived (file_id, stage, priority, recorded_at, facts,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                row_id,
                stage,
                priority,
                recorded_at.astimezone(UTC).isoformat() if recorded_at else None,
                # The registration told the api as much: nothing to attach yet.
                facts_json.dump(
                    DerivedFacts(
                        status=ProxyStatus.NONE
                        if stage is DerivedStage.DONE
                        else ProxyStatus.PENDING,
                        attached=True,
                    )
                ),
                _now(),
            ),
        )

    def _derived(self, row_id: int) -> DerivedJob:
        return _job(self._db.execute("SELECT * FROM derived WHERE file_id=?", (row_id,)))

    def derived_of(self, row_id: int) -> DerivedJob | None:
        with self._lock:
            try:
                return self._derived(row_id)
            except KeyError:
                return None

    def derived_due(self, *, among: Iterable[int] | None = None) -> list[DerivedJob]:
        """Backlog work whose back-off has run out, in the order it is to be done: important
        and in-case media first, then the newest; a medium's unattached results before new
        work. `among`: only these rows."""
        query = (
            "SELECT * FROM derived WHERE (stage != ? OR json_extract(facts, '$.attached') = 0)"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
        )
        params: list[Any] = [DerivedStage.DONE, _now()]
        if among is not None:
            ids = list(among)
            query += f" AND file_id IN ({','.join('?' * len(ids))})"
            params += ids
        query += (
            " ORDER BY priority, json_extract(facts, '$.attached') = 1, stage = 'transcode',"
            " recorded_at IS NULL, recorded_at DESC"
        )
        with self._lock:
            cur = self._db.execute(query, params)
            names = [d[0] for d in cur.description]
            return [_job_of(dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    def derived_advance(self, row_id: int, stage: DerivedStage, facts: DerivedFacts) -> DerivedJob:
        """Record what the backlog did for a medium; clears the back-off. Stages only move
        forward."""
        order = list(DerivedStage)
        with self._lock:
            current = self._derived(row_id)
            if order.index(stage) < order.index(current.stage):
                raise ValueError(
                    f"derived work of row {row_id} cannot go from {current.stage} to {stage}"
                )
            self._db.execute(
                "UPDATE derived SET stage=?, facts=?, attempts=0, next_attempt_at=NULL,"
                " updated_at=? WHERE file_id=?",
                (stage, facts_json.dump(facts), _now(), row_id),
            )
            return self._derived(row_id)

    def derived_fail(self, row_id: int, facts: DerivedFacts) -> DerivedJob:
        """A try failed (`facts.error` says why): tried again after a back-off that doubles."""
        with self._lock:
            current = self._derived(row_id)
            self._db.execute(
                "UPDATE derived SET facts=?, attempts=attempts+1, next_attempt_at=?,"
                " updated_at=? WHERE file_id=?",
                (facts_json.dump(facts), _retry_at(current.attempts), _now(), row_id),
            )
            return self._derived(row_id)

    def derived_redo(self, row_id: int, why: str) -> DerivedJob:
        """Start a medium's derived work over (its results were refused), after a back-off;
        the one step back, counted as an attempt."""
        with self._lock:
            current = self._derived(row_id)
            fresh = DerivedFacts(status=ProxyStatus.PENDING, error=why, attached=True)
            self._db.execute(
                "UPDATE derived SET stage=?, facts=?, attempts=attempts+1, next_attempt_at=?,"
                " updated_at=? WHERE file_id=?",
                (
                    DerivedStage.QUICK,
                    facts_json.dump(fresh),
                    _retry_at(current.attempts),
                    _now(),
                    row_id,
                ),
            )
            return self._derived(row_id)

    def derived_abandon(self, row_id: int, why: str) -> DerivedJob:
        """Stop trying: done, with why, whatever the api holds."""
        with self._lock:
            current = self._derived(row_id)
            facts = dataclasses.replace(current.facts, error=why, attached=True)
            self._db.execute(
                "UPDATE derived SET stage=?, facts=?, updated_at=? WHERE file_id=?",
                (DerivedStage.DONE, facts_json.dump(facts), _now(), row_id),
            )
            return self._derived(row_id)

    def derived_wait(self, row_id: int, seconds: float) -> DerivedJob:
        """The store or api is unreachable: try again in `seconds`, without counting it
        against the medium (its attempts are for ffmpeg's failures)."""
        retry_at = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
        with self._lock:
            self._db.execute(
                "UPDATE derived SET next_attempt_at=?, updated_at=? WHERE file_id=?",
                (retry_at, _now(), row_id),
            )
            return self._derived(row_id)

    # -- recordings and cameras ----------------------------------------------------------

    def recording_state(self, recording_id: str) -> tuple[list[str], bool] | None:
        """The media ids the api last registered for this recording and whether it had its
        merged proxy then; None if never registered."""
        with self._lock:
            found = self._db.execute(
                "SELECT parts, merged FROM recordings WHERE id=?", (recording_id,)
            ).fetchone()
        return None if found is None else (list(json.loads(found[0])), bool(found[1]))

    def recording_registered(self, recording_id: str, parts: list[str], *, merged: bool) -> None:
        """Note that the api holds this recording with these parts (media ids, in order)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO recordings VALUES (?, ?, ?, ?)",
                (recording_id, json.dumps(parts), _now(), int(merged)),
            )

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


# -- schema upgrades ---------------------------------------------------------------------


def _upgrade(db: sqlite3.Connection, *, fresh: bool) -> None:
    """Bring a journal written by an earlier version of the station to this schema."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if fresh:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        version = SCHEMA_VERSION
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
    if "merged" not in {row[1] for row in db.execute("PRAGMA table_info(recordings)")}:
        db.execute("ALTER TABLE recordings ADD COLUMN merged INTEGER NOT NULL DEFAULT 0")
        # Registered by a version that merged at once: final, never merged again.
        db.execute("UPDATE recordings SET merged = 1")
    db.execute("CREATE INDEX IF NOT EXISTS files_state ON files (state, next_attempt_at)")
    if version < 2:
        _typed_facts(db)


def _typed_facts(db: sqlite3.Connection) -> None:
    """Version 1 kept facts as free-form JSON and made proxies before registering: each row's
    facts become FileFacts, `processed` rows become `probed` (their proxy is made again by
    the backlog), and registered rows get the backlog entry their proxy state implies."""
    db.execute("BEGIN IMMEDIATE")
    for row_id, state, kind, device_key, raw in db.execute(
        "SELECT id, state, kind, device_key, facts FROM files"
    ).fetchall():
        old = json.loads(raw or "{}")
        new_state = FileState.PROBED if state == "processed" else FileState(state)
        typed = _legacy_facts(old, kind, device_key)
        db.execute(
            "UPDATE files SET state=?, facts=? WHERE id=?",
            (new_state, facts_json.dump(typed), row_id),
        )
        if new_state in (FileState.REGISTERED, FileState.RELEASED):
            derived = _legacy_derived(old)
            db.execute(
                "INSERT OR IGNORE INTO derived (file_id, stage, priority, recorded_at, facts,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    DerivedStage.DONE,
                    Priority.NORMAL,
                    old.get("recorded_start"),
                    facts_json.dump(derived),
                    _now(),
                ),
            )
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    db.execute("COMMIT")


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _legacy_facts(old: dict[str, Any], kind: str, device_key: str) -> FileFacts:
    dock_raw: dict[str, Any] = old["dock"] if isinstance(old.get("dock"), dict) else {}
    staged = None
    if "staged_name" in old:  # journals before dock facts were kept have none
        dock = DockFacts(
            device_id=str(dock_raw.get("device_id") or device_key),
            station_id=str(dock_raw.get("station_id") or ""),
            officer_id=dock_raw.get("officer_id"),
            case_no=dock_raw.get("case_no"),
            device_serial=dock_raw.get("device_serial"),
            device_registered=dock_raw.get("device_registered"),
            clock_offset_s=dock_raw.get("clock_offset_s"),
        )
        staged = StagedFacts(name=str(old["staged_name"]), dock=dock)
    probe = None
    if "playable" in old:
        probe = ProbeFacts(
            kind=MediaKind(kind),
            duration_s=old.get("duration_s"),
            container=old.get("container"),
            width=old.get("width"),
            height=old.get("height"),
            video_codec=old.get("video_codec"),
            audio_codec=old.get("audio_codec"),
            creation_time=_time(old.get("creation_time")),
            # Unreadable only when ffprobe failed (no container): a failed proxy is made again.
            unreadable=None
            if old.get("container")
            else old.get("unplayable_reason") or "ffprobe could not read it",
        )
    upload = None
    if isinstance(old.get("original_key"), str) and _time(old.get("uploaded_at")):
        at = _time(old.get("uploaded_at"))
        assert at is not None
        upload = UploadFacts(at=at, original_key=old["original_key"])
    registered = None
    if "recorded_start" in old or "important" in old:
        registered = RegisteredFacts(
            device_id=str(dock_raw.get("device_id") or device_key),
            recorded_start=_time(old.get("recorded_start")),
            important=bool(old.get("important")),
            in_case=False,
        )
    wipe = None
    if "wiped_at" in old or "wiping_at" in old:
        wipe = WipeFacts(
            wiping_at=_time(old.get("wiping_at")),
            wiped_at=_time(old.get("wiped_at")),
            reported=bool(old.get("wipe_reported", True)),
        )
    return FileFacts(
        staged=staged,
        probe=probe,
        upload=upload,
        registered=registered,
        wipe=wipe,
        lineage=Lineage(
            supersedes=old.get("supersedes"),
            superseded_by=old.get("superseded_by"),
            why=old.get("why"),
        ),
    )


def _legacy_derived(old: dict[str, Any]) -> DerivedFacts:
    """A version-1 registration carried its proxy and thumbnail: attached already."""
    key = old.get("proxy_key")
    renditions: tuple[RenditionFacts, ...] = ()
    if isinstance(key, str):
        audio = old.get("proxy_content_type") == "audio/mp4"
        renditions = (
            RenditionFacts(
                name="aac" if audio else "h264",
                content_type="audio/mp4" if audio else "video/mp4",
                codec="mp4a" if audio else "avc1",
                encoder="legacy",
                key=key,
            ),
        )
    return DerivedFacts(
        status=ProxyStatus.READY if renditions else ProxyStatus.NONE,
        renditions=renditions,
        thumbnail_key=old.get("thumbnail_key"),
        unplayable_reason=old.get("unplayable_reason"),
        attached=True,
    )


# -- rows --------------------------------------------------------------------------------


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
        facts=facts_json.load(FileFacts, r["facts"]),
        media_id=r["media_id"],
        error=r["error"],
        attempts=r["attempts"],
        revision=r["revision"],
    )


def _job(cur: sqlite3.Cursor) -> DerivedJob:
    names = [d[0] for d in cur.description]
    found = cur.fetchone()
    if found is None:
        raise KeyError("no such derived job")
    return _job_of(dict(zip(names, found, strict=True)))


def _job_of(r: dict[str, Any]) -> DerivedJob:
    return DerivedJob(
        file_id=r["file_id"],
        stage=DerivedStage(r["stage"]),
        priority=r["priority"],
        recorded_at=datetime.fromisoformat(r["recorded_at"]) if r["recorded_at"] else None,
        facts=facts_json.load(DerivedFacts, r["facts"]),
        attempts=r["attempts"],
    )
