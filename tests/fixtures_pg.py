"""A real, throwaway PostgreSQL 15 for the test session, and catalogue URLs for tests.

initdb and postgres refuse to run as root (CI runs as root): then the server runs as the
`postgres` user from a folder it owns under /tmp, and tests connect over 127.0.0.1 with
trust authentication. Elsewhere it runs as whoever runs the tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.catalogue.db import make_engine, make_session_factory, upgrade

PG_BIN = Path(os.environ.get("STATION_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def connect_admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as_server_user(argv: list[str], *, check: bool = True) -> None:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)


@contextmanager
def running_pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for as long as the block runs (tests and benches).
    Raises RuntimeError when it is not installed or does not start."""
    if not (PG_BIN / "pg_ctl").exists():
        raise RuntimeError(
            f"PostgreSQL 15 is not installed at {PG_BIN} (apt-get install postgresql)"
        )
    base = Path(tempfile.mkdtemp(prefix="station-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    port = _free_port()
    _run_as_server_user(
        [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER]
        + ["-E", "UTF8", "--locale=C", "--no-sync"]
    )
    # A zone other than UTC proves the catalogue normalises times itself.
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c timezone=Asia/Shanghai"
    )
    try:
        _run_as_server_user(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options]
            + ["-l", str(base / "server.log"), "-w", "-t", "30", "start"]
        )
    except subprocess.CalledProcessError as exc:
        log_file = base / "server.log"
        log = log_file.read_text(errors="replace") if log_file.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{log[-2000:]}") from exc
    try:
        yield PgServer(host="127.0.0.1", port=port, user=SUPERUSER)
    finally:
        _run_as_server_user(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        with running_pg_server() as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def pg_database_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database for one test (postgresql+psycopg://...)."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with pg_server.connect_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_server.url(name)
    with pg_server.connect_admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty catalogue URL, once on SQLite (a file) and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalogue' / 'station.db'}"
    return str(request.getfixturevalue("pg_database_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an upgraded catalogue of each kind."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


PAIRED = pytest.mark.parametrize(
    ("database_url", "store_url"), [("sqlite", "local"), ("postgresql", "s3")], indirect=True
)
"""For tests of the station and api end to end, where the catalogue and the object store never
meet but through our code: each kind of each runs, in two pairings rather than all four
(the catalogue's and the stores' own tests cover every kind on its own)."""
