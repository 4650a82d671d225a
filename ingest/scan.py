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


# Cameras nest two or three folders deep; anything far deeper is a damaged or hostile card.
MAX_DEPTH = 32


class SkipReason(StrEnum):
    NOT_MEDIA = "not_media"
    EMPTY = "empty"
    SYMLINK = "symlink"
    SPECIAL = "special_file"
    SYSTEM = "system_file"
    UNREADABLE = "unreadable"
    TOO_DEEP = "too_deep"


# Reasons that mean a file may hold footage we could not take: the import is not complete.
INCOMPLETE_REASONS = frozenset({SkipReason.UNREADABLE, SkipReason.TOO_DEEP})


@dataclass(frozen=True)
class FoundFile:
    path: Path
    rel_path: str
    """Path relative to the volume root, as printable data (see printable_name)."""
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
    """A file name as text we can store and show, one-to-one with the raw name: a byte that
    is not UTF-8 becomes \\xNN and a backslash is doubled, so two names never collide."""
    out = []
    for ch in os.fsencode(raw).decode("utf-8", errors="surrogateescape"):
        if ch == "\\":
            out.append("\\\\")
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch)
    return "".join(out)


def scan_volume(root: Path) -> ScanResult:
    """List the media files under `root` (sorted by path) and every entry skipped, with why."""
    found: list[FoundFile] = []
    skipped: list[SkippedEntry] = []
    # An explicit stack, not recursion: a hostile card's nesting must not crash the scan.
    folders: list[tuple[Path, str, int]] = [(root, "", 0)]
    while folders:
        folder, rel, depth = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as exc:
            skipped.append(SkippedEntry(rel or ".", SkipReason.UNREADABLE, exc.strerror or ""))
            continue
        for entry in entries:
            name = printable_name(entry.name)
            rel_path = f"{rel}/{name}" if rel else name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                skipped.append(SkippedEntry(rel_path, SkipReason.UNREADABLE, exc.strerror or ""))
                continue
            if stat.S_ISLNK(info.st_mode):
                skipped.append(SkippedEntry(rel_path, SkipReason.SYMLINK))
            elif stat.S_ISDIR(info.st_mode):
                if entry.name.lower() in _SYSTEM_DIRS:
                    skipped.append(SkippedEntry(rel_path, SkipReason.SYSTEM))
                elif depth + 1 > MAX_DEPTH:
                    skipped.append(SkippedEntry(rel_path, SkipReason.TOO_DEEP))
                else:
                    folders.append((Path(entry.path), rel_path, depth + 1))
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
    found.sort(key=lambda f: f.rel_path)
    skipped.sort(key=lambda s: s.rel_path)
    return ScanResult(found, skipped)
