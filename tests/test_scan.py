"""Scanning a volume: media found, everything else skipped with a reason, nothing followed."""

import os
from pathlib import Path

from ingest.scan import MAX_DEPTH, SkipReason, scan_volume
from wire.media_kinds import MediaKind


def test_media_found_and_others_skipped_with_reasons(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    (vol / "DCIM" / "100MEDIA").mkdir(parents=True)
    (vol / "DCIM" / "100MEDIA" / "A_0001.MP4").write_bytes(b"v" * 10)
    (vol / "RECORD").mkdir()
    (vol / "RECORD" / "r.WAV").write_bytes(b"a" * 10)
    (vol / "PHOTO").mkdir()
    (vol / "PHOTO" / "p.jpg").write_bytes(b"p" * 10)
    (vol / "LOG").mkdir()
    (vol / "LOG" / "dev.log").write_text("log")
    (vol / "empty.mp4").write_bytes(b"")
    (vol / "System Volume Information").mkdir()
    (vol / "System Volume Information" / "x.mp4").write_bytes(b"s")
    (vol / "._A_0001.MP4").write_bytes(b"r")
    (vol / "escape.mp4").symlink_to(tmp_path)
    os.mkfifo(vol / "pipe.mp4")
    bad = os.fsencode(str(vol)) + b"/bad\xff.mp4"
    with open(bad, "wb") as f:
        f.write(b"b" * 5)

    result = scan_volume(vol)

    kinds = {f.rel_path: f.kind for f in result.found}
    assert kinds == {
        "DCIM/100MEDIA/A_0001.MP4": MediaKind.VIDEO,
        "PHOTO/p.jpg": MediaKind.PHOTO,
        "RECORD/r.WAV": MediaKind.AUDIO,
        "bad\\xff.mp4": MediaKind.VIDEO,
    }
    reasons = {s.rel_path: s.reason for s in result.skipped}
    assert reasons == {
        "LOG/dev.log": SkipReason.NOT_MEDIA,
        "empty.mp4": SkipReason.EMPTY,
        "System Volume Information": SkipReason.SYSTEM,
        "._A_0001.MP4": SkipReason.SYSTEM,
        "escape.mp4": SkipReason.SYMLINK,
        "pipe.mp4": SkipReason.SPECIAL,
    }


def test_undecodable_name_and_its_lookalike_stay_distinct(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    with open(os.fsencode(str(vol)) + b"/a\xff.mp4", "wb") as f:
        f.write(b"raw byte")
    (vol / "a\\xff.mp4").write_bytes(b"literal backslash")
    names = sorted(f.rel_path for f in scan_volume(vol).found)
    assert names == ["a\\\\xff.mp4", "a\\xff.mp4"]


def test_hostile_nesting_is_reported_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "vol"
    for _ in range(MAX_DEPTH + 5):
        folder = folder / "d"
    folder.mkdir(parents=True)
    (folder / "deep.mp4").write_bytes(b"x")
    result = scan_volume(tmp_path / "vol")
    assert result.found == []
    assert [s.reason for s in result.skipped] == [SkipReason.TOO_DEEP]
