"""The audit trail through the api and `station audit verify`, on both catalogues: every
request and token change written with who, what, when, from where and how it went; the chain
tampered with directly in the database and the first bad entry named; the newest entries
cut off and caught against the checkpoints the api signed into the object store."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from station.cli import app as station_cli
from storage.audit_checkpoints import PREFIX
from storage.catalogue import audit_repo
from storage.catalogue.audit_repo import Actor, AuditRecord
from storage.catalogue.db import make_engine, make_session_factory, session_scope
from storage.catalogue.models import AuditOutcome
from storage.catalogue.tokens import create_token, revoke
from storage.key_file import load_key
from storage.object_store import open_store
from tests.test_api_media import Api, serve_api
from wire.signatures import key_id_of

CLIENT = "testclient"


class AuditApi(Api):
    def audit(self, token: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        response = self.get("/api/v1/audit", token=token, params=filters)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def verify(self) -> dict[str, Any]:
        response = self.get("/api/v1/audit/verify")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def sql(self, statement: str, **params: Any) -> None:
        engine = make_engine(self.database_url)
        with engine.begin() as conn:
            conn.execute(text(statement), params)
        engine.dispose()


@pytest.fixture
def api(database_url: str, local_store_url: str, tmp_path: Path) -> Iterator[AuditApi]:
    yield from serve_api(AuditApi, database_url, local_store_url, tmp_path)


def cli_verify(database_url: str, *args: str, **env: str) -> Any:
    return CliRunner().invoke(
        station_cli,
        ["audit", "verify", *args],
        env={"STATION_DATABASE_URL": database_url, "COLUMNS": "200", **env},
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_request_is_written_with_who_what_where_and_how_it_went(api: AuditApi) -> None:
    reviewer = api.token("reviewer", unit_id="U1", name="li-reviewer")
    media = api.ingested(b"evidence bytes " * 100)
    searched = api.get("/api/v1/media", token=reviewer,
                       params={"officer_id": "010203", "limit": "5"})  # fmt: skip
    assert searched.status_code == 200
    part = api.get(f"/api/v1/media/{media['id']}/original", token=reviewer,
                   headers={"Range": "bytes=10-99"})  # fmt: skip
    assert part.status_code == 206
    assert api.get("/api/v1/media/no-such-medium", token=reviewer).status_code == 404
    assert api.get("/api/v1/devices", token=reviewer).status_code == 403

    entries = api.audit(actor="li-reviewer")
    assert [(e["action"], e["status"], e["outcome"]) for e in entries] == [
        ("GET /api/v1/devices", 403, "denied"),
        ("GET /api/v1/media/{media_id}", 404, "failed"),
        ("GET /api/v1/media/{media_id}/original", 206, "ok"),
        ("GET /api/v1/media", 200, "ok"),
    ]
    for entry in entries:
        assert entry["role"] == "reviewer" and entry["unit_id"] == "U1"
        assert entry["client"] == CLIENT and len(entry["request_id"]) == 32
        assert entry["token_id"] and entry["at"].endswith("Z")
    download, search = entries[2], entries[3]
    assert search["detail"]["query"] == {"officer_id": ["010203"], "limit": ["5"]}
    assert download["target"] == media["id"]
    assert download["detail"]["requested_range"] == "bytes=10-99"
    assert download["detail"]["range"] == f"bytes 10-99/{len(b'evidence bytes ') * 100}"
    assert download["detail"]["bytes"] == 90
    assert entries[1]["target"] == "no-such-medium"
    # The station's registration is in the trail too, and so is this reading of it.
    assert api.audit(action="POST /api/v1/ingest")[0]["actor"] == "dock-1"
    assert api.audit(action="GET /api/v1/audit")[0]["actor"] == "admin"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_failed_authentication_is_written_without_the_token(api: AuditApi) -> None:
    bogus = "st_" + "x" * 43
    assert api.client.get("/api/v1/media", headers=api.auth(bogus)).status_code == 401
    assert api.client.get("/api/v1/media").status_code == 401
    denied = api.audit(actor="anonymous")
    assert [e["status"] for e in denied] == [401, 401]
    assert all(e["outcome"] == "denied" and e["token_id"] is None for e in denied)
    assert "revoked" in denied[1]["detail"]["why"] and "missing" in denied[0]["detail"]["why"]
    assert bogus not in json.dumps(denied)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tokens_made_and_revoked_are_written_with_who_did_it(api: AuditApi) -> None:
    by = Actor(name="it-desk", role="it_admin", client="10.0.0.9")
    with session_scope(api.database_url) as session:
        create_token(session, role="supervisor", unit_id="U1", name="wang", by=by)
    with session_scope(api.database_url) as session:
        revoke(session, "wang")
    made, revoked = api.audit(action="token.create")[0], api.audit(action="token.revoke")[0]
    assert made["actor"] == "it-desk" and made["client"] == "10.0.0.9"
    assert made["detail"]["role"] == "supervisor" and made["detail"]["unit_id"] == "U1"
    assert revoked["target"] == made["target"] and revoked["detail"]["name"] == "wang"
    assert revoked["actor"].startswith("station-cli:") and revoked["client"] == "local"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_supervisor_reads_the_trail_of_their_units_only(api: AuditApi) -> None:
    mine = api.token("supervisor", unit_id="U1", name="sup-u1")
    theirs = api.token("reviewer", unit_id="U2", name="rev-u2")
    assert api.get("/api/v1/media", token=theirs).status_code == 200
    assert api.get("/api/v1/audit", token=api.token("reviewer", unit_id="U1")).status_code == 403
    seen = api.audit(token=mine)
    assert seen and {e["unit_id"] for e in seen} == {"U1"}
    assert api.audit(token=mine, actor="rev-u2") == []
    assert api.audit(actor="rev-u2")[0]["unit_id"] == "U2"  # an admin sees every unit


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_trail_pages_newest_first(api: AuditApi) -> None:
    for _ in range(5):
        api.get("/api/v1/media")
    first = api.get("/api/v1/audit", params={"limit": 2, "action": "GET /api/v1/media"}).json()
    second = api.get("/api/v1/audit", params={"limit": 2, "action": "GET /api/v1/media",
                                              "before": first["next_before"]}).json()  # fmt: skip
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 4
    assert api.get("/api/v1/audit", params={"outcome": "maybe"}).status_code == 422


def _refuse_audit_entries(api: AuditApi) -> None:
    if api.database_url.startswith("sqlite"):
        api.sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_entry "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END")  # fmt: skip
    else:
        api.sql("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused'; END $$")  # fmt: skip
        api.sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_entry "
                "FOR EACH ROW EXECUTE FUNCTION refuse()")  # fmt: skip


def test_a_read_that_cannot_be_audited_is_not_served(api: AuditApi) -> None:
    media = api.ingested(b"\x00secret footage" * 64)
    _refuse_audit_entries(api)
    refused = api.get(f"/api/v1/media/{media['id']}/original")
    assert refused.status_code == 503 and b"secret footage" not in refused.content
    assert "audit trail" in refused.json()["detail"]
    # A change is committed before its entry is written: it stands, and the failure counts.
    marked = api.client.put(f"/api/v1/media/{media['id']}/important", headers=api.auth(api.admin),
                            json={"important": True, "reason": "伤情证据"})  # fmt: skip
    assert marked.status_code == 200
    metrics = api.client.get("/metrics").text
    assert 'api_audit_failures_total{kind="read"} 1.0' in metrics
    assert 'api_audit_failures_total{kind="change"} 1.0' in metrics


def _tamper_edit(api: AuditApi) -> None:
    api.sql("UPDATE audit_entry SET actor = 'someone else' WHERE seq = 4")


def _tamper_delete(api: AuditApi) -> None:
    api.sql("DELETE FROM audit_entry WHERE seq = 4")


def _tamper_insert(api: AuditApi) -> None:
    # Make room at 4 and put a forged entry there, copying a neighbour's hashes.
    api.sql("UPDATE audit_entry SET seq = seq + 1000 WHERE seq >= 4")
    api.sql("UPDATE audit_entry SET seq = seq - 999 WHERE seq >= 1004")
    api.sql("INSERT INTO audit_entry (seq, at, actor, action, outcome, prev_hash, hash) "
            "SELECT 4, at, 'admin', 'GET /api/v1/media', 'ok', prev_hash, hash "
            "FROM audit_entry WHERE seq = 5")  # fmt: skip


def _tamper_reorder(api: AuditApi) -> None:
    api.sql("UPDATE audit_entry SET seq = -1 WHERE seq = 4")
    api.sql("UPDATE audit_entry SET seq = 4 WHERE seq = 5")
    api.sql("UPDATE audit_entry SET seq = 5 WHERE seq = -1")


@pytest.mark.parametrize(
    "tamper", [_tamper_edit, _tamper_delete, _tamper_insert, _tamper_reorder],
    ids=["edited", "deleted", "inserted", "reordered"],
)  # fmt: skip
def test_tampering_in_the_database_names_the_first_bad_entry(api: AuditApi, tamper: Any) -> None:
    for _ in range(8):
        api.get("/api/v1/media")
    before = api.verify()
    assert before["ok"] and before["first_bad"] is None and before["entries"] >= 8
    assert cli_verify(api.database_url).exit_code == 0

    tamper(api)
    after = api.verify()
    assert not after["ok"] and after["first_bad"] == 4, after
    result = cli_verify(api.database_url)
    assert result.exit_code == 1, result.output
    assert "第 4 条" in result.output


def test_the_chain_holds_with_many_processes_appending_at_once(pg_database_url: str) -> None:
    """Four processes, each appending 25 entries on its own connection, make one chain."""
    from storage.catalogue.db import upgrade

    upgrade(pg_database_url)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        numbers = pool.starmap(_append_many, [(pg_database_url, f"p{i}", 25) for i in range(4)])
    assert sorted(n for batch in numbers for n in batch) == list(range(1, 101))
    with session_scope(pg_database_url) as session:
        check = audit_repo.check(session)
    assert check.ok and check.entries == 100


def _append_many(database_url: str, name: str, count: int) -> list[int]:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    record = AuditRecord(actor=Actor(name=name), action="test.append", outcome=AuditOutcome.OK)
    numbers = [audit_repo.append_alone(factory, record) for _ in range(count)]
    engine.dispose()
    return numbers


def test_cutting_off_the_newest_entries_is_caught_against_the_signed_checkpoints(
    database_url: str, local_store_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "api.key"
    env = {"STATION_STORAGE_URL": local_store_url, "STATION_API_SIGNING_KEY_FILE": str(key_file)}
    settings = ApiSettings(
        database_url=database_url, storage_url=local_store_url, api_signing_key_file=key_file
    )
    from storage.catalogue.db import upgrade

    upgrade(database_url)
    with session_scope(database_url) as session:
        admin = create_token(session, role="admin", name="admin")
    with TestClient(create_app(settings)) as client:  # signs the head as it shuts down
        for _ in range(6):
            assert client.get("/api/v1/media", headers={"Authorization": f"Bearer {admin}"})
    store = open_store(local_store_url)
    assert len(list(store.list_keys(PREFIX))) == 1
    assert cli_verify(database_url, "--against-store", **env).exit_code == 0

    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq > 4"))
    engine.dispose()
    plain = cli_verify(database_url, **env)
    assert plain.exit_code == 0  # what is left still links
    sealed = cli_verify(database_url, "--against-store", **env)
    assert sealed.exit_code == 1 and "removed" in sealed.output, sealed.output
    # Only the api's own key is trusted: a key given instead finds the checkpoints unsigned.
    other = tmp_path / "other.pem"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from wire.signatures import public_pem

    other.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    untrusted = cli_verify(database_url, "--against-store", "--key", str(other), **env)
    assert untrusted.exit_code == 1 and "not a trusted key" in untrusted.output

    with TestClient(create_app(settings)) as client:
        body = client.get(
            "/api/v1/audit/verify", headers={"Authorization": f"Bearer {admin}"}
        ).json()
    assert not body["ok"] and body["first_bad"] == 5 and body["checkpoints"] >= 1
    # The api chains on past the cut (entries keep their numbers): the gap is named too.
    result = cli_verify(database_url, **env)
    assert result.exit_code == 1 and "entries 5 to 7 are missing" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_altered_checkpoint_does_not_hold(
    database_url: str, local_store_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "api.key"
    settings = ApiSettings(
        database_url=database_url, storage_url=local_store_url, api_signing_key_file=key_file
    )
    from storage.catalogue.db import upgrade

    upgrade(database_url)
    with session_scope(database_url) as session:
        create_token(session, role="admin", name="admin")
    with TestClient(create_app(settings)):
        pass
    store = open_store(local_store_url)
    (name,) = store.list_keys(PREFIX)
    path = Path(local_store_url.removeprefix("file://")) / name
    signed = json.loads(path.read_text())
    signed["payload"] = signed["payload"].replace('"seq":1', '"seq":9')
    path.chmod(0o644)
    path.write_text(json.dumps(signed))
    result = cli_verify(database_url, "--against-store", STATION_STORAGE_URL=local_store_url,
                        STATION_API_SIGNING_KEY_FILE=str(key_file))  # fmt: skip
    assert result.exit_code == 1 and "altered" in result.output, result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_public_keys_are_served_without_a_token(api: AuditApi) -> None:
    response = api.client.get("/api/v1/keys")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    public = load_key(ApiSettings().api_signing_key_file).public_key()
    assert key["key_id"] == key_id_of(public) and key["owner_kind"] == "api"
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert api.audit(action="GET /api/v1/keys") == []  # public, so not an access to audit
