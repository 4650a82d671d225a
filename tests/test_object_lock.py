"""Object lock: the store itself refuses to delete or overwrite a locked original, or to
shorten its lock; the api keeps each original's lock in step with its class (governance,
compliance once permanent) and mirrors legal holds. Against SeaweedFS's S3 and the local
store."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio.commonconfig import GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention

from rules.retention import (
    DEFAULT_RETENTION,
    Keeping,
    Lock,
    LockMode,
    extended,
    lock_time,
    next_lock,
)
from storage.errors import StorageError
from storage.local_store import LocalStore
from storage.object_store import ObjectStore, open_store, original_key
from storage.s3_store import S3Store
from tests.fixtures_s3 import SeaweedFS
from tests.test_api_media import Api, serve_api

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_a_lock_is_extended_never_shortened_or_weakened() -> None:
    gov = Lock(LockMode.GOVERNANCE, NOW + timedelta(days=10), legal_hold=False)
    assert extended(gov, Lock(LockMode.GOVERNANCE, NOW, False)) == gov
    stricter = extended(gov, Lock(LockMode.COMPLIANCE, NOW + timedelta(days=1), True))
    assert stricter == Lock(LockMode.COMPLIANCE, NOW + timedelta(days=10), True)
    assert extended(stricter, gov).mode == LockMode.COMPLIANCE


def test_the_lock_follows_the_class_and_the_hold() -> None:
    until = NOW + DEFAULT_RETENTION
    default = Keeping(retention_until=until, legal_hold=False, in_case=False)
    assert next_lock(None, default, NOW) == Lock(LockMode.GOVERNANCE, until, False)
    assert next_lock(Lock(LockMode.GOVERNANCE, until, False), default, NOW) is None
    permanent = next_lock(Lock(LockMode.GOVERNANCE, until, False),
                          Keeping(None, legal_hold=True, in_case=True), NOW)  # fmt: skip
    assert permanent is not None and permanent.mode == LockMode.COMPLIANCE
    assert permanent.legal_hold and permanent.until > NOW + timedelta(days=365 * 49)
    # Renewed only once half of it has run; back in the default class it stays compliance.
    assert next_lock(permanent, Keeping(None, legal_hold=True, in_case=True), NOW) is None
    lifted = next_lock(permanent, default, NOW)
    assert lifted == Lock(LockMode.COMPLIANCE, permanent.until, False)


def _stored(store: ObjectStore, tmp_path: Path, data: bytes, lock: Lock | None) -> str:
    import hashlib

    sha256 = hashlib.sha256(data).hexdigest()
    path = tmp_path / sha256
    path.write_bytes(data)
    store.put_file(original_key(sha256), path, sha256=sha256, content_type="video/mp4",
                   lock=lock)  # fmt: skip
    return original_key(sha256)


def test_the_local_store_refuses_to_delete_a_locked_original(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    soon = datetime.now(UTC) + timedelta(days=1)
    key = _stored(store, tmp_path, b"evidence", Lock(LockMode.GOVERNANCE, soon, False))
    with pytest.raises(StorageError, match="locked until"):
        store.delete(key)
    store.protect(key, Lock(LockMode.GOVERNANCE, datetime.now(UTC) - timedelta(days=9), False))
    assert store.lock_of(key) == Lock(LockMode.GOVERNANCE, soon, False)  # not shortened
    assert not (store.root / key).stat().st_mode & 0o222  # read-only on disk
    held = _stored(store, tmp_path, b"held", Lock(LockMode.GOVERNANCE, NOW, legal_hold=True))
    with pytest.raises(StorageError, match="legal hold"):
        store.delete(held)  # its time is over, its hold is not
    store.protect(held, Lock(LockMode.GOVERNANCE, NOW, legal_hold=False))
    store.delete(held)
    assert not store.exists(held)


@pytest.fixture
def s3(s3_store_url: str) -> S3Store:
    store = open_store(s3_store_url)
    assert isinstance(store, S3Store)
    return store


def test_seaweedfs_refuses_to_delete_overwrite_or_shorten_a_locked_original(
    s3: S3Store, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    until = datetime.now(UTC) + timedelta(days=1)
    key = _stored(s3, tmp_path, b"original bytes", Lock(LockMode.GOVERNANCE, until, False))
    raw = seaweedfs.raw_client()
    (version,) = [v.version_id for v in raw.list_objects(s3.bucket, prefix=key,
                                                         include_version=True)]  # fmt: skip
    with pytest.raises(S3Error) as refused:
        raw.remove_object(s3.bucket, key, version_id=version)
    assert refused.value.code == "AccessDenied"
    with pytest.raises(S3Error) as refused:
        raw.set_object_retention(s3.bucket, key, Retention(GOVERNANCE, until - timedelta(hours=1)),
                                 version_id=version)  # fmt: skip
    assert refused.value.code == "AccessDenied"
    with pytest.raises(StorageError, match="AccessDenied"):
        s3.delete(key)  # our own deletion (of every version) is refused as well

    # A PUT over it makes a new version; the locked one is exactly as it was.
    raw.put_object(s3.bucket, key, io.BytesIO(b"forged bytes!!"), 14)
    assert raw.get_object(s3.bucket, key, version_id=version).read() == b"original bytes"
    assert s3.sha256_of(key) != key.rsplit("/", 1)[1]  # and fixity sees the key changed

    # Compliance: not even the governance bypass of an admin identity lifts it.
    compliant = _stored(s3, tmp_path, b"permanent", Lock(LockMode.GOVERNANCE, until, False))
    s3.protect(compliant, Lock(LockMode.COMPLIANCE, until + timedelta(days=1), legal_hold=True))
    lock = s3.lock_of(compliant)
    assert lock is not None and lock.mode == LockMode.COMPLIANCE and lock.legal_hold
    s3.protect(compliant, Lock(LockMode.COMPLIANCE, until + timedelta(days=1), legal_hold=False))
    with pytest.raises(StorageError):
        s3.delete(compliant)


def test_a_bucket_without_object_lock_stores_but_cannot_lock(
    seaweedfs: SeaweedFS, s3_store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(s3_store_url)
    assert isinstance(store, S3Store)
    seaweedfs.raw_client().make_bucket(store.bucket)  # made by someone else, without lock
    key = _stored(store, tmp_path, b"bytes", Lock(LockMode.GOVERNANCE, NOW, False))
    assert store.lock_of(key) is None
    assert "has no object lock" in caplog.text


@pytest.fixture
def api(database_url: str, s3_store_url: str, tmp_path: Path) -> Iterator[Api]:
    yield from serve_api(Api, database_url, s3_store_url, tmp_path)


def test_the_api_keeps_each_original_locked_as_its_class_and_hold_say(api: Api) -> None:
    media = api.ingested(recorded_start=datetime.now(UTC) - timedelta(days=1))
    key = original_key(media["sha256"])
    admin = api.auth(api.admin)
    held = api.client.put(f"/api/v1/media/{media['id']}/hold", headers=admin,
                          json={"hold": True, "reason": "复议期间"})  # fmt: skip
    assert held.status_code == 200
    lock = api.store.lock_of(key)
    assert lock is not None and lock.mode == LockMode.GOVERNANCE and lock.legal_hold
    until = lock.until
    assert until == lock_time(datetime.fromisoformat(media["retention_until"]))

    api.client.put("/api/v1/cases/C-1", headers=admin,
                   json={"title": "t", "unit_id": "U1", "events": []})  # fmt: skip
    api.client.post("/api/v1/cases/C-1/media", headers=admin,
                    json={"media_ids": [media["id"]], "reason": "证据"})  # fmt: skip
    lock = api.store.lock_of(key)
    assert lock is not None and lock.mode == LockMode.COMPLIANCE and lock.until > until

    api.client.put(f"/api/v1/media/{media['id']}/hold", headers=admin,
                   json={"hold": False, "reason": "复议结束"})  # fmt: skip
    lifted = api.store.lock_of(key)
    assert lifted is not None and not lifted.legal_hold and lifted.mode == LockMode.COMPLIANCE


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_storing_an_original_again_never_lifts_its_hold(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: ObjectStore = (
        LocalStore(tmp_path / "objects") if kind == "local" else request.getfixturevalue("s3")
    )
    soon = datetime.now(UTC) + timedelta(days=1)
    key = _stored(store, tmp_path, b"held original", Lock(LockMode.GOVERNANCE, soon, True))
    # The same bytes again (a retried upload, another dock), with the upload's lock.
    _stored(store, tmp_path, b"held original", Lock(LockMode.GOVERNANCE, soon, False))
    lock = store.lock_of(key)
    assert lock is not None and lock.legal_hold


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_an_approved_early_deletion_lifts_a_governance_lock_not_a_compliance_one(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: ObjectStore = (
        LocalStore(tmp_path / "objects") if kind == "local" else request.getfixturevalue("s3")
    )
    soon = datetime.now(UTC) + timedelta(days=1)
    governed = _stored(store, tmp_path, b"default class", Lock(LockMode.GOVERNANCE, soon, False))
    with pytest.raises(StorageError):
        store.delete(governed)
    store.delete(governed, bypass_governance=True)
    assert not store.exists(governed)
    kept = _stored(store, tmp_path, b"evidence", Lock(LockMode.COMPLIANCE, soon, False))
    with pytest.raises(StorageError):
        store.delete(kept, bypass_governance=True)
    assert store.exists(kept)
