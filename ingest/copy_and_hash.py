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
BUFFERS = 6  # in flight per copy by default: memory is BUFFERS * CHUNK_SIZE

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
    expect_size: int | None = None,
    expect_mtime_ns: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    buffers: int = BUFFERS,
) -> StagedCopy:
    """Copy `src` to `dst` durably and return the SHA-256 of the bytes read.

    `src` must be a regular file and is never followed through a symlink. When the caller
    saw the file with `expect_size`/`expect_mtime_ns` (at scan time), a file that differs
    now is refused: the camera may still be writing it. Raises CopyError when the device
    cannot be read, the station disk cannot be written (full, read-only), or the file
    changed while it was copied; no `.part` is left behind on any failure.
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
        if (expect_size is not None and info.st_size != expect_size) or (
            expect_mtime_ns is not None and info.st_mtime_ns != expect_mtime_ns
        ):
            raise CopyError(
                f"{src} changed since the volume was scanned; the device may still be writing "
                "it: dock again once the recording has stopped"
            )
        os.set_blocking(src_fd, True)
        os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        try:
            dst_fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise CopyError(f"cannot write {part} on the station disk: {exc.strerror}") from exc
        try:
            digest, copied = _pipe(
                src, src_fd, dst_fd, info.st_size, on_progress, chunk_size, max(buffers, 2)
            )
            after = os.fstat(src_fd)
            if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (
                info.st_size,
                info.st_mtime_ns,
                info.st_ctime_ns,
            ):
                # Same size is not enough: a recorder may rewrite its index in place.
                raise CopyError(
                    f"{src} was modified while being copied; the device or recorder may still "
                    "be writing it: it will be copied again once it is finished"
                )
            try:
                os.fsync(dst_fd)
            except OSError as exc:
                raise _write_failure(src, exc) from exc
        finally:
            os.close(dst_fd)
        os.rename(part, dst)
        fsync_path(dst.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        os.close(src_fd)
    return StagedCopy(path=dst, sha256=digest, size=copied)


def _write_failure(src: Path, exc: BaseException) -> CopyError:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return CopyError(f"station disk full while copying {src}; free space on the station")
    return CopyError(f"cannot write the copy of {src} on the station disk: {exc}")


def _pipe(
    src: Path,
    src_fd: int,
    dst_fd: int,
    expected: int,
    on_progress: Callable[[int], None] | None,
    chunk_size: int,
    buffers: int,
) -> tuple[str, int]:
    """Read `src_fd` to its end through the hash and write stages; (hex digest, bytes)."""
    digest = hashlib.sha256()
    free: queue.Queue[_Filled] = queue.Queue()
    for _ in range(buffers):
        free.put((bytearray(chunk_size), 0))
    writer = _Stage("write", lambda view: _write_all(dst_fd, view), after=free)
    hasher = _Stage("hash", digest.update, after=writer.inbox)
    hasher.start()
    writer.start()
    copied = 0
    read_error: OSError | None = None
    try:
        # Stop one chunk past the size seen at open: a file that keeps growing (or a broken
        # file system that never reports its end) must not fill the station's disk.
        while writer.error is None and copied <= expected:
            item = free.get()
            assert item is not None
            try:
                n = os.readv(src_fd, [item[0]])
            except OSError as exc:
                read_error = exc
                break
            if n == 0:
                break
            hasher.inbox.put((item[0], n))
            copied += n
            if on_progress is not None:
                on_progress(n)
    finally:
        hasher.inbox.put(None)
        hasher.join()
        writer.join()
    if read_error is not None:
        raise CopyError(
            f"read error on the device at byte {copied} of {src}: {read_error.strerror}; "
            "check the cable and the camera's card, then dock again"
        ) from read_error
    for stage in (writer, hasher):
        if stage.error is not None:
            raise _write_failure(src, stage.error) from stage.error
    if copied != expected:
        raise CopyError(
            f"{src} changed size while being copied ({expected} -> {copied}+ bytes); "
            "the device may still be writing it"
        )
    return digest.hexdigest(), copied
