"""The object store: where originals, proxies and thumbnails live.

Keys say what they are: `originals/<sha256>`, `proxies/<sha256>.mp4`, `thumbnails/<sha256>.jpg`,
`recordings/<sha256>.mp4` (a recording's merged proxy).
Both stores accept the same keys: non-empty parts joined by `/`, none starting with `.`
(ValueError otherwise).
Two implementations: a local folder (`file://`, the embedded default) and any S3 server
through the minio SDK (`s3://`). The rules both share (keys, digests, ranges, chunk size)
live here, so a value valid on one store is valid on the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from rules.retention import Lock

STREAM_CHUNK = 1024 * 1024
"""Largest chunk `open_range` yields."""
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str
    sha256: str | None
    """Hex SHA-256 recorded when the object was stored, when the store keeps it."""


class ObjectStore(Protocol):
    def put_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str | None,
        content_type: str,
        lock: Lock | None = None,
    ) -> str:
        """Store the file under key and make sure the stored bytes hash to `sha256`; with
        `lock`, lock it so (`protect`), an object stored before included.

        `sha256=None` is for derived files (proxies, thumbnails) whose digest nobody computed
        yet: the store computes it in the pass it makes anyway, records it and returns it.
        Returns the hex SHA-256 of the stored object.

        Idempotent: an existing object proven to hold those bytes (not merely labelled with
        that SHA-256) is left alone. Raises StoredObjectMismatch when the stored bytes do not
        match, StorageError otherwise.
        """

    def stat(self, key: str) -> ObjectInfo:
        """Size and type of an object; raises ObjectNotFound."""

    def exists(self, key: str) -> bool: ...

    def open_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream the object's bytes from `start`, `length` bytes or to the end.

        Chunks are at most 1 MiB; a range starting at or past the end yields nothing.
        ObjectNotFound is raised by this call, not later while iterating; the file or
        connection is released when the iterator is exhausted, closed or dropped.
        """

    def sha256_of(self, key: str) -> str:
        """Read the whole object back and return its hex SHA-256 (fixity checks)."""

    def lock_of(self, key: str) -> Lock | None:
        """The lock an object has (None: none, or the store cannot lock); ObjectNotFound."""

    def protect(self, key: str, lock: Lock) -> None:
        """Lock the object: no deletion or change before `lock.until` (in compliance mode
        not even by the store's owner), nor while `lock.legal_hold`. The lock is extended
        over the one it has (rules/retention.extended), never shortened. A store that
        cannot lock (an S3 bucket made without object lock) logs that it cannot and keeps
        the object as it is. Raises ObjectNotFound, StorageError."""

    def delete(self, key: str, *, bypass_governance: bool = False) -> None:
        """Remove an object for good (the deletion of media, storage/deletion.py). Raises
        ObjectNotFound when there is none, StorageError when the store refuses (an object
        under legal hold, or under retention: in governance mode unless `bypass_governance`,
        which an early deletion two people approved uses; in compliance mode always)."""

    def check_reachable(self) -> None:
        """Raise StorageError unless the store answers and holds its bucket or folder
        (readiness: api/routes/health.py)."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """The keys under the folder `prefix` (a key's parts, without a trailing `/`), in
        order, at any depth."""


def key_parts(key: str) -> list[str]:
    """Split a key into its parts; ValueError for a key that could leave the store's root."""
    parts = key.split("/")
    if (
        not key
        or "\\" in key
        or "\0" in key
        or any(not part or part.startswith(".") for part in parts)
    ):
        raise ValueError(
            f"object key {key!r} is not allowed: use non-empty parts separated by '/', "
            "none starting with '.', no leading '/'"
        )
    return parts


def checked_sha256(sha256: str) -> str:
    """The digest in lower-case hex; ValueError unless it is 64 hex digits."""
    value = sha256.lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"sha256 {sha256!r} is not 64 hex digits")
    return value


def check_range(start: int, length: int | None) -> None:
    """ValueError for a negative start or length (`open_range`'s arguments)."""
    if start < 0 or (length is not None and length < 0):
        raise ValueError(f"byte range start={start} length={length} must not be negative")


def original_key(sha256: str) -> str:
    return f"originals/{sha256}"


def proxy_key(sha256: str, content_type: str) -> str:
    return f"proxies/{sha256}.{'m4a' if content_type == 'audio/mp4' else 'mp4'}"


RENDITION_SUFFIXES = {"h264": ".mp4", "aac": ".m4a", "hevc": ".hevc.mp4"}
"""The browser copies a medium may have, by name: H.264/AAC MP4 (plays everywhere), AAC M4A
(audio), H.265 MP4 tagged hvc1 (for browsers that decode HEVC)."""


def rendition_key(sha256: str, name: str) -> str:
    """Key of a medium's rendition `name` (RENDITION_SUFFIXES); the H.264 and AAC ones are its
    proxy (`proxy_key`). ValueError for an unknown name."""
    if name not in RENDITION_SUFFIXES:
        raise ValueError(f"unknown rendition {name!r}: one of {sorted(RENDITION_SUFFIXES)}")
    return f"proxies/{sha256}{RENDITION_SUFFIXES[name]}"


def merged_proxy_key(sha256: str, content_type: str) -> str:
    """Key of a recording's merged proxy, named by the merged file's own SHA-256."""
    return f"recordings/{sha256}.{'m4a' if content_type == 'audio/mp4' else 'mp4'}"


def thumbnail_key(sha256: str) -> str:
    return f"thumbnails/{sha256}.jpg"


def open_store(url: str) -> ObjectStore:
    """Open the store named by STATION_STORAGE_URL (`file:///abs/path` or `s3://...`)."""
    if url.startswith("file://"):
        from storage.local_store import LocalStore

        return LocalStore.from_url(url)
    if url.startswith("s3://"):
        from storage.s3_store import S3Store

        return S3Store.from_url(url)
    scheme = url.split(":", 1)[0] if ":" in url else url[:0]  # never echo credentials
    raise ValueError(
        f"STATION_STORAGE_URL (scheme {scheme!r}) is neither file:///abs/path nor "
        "s3://ACCESS:SECRET@HOST:PORT/BUCKET?secure=false"
    )
