"""Copy+hash: one read, durable, and a partial copy is never found under the final name."""

import hashlib
import os
from pathlib import Path

import pytest

from ingest.copy_and_hash import copy_and_hash
from ingest.errors import CopyError


def test_copy_is_bit_exact_and_hash_matches(tmp_path: Path) -> None:
    data = os.urandom(9 * 1024 * 1024 + 123)  # crosses several chunks, ends mid-chunk
    src = tmp_path / "src.mp4"
    src.write_bytes(data)
    seen: list[int] = []
    copy = copy_and_hash(src, tmp_path / "dst", on_progress=seen.append, chunk_size=1 << 20)
    assert copy.sha256 == hashlib.sha256(data).hexdigest()
    assert copy.size == len(data) == sum(seen)
    assert (tmp_path / "dst").read_bytes() == data
    assert not (tmp_path / "dst.part").exists()
    assert max(seen) <= 1 << 20  # read in bounded chunks: memory flat in file size


def test_symlink_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"outside the volume")
    (tmp_path / "link.mp4").symlink_to(secret)
    with pytest.raises(CopyError):
        copy_and_hash(tmp_path / "link.mp4", tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mp4")
    with pytest.raises(CopyError, match="not a regular file"):
        copy_and_hash(tmp_path / "pipe.mp4", tmp_path / "dst")


def test_unwritable_staging_is_a_copy_error(tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    src.write_bytes(b"x" * 1000)
    with pytest.raises(CopyError, match="cannot write"):
        copy_and_hash(src, tmp_path / "gone" / "dst")


def test_file_changed_since_scan_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    src.write_bytes(b"x" * 1000)
    seen = src.stat()
    src.write_bytes(b"x" * 2000)  # the camera was still recording
    with pytest.raises(CopyError, match="still be writing"):
        copy_and_hash(
            src, tmp_path / "dst", expect_size=seen.st_size, expect_mtime_ns=seen.st_mtime_ns
        )
    assert not (tmp_path / "dst").exists() and not (tmp_path / "dst.part").exists()


def test_progress_callback_failure_leaves_no_partial_copy(tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    src.write_bytes(b"x" * (3 << 20))

    def interrupted(_n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_and_hash(src, tmp_path / "dst", on_progress=interrupted, chunk_size=1 << 20)
    assert not (tmp_path / "dst.part").exists() and not (tmp_path / "dst").exists()


def test_disk_full_is_reported_and_cleaned_up(tmp_path: Path) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("/dev/full is not available")
    src = tmp_path / "src.mp4"
    src.write_bytes(b"x" * (3 << 20))
    # /dev/full accepts the open and fails every write with ENOSPC, like a full disk.
    dst_dir = tmp_path / "staging"
    dst_dir.mkdir()
    (dst_dir / "dst.part").symlink_to(full)
    with pytest.raises(CopyError, match="disk full"):
        copy_and_hash(src, dst_dir / "dst", chunk_size=1 << 20)
    assert not (dst_dir / "dst").exists()


def test_file_rewritten_in_place_during_the_copy_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src.mp4"
    src.write_bytes(b"x" * (4 << 20))

    def recorder_rewrites_its_index(_n: int) -> None:
        with src.open("r+b") as f:  # same size, other bytes: only mtime/ctime tell
            f.write(b"moov")

    with pytest.raises(CopyError, match="modified while being copied"):
        copy_and_hash(
            src, tmp_path / "dst", on_progress=recorder_rewrites_its_index, chunk_size=1 << 20
        )
    assert not (tmp_path / "dst").exists() and not (tmp_path / "dst.part").exists()
