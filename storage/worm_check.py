"""Proof against the live S3 store that evidence there is write-once (`station storage
verify-worm`): a probe object is stored locked, and the store must refuse to delete it,
to shorten its retention, and to take bytes that do not match their checksum; writing over
its key must leave the locked bytes as they were; and ranged reads must answer exactly the
bytes asked for.

The probe (`worm-check/…`, a few hundred bytes) is locked in governance mode for a day,
since a compliance lock could never be lifted. It is removed with the governance bypass
when this identity may use it; otherwise it stays until its lock runs out, which the
report says.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from minio import Minio
from minio.commonconfig import GOVERNANCE
from minio.error import MinioException, S3Error
from minio.retention import Retention

from rules.retention import Lock, LockMode
from storage.errors import StorageError
from storage.s3_store import S3Store

PROBE_PREFIX = "worm-check/"
PROBE_LOCK = timedelta(days=1)


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


def verify_worm(store: S3Store, work: Path, *, now: datetime | None = None) -> list[Finding]:
    """Every check, in order, against a new probe object; `work` holds the probe's file.
    Raises StorageError when the probe itself cannot be stored (nothing can be proved)."""
    now = now or datetime.now(UTC)
    key = f"{PROBE_PREFIX}{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    body = b"worm probe " + secrets.token_bytes(256)
    digest = hashlib.sha256(body).hexdigest()
    probe = work / "worm-probe"
    probe.write_bytes(body)
    until = now + PROBE_LOCK
    store.put_file(key, probe, sha256=digest, content_type="application/octet-stream",
                   lock=Lock(LockMode.GOVERNANCE, until, legal_hold=False))  # fmt: skip
    client = store.raw_client()
    findings = [
        _check("locked", lambda: _locked(store, key, until)),
        _check("delete refused", lambda: _delete_refused(store, key)),
        _check("retention not shortened", lambda: _shortening_refused(client, store, key, now)),
        _check("range reads exact", lambda: _ranges_exact(store, key, body)),
        _check("wrong checksum refused", lambda: _bad_checksum_refused(client, store.bucket)),
        # Last: writing over the key makes its current version another one.
        _check(
            "overwrite keeps the locked bytes", lambda: _overwrite_kept(client, store, key, body)
        ),
    ]
    findings.append(_check("probe removed", lambda: _remove_probe(store, key, until)))
    return findings


def _check(name: str, run: Callable[[], str]) -> Finding:
    try:
        return Finding(name, True, run())
    except _Failed as exc:
        return Finding(name, False, str(exc))
    except (StorageError, MinioException, OSError) as exc:
        return Finding(name, False, f"the store could not be asked: {exc}")


class _Failed(Exception):
    """A check found the store letting evidence change."""


def _locked(store: S3Store, key: str, until: datetime) -> str:
    lock = store.lock_of(key)
    if lock is None or lock.until < until - timedelta(seconds=1):
        raise _Failed(f"the probe was stored without its lock (read back: {lock}); "
                      "is object lock on for this bucket? (`station storage init`)")  # fmt: skip
    return f"{lock.mode.value} until {lock.until.isoformat()}"


def _delete_refused(store: S3Store, key: str) -> str:
    try:
        store.delete(key)
    except StorageError as exc:
        if store.exists(key):
            return f"refused: {exc}"
        raise _Failed(f"the delete failed but the probe is gone: {exc}") from exc
    raise _Failed("the store deleted a locked object")


def _shortening_refused(client: Minio, store: S3Store, key: str, now: datetime) -> str:
    try:
        client.set_object_retention(
            store.bucket, key, Retention(GOVERNANCE, now + timedelta(minutes=5))
        )
    except S3Error as exc:
        return f"refused: {exc.code}"
    raise _Failed("the store shortened a locked object's retention")


def _overwrite_kept(client: Minio, store: S3Store, key: str, body: bytes) -> str:
    other = b"not the evidence"
    try:
        client.put_object(store.bucket, key, io.BytesIO(other), len(other))
    except S3Error as exc:
        return f"refused: {exc.code}"
    versions = [
        v for v in client.list_objects(store.bucket, prefix=key, include_version=True)
        if v.object_name == key
    ]  # fmt: skip
    for version in versions:
        response = client.get_object(store.bucket, key, version_id=version.version_id)
        try:
            if response.read() == body:
                return (
                    f"the write made a new version; the locked one ({version.version_id}) is intact"
                )
        finally:
            response.close()
            response.release_conn()
    raise _Failed("writing over the key replaced the locked bytes")


def _bad_checksum_refused(client: Minio, bucket: str) -> str:
    key = f"{PROBE_PREFIX}bad-checksum-{secrets.token_hex(4)}"
    body = b"these bytes do not match their checksum"
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
    try:
        client.put_object(bucket, key, io.BytesIO(body), len(body),
                          metadata={"x-amz-checksum-sha256": wrong})  # fmt: skip
    except S3Error as exc:
        return f"refused: {exc.code}"
    client.remove_object(bucket, key)
    raise _Failed("the store took bytes whose SHA-256 checksum did not match")


def _ranges_exact(store: S3Store, key: str, body: bytes) -> str:
    for start, length in ((0, 1), (7, 64), (len(body) - 5, 5)):
        got = b"".join(store.open_range(key, start, length))
        if got != body[start : start + length]:
            raise _Failed(f"bytes {start}+{length} came back as {len(got)} other bytes")
    return "3 ranges answered byte-exact"


def _remove_probe(store: S3Store, key: str, until: datetime) -> str:
    try:
        store.delete(key, bypass_governance=True)
    except StorageError:
        return (f"this identity may not bypass governance: the probe {key} stays until "
                f"{until.isoformat()}")  # fmt: skip
    return f"removed {key} with the governance bypass"
