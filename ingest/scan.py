"""Scan a docked volume: every entry becomes either a file to import or a stated skip.

Every regular file is kept unless it is surely the file system's or the camera's own
(`ingest.file_classes`): a file whose type nobody here knows is kept as `MediaKind.OTHER`, and
each kept file says which medium it travels with if it is a sidecar (`FoundFile.sidecar_of`).

Nothing on a volume is trusted: symlinks are never followed (a link can point out of the
volume), FIFOs, devices and sockets are never opened (opening a FIFO blocks), and names are
kept as data: a name that is not valid UTF-8 is carried with its bad bytes escaped.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from ingest.file_classes import (
    NotEvidence,
    Owner,
    file_class,
    folder_class,
    may_be_unlistable,
    sidecar_targets,
)
from ingest.media_kinds import MediaKind, media_kind

# Cameras nest two or three folders deep; anything far deeper is a damaged or hostile card.
MAX_DEPTH = 32


class SkipReason(StrEnum):
    OS_ARTEFACT = Owner.OS.value
    """Written by an operating system for itself (indexes, folder settings, resource forks)."""
    CAMERA_SYSTEM = Owner.CAMERA.value
    """The camera's own (firmware, settings, its version file), in its root or system folder."""
    EMPTY = "empty"
    SYMLINK = "symlink"
    SPECIAL = "special_file"
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
    """Provisional, by the name's suffix; OTHER for a name nobody here knows (ffprobe decides)."""
    sidecar_of: str | None = None
    """The rel_path of the medium this file travels with in its folder (GoPro .LRV/.THM, DJI
    .SRT/.LRF, a GPS log or subtitle of the same base name); None for a file on its own."""


@dataclass(frozen=True)
class SkippedEntry:
    rel_path: str
    reason: SkipReason
    detail: str = ""
    """What the entry is or what went wrong, in English (e.g. "macOS resource fork")."""


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
    """Every regular file under `root` to keep (sorted by path, each with its provisional kind
    and the medium it is a sidecar of), and every entry skipped, with why. Never raises for what
    is on the volume: an entry that cannot be read is a skip (`SkipReason.UNREADABLE`)."""
    kept: list[FoundFile] = []
    skipped: list[SkippedEntry] = []
    # An explicit stack, not recursion: a hostile card's nesting must not crash the scan.
    folders: list[tuple[Path, str, int]] = [(root, "", 0)]
    while folders:
        folder, rel, depth = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as exc:
            lenient = may_be_unlistable(rel) if rel else None
            if lenient is not None:
                skipped.append(_skip(rel, lenient, exc.strerror))
            else:
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
                skipped.append(SkippedEntry(rel_path, SkipReason.SYMLINK, "symbolic link"))
            elif stat.S_ISDIR(info.st_mode):
                if (not_evidence := folder_class(rel_path)) is not None:
                    skipped.append(_skip(rel_path, not_evidence))
                elif depth + 1 > MAX_DEPTH:
                    skipped.append(SkippedEntry(rel_path, SkipReason.TOO_DEEP, _TOO_DEEP))
                else:
                    folders.append((Path(entry.path), rel_path, depth + 1))
            elif not stat.S_ISREG(info.st_mode):
                skipped.append(SkippedEntry(rel_path, SkipReason.SPECIAL, _special(info.st_mode)))
            elif (not_evidence := file_class(rel_path)) is not None:
                skipped.append(_skip(rel_path, not_evidence))
            elif info.st_size == 0:
                skipped.append(SkippedEntry(rel_path, SkipReason.EMPTY, "empty file (0 bytes)"))
            else:
                kind = media_kind(entry.name)
                kept.append(
                    FoundFile(Path(entry.path), rel_path, info.st_size, info.st_mtime_ns, kind)
                )
    sidecars = sidecar_targets((f.rel_path, f.kind) for f in kept)
    found = sorted(
        (replace(f, sidecar_of=sidecars.get(f.rel_path)) for f in kept),
        key=lambda f: f.rel_path,
    )
    skipped.sort(key=lambda s: s.rel_path)
    return ScanResult(found, skipped)


_TOO_DEEP = f"folder nested more than {MAX_DEPTH} levels deep (not read)"


def _special(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISBLK(mode) or stat.S_ISCHR(mode):
        return "device node"
    return "special file"


def _skip(rel_path: str, why: NotEvidence, error: str | None = None) -> SkippedEntry:
    detail = f"{why.detail} ({error})" if error else why.detail
    return SkippedEntry(rel_path, SkipReason(why.owner.value), detail)
