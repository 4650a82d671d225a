"""Small primitives for bytes that must survive a crash, shared by the station and the stores."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

HASH_CHUNK = 4 * 1024 * 1024


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder after a rename in it, so the new name is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in bounded chunks (memory flat in file size)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_durably(path: Path, body: bytes) -> None:
    """Replace `path` with `body`, all or nothing, fsynced with its folder (which must
    exist)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        with tmp.open("xb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_path(path.parent)


class DescriptorRange:
    """Iterator over a byte range of an open file (from `start`, `length` bytes or to the
    end, in chunks of `chunk`); it closes the file when done, closed or dropped.

    It holds a bare descriptor, not a file object: a stream abandoned halfway (a client
    that hung up, a response refused unsent) is closed by this object's finaliser, whatever
    order the garbage collector finalises things in. A read that fails raises `error` with
    `what` in its message.
    """

    def __init__(
        self,
        fd: int,
        start: int = 0,
        length: int | None = None,
        what: str = "a file",
        *,
        chunk: int = HASH_CHUNK,
        error: type[Exception] = OSError,
    ) -> None:
        self._fd: int | None = fd
        self._what = what
        self._left = length
        self._offset = start
        self._chunk = chunk
        self._error = error

    def __iter__(self) -> DescriptorRange:
        return self

    def __next__(self) -> bytes:
        if self._fd is None:
            raise StopIteration
        want = self._chunk if self._left is None else min(self._chunk, self._left)
        try:
            data = os.pread(self._fd, want, self._offset) if want else b""
        except OSError as exc:
            self.close()
            raise self._error(f"reading {self._what} failed: {exc}") from exc
        if not data:
            self.close()
            raise StopIteration
        self._offset += len(data)
        if self._left is not None:
            self._left -= len(data)
        return data

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()
