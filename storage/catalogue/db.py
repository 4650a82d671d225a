"""Connecting to the catalogue and bringing its schema up to date.

`upgrade(url)` runs before the api serves (`station db upgrade`, `station api`); the api
itself only checks the schema is current (`check_schema`) and refuses to start otherwise.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

# Imported for its flush listener: every session marks the footage it changes, which the
# compliance report's kept judgements depend on.
from storage.catalogue import footage_changes  # noqa: F401
from storage.catalogue.errors import CatalogueError, SchemaNotCurrent

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Any constant will do, as long as nothing else in the database uses it for an advisory lock.
_MIGRATION_LOCK_KEY = 0x5354_4154_494F_4E  # "STATION"

SQLITE_BUSY_TIMEOUT_MS = 15_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the catalogue at `url` (a SQLAlchemy URL).

    SQLite gets foreign keys, WAL and a busy timeout on every connection, and the folder of
    its file is created. Raises CatalogueError when the URL cannot be used.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise CatalogueError(f"STATION_DATABASE_URL {url!r} is not a SQLAlchemy URL") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def _configure_sqlite(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # WAL makes NORMAL durable across application crashes; a power cut may lose the
        # last commits but never corrupts the file.
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (responses are built after it)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(database_url: str) -> Iterator[Session]:
    """A session on an engine of its own, for one-off jobs such as the CLI's.

    Committed when the block ends normally, rolled back when it raises; the engine is
    disposed afterwards. Long-running processes use make_engine + make_session_factory.
    """
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()


def _alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest migration this code knows."""
    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


def upgrade(database_url: str) -> None:
    """Apply every pending migration to the catalogue at `database_url` (idempotent).

    On PostgreSQL the migration runs in one transaction under an advisory lock, so several
    api replicas starting together apply it once. Raises CatalogueError when the database
    cannot be reached or a migration fails.
    """
    config = _alembic_config(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Released at commit or rollback of this transaction.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise CatalogueError(
            f"could not migrate the catalogue at {_safe_url(database_url)}: {exc}"
        ) from exc
    finally:
        engine.dispose()


@contextmanager
def one_runner(engine: Engine, job: str) -> Iterator[bool]:
    """Whether this process may run `job` now: on PostgreSQL, while no other process (an api
    replica, a command) holds the job's advisory lock, which is held until the block ends;
    on SQLite, always (one machine, and the job's writes are serialised by the database)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.sha256(f"station-job:{job}".encode()).digest()[:8], "big") >> 1
    with engine.connect() as connection:
        got = bool(
            connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        )
        connection.commit()  # the session-level lock outlives this transaction
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


def check_schema(engine: Engine) -> None:
    """Raise SchemaNotCurrent unless the database is at the newest migration."""
    head = head_revision()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise CatalogueError(
            f"cannot reach the catalogue at {_safe_url(engine.url)}: {exc}"
        ) from exc
    if current != head:
        found = "no schema" if current is None else f"schema revision {current}"
        raise SchemaNotCurrent(
            f"the catalogue at {_safe_url(engine.url)} has {found}, this code needs {head}: "
            "run `station db upgrade` first"
        )


def _safe_url(url: str | URL) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable url)"
