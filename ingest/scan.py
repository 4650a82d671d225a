"""Scan a docked volume: every entry becomes either a media file to import or a stated skip.

Nothing on a volume is trusted: symlinks are never followed (a link can point out of the
volume), FIFOs, devices and sockets are never opened (opening a FIFO blocks), and names are
kept as data: a name that is not valid UTF-8 is carried with its bad bytes escaped.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ingest.media_kinds import MediaKind, media_kind

# Folders that file systems and desktop systems create on removable media; never footage.
_SYSTEM_DIRS = {
    "system volume information",
    "$recycle.bin",
    ".trashes",
    ".spotlight-v100",
    ".fseventsd",
    "lost+found",
}


class SkipReason(StrEnum):
    NOT_MEDIA = "not_media"
    EMPTY = "empty"
    SYMLINK = "symlink"
    SPECIAL = "special_file"
    SYSTEM = "system_file"
    UNREADABLE_DIR = "unreadable_dir"


@dataclass(frozen=True)
class FoundFile:
    path: Path
    rel_path: str
    """Path relative to the volume root, as printable data (undecodable bytes escaped)."""
    size: int
    mtime_ns: int
    kind: MediaKind


@dataclass(frozen=True)
class SkippedEntry:
    rel_path: str
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True)
class ScanResult:
    found: list[FoundFile]
    skipped: list[SkippedEntry]


def printable_name(raw: str) -> str:
    """A file name as text we can store and show: undecodable bytes become \\xNN escapes."""
    return os.fsencode(raw).decode("utf-8", errors="backslashreplace")


def scan_volume(root: Path) -> ScanResult:
    """List the media files under `root` (sorted by path) and every entry skipped, with why."""
    found: list[FoundFile] = []
    skipped: list[SkippedEntry] = []

    def walk(folder: Path, rel: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(SkippedEntry(rel or ".", SkipReason.UNREADABLE_DIR, exc.strerror or ""))
            return
        for entry in entries:
            rel_path = f"{rel}/{printable_name(entry.name)}" if rel else printable_name(entry.name)
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                skipped.append(
                    SkippedEntry(rel_path, SkipReason.UNREADABLE_DIR, exc.strerror or "")
                )
                continue
            if stat.S_ISLNK(info.st_mode):
                skipped.append(SkippedEntry(rel_path, SkipReason.SYMLINK))
            elif stat.S_ISDIR(info.st_mode):
                if entry.name.lower() in _SYSTEM_DIRS:
                    skipped.append(SkippedEntry(rel_path, SkipReason.SYSTEM))
                else:
                    walk(Path(entry.path), rel_path)
            elif not stat.S_ISREG(info.st_mode):
                skipped.append(SkippedEntry(rel_path, SkipReason.SPECIAL))
            elif entry.name.startswith("._"):  # macOS resource forks beside real files
                skipped.append(SkippedEntry(rel_path, SkipReason.SYSTEM))
            elif (kind := media_kind(entry.name)) is None:
                skipped.append(SkippedEntry(rel_path, SkipReason.NOT_MEDIA))
            elif info.st_size == 0:
                skipped.append(SkippedEntry(rel_path, SkipReason.EMPTY))
            else:
                found.append(
                    FoundFile(Path(entry.path), rel_path, info.st_size, info.st_mtime_ns, kind)
                )

    walk(root, "")
    return ScanResult(found, skipped)
