"""Fixity: stored originals re-read against the catalogue by `station fixity check` and by
the api's schedule, on both catalogues and both stores; a flipped byte and a deleted
original are named, written to the audit trail, and become warnings and metrics."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from rules.fixity import FixityOutcome, outcome_of, share_per_run
from station.cli import app as station_cli
from storage.catalogue.db import make_engine
from storage.local_store import LocalStore
from storage.object_store import original_key
from tests.fixtures_s3 import SeaweedFS
from tests.test_api_media import Api, serve_api

DAY = timedelta(days=1)


def test_the_share_per_run_reaches_every_original_within_the_period() -> None:
    assert share_per_run(0, DAY, 30 * DAY) == 0
    assert share_per_run(1, DAY, 30 * DAY) == 1
    assert share_per_run(3000, DAY, 30 * DAY) == 100
    assert share_per_run(3001, DAY, 30 * DAY) == 101  # rounded up, never short
    assert share_per_run(50, 40 * DAY, 30 * DAY) == 50
    assert outcome_of("a" * 64, "a" * 64) == FixityOutcome.OK
    assert outcome_of("a" * 64, "b" * 64) == FixityOutcome.MISMATCH
    assert outcome_of("a" * 64, None) == FixityOutcome.MISSING


@pytest.fixture
def api(database_url: str, store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, store_url, tmp_path)


def fixity(api: Api, store_url: str, *args: str, **env: str) -> Any:
    return CliRunner().invoke(
        station_cli,
        ["fixity", "check", *args],
        env={"STATION_DATABASE_URL": api.database_url, "STATION_STORAGE_URL": store_url,
             "COLUMNS": "200", **env},
    )  # fmt: skip


def _damage(api: Api, key: str, seaweedfs: SeaweedFS | None) -> None:
    """Flip the first byte of the stored object behind the store's back."""
    if isinstance(api.store, LocalStore):
        path = api.store.root / key
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        path.chmod(0o644)
        path.write_bytes(bytes(data))
        return
    assert seaweedfs is not None
    client = seaweedfs.raw_client()
    bucket = api.store.bucket  # type: ignore[attr-defined]
    data = bytearray(client.get_object(bucket, key).read())
    data[0] ^= 0xFF
    client.put_object(bucket, key, io.BytesIO(bytes(data)), len(data))


def _remove(api: Api, key: str, seaweedfs: SeaweedFS | None) -> None:
    if isinstance(api.store, LocalStore):
        (api.store.root / key).unlink()
        return
    assert seaweedfs is not None
    seaweedfs.raw_client().remove_object(api.store.bucket, key)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("database_url", "store_url"), [("sqlite", "local"), ("postgresql", "s3")], indirect=True
)
def test_a_flipped_byte_and_a_deleted_original_are_named(
    api: Api, store_url: str, request: pytest.FixtureRequest
) -> None:
    seaweedfs = request.getfixturevalue("seaweedfs") if store_url.startswith("s3") else None
    whole, flipped, gone = (api.ingested() for _ in range(3))
    clean = fixity(api, store_url, "--all")
    assert clean.exit_code == 0, clean.output
    assert "共校验 3 个原始文件" in clean.output

    _damage(api, original_key(flipped["sha256"]), seaweedfs)
    _remove(api, original_key(gone["sha256"]), seaweedfs)
    result = fixity(api, store_url, "--all")
    assert result.exit_code == 1, result.output
    assert flipped["id"] in result.output and "不符" in result.output
    assert gone["id"] in result.output and "找不到" in result.output
    assert whole["id"] not in result.output

    trail = api.get("/api/v1/audit", params={"action": "fixity.check", "limit": 3}).json()
    by_target = {e["target"]: e for e in trail["items"]}
    assert by_target[whole["id"]]["outcome"] == "ok"
    assert by_target[flipped["id"]]["detail"]["result"] == "mismatch"
    assert by_target[flipped["id"]]["detail"]["expected_sha256"] == flipped["sha256"]
    assert by_target[gone["id"]]["detail"] == {
        "result": "missing", "key": original_key(gone["sha256"]),
        "expected_sha256": gone["sha256"], "actual_sha256": None,
    }  # fmt: skip
    assert by_target[gone["id"]]["actor"].startswith("station-cli:")

    warned = api.get("/api/v1/warnings", params={"kind": "fixity_failed"}).json()["items"]
    assert {(w["subject"], w["detail"]["outcome"]) for w in warned} == {
        (flipped["id"], "mismatch"), (gone["id"], "missing"),
    }  # fmt: skip
    metrics = api.client.get("/metrics").text
    assert 'evidence_fixity_media{outcome="ok"} 1.0' in metrics
    assert 'evidence_fixity_media{outcome="mismatch"} 1.0' in metrics
    assert 'evidence_fixity_media{outcome="missing"} 1.0' in metrics


@pytest.mark.parametrize(("database_url", "store_url"), [("sqlite", "local")], indirect=True)
def test_each_run_takes_the_originals_checked_longest_ago(api: Api, store_url: str) -> None:
    media = [api.ingested() for _ in range(4)]
    # A run a day with a two-day period: half of them per run.
    env = {"STATION_FIXITY_INTERVAL_S": "86400", "STATION_FIXITY_PERIOD_DAYS": "2"}
    for expected in (2, 2, 2):
        result = fixity(api, store_url, **env)
        assert result.exit_code == 0 and f"共校验 {expected} 个" in result.output, result.output
    checked = [
        e["target"]
        for e in api.get("/api/v1/audit", params={"action": "fixity.check"}).json()["items"]
    ][::-1]
    assert sorted(checked[:4]) == sorted(m["id"] for m in media)  # every one, then again
    assert checked[4:] == checked[:2]


@pytest.mark.parametrize(
    ("database_url", "store_url"), [("sqlite", "local"), ("postgresql", "local")], indirect=True
)
def test_the_api_runs_fixity_one_replica_at_a_time(api: Api) -> None:
    media = api.ingested()
    runs = api.client.app.state.fixity  # type: ignore[attr-defined]
    assert runs.run_once() == []
    if api.database_url.startswith("postgresql"):
        engine = make_engine(api.database_url)
        with engine.connect() as other_replica:
            from storage.catalogue import db

            with db.one_runner(engine, "fixity") as mine:
                assert mine
                assert runs.run_once() is None  # skipped: the other one holds the lock
            other_replica.execute(text("SELECT 1"))
        engine.dispose()
    trail = api.get("/api/v1/audit", params={"action": "fixity.check"}).json()["items"]
    assert [(e["target"], e["actor"]) for e in trail] == [(media["id"], "api:fixity")]
