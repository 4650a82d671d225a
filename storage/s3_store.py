"""The object store on any S3 server, through the minio SDK (`s3://`).

Only portable S3 calls are used (no MinIO extensions), and errors are matched by code.

How a stored original is proven to be the bytes that were hashed:

* up to `multipart_threshold` (32 MiB) one PUT carries `x-amz-checksum-sha256`; the server
  hashes what it receives and refuses a mismatch (BadDigest). That is proof only when the
  server says it checked: its response must echo the checksum (SeaweedFS 4.48 and AWS do).
  A server or proxy that ignores or strips the header echoes nothing, and the object is then
  read back and hashed; a mismatch removes it. The SDK holds the body in memory, hence the
  modest threshold.
* larger files go up in parts of `part_size` (16 MiB; the SDK holds about two parts). The
  SDK's public API cannot send per-part checksums (nor list them on completion, which S3
  requires once `x-amz-checksum-algorithm` is declared), so the file is hashed as the parts
  are read (a mismatch aborts the upload before it completes) and the completed object is
  read back and hashed; a mismatch removes it. The SigV4 payload hash is no proof: SeaweedFS
  4.48 accepts a body that does not match it.

Locks: the bucket is made with object lock (S3 turns versioning on with it). An original is
locked once stored (`protect`): retention in governance or compliance mode and a legal
hold, on its current version. The store then refuses to delete that version or shorten its
lock; a PUT to the key makes a new version and leaves the locked one as it was (fixity
then finds the key's bytes changed, and the locked version is still there to restore). A
bucket made without object lock cannot lock: `protect` logs so once and does nothing.
Turning governance into compliance takes the governance bypass, which the api's identity
must be allowed.

Every object carries `x-amz-meta-sha256`, the digest the station *meant* to store. It is
written when the upload starts, so it proves nothing: an upload that completed but was never
verified (a crash, a read-back cut off) carries it too. An object found under the key is
therefore accepted only when proven: a HEAD with `x-amz-checksum-mode: ENABLED` reports the
full-object checksum the server verified at upload (SeaweedFS 4.48 does for objects PUT with
`x-amz-checksum-sha256`, not for multipart ones), or else the object is read back and hashed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import MinioException, S3Error
from minio.helpers import md5sum_hash
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention
from minio.xml import marshal
from urllib3.response import BaseHTTPResponse

from rules.retention import Lock, LockMode, extended, hold_kept
from storage.durable import HASH_CHUNK, sha256_file
from storage.errors import ObjectNotFound, StorageError, StoredObjectMismatch
from storage.object_store import (
    DEFAULT_CONTENT_TYPE,
    STREAM_CHUNK,
    ObjectInfo,
    check_range,
    checked_sha256,
    key_parts,
)

log = logging.getLogger(__name__)

_MIB = 1024 * 1024
_META_SHA256 = "x-amz-meta-sha256"
_CHECKSUM_SHA256 = "x-amz-checksum-sha256"
# Asks HEAD/GET for the checksum the server stored with the object.
_CHECKSUM_MODE: dict[str, str | list[str] | tuple[str]] = {"x-amz-checksum-mode": "ENABLED"}
_BAD_CHECKSUM_CODES = frozenset({"BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest"})
# What GetObjectRetention and GetObjectLegalHold answer for a version without either
# (SeaweedFS 4.48 says the configuration is not found, or NoSuchObjectLegalHold; AWS says
# NoSuchObjectLockConfiguration).
_NO_RETENTION_CODES = frozenset(
    {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError",
     "NoSuchObjectLegalHold"}
)  # fmt: skip
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})
_CREDENTIAL_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
)


def default_http_client(
    *, connect_timeout: float = 5.0, read_timeout: float = 60.0, retries: int = 2
) -> urllib3.PoolManager:
    """A pool with short timeouts and few retries, so an outage fails in seconds, not minutes."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(
            total=retries,
            backoff_factor=0.2,
            status_forcelist=[500, 502, 503, 504],
        ),
    )


class S3Store:
    """Objects in one bucket of an S3 server; see the module docstring for verification."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str | None = None,
        multipart_threshold: int = 32 * _MIB,
        part_size: int = 16 * _MIB,
        http_client: urllib3.PoolManager | None = None,
    ) -> None:
        """Nothing is sent to the server until the first call, so the station can start
        while the store is down. The bucket is created on first use if missing."""
        if not 5 * _MIB <= part_size <= multipart_threshold <= 5 * 1024 * _MIB:
            raise ValueError(
                f"need 5 MiB <= part_size ({part_size}) <= multipart_threshold "
                f"({multipart_threshold}) <= 5 GiB, the limits of S3"
            )
        self.endpoint = endpoint
        self.bucket = bucket
        self._region = region
        self._multipart_threshold = multipart_threshold
        self._part_size = part_size
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http_client or default_http_client(),
        )
        self._bucket_ready = False
        self._object_lock: bool | None = None

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        """Open `s3://ACCESS:SECRET@HOST:PORT/BUCKET?secure=false&region=R`.

        Access and secret are percent-decoded (write `/` in a secret as `%2F`); `secure`
        defaults to true. Raises ValueError for a malformed URL.
        """
        parts = urlsplit(url)
        shown = f"s3://…@{parts.hostname}{parts.path}" if parts.hostname else "the s3:// URL"
        if parts.scheme != "s3":
            raise ValueError(f"{shown} must start with s3://")
        if not parts.username or not parts.password:
            raise ValueError(f"{shown} needs ACCESS:SECRET@ before the host")
        if not parts.hostname:
            raise ValueError(f"{shown} needs a host, s3://ACCESS:SECRET@HOST:PORT/BUCKET")
        bucket = parts.path.strip("/")
        if not bucket or "/" in bucket:
            raise ValueError(f"{shown} needs exactly one bucket name as its path")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(options) - {"secure", "region"}
        if unknown:
            raise ValueError(f"{shown} has unknown options {sorted(unknown)}; use secure, region")
        secure_text = options.get("secure", "true").lower()
        if secure_text not in ("true", "false", "1", "0"):
            raise ValueError(f"{shown}: secure must be true or false, not {secure_text!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"{shown} has an invalid port") from exc
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        return cls(
            f"{host}:{port}" if port else host,
            unquote(parts.username),
            unquote(parts.password),
            bucket,
            secure=secure_text in ("true", "1"),
            region=options.get("region") or None,
        )

    # -- the ObjectStore interface -------------------------------------------------------

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str | None,
        content_type: str,
        lock: Lock | None = None,
    ) -> str:
        """Upload `path` as `key` and prove the stored bytes hash to `sha256`; with `lock`,
        lock it so (`protect`), an object stored before included.

        With `sha256=None` (a derived file) the file is hashed first, so the server can
        check the upload against it, and an object already under the key is kept (as the
        local store does). Returns the stored object's SHA-256.

        Idempotent: an object already stored and proven to hold these bytes (see the module
        docstring) is left alone. Raises StoredObjectMismatch when the bytes do not hash to
        `sha256` (nothing is left under the key), when the key already holds other bytes,
        or when it holds an upload of ours that was never verified and proves wrong (it is
        removed, so a retry uploads afresh); StorageError when the server cannot be reached
        or refuses (the file stays staged and can be retried).
        """
        key_parts(key)
        derived = sha256 is None
        try:
            size = path.stat().st_size
            sha256 = sha256_file(path) if sha256 is None else checked_sha256(sha256)
        except OSError as exc:
            raise StorageError(f"cannot read {path} to store it as {key!r}: {exc}") from exc
        self._ensure_bucket(key)
        try:
            kept = self._proven_existing(key, size, None if derived else sha256)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "checking")
        if kept is not None:
            if lock is not None:
                current = self.lock_of(key)
                self._protect(key, hold_kept(current, lock), current)
            return kept
        try:
            # Locked as it is stored: no moment where the new original stands unlocked.
            if size <= self._multipart_threshold:
                self._put_single(key, path, size, sha256, content_type, lock)
            else:
                self._put_multipart(key, path, size, sha256, content_type, lock)
        except StorageError:
            raise
        except OSError as exc:
            raise StorageError(
                f"cannot read {path} to store it as {key!r}: {exc}; the file stays staged"
            ) from exc
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "storing")
        return sha256

    def stat(self, key: str) -> ObjectInfo:
        """Size, type and recorded SHA-256 of an object; raises ObjectNotFound."""
        key_parts(key)
        self._ensure_bucket(key)
        try:
            obj = self._client.stat_object(self.bucket, key)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "reading")
        recorded = _header(obj.metadata, _META_SHA256)
        return ObjectInfo(
            size=obj.size or 0,
            content_type=obj.content_type or DEFAULT_CONTENT_TYPE,
            sha256=recorded.lower() if recorded else None,
        )

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def check_reachable(self) -> None:
        try:
            found = self._client.bucket_exists(self.bucket)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, self.bucket, "reaching")
        if not found:
            raise StorageError(
                f"bucket {self.bucket!r} at {self.endpoint} does not exist (`station storage init`)"
            )

    def open_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream bytes from `start`, `length` of them or to the end, in chunks of 1 MiB.

        The request is made now (ObjectNotFound is raised here, not while iterating); the
        connection goes back to the pool when the iterator is exhausted, closed or dropped.
        A range starting at or past the end yields nothing.
        """
        key_parts(key)
        check_range(start, length)
        if length == 0:
            self.stat(key)
            return iter(())
        self._ensure_bucket(key)
        try:
            response = self._client.get_object(self.bucket, key, offset=start, length=length or 0)
        except S3Error as exc:
            if exc.code == "InvalidRange":  # the object exists, the range starts past its end
                return iter(())
            self._raise_translated(exc, key, "reading")
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "reading")
        return _ResponseStream(response, self._describe(key))

    def sha256_of(self, key: str) -> str:
        """Read the whole object back and return its hex SHA-256; raises ObjectNotFound."""
        digest = hashlib.sha256()
        for chunk in self._stream(key, HASH_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def lock_of(self, key: str) -> Lock | None:
        """The lock of the key's current version (None: none, or the bucket cannot lock)."""
        self.stat(key)
        if not self._lockable():
            return None
        try:
            try:
                retention = self._client.get_object_retention(self.bucket, key)
            except S3Error as exc:
                if exc.code not in _NO_RETENTION_CODES:
                    raise
                retention = None
            try:
                held = self._client.is_object_legal_hold_enabled(self.bucket, key)
            except S3Error as exc:
                if exc.code not in _NO_RETENTION_CODES:
                    raise
                held = False
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "reading the lock of")
        if retention is None or retention.mode is None or retention.retain_until_date is None:
            return (
                Lock(LockMode.GOVERNANCE, datetime.min.replace(tzinfo=UTC), held) if held else None
            )
        return Lock(LockMode(retention.mode.lower()), retention.retain_until_date, held)

    def protect(self, key: str, lock: Lock) -> None:
        self._protect(key, lock, self.lock_of(key))

    def _protect(self, key: str, lock: Lock, current: Lock | None) -> None:
        if not self._lockable():
            return
        new = extended(current, lock)
        try:
            moved = current is None or (new.mode, new.until) != (current.mode, current.until)
            # A retention that ended already locks nothing (and S3 refuses to set one).
            if moved and new.until > datetime.now(UTC):
                self._set_retention(key, new, bypass=current is not None
                                    and current.mode != new.mode)  # fmt: skip
            if current is None or new.legal_hold != current.legal_hold:
                if new.legal_hold:
                    self._client.enable_object_legal_hold(self.bucket, key)
                else:
                    self._client.disable_object_legal_hold(self.bucket, key)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "locking")

    def delete(self, key: str, *, bypass_governance: bool = False) -> None:
        """Remove the object, every version of it; raises ObjectNotFound when there is none,
        StorageError when the store refuses (a locked version; with `bypass_governance` a
        governance lock gives way, if this identity may bypass it)."""
        self.stat(key)
        try:
            versions = [
                v.version_id
                for v in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                if v.object_name == key
            ]
            for version in versions or [None]:
                if bypass_governance:
                    # The SDK has no bypass switch; this is its own request with the header.
                    self._client._execute(
                        "DELETE",
                        self.bucket,
                        object_name=key,
                        query_params={"versionId": version} if version else None,
                        headers={"x-amz-bypass-governance-retention": "true"},
                    )
                else:
                    self._client.remove_object(self.bucket, key, version_id=version)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "removing")

    def list_keys(self, prefix: str) -> Iterator[str]:
        """The keys under the folder `prefix`, in order (S3 lists by key)."""
        key_parts(prefix)
        self._ensure_bucket(prefix)
        try:
            return iter(
                [
                    obj.object_name
                    for obj in self._client.list_objects(
                        self.bucket, prefix=prefix + "/", recursive=True
                    )
                    if obj.object_name is not None
                ]
            )
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, prefix, "listing")

    # -- uploads -------------------------------------------------------------------------

    def _lock_args(self, lock: Lock | None) -> dict[str, Any]:
        """The SDK's put_object arguments that lock the object as it is stored."""
        if lock is None or not self._lockable():
            return {}
        args: dict[str, Any] = {"legal_hold": lock.legal_hold}
        if lock.until > datetime.now(UTC):  # a retention that ended locks nothing
            mode = COMPLIANCE if lock.mode == LockMode.COMPLIANCE else GOVERNANCE
            args["retention"] = Retention(mode, lock.until)
        return args

    def _put_single(
        self, key: str, path: Path, size: int, sha256: str, content_type: str, lock: Lock | None
    ) -> None:
        # The SDK sends one PUT with this body; the server checks it against the checksum.
        headers = _metadata(sha256)
        headers[_CHECKSUM_SHA256] = base64.b64encode(bytes.fromhex(sha256)).decode()
        try:
            with path.open("rb") as f:
                result = self._client.put_object(
                    self.bucket,
                    key,
                    f,
                    size,
                    content_type=content_type,
                    metadata=headers,  # x-amz-* keys are sent as they are
                    part_size=max(size, 5 * _MIB),
                    num_parallel_uploads=1,
                    **self._lock_args(lock),
                )
        except S3Error as exc:
            if exc.code in _BAD_CHECKSUM_CODES:
                raise StoredObjectMismatch(
                    f"{self._describe(key)} refused {path}: its bytes do not hash to {sha256} "
                    f"({exc.code}); nothing was stored, check the staged file and ingest it "
                    "again"
                ) from exc
            raise
        # The echo says the server hashed the body and found it equal; without it the header
        # may have been ignored or stripped on the way, and only reading back proves anything.
        if _full_object_sha256(result.http_headers, _CHECKSUM_SHA256) != sha256:
            self._verify_by_reading_back(key, path, sha256)

    def _put_multipart(
        self, key: str, path: Path, size: int, sha256: str, content_type: str, lock: Lock | None
    ) -> None:
        with path.open("rb") as f:
            reader = _HashingReader(f, size, sha256)
            try:
                self._client.put_object(
                    self.bucket,
                    key,
                    cast(BinaryIO, reader),
                    size,
                    content_type=content_type,
                    metadata=_metadata(sha256),
                    part_size=self._part_size,
                    # One part in flight; the SDK holds about two parts at a time.
                    num_parallel_uploads=1,
                    **self._lock_args(lock),
                )
            except _SourceMismatch as exc:
                # Raised on the last read, so the SDK aborted the upload before completing it.
                raise StoredObjectMismatch(
                    f"{path} hashes to {exc.actual}, not {sha256}; the upload of {key!r} was "
                    "aborted and nothing was stored, check the staged file and ingest it again"
                ) from exc
        self._verify_by_reading_back(key, path, sha256)

    def _verify_by_reading_back(self, key: str, path: Path, sha256: str) -> None:
        """Hash the object just uploaded; remove it and raise StoredObjectMismatch if wrong.

        A read-back that fails (StorageError) leaves the object unverified; the next put of
        the same key proves or refuses it in `_proven_existing`.
        """
        stored = self.sha256_of(key)
        if stored != sha256:
            self._remove_quietly(key)
            raise StoredObjectMismatch(
                f"{self._describe(key)} holds bytes hashing to {stored} after uploading {path} "
                f"({sha256}); the object was removed, retry the upload"
            )

    def _proven_existing(self, key: str, size: int, sha256: str | None) -> str | None:
        """The proven SHA-256 of an object already under `key` that is to be kept, or None.

        `sha256=None` (a derived file) keeps whatever is there. The `x-amz-meta-sha256` tag
        only says what an upload meant to store: a match is proven by the server's stored
        checksum (one HEAD) or by reading the object back. Raises StoredObjectMismatch when
        the object holds other bytes; when its tag shows it was our own upload of the
        expected bytes that was never verified, it is removed so a retry can upload afresh.
        """
        try:
            obj = self._client.stat_object(self.bucket, key, extra_headers=_CHECKSUM_MODE)
        except S3Error as exc:
            if exc.code in _MISSING_CODES:
                return None
            raise
        recorded = _header(obj.metadata, _META_SHA256)
        expected = sha256 or (recorded.lower() if recorded else None)
        found = f"{obj.size} bytes"
        if sha256 is None or obj.size == size:  # a different size cannot hold these bytes
            if expected is not None and _full_object_sha256(obj.metadata) == expected:
                return expected
            actual = self.sha256_of(key)
            if expected is None or actual == expected:
                return actual
            found = f"{obj.size} bytes hashing to {actual}"
        if recorded is not None and recorded.lower() == expected:
            # Tagged as these bytes but holding others: an upload cut off before its
            # verification (or damaged since). It is no copy of anything: make room for one.
            self._remove_quietly(key)
            raise StoredObjectMismatch(
                f"{self._describe(key)} held an object recorded as {expected} but with "
                f"{found}, an upload never verified or damaged since; it was removed, "
                "retry the upload"
            )
        raise StoredObjectMismatch(
            f"{self._describe(key)} already holds {found} (recorded SHA-256 {recorded}), "
            f"not {size} bytes with {sha256}; stored evidence is never overwritten, "
            "investigate before retrying"
        )

    # -- setting up and proving the store ------------------------------------------------

    def initialise(self, default_lock: timedelta) -> str:
        """Make the bucket with object lock if it is missing, and set its default retention
        (governance, `default_lock`) so that an object stored without a lock of its own is
        still kept; what was done, in words. Raises StorageError for a bucket that exists
        without object lock (S3 cannot add it later: make a new bucket)."""
        try:
            made = not self._client.bucket_exists(self.bucket)
            if made:
                self._client.make_bucket(self.bucket, location=self._region, object_lock=True)
            self._bucket_ready = True
            self._object_lock = None
            if not self._lockable():
                raise StorageError(
                    f"bucket {self.bucket!r} at {self.endpoint} exists without object lock, "
                    "which S3 cannot add to a bucket later: make a new bucket (a new name in "
                    "STATION_STORAGE_URL) and run `station storage init` again"
                )
            days = max(1, round(default_lock / timedelta(days=1)))
            self._client.set_object_lock_config(
                self.bucket, ObjectLockConfig(GOVERNANCE, days, DAYS)
            )
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, self.bucket, "setting up")
        return (
            f"{'made' if made else 'found'} bucket {self.bucket!r} at {self.endpoint} with object "
            f"lock; default retention: governance, {days} days"
        )

    def raw_client(self) -> Minio:
        """The S3 client itself, for proofs against the server (storage/worm_check.py) that
        must do what this store never would."""
        return self._client

    # -- plumbing ------------------------------------------------------------------------

    def _lockable(self) -> bool:
        """Whether the bucket has object lock (asked once)."""
        if self._object_lock is None:
            try:
                self._client.get_object_lock_config(self.bucket)
                self._object_lock = True
            except S3Error as exc:
                if exc.code != "ObjectLockConfigurationNotFoundError":
                    self._raise_translated(exc, self.bucket, "reading the object lock of")
                log.warning(
                    "bucket %r at %s has no object lock: originals cannot be locked there; "
                    "make the evidence bucket with object lock (`station storage init`)",
                    self.bucket,
                    self.endpoint,
                )
                self._object_lock = False
            except (MinioException, urllib3.exceptions.HTTPError) as exc:
                self._raise_translated(exc, self.bucket, "reading the object lock of")
        return self._object_lock

    def _set_retention(self, key: str, lock: Lock, *, bypass: bool) -> None:
        retention = Retention(
            COMPLIANCE if lock.mode == LockMode.COMPLIANCE else GOVERNANCE, lock.until
        )
        if not bypass:
            self._client.set_object_retention(self.bucket, key, retention)
            return
        # The SDK has no bypass switch; this is its own request with the header added.
        body = marshal(retention)
        self._client._execute(
            "PUT",
            self.bucket,
            object_name=key,
            body=body,
            headers={
                "Content-MD5": md5sum_hash(body) or "",
                "x-amz-bypass-governance-retention": "true",
            },
            query_params={"retention": ""},
        )

    def _ensure_bucket(self, key: str) -> None:
        if self._bucket_ready:
            return
        try:
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket, location=self._region, object_lock=True)
                except S3Error as exc:
                    # Another station or process created it meanwhile.
                    taken = exc.code == "BucketAlreadyExists"
                    if not (
                        exc.code == "BucketAlreadyOwnedByYou"
                        or (taken and self._client.bucket_exists(self.bucket))
                    ):
                        raise
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "opening the bucket for")
        self._bucket_ready = True

    def _stream(self, key: str, chunk_size: int) -> Iterator[bytes]:
        key_parts(key)
        self._ensure_bucket(key)
        try:
            response = self._client.get_object(self.bucket, key)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            self._raise_translated(exc, key, "reading")
        return _ResponseStream(response, self._describe(key), chunk_size)

    def _remove_quietly(self, key: str) -> None:
        # The caller raises the mismatch, which matters more than a failed clean-up.
        with contextlib.suppress(MinioException, urllib3.exceptions.HTTPError):
            self._client.remove_object(self.bucket, key)

    def _describe(self, key: str) -> str:
        return f"object {key!r} in bucket {self.bucket!r} at {self.endpoint}"

    def _raise_translated(self, exc: Exception, key: str, doing: str) -> NoReturn:
        """Turn a minio or urllib3 error into our tree, with what to do about it."""
        where = f"{key!r} in bucket {self.bucket!r}"
        if isinstance(exc, S3Error):
            if exc.code in _MISSING_CODES:
                raise ObjectNotFound(f"no object {where} at {self.endpoint}") from exc
            if exc.code == "NoSuchBucket":
                self._bucket_ready = False
                raise StorageError(
                    f"bucket {self.bucket!r} does not exist at {self.endpoint} while "
                    f"{doing} {key!r}; check STATION_STORAGE_URL (files stay staged)"
                ) from exc
            if exc.code in _CREDENTIAL_CODES:
                raise StorageError(
                    f"object store at {self.endpoint} refused our credentials ({exc.code}) "
                    f"while {doing} {where}; check the access and secret key in "
                    "STATION_STORAGE_URL and the identity's permissions"
                ) from exc
            raise StorageError(
                f"object store at {self.endpoint} failed while {doing} {where}: "
                f"{exc.code} {exc.message}; files stay staged and will be retried"
            ) from exc
        if isinstance(exc, urllib3.exceptions.HTTPError):
            reason = getattr(exc, "reason", None) or exc
            raise StorageError(
                f"object store at {self.endpoint} unreachable while {doing} {where} "
                f"({reason}); files stay staged and will be retried"
            ) from exc
        raise StorageError(
            f"object store at {self.endpoint} failed while {doing} {where}: {exc}; "
            "files stay staged and will be retried"
        ) from exc


class _SourceMismatch(Exception):
    def __init__(self, actual: str) -> None:
        super().__init__(actual)
        self.actual = actual


class _HashingReader:
    """Reads a file for the SDK, hashing as it goes; raises on the last read if the hash is wrong.

    Raising inside the SDK's read makes it abort the multipart upload before completing
    it, so a file that does not match never becomes an object.
    """

    def __init__(self, f: BinaryIO, size: int, expected: str) -> None:
        self._f = f
        self._left = size
        self._expected = expected
        self._digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        want = self._left if n < 0 else min(n, self._left)
        chunk = self._f.read(want) if want else b""
        self._digest.update(chunk)
        self._left -= len(chunk)
        if self._left == 0 and want:
            actual = self._digest.hexdigest()
            if actual != self._expected:
                raise _SourceMismatch(actual)
        return chunk


class _ResponseStream:
    """Iterator over an S3 GET body; releases the connection when done, closed or dropped."""

    def __init__(self, response: BaseHTTPResponse, what: str, chunk_size: int = STREAM_CHUNK):
        self._response: BaseHTTPResponse | None = response
        # decode_content=False: evidence is streamed as stored, never decompressed.
        self._chunks = response.stream(chunk_size, decode_content=False)
        self._what = what

    def __iter__(self) -> _ResponseStream:
        return self

    def __next__(self) -> bytes:
        if self._response is None:
            raise StopIteration
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self.close()
            raise StorageError(f"reading {self._what} was interrupted ({exc}); try again") from exc

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response.release_conn()
            self._response = None

    def __del__(self) -> None:
        self.close()


def _metadata(sha256: str) -> dict[str, str | list[str] | tuple[str]]:
    """Headers for put_object's `metadata`: the SDK sends x-amz-* keys unchanged."""
    return {_META_SHA256: sha256}


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A response header by name, whatever its case (the SDK passes several mapping types)."""
    return next(
        (str(v) for k, v in (headers or {}).items() if k.lower() == name and v is not None),
        None,
    )


def _full_object_sha256(
    headers: Mapping[str, Any] | None, name: str = _CHECKSUM_SHA256
) -> str | None:
    """The hex SHA-256 a server reports for a whole object, or None.

    None when absent or not a whole-object digest: a multipart "composite" checksum is
    written `<base64>-<parts>` and is a hash of part hashes, which proves nothing here.
    """
    value = _header(headers, name)
    if value is None:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        return None
    return digest.hex() if len(digest) == 32 else None
