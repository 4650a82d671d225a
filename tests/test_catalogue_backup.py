"""`station db backup` / `station db restore`: a catalogue with imported footage is backed up
(PostgreSQL while the api serves, and SQLite), restored into an empty database, and the
restored one passes `station audit verify` (against the store's signed checkpoints too) and a
fixity sample; a damaged backup or a database that is not empty is refused."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from tests.fixtures_pg import PgServer
from tests.station_processes import STATION, Station, wait_for
from tests.test_agent import camera


def station_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STATION, *args], env={**env, "COLUMNS": "200"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def new_database(server: PgServer) -> str:
    name = f"restored_{uuid.uuid4().hex[:12]}"
    with server.connect_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url(name)


def count_media(url: str) -> int:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        row = conn.execute("SELECT count(*) FROM media").fetchone()
        assert row is not None
        return int(row[0])


def backup_file(output: str) -> Path:
    line = next(line for line in output.splitlines() if "已备份到" in line)
    return Path(line.split("已备份到 ", 1)[1].split("（", 1)[0])


def imported(station: Station, clips) -> None:  # noqa: ANN001
    station.start_api()
    station.register_device("BC-0001", "ZFY-0001", unit_id="U1", officer_id="010001")
    station.start_agent()
    station.dock(camera(clips, n=2), "ZFY-0001")
    wait_for("5 files registered", lambda: len(station.media()) == 5)


def test_a_postgresql_catalogue_is_restored_and_proves_itself(
    tmp_path: Path,
    pg_server: PgServer,
    pg_database_url: str,
    clips,  # noqa: ANN001
) -> None:
    station = Station(tmp_path / "site", STATION_DATABASE_URL=pg_database_url)
    backups = tmp_path / "backups"
    try:
        imported(station, clips)
        # While the api serves: a consistent snapshot all the same.
        live = station_cli(station.env, "db", "backup", "--to", str(backups))
        assert live.returncode == 0, live.stdout + live.stderr
        station.media()  # a search: in the audit trail, after that backup
    finally:
        station.stop()
    # After the api stopped (its last checkpoint signed): nothing is missing from this one.
    final = station_cli(station.env, "db", "backup", "--to", str(backups))
    assert final.returncode == 0, final.stdout + final.stderr

    for made, latest in ((live, False), (final, True)):
        dump = backup_file(made.stdout)
        assert dump.suffix == ".pgdump" and dump.with_name(dump.name + ".sha256").exists()
        env = {**station.env, "STATION_DATABASE_URL": new_database(pg_server)}
        restored = station_cli(env, "db", "restore", str(dump))
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert count_media(env["STATION_DATABASE_URL"]) == 5

        verified = station_cli(env, "audit", "verify")
        assert verified.returncode == 0 and "审计链完整" in verified.stdout, verified.stdout
        # The checkpoint signed at the api's stop came after the live backup: what that
        # restore lost (the search) is named, not passed over.
        checked = station_cli(env, "audit", "verify", "--against-store")
        if latest:
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert "与对象存储中 1 个签名检查点一致" in checked.stdout
        else:
            assert checked.returncode == 1, checked.stdout + checked.stderr
            assert "the newest entries were removed" in checked.stdout
        fixity = station_cli(env, "fixity", "check")
        assert fixity.returncode == 0, fixity.stdout + fixity.stderr
        assert "共校验 1 个原始文件（共 5 个），全部与登记的 SHA-256 一致" in fixity.stdout

        again = station_cli(env, "db", "restore", str(dump))
        assert again.returncode == 2 and "不覆盖现有数据" in again.stdout

    dump = backup_file(final.stdout)
    damaged = dump.read_bytes()
    dump.write_bytes(damaged[:100] + bytes([damaged[100] ^ 1]) + damaged[101:])
    env = {**station.env, "STATION_DATABASE_URL": new_database(pg_server)}
    refused = station_cli(env, "db", "restore", str(dump))
    assert refused.returncode == 2 and "备份已损坏" in refused.stdout


def test_the_embedded_sqlite_catalogue_round_trips(tmp_path: Path, clips) -> None:  # noqa: ANN001
    station = Station(tmp_path / "site")
    try:
        imported(station, clips)
    finally:
        station.stop()
    made = station_cli(station.env, "db", "backup", "--to", str(tmp_path / "backups"))
    assert made.returncode == 0, made.stdout + made.stderr
    copy = backup_file(made.stdout)
    assert copy.suffix == ".sqlite"
    env = {**station.env, "STATION_DATABASE_URL": f"sqlite:///{tmp_path}/restored.db"}
    restored = station_cli(env, "db", "restore", str(copy))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    verified = station_cli(env, "audit", "verify", "--against-store")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    fixity = station_cli(env, "fixity", "check", "--all")
    assert fixity.returncode == 0 and "5" in fixity.stdout, fixity.stdout
    again = station_cli(env, "db", "restore", str(copy))
    assert again.returncode == 2 and "已存在" in again.stdout
