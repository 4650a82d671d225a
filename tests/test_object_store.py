"""The object store keeps originals bit-exact: the same tests run on the local folder and on S3."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import stat
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3
from urllib3.response import BaseHTTPResponse

from storage.errors import ObjectNotFound, StorageError, StoredObjectMismatch
from storage.local_store import LocalStore
from storage.object_store import ObjectStore, open_store, original_key
from storage.s3_store import S3Store
from tests.fixtures_s3 import SeaweedFS, _free_ports

MiB = 1024 * 1024


def _write_random(path: Path, size: int) -> str:
    """Write `size` random bytes in 4 MiB chunks; return their hex SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MiB))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _sha256_stream(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@pytest.fixture
def store(store_url: str) -> ObjectStore:
    return open_store(store_url)


def test_round_trip_is_bit_exact(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, 3 * MiB + 17)
    key = original_key(sha)

    store.put_file(key, source, sha256=sha, content_type="video/mp4")

    info = store.stat(key)
    assert (info.size, info.content_type, info.sha256) == (3 * MiB + 17, "video/mp4", sha)
    assert store.exists(key)
    assert store.sha256_of(key) == sha
    assert b"".join(store.open_range(key)) == source.read_bytes()


def test_empty_file_round_trips(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "empty.bin"
    sha = _write_random(source, 0)
    store.put_file(original_key(sha), source, sha256=sha, content_type="application/octet-stream")
    assert store.stat(original_key(sha)).size == 0
    assert list(store.open_range(original_key(sha))) == []


def test_repeated_put_leaves_the_stored_object_alone(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, MiB)
    original = source.read_bytes()
    key = original_key(sha)
    store.put_file(key, source, sha256=sha, content_type="video/mp4")

    # Same size, other bytes: a store that re-sent the file would now fail its check.
    source.unlink()
    source.write_bytes(os.urandom(MiB))
    store.put_file(key, source, sha256=sha, content_type="video/mp4")

    assert b"".join(store.open_range(key)) == original


def test_wrong_sha256_is_refused_and_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, MiB)
    claimed = hashlib.sha256(b"something else").hexdigest()

    with pytest.raises(StoredObjectMismatch, match="nothing was stored"):
        store.put_file(original_key(claimed), source, sha256=claimed, content_type="video/mp4")

    assert not store.exists(original_key(claimed))
    with pytest.raises(ObjectNotFound):
        store.stat(original_key(claimed))
    # Nothing half-stored blocks the right file afterwards.
    store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")
    assert store.sha256_of(original_key(sha)) == sha


def test_stored_evidence_is_never_overwritten(store: ObjectStore, tmp_path: Path) -> None:
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    first_sha = _write_random(first, 1000)
    second_sha = _write_random(second, 1000)
    store.put_file("proxies/a.mp4", first, sha256=first_sha, content_type="video/mp4")

    with pytest.raises(StoredObjectMismatch, match="never overwritten"):
        store.put_file("proxies/a.mp4", second, sha256=second_sha, content_type="video/mp4")

    assert store.sha256_of("proxies/a.mp4") == first_sha


def test_large_file_round_trips_in_bounded_memory(store: ObjectStore, tmp_path: Path) -> None:
    # 80 MB crosses the S3 multipart threshold (32 MiB); parts are 16 MiB, two in memory.
    size = 80_000_000
    source = tmp_path / "long.mp4"
    sha = _write_random(source, size)
    key = original_key(sha)

    tracemalloc.start()
    try:
        store.put_file(key, source, sha256=sha, content_type="video/mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 40 * MiB, f"put_file held {peak / MiB:.0f} MiB for an 80 MB file"
    assert store.stat(key).size == size
    assert _sha256_stream(store.open_range(key)) == (sha, size)


@pytest.mark.parametrize(
    ("start", "length", "expected"),
    [
        (0, None, slice(0, None)),
        (10, 100, slice(10, 110)),
        (MiB - 1, 3, slice(MiB - 1, MiB + 2)),
        (2 * MiB, None, slice(2 * MiB, None)),
        (2 * MiB + 50, 500, slice(2 * MiB + 50, 2 * MiB + 100)),  # clipped at the end
        (2 * MiB + 100, None, slice(0, 0)),  # at the end
        (3 * MiB, 10, slice(0, 0)),  # past the end
        (5, 0, slice(0, 0)),
    ],
)
def test_open_range_returns_exactly_the_requested_bytes(
    store: ObjectStore, tmp_path: Path, start: int, length: int | None, expected: slice
) -> None:
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, 2 * MiB + 100)
    store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")

    chunks = list(store.open_range(original_key(sha), start, length))

    assert b"".join(chunks) == source.read_bytes()[expected]
    assert all(len(chunk) <= MiB for chunk in chunks)


def test_a_missing_object_raises_object_not_found(store: ObjectStore) -> None:
    key = original_key("0" * 64)
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.stat(key)
    with pytest.raises(ObjectNotFound):
        store.open_range(key)
    with pytest.raises(ObjectNotFound):
        store.sha256_of(key)


def test_a_key_naming_a_folder_is_not_an_object(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, 10)
    store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")
    assert not store.exists("originals")
    with pytest.raises(ObjectNotFound):
        store.stat("originals")
    with pytest.raises(ObjectNotFound):
        store.open_range("originals")


@pytest.mark.parametrize("key", ["", "/abs", "../up", "a/../b", "a//b", "a/", ".meta/x", "a\\b"])
def test_keys_that_could_escape_are_rejected(store: ObjectStore, tmp_path: Path, key: str) -> None:
    source = tmp_path / "x"
    sha = _write_random(source, 10)
    with pytest.raises(ValueError, match="not allowed"):
        store.put_file(key, source, sha256=sha, content_type="video/mp4")


# -- local folder --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["file://relative/path", "file://", "file:///", "file:"])
def test_local_store_needs_an_absolute_folder(url: str) -> None:
    with pytest.raises(ValueError, match="file:///"):
        LocalStore.from_url(url)


def test_local_originals_are_read_only_and_hard_linked(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, 1000)
    store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")

    stored = tmp_path / "objects" / "originals" / sha
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    assert stored.stat().st_ino == source.stat().st_ino


def test_local_store_copies_across_file_systems(tmp_path: Path) -> None:
    if not os.access("/dev/shm", os.W_OK) or os.stat("/dev/shm").st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the tmp folder")
    store = LocalStore(tmp_path / "objects")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        source = Path(other) / "clip.mp4"
        sha = _write_random(source, 3 * MiB)
        store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")
    stored = tmp_path / "objects" / "originals" / sha
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    assert store.sha256_of(original_key(sha)) == sha


def test_local_mismatch_leaves_no_file_behind(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects", hardlink=False)
    source = tmp_path / "clip.mp4"
    _write_random(source, 1000)
    claimed = "ab" * 32
    with pytest.raises(StoredObjectMismatch):
        store.put_file(original_key(claimed), source, sha256=claimed, content_type="video/mp4")
    assert [p for p in (tmp_path / "objects").rglob("*") if p.is_file()] == []


# -- S3 ------------------------------------------------------------------------------------


def test_s3_url_is_parsed_and_decoded() -> None:
    store = S3Store.from_url("s3://AK%2B1:se%2Fcret@minio.local:9000/evidence?secure=false")
    assert (store.endpoint, store.bucket) == ("minio.local:9000", "evidence")
    with pytest.raises(ValueError, match="bucket"):
        S3Store.from_url("s3://a:b@host:9000/")
    with pytest.raises(ValueError, match="unknown options"):
        S3Store.from_url("s3://a:b@host:9000/bucket?secur=false")


def test_unreachable_s3_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    port = _free_ports(1)[0]  # nothing listens there
    store = open_store(f"s3://a:b@127.0.0.1:{port}/evidence?secure=false")
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, 1000)

    began = time.monotonic()
    with pytest.raises(StorageError, match=f"127.0.0.1:{port} unreachable.*stay staged"):
        store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")
    assert time.monotonic() - began < 5


def test_s3_wrong_credentials_say_so(seaweedfs: SeaweedFS) -> None:
    store = S3Store(seaweedfs.endpoint, seaweedfs.access_key, "wrong", "evidence", secure=False)
    with pytest.raises(StorageError, match="credentials"):
        store.exists("originals/x")


def test_s3_multipart_with_wrong_sha256_is_aborted(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    store = S3Store(
        seaweedfs.endpoint,
        seaweedfs.access_key,
        seaweedfs.secret_key,
        "multipart-mismatch",
        secure=False,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
    )
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, 12 * MiB)
    claimed = "cd" * 32

    with pytest.raises(StoredObjectMismatch, match="aborted"):
        store.put_file(original_key(claimed), source, sha256=claimed, content_type="video/mp4")

    assert not store.exists(original_key(claimed))
    store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")
    assert store.stat(original_key(sha)).sha256 == sha


def test_derived_file_digest_is_computed_by_the_store(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "proxy.mp4"
    sha = _write_random(source, 2 * MiB + 5)
    key = "proxies/" + "ab" * 32 + ".mp4"

    assert store.put_file(key, source, sha256=None, content_type="video/mp4") == sha
    assert store.stat(key).sha256 == sha
    assert store.sha256_of(key) == sha
    # Made again (a resumed import): the stored object is kept and its digest returned.
    assert store.put_file(key, source, sha256=None, content_type="video/mp4") == sha


def test_remade_derived_file_keeps_the_stored_one(store: ObjectStore, tmp_path: Path) -> None:
    # A resumed import may make a thumbnail again with other bytes: the first one stays.
    key = "thumbnails/" + "cd" * 32 + ".jpg"
    first, second = tmp_path / "first.jpg", tmp_path / "second.jpg"
    first_sha = _write_random(first, 1000)
    _write_random(second, 1200)
    store.put_file(key, first, sha256=None, content_type="image/jpeg")

    assert store.put_file(key, second, sha256=None, content_type="image/jpeg") == first_sha
    assert store.sha256_of(key) == first_sha


# -- S3: nothing is accepted unproven ---------------------------------------------------------


class _Interposer(urllib3.PoolManager):
    """The store's HTTP client with a hand in the middle, for one bucket's objects.

    Records object requests; can cut reads off (a network failure during the read-back),
    hide the checksum a single PUT's response echoes (a server or proxy that ignores or
    strips `x-amz-checksum-sha256`), and run a hook after each single PUT (to store other
    bytes, as such a server might).
    """

    def __init__(self, bucket: str) -> None:
        super().__init__(
            timeout=urllib3.Timeout(connect=2, read=30), retries=urllib3.Retry(total=0)
        )
        self.bucket = bucket
        self._prefix = f"/{bucket}/"
        self.requests: list[tuple[str, str]] = []
        self.cut_off_reads = False
        self.hide_checksum_echo = False
        self.after_single_put: Callable[[str], None] | None = None

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> BaseHTTPResponse:
        parts = urlsplit(url)
        if not parts.path.startswith(self._prefix):
            return super().urlopen(method, url, redirect=redirect, **kw)
        key = parts.path.removeprefix(self._prefix)
        self.requests.append((method, key))
        if method == "GET" and self.cut_off_reads:
            raise urllib3.exceptions.ProtocolError("connection reset (cut off by the test)")
        response = super().urlopen(method, url, redirect=redirect, **kw)
        if method == "PUT" and "uploadId" not in parts.query:
            if self.hide_checksum_echo:
                response.headers.discard("x-amz-checksum-sha256")
            if self.after_single_put is not None:
                self.after_single_put(key)
        return response


def _s3_store(
    server: SeaweedFS, pool: _Interposer | None = None, *, small_parts: bool = False
) -> S3Store:
    """A store on a fresh bucket; `small_parts`: files over 5 MiB go up in 5 MiB parts."""
    parts = {"multipart_threshold": 5 * MiB, "part_size": 5 * MiB} if small_parts else {}
    return S3Store(
        server.endpoint,
        server.access_key,
        server.secret_key,
        pool.bucket if pool else f"test-{secrets.token_hex(6)}",
        secure=False,
        http_client=pool,
        **parts,
    )


@pytest.mark.parametrize("derived", [False, True], ids=["original", "derived"])
def test_s3_object_recorded_but_never_verified_is_refused_and_removed(
    seaweedfs: SeaweedFS, tmp_path: Path, derived: bool
) -> None:
    store = _s3_store(seaweedfs)
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, MiB)
    key = original_key(sha) if not derived else "proxies/" + sha + ".mp4"
    # What an upload cut off before its read-back leaves: the tag written when the upload
    # started, the right size, other bytes.
    raw = seaweedfs.raw_client()
    raw.make_bucket(store.bucket)
    raw.put_object(store.bucket, key, io.BytesIO(os.urandom(MiB)), MiB, metadata={"sha256": sha})

    with pytest.raises(StoredObjectMismatch, match="never verified.*removed"):
        store.put_file(key, source, sha256=None if derived else sha, content_type="video/mp4")

    assert not store.exists(key)
    assert (
        store.put_file(key, source, sha256=None if derived else sha, content_type="video/mp4")
        == sha
    )
    assert store.sha256_of(key) == sha


def test_s3_upload_cut_off_before_its_read_back_is_read_back_on_retry(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    pool = _Interposer(f"test-{secrets.token_hex(6)}")
    store = _s3_store(seaweedfs, pool, small_parts=True)
    source = tmp_path / "long.mp4"
    sha = _write_random(source, 12 * MiB)
    key = original_key(sha)

    pool.cut_off_reads = True
    with pytest.raises(StorageError) as failed:
        store.put_file(key, source, sha256=sha, content_type="video/mp4")
    assert failed.type is StorageError  # a network failure, not a verdict on the bytes
    assert store.stat(key).sha256 == sha  # completed and tagged, but not verified

    pool.cut_off_reads = False
    pool.requests.clear()
    assert store.put_file(key, source, sha256=sha, content_type="video/mp4") == sha
    # Multipart objects carry no server checksum: the retry proves them by reading back,
    # without uploading again.
    assert ("GET", key) in pool.requests
    assert ("PUT", key) not in pool.requests


def test_s3_single_put_is_proven_by_the_servers_checksum(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    pool = _Interposer(f"test-{secrets.token_hex(6)}")
    store = _s3_store(seaweedfs, pool)
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, MiB)
    key = original_key(sha)

    store.put_file(key, source, sha256=sha, content_type="video/mp4")
    # SeaweedFS echoes the checksum it verified: no read-back.
    assert pool.requests == [("HEAD", key), ("PUT", key)]

    pool.requests.clear()
    store.put_file(key, source, sha256=sha, content_type="video/mp4")
    # HEAD with x-amz-checksum-mode reports the checksum stored with the object.
    assert pool.requests == [("HEAD", key)]


def test_s3_single_put_without_checksum_echo_is_read_back(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    pool = _Interposer(f"test-{secrets.token_hex(6)}")
    pool.hide_checksum_echo = True
    store = _s3_store(seaweedfs, pool)
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, MiB)

    assert store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4") == sha

    assert ("GET", original_key(sha)) in pool.requests


def test_s3_server_ignoring_the_checksum_cannot_store_other_bytes(
    seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    pool = _Interposer(f"test-{secrets.token_hex(6)}")
    store = _s3_store(seaweedfs, pool)
    source = tmp_path / "clip.mp4"
    sha = _write_random(source, MiB)
    damaged = bytearray(source.read_bytes())
    damaged[1000] ^= 0x01
    raw = seaweedfs.raw_client()

    def store_damaged(key: str) -> None:
        raw.put_object(store.bucket, key, io.BytesIO(bytes(damaged)), len(damaged))

    # A server that ignores x-amz-checksum-sha256: no echo, and it keeps a flipped bit.
    pool.hide_checksum_echo = True
    pool.after_single_put = store_damaged

    with pytest.raises(StoredObjectMismatch, match="removed"):
        store.put_file(original_key(sha), source, sha256=sha, content_type="video/mp4")

    assert not store.exists(original_key(sha))
