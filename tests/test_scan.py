"""Scanning a volume: every file kept or skipped for a stated reason, nothing followed.

The volumes are shaped like real cards (GoPro, DJI, a DVR export, cards a Windows PC and a Mac
have touched); their files hold placeholder bytes: scanning never reads contents.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.scan import (
    INCOMPLETE_REASONS,
    MAX_DEPTH,
    ScanResult,
    SkipReason,
    printable_name,
    scan_volume,
)
from wire.media_kinds import MediaKind

V, A, P, OTH = MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.PHOTO, MediaKind.OTHER
OS, CAMERA = SkipReason.OS_ARTEFACT, SkipReason.CAMERA_SYSTEM


def _make(vol: Path, *rel_paths: str) -> None:
    """Files with a few bytes each (a trailing / makes an empty folder)."""
    for rel in rel_paths:
        path = vol / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * 16)


def _kept(result: ScanResult) -> dict[str, tuple[MediaKind, str | None]]:
    return {f.rel_path: (f.kind, f.sidecar_of) for f in result.found}


def _skips(result: ScanResult) -> dict[str, SkipReason]:
    return {s.rel_path: s.reason for s in result.skipped}


def _assert_every_entry_accounted_for(vol: Path, result: ScanResult) -> None:
    """Each entry of the volume is found or skipped (once), or lies in a skipped folder."""
    found = {f.rel_path for f in result.found}
    skipped = {s.rel_path for s in result.skipped}
    assert not found & skipped
    assert len(found) == len(result.found) and len(skipped) == len(result.skipped)
    skipped_folders = {s for s in skipped if (vol / s).is_dir() and not (vol / s).is_symlink()}
    for folder, dirs, files in os.walk(vol):
        parts = Path(folder).relative_to(vol).parts
        rel_folder = "/".join(printable_name(part) for part in parts)
        if rel_folder in skipped_folders:
            dirs.clear()
            continue
        for name in files + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            rel = f"{rel_folder}/{printable_name(name)}" if rel_folder else printable_name(name)
            assert rel in found or rel in skipped, f"{rel} is neither kept nor skipped"
    for s in result.skipped:
        assert s.reason in set(SkipReason)
        assert s.detail, f"{s.rel_path}: a skip must say what the entry is"


def test_media_kept_others_kept_and_skips_with_reasons(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    _make(
        vol,
        "DCIM/100MEDIA/A_0001.MP4",
        "RECORD/r.WAV",
        "PHOTO/p.jpg",
        "LOG/dev.log",
        "System Volume Information/x.mp4",
        "._A_0001.MP4",
    )
    (vol / "empty.mp4").write_bytes(b"")
    (vol / "escape.mp4").symlink_to(tmp_path)
    os.mkfifo(vol / "pipe.mp4")
    with open(os.fsencode(str(vol)) + b"/bad\xff.mp4", "wb") as f:
        f.write(b"b" * 5)

    result = scan_volume(vol)

    assert _kept(result) == {
        "DCIM/100MEDIA/A_0001.MP4": (V, None),
        "LOG/dev.log": (OTH, None),  # a camera's operation log is evidence of when it recorded
        "PHOTO/p.jpg": (P, None),
        "RECORD/r.WAV": (A, None),
        "bad\\xff.mp4": (V, None),
    }
    assert _skips(result) == {
        "empty.mp4": SkipReason.EMPTY,
        "System Volume Information": OS,
        "._A_0001.MP4": OS,
        "escape.mp4": SkipReason.SYMLINK,
        "pipe.mp4": SkipReason.SPECIAL,
    }
    details = {s.rel_path: s.detail for s in result.skipped}
    assert details["._A_0001.MP4"] == "macOS resource fork (AppleDouble file)"
    assert "Windows" in details["System Volume Information"]
    assert (details["pipe.mp4"], details["empty.mp4"]) == (
        "named pipe (FIFO)",
        "empty file (0 bytes)",
    )
    _assert_every_entry_accounted_for(vol, result)


def test_a_file_of_a_type_nobody_knows_is_kept_as_other_never_skipped(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    names = ["DCIM/X_0001.QQQ", "DCIM/README", "DCIM/.hidden", "DCIM/clip.MP4.part", "a.b.c"]
    _make(vol, *names)
    result = scan_volume(vol)
    assert _kept(result) == dict.fromkeys(names, (OTH, None))
    assert result.skipped == []


def test_a_gopro_card(tmp_path: Path) -> None:
    vol = tmp_path / "gopro"
    _make(
        vol,
        "DCIM/100GOPRO/GH010001.MP4",
        "DCIM/100GOPRO/GH020001.MP4",
        "DCIM/100GOPRO/GL010001.LRV",
        "DCIM/100GOPRO/GL020001.LRV",
        "DCIM/100GOPRO/GH010001.THM",
        "DCIM/100GOPRO/GH020001.THM",
        "DCIM/100GOPRO/GX010002.MP4",
        "DCIM/100GOPRO/GL010002.LRV",
        "DCIM/100GOPRO/GX010002.THM",
        "DCIM/100GOPRO/GOPR0003.JPG",
        "DCIM/100GOPRO/GL010009.LRV",  # its clip was deleted on the camera: kept on its own
        "MISC/version.txt",
        "MISC/GoPro-owner.txt",
        "UPDATE/DATA.bin",
        "Get_started_with_GoPro.url",
    )
    result = scan_volume(vol)
    d = "DCIM/100GOPRO/"
    assert _kept(result) == {
        d + "GH010001.MP4": (V, None),
        d + "GH010001.THM": (P, d + "GH010001.MP4"),
        d + "GH020001.MP4": (V, None),
        d + "GH020001.THM": (P, d + "GH020001.MP4"),
        d + "GL010001.LRV": (V, d + "GH010001.MP4"),
        d + "GL010002.LRV": (V, d + "GX010002.MP4"),
        d + "GL010009.LRV": (V, None),
        d + "GL020001.LRV": (V, d + "GH020001.MP4"),
        d + "GOPR0003.JPG": (P, None),
        d + "GX010002.MP4": (V, None),
        d + "GX010002.THM": (P, d + "GX010002.MP4"),
        "MISC/GoPro-owner.txt": (OTH, None),
    }
    assert _skips(result) == {
        "Get_started_with_GoPro.url": CAMERA,
        "MISC/version.txt": CAMERA,
        "UPDATE/DATA.bin": CAMERA,
    }
    details = {s.rel_path: s.detail for s in result.skipped}
    assert details["UPDATE/DATA.bin"] == "camera firmware or update package"
    _assert_every_entry_accounted_for(vol, result)


def test_a_dji_card(tmp_path: Path) -> None:
    vol = tmp_path / "dji"
    d = "DCIM/100MEDIA/"
    new = "DJI_20240308083000_0004_D"
    _make(
        vol,
        d + "DJI_0001.MP4",
        d + "DJI_0001.SRT",
        d + "dji_0001.lrf",  # the card was copied by a tool that lower-cased names
        d + "DJI_0002.JPG",
        d + "DJI_0002.DNG",  # raw photo beside the JPEG: two photos, neither a sidecar
        d + f"{new}.MP4",
        d + f"{new}.SRT",
        d + f"{new}.LRF",
        "MISC/THM/DJI_0001.THM",  # another folder: a thumbnail on its own
        "MISC/IDX/DJI_0001.IDX",
        "MISC/LOG/flight.log",
        "MISC/setting.dat",
        "dji_system.bin",
    )
    result = scan_volume(vol)
    assert _kept(result) == {
        d + "DJI_0001.MP4": (V, None),
        d + "DJI_0001.SRT": (OTH, d + "DJI_0001.MP4"),
        d + "DJI_0002.DNG": (P, None),
        d + "DJI_0002.JPG": (P, None),
        d + f"{new}.LRF": (V, d + f"{new}.MP4"),
        d + f"{new}.MP4": (V, None),
        d + f"{new}.SRT": (OTH, d + f"{new}.MP4"),
        d + "dji_0001.lrf": (V, d + "DJI_0001.MP4"),
        "MISC/IDX/DJI_0001.IDX": (OTH, None),
        "MISC/LOG/flight.log": (OTH, None),
        "MISC/THM/DJI_0001.THM": (P, None),
    }
    assert _skips(result) == {"MISC/setting.dat": CAMERA, "dji_system.bin": CAMERA}
    _assert_every_entry_accounted_for(vol, result)


def test_a_dvr_export_keeps_every_recording_and_its_notes(tmp_path: Path) -> None:
    vol = tmp_path / "export"
    e = "EXPORT/20240308/"
    _make(
        vol,
        e + "ch01_20240308083000.dav",
        e + "ch01_20240308083000.txt",
        e + "ch02_20240308083000.264",
        e + "ch02_20240308083000.idx",
        e + "ch03_20240308083000.psf",
        e + "ch04_20240308083000.mp4",  # Hikvision: MPEG-PS inside, found by probing
        e + "ch05.h265",
        e + "ch06.ifv",
        e + "ch07.hik",
        e + "ch08.ps",
        e + "ch08.gpx",
        "EXPORT/export.xml",
        "EXPORT/player/SmartPlayer.exe",
        "EXPORT/player/config.ini",  # not in the root or a system folder: kept
        "digicap.dav",  # Hikvision's firmware image has this name in the root
    )
    result = scan_volume(vol)
    assert _kept(result) == {
        e + "ch01_20240308083000.dav": (OTH, None),
        e + "ch01_20240308083000.txt": (OTH, e + "ch01_20240308083000.dav"),
        e + "ch02_20240308083000.264": (OTH, None),
        e + "ch02_20240308083000.idx": (OTH, e + "ch02_20240308083000.264"),
        e + "ch03_20240308083000.psf": (OTH, None),
        e + "ch04_20240308083000.mp4": (V, None),
        e + "ch05.h265": (OTH, None),
        e + "ch06.ifv": (OTH, None),
        e + "ch07.hik": (OTH, None),
        e + "ch08.gpx": (OTH, e + "ch08.ps"),
        e + "ch08.ps": (OTH, None),
        "EXPORT/export.xml": (OTH, None),
        "EXPORT/player/SmartPlayer.exe": (OTH, None),
        "EXPORT/player/config.ini": (OTH, None),
    }
    assert _skips(result) == {"digicap.dav": CAMERA}
    _assert_every_entry_accounted_for(vol, result)


def test_a_card_a_windows_pc_touched(tmp_path: Path) -> None:
    vol = tmp_path / "win"
    _make(
        vol,
        "System Volume Information/IndexerVolumeGuid",
        "System Volume Information/WPSettings.dat",
        "$RECYCLE.BIN/S-1-5-21-1004/$RA1B2C3.MP4",  # a recording someone deleted on the PC
        "$RECYCLE.BIN/S-1-5-21-1004/$IA1B2C3.MP4",  # when, and from where
        "$RECYCLE.BIN/S-1-5-21-1004/desktop.ini",
        "FOUND.000/FILE0000.CHK",  # clusters chkdsk recovered: may be footage
        "DCIM/100MEDIA/V_0001.MP4",
        "DCIM/100MEDIA/Thumbs.db",
        "DCIM/100MEDIA/desktop.ini",
        "desktop.ini",
        "autorun.inf",
        "SETTING/menu.cfg",
        "SETTING/param.set",
        "SETTING/record.log",
        "config.ini",
        "firmware.brn",
    )
    result = scan_volume(vol)
    bin_ = "$RECYCLE.BIN/S-1-5-21-1004/"
    assert _kept(result) == {
        bin_ + "$IA1B2C3.MP4": (V, None),
        bin_ + "$RA1B2C3.MP4": (V, None),
        "DCIM/100MEDIA/V_0001.MP4": (V, None),
        "FOUND.000/FILE0000.CHK": (OTH, None),
        "SETTING/record.log": (OTH, None),
        "autorun.inf": (OTH, None),
    }
    assert _skips(result) == {
        bin_ + "desktop.ini": OS,
        "DCIM/100MEDIA/Thumbs.db": OS,
        "DCIM/100MEDIA/desktop.ini": OS,
        "SETTING/menu.cfg": CAMERA,
        "SETTING/param.set": CAMERA,
        "System Volume Information": OS,
        "config.ini": CAMERA,
        "desktop.ini": OS,
        "firmware.brn": CAMERA,
    }
    details = {s.rel_path: s.detail for s in result.skipped}
    assert details["DCIM/100MEDIA/Thumbs.db"] == "Windows thumbnail cache"
    assert details["config.ini"] == "camera settings"
    _assert_every_entry_accounted_for(vol, result)


def test_a_card_a_mac_touched(tmp_path: Path) -> None:
    vol = tmp_path / "mac"
    _make(
        vol,
        ".Spotlight-V100/Store-V2/store.db",
        ".fseventsd/fseventsd-uuid",
        ".Trashes/501/VID_0002.MP4",  # trashed in the Finder: still on the card, evidence
        ".Trashes/501/.DS_Store",
        ".metadata_never_index",
        ".DS_Store",
        "DCIM/.DS_Store",
        "DCIM/VID_0001.MP4",
        "DCIM/._VID_0001.MP4",
        "FSCK0000.REC",  # what fsck_msdos recovered: may be footage
        "lost+found/",
    )
    result = scan_volume(vol)
    assert _kept(result) == {
        ".Trashes/501/VID_0002.MP4": (V, None),
        "DCIM/VID_0001.MP4": (V, None),
        "FSCK0000.REC": (OTH, None),
    }
    assert _skips(result) == {
        ".DS_Store": OS,
        ".Spotlight-V100": OS,
        ".Trashes/501/.DS_Store": OS,
        ".fseventsd": OS,
        ".metadata_never_index": OS,
        "DCIM/.DS_Store": OS,
        "DCIM/._VID_0001.MP4": OS,
    }
    _assert_every_entry_accounted_for(vol, result)


@contextmanager
def _volume_others_may_read() -> Iterator[Path]:
    """A volume folder that an unprivileged user can reach (pytest's tmp_path is root-only)."""
    with tempfile.TemporaryDirectory(prefix="scan-") as top:
        os.chmod(top, 0o755)
        yield Path(top)


def _scan_unprivileged(vol: Path) -> dict[str, tuple[str, str]]:
    """{rel_path: (reason, detail)} of the skips of `vol` scanned as a user without privileges.

    Root lists any folder whatever its mode, so as root the scan runs in a forked child that
    has become `nobody` (the venv's interpreter may not be reachable for a new process).
    """
    if os.geteuid() != 0:
        return {s.rel_path: (s.reason.value, s.detail) for s in scan_volume(vol).skipped}
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's clean-up
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            skips = {s.rel_path: (s.reason.value, s.detail) for s in scan_volume(vol).skipped}
            with os.fdopen(write_end, "w") as out:
                json.dump(skips, out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as inp:
        report = inp.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return {k: (v[0], v[1]) for k, v in json.loads(report).items()}


def test_a_trash_or_repair_folder_that_cannot_be_listed_is_the_os_not_an_incomplete_import() -> (
    None
):
    """A root-only lost+found must not keep a device docked; an ordinary folder that cannot be
    listed still does (the control, in the same scan)."""
    locked = ("lost+found", ".Trashes", "VIDEO")
    with _volume_others_may_read() as vol:
        _make(vol, "lost+found/#12345", ".Trashes/501/VID_0002.MP4", "DCIM/V.MP4", "VIDEO/v.MP4")
        try:
            for name in locked:
                os.chmod(vol / name, 0)
            skips = _scan_unprivileged(vol)
        finally:
            for name in locked:
                os.chmod(vol / name, 0o755)
    assert skips == {
        ".Trashes": ("os_artefact", "trash folder that could not be listed (Permission denied)"),
        "lost+found": (
            "os_artefact",
            "file-system repair folder that could not be listed (Permission denied)",
        ),
        "VIDEO": ("unreadable", "Permission denied"),
    }
    assert SkipReason("unreadable") in INCOMPLETE_REASONS
    assert SkipReason("os_artefact") not in INCOMPLETE_REASONS


def test_the_camera_s_own_files_are_skipped_only_in_its_root_or_system_folders(
    tmp_path: Path,
) -> None:
    vol = tmp_path / "vol"
    _make(
        vol,
        "update.bin",
        "SYSTEM/boot.img",
        "DCIM/100MEDIA/update.bin",
        "MPEGAV/AVSEQ01.DAT",  # a video CD's MPEG-1 video: kept
        "RECORD/setup.ini",
        "DCIM/version.txt",
    )
    result = scan_volume(vol)
    assert _skips(result) == {"SYSTEM/boot.img": CAMERA, "update.bin": CAMERA}
    assert set(_kept(result)) == {
        "DCIM/100MEDIA/update.bin",
        "DCIM/version.txt",
        "MPEGAV/AVSEQ01.DAT",
        "RECORD/setup.ini",
    }


def test_undecodable_name_and_its_lookalike_stay_distinct(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    with open(os.fsencode(str(vol)) + b"/a\xff.mp4", "wb") as f:
        f.write(b"raw byte")
    (vol / "a\\xff.mp4").write_bytes(b"literal backslash")
    names = sorted(f.rel_path for f in scan_volume(vol).found)
    assert names == ["a\\\\xff.mp4", "a\\xff.mp4"]


def test_a_sidecar_with_an_undecodable_name_finds_its_medium(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    for suffix in (b".MP4", b".SRT"):
        with open(os.fsencode(str(vol)) + b"/DJI_\xff" + suffix, "wb") as f:
            f.write(b"x")
    assert _kept(scan_volume(vol)) == {
        "DJI_\\xff.MP4": (V, None),
        "DJI_\\xff.SRT": (OTH, "DJI_\\xff.MP4"),
    }


def test_hostile_nesting_is_reported_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "vol"
    for _ in range(MAX_DEPTH + 5):
        folder = folder / "d"
    folder.mkdir(parents=True)
    (folder / "deep.mp4").write_bytes(b"x")
    result = scan_volume(tmp_path / "vol")
    assert result.found == []
    assert [(s.reason, s.detail) for s in result.skipped] == [
        (SkipReason.TOO_DEEP, f"folder nested more than {MAX_DEPTH} levels deep (not read)")
    ]


@pytest.mark.parametrize("name", ["x.txt", "x.log", "x.gpx", "x.bin", "x.dav", "x.THM"])
def test_a_fifo_is_never_opened_whatever_its_name(tmp_path: Path, name: str) -> None:
    """Opening a FIFO with no writer would hang the scan; reaching here is the proof."""
    vol = tmp_path / "vol"
    vol.mkdir()
    os.mkfifo(vol / name)
    assert _skips(scan_volume(vol)) == {name: SkipReason.SPECIAL}
