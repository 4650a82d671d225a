"""Small primitives for bytes that must survive a crash, shared by the station and the stores."""

import hashlib
import os
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
