"""What a path on a volume is, by its name alone: the file system's or the camera's own (never
evidence), or a file to keep; and which medium a kept sidecar travels with. Pure (no I/O).

Decisions written down:

- Only what an operating system or the camera itself writes for its own use is left on the
  volume: search indexes, folder-view settings, resource forks, firmware, settings. When a
  name is not surely one of those it is kept: a kept file costs bytes, a skipped one may lose
  evidence. So a camera's operation log (`.log`, `.txt`) is kept, and so is everything in a
  `MISC/` folder except firmware and settings.
- Trash folders (`$RECYCLE.BIN`, `.Trashes`, `.Trash-1000`) and file-system repair output
  (`lost+found`, chkdsk's `FOUND.000`, macOS `FSCK0000.REC`) are walked like any folder: what
  sits in them is footage someone deleted, or clusters recovered from a damaged card. Only if
  such a folder cannot be listed is it reported as the OS's rather than as unreadable, so a
  root-only `lost+found` does not keep a device docked.
- Camera system files are recognised only in the volume's root or under a root folder the
  camera keeps for itself (`SYSTEM`, `SETTING`, `MISC`, `UPDATE`, ...): a `.bin` or `.dat`
  elsewhere (a VCD's `MPEGAV/AVSEQ01.DAT` is MPEG video) is kept.
- A sidecar (`sidecar_targets`) is matched to a medium in the same folder, never across
  folders: by vendor rule (GoPro `GL011234.LRV` beside `GH011234.MP4` or `GX011234.MP4`, Sony
  `C0001M01.XML` beside `C0001.MP4`), by a name that is a medium's full name plus a suffix
  (`IMG_0001.JPG.json`), or by sharing the medium's base name, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from ingest.media_kinds import RECORDER_SUFFIXES
from wire.media_kinds import MediaKind


class Owner(StrEnum):
    """Whose a file that is not evidence is (the values are `ingest.scan.SkipReason`'s)."""

    OS = "os_artefact"
    CAMERA = "camera_system"


@dataclass(frozen=True)
class NotEvidence:
    """Why an entry is left on the volume: whose it is, and what it is in plain English."""

    owner: Owner
    detail: str


# Folders an operating system keeps on removable media for itself; never anyone's files.
_OS_FOLDERS = {
    "system volume information": "Windows system folder (search index, restore points)",
    "$extend": "NTFS metadata folder",
    ".spotlight-v100": "macOS Spotlight search index",
    ".fseventsd": "macOS file-system event log",
    ".temporaryitems": "macOS temporary items folder",
    ".documentrevisions-v100": "macOS document versions store",
}
# Folders of the OS that hold people's files (deleted, or recovered by a disk check).
_TRASH_FOLDERS = {"$recycle.bin", "recycler", "recycled", ".trashes", ".trash"}
_TRASH_FOLDER = re.compile(r"\.trash-[0-9]+", re.ASCII)  # freedesktop trash: .Trash-1000
_REPAIR_FOLDER = re.compile(r"lost\+found|found\.[0-9]{3}", re.ASCII)

_OS_FILES = {
    ".ds_store": "macOS folder view settings",
    "thumbs.db": "Windows thumbnail cache",
    "ehthumbs.db": "Windows Media Center thumbnail cache",
    "ehthumbs_vista.db": "Windows Media Center thumbnail cache",
    "desktop.ini": "Windows folder settings",
    ".directory": "KDE folder settings",
    ".metadata_never_index": "macOS marker: do not index this volume",
    ".metadata_never_index_unless_rootfs": "macOS marker: do not index this volume",
    ".metadata_direct_scope_only": "macOS marker: index this volume only on request",
    ".com.apple.timemachine.donotpresent": "macOS marker: not a Time Machine disk",
    ".volumeicon.icns": "macOS volume icon",
    ".apdisk": "macOS shared-disk settings",
    "indexervolumeguid": "Windows search indexer marker",
    "wpsettings.dat": "Windows storage settings",
}

# Root folders a camera keeps for itself (GoPro and DJI MISC/, firmware UPDATE/, SYSTEM/...).
_CAMERA_FOLDERS = frozenset(
    {"system", "setting", "settings", "setup", "config", "misc", "update", "firmware", "fw"}
)
_FIRMWARE_SUFFIXES = frozenset({".bin", ".img", ".fw", ".brn", ".upd", ".upg", ".pkg", ".rom"})
_SETTINGS_SUFFIXES = frozenset({".ini", ".cfg", ".conf", ".set", ".dat"})
_CAMERA_FILES = {
    "version.txt": "camera model and firmware version",
    "digicap.dav": "Hikvision firmware image",
}
_ROOT_LINK_SUFFIXES = frozenset({".url", ".webloc"})  # Get_started_with_GoPro.url


def folder_class(rel_path: str) -> NotEvidence | None:
    """Why the folder at `rel_path` (relative to the volume root, `/`-separated) is not walked,
    or None to walk it."""
    name = rel_path.rsplit("/", 1)[-1].lower()
    detail = _OS_FOLDERS.get(name)
    return NotEvidence(Owner.OS, detail) if detail else None


def may_be_unlistable(rel_path: str) -> NotEvidence | None:
    """For a trash or file-system repair folder (walked: it holds people's files), why it may
    be reported as the OS's when it cannot be listed; None for any other folder."""
    name = rel_path.rsplit("/", 1)[-1].lower()
    if name in _TRASH_FOLDERS or _TRASH_FOLDER.fullmatch(name):
        return NotEvidence(Owner.OS, "trash folder that could not be listed")
    if _REPAIR_FOLDER.fullmatch(name):
        return NotEvidence(Owner.OS, "file-system repair folder that could not be listed")
    return None


def file_class(rel_path: str) -> NotEvidence | None:
    """Why the regular file at `rel_path` is left on the volume, or None to keep it."""
    parts = rel_path.split("/")
    name = parts[-1].lower()
    if name.startswith("._"):
        return NotEvidence(Owner.OS, "macOS resource fork (AppleDouble file)")
    if detail := _OS_FILES.get(name):
        return NotEvidence(Owner.OS, detail)
    in_root = len(parts) == 1
    if not (in_root or parts[0].lower() in _CAMERA_FOLDERS):
        return None
    suffix = PurePosixPath(name).suffix
    if detail := _CAMERA_FILES.get(name):
        return NotEvidence(Owner.CAMERA, detail)
    if suffix in _FIRMWARE_SUFFIXES:
        return NotEvidence(Owner.CAMERA, "camera firmware or update package")
    if suffix in _SETTINGS_SUFFIXES:
        return NotEvidence(Owner.CAMERA, "camera settings")
    if in_root and suffix in _ROOT_LINK_SUFFIXES:
        return NotEvidence(Owner.CAMERA, "web link the camera maker puts on the card")
    return None


# Sidecars whose own suffix is a media kind's but which are never a recording themselves.
SIDECAR_MEDIA_SUFFIXES = frozenset({".lrv", ".lrf", ".thm"})
_GOPRO_LOW_RES = re.compile(r"gl([0-9]{6})\.lrv", re.ASCII)  # GL011234.LRV: chapter 01, clip 1234
_SONY_METADATA = re.compile(r"(.+)m[0-9]{2}\.xml", re.ASCII)  # C0001M01.XML beside C0001.MP4
_KIND_ORDER = (MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.PHOTO, MediaKind.OTHER)


def is_medium(rel_path: str, kind: MediaKind) -> bool:
    """True for a recording a sidecar can travel with: a video, audio or photo that is not a
    sidecar by its suffix (.LRV, .LRF, .THM), or a recorder's own container (.dav, .264...)."""
    suffix = PurePosixPath(rel_path.rsplit("/", 1)[-1].lower()).suffix
    if kind is MediaKind.OTHER:
        return suffix in RECORDER_SUFFIXES
    return suffix not in SIDECAR_MEDIA_SUFFIXES


def sidecar_targets(files: Iterable[tuple[str, MediaKind]]) -> dict[str, str]:
    """For each file that travels with a medium in the same folder, that medium's rel_path.

    `files` are (rel_path, provisional kind) of the files kept from one volume. A medium
    (`is_medium`) is never a sidecar, so `IMG_0001.JPG` and `IMG_0001.MOV` (a phone's live
    photo) are both recordings. When several media share the sidecar's base name, video is
    preferred to audio, audio to photo, then the first by path. Files with no medium are not
    in the result.
    """
    listed = sorted(set(files))
    by_stem: dict[tuple[str, str], list[tuple[int, str]]] = {}
    by_name: dict[tuple[str, str], str] = {}
    others: list[tuple[str, str, str]] = []
    for rel_path, kind in listed:
        folder, _, name = rel_path.rpartition("/")
        lower = name.lower()
        if is_medium(rel_path, kind):
            stem = PurePosixPath(lower).stem
            by_stem.setdefault((folder, stem), []).append((_KIND_ORDER.index(kind), rel_path))
            by_name.setdefault((folder, lower), rel_path)
        else:
            others.append((rel_path, folder, lower))

    def medium_with_stem(folder: str, stem: str) -> str | None:
        candidates = by_stem.get((folder, stem))
        return min(candidates)[1] if candidates else None

    targets: dict[str, str] = {}
    for rel_path, folder, lower in others:
        target = None
        if gopro := _GOPRO_LOW_RES.fullmatch(lower):
            target = medium_with_stem(folder, "gh" + gopro[1]) or medium_with_stem(
                folder, "gx" + gopro[1]
            )
        if target is None and (sony := _SONY_METADATA.fullmatch(lower)):
            target = medium_with_stem(folder, sony[1])
        if target is None:
            target = by_name.get((folder, PurePosixPath(lower).stem))
        if target is None:
            target = medium_with_stem(folder, PurePosixPath(lower).stem)
        if target is not None:
            targets[rel_path] = target
    return targets
