"""Copy a file from a device to the station's disk, computing its SHA-256 in the same read.

The file is read once. Reading, hashing and writing overlap as a three-stage pipeline on
three threads (os.readv, hashlib and os.write release the GIL) passing a fixed pool of
reused buffers: memory stays flat whatever the file size, and no page is faulted in twice.
The copy is written to `NAME.part`, fsynced, renamed into place and its folder fsynced: a
partial copy is never found under the final name.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import CopyError
from storage.durable import fsync_path

CHUNK_SIZE = 4 * 1024 * 1024
_BUFFERS = 6  # in flight per copy: memory is _BUFFERS * CHUNK_SIZE

_Filled = tuple[bytearray, int] | None  # a buffer and how many bytes of it hold data; None ends


@dataclass(frozen=True)
class StagedCopy:
    path: Path
    sha256: str
    size: int


class _Stage(threading.Thread):
    """Takes filled buffers in order, applies `work`, passes them on. After an error it
    keeps passing buffers on untouched (so the reader never waits forever) and keeps it."""

    def __init__(
        self, name: str, work: Callable[[memoryview], object], after: queue.Queue[_Filled]
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.inbox: queue.Queue[_Filled] = queue.Queue()
        self.error: BaseException | None = None
        self._work = work
        self._after = after

    def run(self) -> None:
        while (item := self.inbox.get()) is not None:
            if self.error is None:
                try:
                    self._work(memoryview(item[0])[: item[1]])
                except BaseException as exc:  # reported to the reader, which stops
                    self.error = exc
            self._after.put(item)
        self._after.put(None)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


def copy_and_hash(
    src: Path,
    dst: Path,
    *,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> StagedCopy:
    """Copy `src` to `dst` durably and return the SHA-256 of the bytes read.

    `src` must be a regular file and is never followed through a symlink. Raises CopyError
    when the device cannot be read, the station disk cannot be written (full, read-only),
    or the file changed size while it was copied (the camera may still be writing it).
    """
    part = dst.with_name(dst.name + ".part")
    try:
        src_fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise CopyError(f"cannot open {src} on the device: {exc.strerror}") from exc
    try:
        info = os.fstat(src_fd)
        if not stat.S_ISREG(info.st_mode):
            raise CopyError(f"{src} is not a regular file; it was not copied")
        expected = info.st_size
        os.set_blocking(src_fd, True)
        os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        digest = hashlib.sha256()
        try:
            dst_fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise CopyError(f"cannot write {part} on the station disk: {exc.strerror}") from exc
        free: queue.Queue[_Filled] = queue.Queue()
        for _ in range(_BUFFERS):
            free.put((bytearray(chunk_size), 0))
        writer = _Stage("write", lambda view: _write_all(dst_fd, view), after=free)
        hasher = _Stage("hash", digest.update, after=writer.inbox)
        hasher.start()
        writer.start()
        copied = 0
        read_error: OSError | None = None
        try:
            while writer.error is None:
                item = free.get()
                assert item is not None
                buffer = item[0]
                try:
                    n = os.readv(src_fd, [buffer])
                except OSError as exc:
                    read_error = exc
                    break
                if n == 0:
                    break
                hasher.inbox.put((buffer, n))
                copied += n
                if on_progress is not None:
                    on_progress(n)
        finally:
            hasher.inbox.put(None)
            hasher.join()
            writer.join()
        try:
            if read_error is not None:
                raise CopyError(
                    f"read error on the device at byte {copied} of {src}: {read_error.strerror}; "
                    "check the cable and the camera's card, then dock again"
                ) from read_error
            if writer.error is not None:
                write_error = writer.error
                full = isinstance(write_error, OSError) and write_error.errno == errno.ENOSPC
                raise CopyError(
                    f"station disk full while copying {src}; free space on the station"
                    if full
                    else f"cannot write the copy of {src} on the station disk: {write_error}"
                ) from write_error
            if copied != expected:
                raise CopyError(
                    f"{src} changed size while being copied ({expected} -> {copied} bytes); "
                    "the device may still be writing it"
                )
            os.fsync(dst_fd)
        finally:
            os.close(dst_fd)
    except CopyError:
        part.unlink(missing_ok=True)
        raise
    finally:
        os.close(src_fd)
    os.rename(part, dst)
    fsync_path(dst.parent)
    return StagedCopy(path=dst, sha256=digest.hexdigest(), size=copied)
