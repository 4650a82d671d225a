"""`station db backup` and `station db restore`: the catalogue copied whole to one file, and
brought back from it into an empty database.

PostgreSQL goes through its own `pg_dump --format=custom` and `pg_restore` (a consistent
snapshot while the api keeps serving); the embedded SQLite through SQLite's online backup.
A backup is written beside its final name and renamed once complete and readable, with its
SHA-256 next to it, so a cut-off run never leaves a file that looks like a backup.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import URL, make_url

from storage.durable import fsync_path, sha256_file, write_durably

console = Console()

_SIDE_FILES = ("-wal", "-shm", "-journal")
"""SQLite's files beside a database, which it would replay onto a file restored there."""
_PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]错误：[/bold red]{escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest of Debian's server packages."""
    found = shutil.which(name) or next(
        (str(d / name) for d in _PG_BIN_DIRS if (d / name).exists()), None
    )
    if found is None:
        raise _fail(f"找不到 {name}：请安装 postgresql-client（Debian 软件包）")
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq connection string and environment of a SQLAlchemy URL: the password goes in
    PGPASSWORD, not on a command line that `ps` shows."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise _fail(f"{Path(argv[0]).name} 失败（退出码 {done.returncode}）：{done.stderr.strip()}")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise _fail(f"SQLite 数据库没有文件路径：{url.render_as_string()}")
    return Path(url.database)


def db_backup(
    to: Annotated[Path, typer.Option(help="folder the backup file is written to")],
) -> None:
    """Copy the catalogue (STATION_DATABASE_URL) to one file in `--to`, with its SHA-256 in a
    `.sha256` file beside it. Run it from a timer (deploy/README.md); the api may keep serving."""
    from api.settings import ApiSettings

    url = make_url(ApiSettings().database_url)
    # It holds the audit trail (who viewed what): readable by its owner only.
    os.umask(0o077)
    to.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    if url.get_backend_name() == "postgresql":
        final = to / f"catalogue-{stamp}.pgdump"
        part = final.with_name(final.name + ".part")
        conninfo, env = _libpq(url)
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={part}", conninfo], env)
        # Every data block read back (`--list` reads only the table of contents).
        _run([_tool("pg_restore"), "--file=/dev/null", str(part)])
    elif url.get_backend_name() == "sqlite":
        final = to / f"catalogue-{stamp}.sqlite"
        part = final.with_name(final.name + ".part")
        source = sqlite3.connect(f"{_sqlite_path(url).resolve().as_uri()}?mode=ro", uri=True)
        target = sqlite3.connect(part)
        try:
            source.backup(target)
            if target.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise _fail("备份文件的完整性检查未通过")
        finally:
            target.close()
            source.close()
    else:
        raise _fail(f"不支持备份此类数据库：{url.get_backend_name()}")
    digest = sha256_file(part)
    fsync_path(part)
    # The digest first: a crash in between leaves a digest without a backup, never the reverse.
    write_durably(final.with_name(final.name + ".sha256"), f"{digest}  {final.name}\n".encode())
    part.rename(final)
    fsync_path(to)
    console.print(f"目录数据库已备份到 {escape(str(final))}（SHA-256 {digest}）", soft_wrap=True)


def db_restore(
    backup: Annotated[Path, typer.Argument(help="a file `station db backup` wrote")],
) -> None:
    """Bring the catalogue back from a backup into STATION_DATABASE_URL, which must be empty
    (a new database, or a SQLite path with no file). Checks the backup's SHA-256 first, then
    applies the migrations made since. Afterwards run `station audit verify --against-store`
    and `station fixity check` (deploy/README.md)."""
    from api.settings import ApiSettings
    from storage.catalogue.db import upgrade

    database_url = ApiSettings().database_url
    url = make_url(database_url)
    _check_digest(backup)
    if url.get_backend_name() == "postgresql":
        if backup.suffix != ".pgdump":
            raise _fail(f"{backup.name} 不是 PostgreSQL 的备份（.pgdump）")
        _require_empty_pg(database_url)
        conninfo, env = _libpq(url)
        # One transaction: a restore that fails leaves the database as empty as it was.
        _run([_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
              f"--dbname={conninfo}", str(backup)], env)  # fmt: skip
    elif url.get_backend_name() == "sqlite":
        if backup.suffix != ".sqlite":
            raise _fail(f"{backup.name} 不是 SQLite 的备份（.sqlite）")
        path = _sqlite_path(url)
        leftovers = [p for p in (path, *(path.with_name(path.name + s) for s in _SIDE_FILES))
                     if p.exists()]  # fmt: skip
        if leftovers:
            raise _fail(f"{leftovers[0]} 已存在：恢复只写入新的数据库，不覆盖现有数据")
        part = path.with_name(path.name + ".part")
        shutil.copyfile(backup, part)
        try:
            os.link(part, path)  # fails, rather than replaces, if the file appeared meanwhile
        except FileExistsError as exc:
            raise _fail(f"{path} 已存在：恢复只写入新的数据库，不覆盖现有数据") from exc
        finally:
            part.unlink()
    else:
        raise _fail(f"不支持恢复到此类数据库：{url.get_backend_name()}")
    upgrade(database_url)
    console.print(
        f"目录数据库已从 {escape(backup.name)} 恢复。请接着运行 `station audit verify "
        "--against-store`（备份之后的审计记录在恢复中丢失时，会指出从哪一条起缺失）和 "
        "`station fixity check`。",
        soft_wrap=True,
    )


def _check_digest(backup: Path) -> None:
    if not backup.is_file():
        raise _fail(f"找不到备份文件 {backup}")
    sidecar = backup.with_name(backup.name + ".sha256")
    if not sidecar.is_file():
        raise _fail(f"缺少 {sidecar.name}：无法确认备份完整，未恢复")
    expected = sidecar.read_text().split()
    if not expected or sha256_file(backup) != expected[0]:
        raise _fail(f"{backup.name} 的 SHA-256 与 {sidecar.name} 不符：备份已损坏，未恢复")


def _require_empty_pg(database_url: str) -> None:
    from sqlalchemy import text

    from storage.catalogue.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            # Any table, view, sequence or type in any schema but PostgreSQL's own.
            objects = connection.scalar(text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
                " AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'"
            ))  # fmt: skip
    finally:
        engine.dispose()
    if objects:
        raise _fail(
            f"目标数据库不是空的（已有 {objects} 个对象）：恢复只写入新建的空数据库，不覆盖现有数据"
        )
