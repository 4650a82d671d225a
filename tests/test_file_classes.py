"""What a path is by its name: the OS's, the camera's own, or kept; sidecars and their media."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.file_classes import (
    Owner,
    file_class,
    folder_class,
    is_medium,
    may_be_unlistable,
    sidecar_targets,
)
from ingest.media_kinds import media_kind
from wire.media_kinds import MediaKind

V, A, P, OTH = MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.PHOTO, MediaKind.OTHER


@pytest.mark.parametrize(
    ("rel_path", "detail"),
    [
        ("._GH010001.MP4", "macOS resource fork (AppleDouble file)"),
        ("DCIM/100GOPRO/._GH010001.MP4", "macOS resource fork (AppleDouble file)"),
        ("DCIM/.DS_Store", "macOS folder view settings"),
        ("DCIM/100MEDIA/THUMBS.DB", "Windows thumbnail cache"),
        ("Desktop.ini", "Windows folder settings"),
        (".metadata_never_index", "macOS marker: do not index this volume"),
        (".VolumeIcon.icns", "macOS volume icon"),
    ],
)
def test_files_an_operating_system_writes_for_itself_are_its_anywhere(
    rel_path: str, detail: str
) -> None:
    assert (c := file_class(rel_path)) is not None and (c.owner, c.detail) == (Owner.OS, detail)


@pytest.mark.parametrize(
    ("rel_path", "detail"),
    [
        ("update.bin", "camera firmware or update package"),
        ("FIRMWARE.IMG", "camera firmware or update package"),
        ("UPDATE/DATA.bin", "camera firmware or update package"),
        ("misc/fw/app.FW", "camera firmware or update package"),
        ("SYSTEM/boot.brn", "camera firmware or update package"),
        ("config.ini", "camera settings"),
        ("SETTING/menu.cfg", "camera settings"),
        ("Setup/wifi.conf", "camera settings"),
        ("MISC/param.SET", "camera settings"),
        ("system.dat", "camera settings"),
        ("MISC/version.txt", "camera model and firmware version"),
        ("VERSION.TXT", "camera model and firmware version"),
        ("Get_started_with_GoPro.url", "web link the camera maker puts on the card"),
        ("digicap.dav", "Hikvision firmware image"),
    ],
)
def test_the_cameras_own_files_in_its_root_or_system_folders_are_the_cameras(
    rel_path: str, detail: str
) -> None:
    c = file_class(rel_path)
    assert c is not None and (c.owner, c.detail) == (Owner.CAMERA, detail)


@pytest.mark.parametrize(
    "rel_path",
    [
        "DCIM/100MEDIA/update.bin",  # not the root, not a system folder: unsure, so kept
        "MPEGAV/AVSEQ01.DAT",  # a video CD's MPEG-1 video
        "EXPORT/player/config.ini",
        "DCIM/version.txt",
        "DCIM/link.url",
        "EXPORT/digicap.dav",
        "device.log",  # the camera's operation log: evidence of when it recorded
        "MISC/LOG/20240308.log",
        "MISC/GoPro-owner.txt",
        "MISC/THM/DJI_0001.THM",
        "FSCK0000.REC",  # clusters a disk check recovered
        "FOUND.000/FILE0000.CHK",
        "autorun.inf",
        "notes.txt",
    ],
)
def test_anything_not_surely_the_os_s_or_the_camera_s_is_kept(rel_path: str) -> None:
    assert file_class(rel_path) is None


@pytest.mark.parametrize(
    ("rel_path", "walked"),
    [
        ("System Volume Information", False),
        ("sub/SYSTEM VOLUME INFORMATION", False),
        (".Spotlight-V100", False),
        (".fseventsd", False),
        ("$RECYCLE.BIN", True),  # deleted files: someone's evidence
        (".Trashes", True),
        (".Trash-1000", True),
        ("lost+found", True),
        ("FOUND.001", True),
        ("DCIM", True),
        ("MISC", True),
    ],
)
def test_only_folders_of_the_os_s_own_data_are_not_walked(rel_path: str, walked: bool) -> None:
    c = folder_class(rel_path)
    assert (c is None) == walked
    if c is not None:
        assert c.owner is Owner.OS and c.detail


@pytest.mark.parametrize(
    ("rel_path", "lenient"),
    [
        (".Trashes", True),
        ("$Recycle.Bin", True),
        (".Trash-0", True),
        ("lost+found", True),
        ("FOUND.000", True),
        ("DCIM", False),
        (".Trash-x", False),
        ("FOUND.0000", False),
    ],
)
def test_only_trash_and_repair_folders_may_be_unlistable_without_holding_up_an_import(
    rel_path: str, lenient: bool
) -> None:
    assert (may_be_unlistable(rel_path) is not None) == lenient


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("A.DV", V),
        ("00001.MTS", V),
        ("00001.m2ts", V),
        ("X.M2T", V),
        ("MOV001.MOD", V),
        ("MOV001.TOD", V),
        ("a.3gp", V),
        ("a.3G2", V),
        ("a.m4v", V),
        ("a.webm", V),
        ("a.flv", V),
        ("a.mpg", V),
        ("a.MPEG", V),
        ("VTS_01_1.VOB", V),
        ("C0001.MXF", V),
        ("a.ogv", V),
        ("a.wmv", V),
        ("a.asf", V),
        ("GL010001.LRV", V),
        ("DJI_0001.LRF", V),
        ("a.AMR", A),
        ("a.m4a", A),
        ("a.3ga", A),
        ("a.opus", A),
        ("a.ogg", A),
        ("a.aif", A),
        ("a.AIFF", A),
        ("a.caf", A),
        ("a.dng", P),
        ("a.TIF", P),
        ("GH010001.THM", P),
        ("a.dav", OTH),
        ("a.psf", OTH),
        ("a.h264", OTH),
        ("a.264", OTH),
        ("a.265", OTH),
        ("a.ps", OTH),
        ("a.ifv", OTH),
        ("a.hik", OTH),
        ("a.srt", OTH),
        ("a.gpx", OTH),
        ("README", OTH),
        (".mp4", OTH),  # a hidden file named ".mp4" has no suffix
    ],
)
def test_a_name_gives_a_provisional_kind_and_other_when_unknown(name: str, kind: MediaKind) -> None:
    assert media_kind(name) is kind


# --- sidecars --------------------------------------------------------------------------------


def test_gopro_low_res_copies_and_thumbnails_travel_with_their_chapter() -> None:
    d = "DCIM/100GOPRO/"
    files = [
        (d + "GH010001.MP4", V),
        (d + "GH020001.MP4", V),
        (d + "GL010001.LRV", V),
        (d + "GL020001.LRV", V),
        (d + "GH010001.THM", P),
        (d + "GX010002.MP4", V),
        (d + "GL010002.LRV", V),
        (d + "GOPR0003.MP4", V),
        (d + "GOPR0003.LRV", V),  # the old naming: same base name
    ]
    assert sidecar_targets(files) == {
        d + "GL010001.LRV": d + "GH010001.MP4",
        d + "GL020001.LRV": d + "GH020001.MP4",
        d + "GH010001.THM": d + "GH010001.MP4",
        d + "GL010002.LRV": d + "GX010002.MP4",
        d + "GOPR0003.LRV": d + "GOPR0003.MP4",
    }


def test_dji_telemetry_and_low_res_copies_travel_with_their_video_whatever_the_case() -> None:
    files = [
        ("DCIM/DJI_0001.MP4", V),
        ("DCIM/DJI_0001.SRT", OTH),
        ("DCIM/dji_0001.lrf", V),
        ("DCIM/DJI_20240308083000_0002_D.MP4", V),
        ("DCIM/DJI_20240308083000_0002_D.SRT", OTH),
    ]
    assert sidecar_targets(files) == {
        "DCIM/DJI_0001.SRT": "DCIM/DJI_0001.MP4",
        "DCIM/dji_0001.lrf": "DCIM/DJI_0001.MP4",
        "DCIM/DJI_20240308083000_0002_D.SRT": "DCIM/DJI_20240308083000_0002_D.MP4",
    }


@pytest.mark.parametrize(
    "suffix", [".GPX", ".nmea", ".KML", ".fit", ".srt", ".vtt", ".ass", ".XML", ".txt", ".json"]
)
def test_logs_and_subtitles_sharing_a_mediums_base_name_travel_with_it(suffix: str) -> None:
    files = [("V/REC_0001.MP4", V), ("V/rec_0001" + suffix, OTH)]
    assert sidecar_targets(files) == {"V/rec_0001" + suffix: "V/REC_0001.MP4"}


def test_vendor_metadata_named_after_the_whole_medium_travels_with_it() -> None:
    files = [
        ("CLIP/C0001.MP4", V),
        ("CLIP/C0001M01.XML", OTH),  # Sony XAVC S
        ("Camera/IMG_0001.JPG", P),
        ("Camera/IMG_0001.JPG.json", OTH),  # an export tool's metadata
    ]
    assert sidecar_targets(files) == {
        "CLIP/C0001M01.XML": "CLIP/C0001.MP4",
        "Camera/IMG_0001.JPG.json": "Camera/IMG_0001.JPG",
    }


def test_a_recorders_own_container_is_a_medium_its_notes_travel_with() -> None:
    files = [("EXPORT/ch01.dav", OTH), ("EXPORT/ch01.txt", OTH), ("EXPORT/notes.txt", OTH)]
    assert sidecar_targets(files) == {"EXPORT/ch01.txt": "EXPORT/ch01.dav"}


def test_media_sharing_a_base_name_are_all_recordings_and_video_wins_a_sidecar() -> None:
    files = [
        ("DCIM/IMG_0001.JPG", P),
        ("DCIM/IMG_0001.MOV", V),  # a phone's live photo: both are recordings
        ("DCIM/IMG_0001.WAV", A),
        ("DCIM/IMG_0001.AAE", OTH),
    ]
    assert sidecar_targets(files) == {"DCIM/IMG_0001.AAE": "DCIM/IMG_0001.MOV"}


def test_a_sidecar_never_travels_with_a_medium_in_another_folder_or_with_no_medium() -> None:
    files = [
        ("DCIM/100MEDIA/DJI_0001.MP4", V),
        ("MISC/THM/DJI_0001.THM", P),
        ("DCIM/DJI_0001.SRT", OTH),
        ("DCIM/100MEDIA/GL010009.LRV", V),
        ("DCIM/100MEDIA/GH010009.THM", P),  # a thumbnail is never a medium itself
        ("DCIM/100MEDIA/GH010009.SRT", OTH),
    ]
    assert sidecar_targets(files) == {}


_NAMES = st.sampled_from(
    [
        "GH010001.MP4",
        "GX010001.MP4",
        "GL010001.LRV",
        "GH010001.THM",
        "gh010001.thm",
        "DJI_0001.MP4",
        "DJI_0001.SRT",
        "DJI_0001.LRF",
        "dji_0001.mp4",
        "DJI_0001.JPG",
        "DJI_0001.JPG.json",
        "C0001.MP4",
        "C0001M01.XML",
        "ch01.dav",
        "ch01.txt",
        "ch01.264",
        "A.WAV",
        "a.gpx",
        "A",
        "a.b.c",
        ".hidden",
        "x.THM",
    ]
)
_FILES = st.lists(
    st.tuples(st.sampled_from(["", "DCIM", "DCIM/100GOPRO", "MISC"]), _NAMES),
    max_size=25,
)


@given(_FILES)
def test_a_sidecars_medium_is_a_kept_non_sidecar_medium_of_the_same_folder(
    picked: list[tuple[str, str]],
) -> None:
    typed = [(f"{folder}/{name}" if folder else name, media_kind(name)) for folder, name in picked]
    targets = sidecar_targets(typed)
    kinds = dict(typed)
    for sidecar, medium in targets.items():
        assert sidecar in kinds and medium in kinds and sidecar != medium
        assert sidecar.rpartition("/")[0] == medium.rpartition("/")[0]
        assert medium not in targets, "a medium is never itself a sidecar"
        assert is_medium(medium, kinds[medium])
        assert not is_medium(sidecar, kinds[sidecar])
    assert sidecar_targets(list(reversed(typed))) == targets  # the order of listing is irrelevant
