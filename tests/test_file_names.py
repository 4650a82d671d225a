"""What a camera file's name tells us: timestamp, sequence, GoPro chapter, family, importance."""

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.file_names import NameFacts, parse_name

STAMP = datetime(2026, 11, 27, 9, 30, 15)


@pytest.mark.parametrize(
    "path",
    [
        "DCIM/100MEDIA/ZFY001_20261127093015_0001.MP4",
        "ZFY_20261127_093015_0002.MP4",
        "RECORD/20261127-093015.AVI",
        "Recordings/2026-11-27_09-30-15.wav",
        "Screenshot_2026-11-27-09-30-15.png",
        "2026-11-27 09.30.15.mp4",
        "DCIM/Camera/IMG_20261127_093015.jpg",
        "DCIM/Camera/VID_20261127_093015.mp4",
        "DCIM/Camera/IMG20261127093015.jpg",
        "DCIM/100MEDIA/DJI_20261127093015_0007_D.MP4",
        "DCIM/MOVIE/2026_1127_093015_001.MOV",
        "012345_20261127093015.MP4",
    ],
)
def test_timestamp_forms_give_the_naive_local_time(path: str) -> None:
    facts = parse_name(path)
    assert facts.timestamp == STAMP
    assert facts.timestamp.tzinfo is None


@pytest.mark.parametrize(
    "path",
    [
        "ZFY_20261327093015.MP4",  # month 13
        "ZFY_20260230_120000.MP4",  # 30 February
        "ZFY_20261127_250000.MP4",  # hour 25
        "ZFY_19991231235959.MP4",  # before 2000
        "ZFY_21000101000000.MP4",  # after 2099
        "ZFY_20261127.MP4",  # a date without a time
        "ZFY_2026112709301.MP4",  # 13 digits
        "ZFY_202611270930150.MP4",  # 15 digits
        "٢٠٢٦١١٢٧٠٩٣٠١٥.MP4",  # Arabic-Indic digits are not a camera's
    ],
)
def test_impossible_or_partial_timestamps_are_none(path: str) -> None:
    assert parse_name(path).timestamp is None


def test_a_20_digit_device_id_is_not_a_timestamp() -> None:
    # GB/T 28181: 8 digits of area code, 151 camera, then a serial; its first 14 digits or
    # any 14-digit slice may look like a date.
    assert parse_name("34020000001510000001_0001.MP4").timestamp is None
    assert parse_name("20261127093015100001.MP4").timestamp is None
    assert parse_name("X20261127093015100001_0003.MP4").timestamp is None


def test_a_timestamp_next_to_a_20_digit_device_id_is_found() -> None:
    facts = parse_name("34020000001510000001_20261127093015_0001.MP4")
    assert (facts.timestamp, facts.sequence) == (STAMP, 1)


def test_the_first_valid_timestamp_wins_when_a_name_holds_start_and_end() -> None:
    assert parse_name("20261127093015_20261127094015.MP4").timestamp == STAMP
    assert parse_name("99999999999999_20261127093015.MP4").timestamp == STAMP


@pytest.mark.parametrize(
    ("path", "sequence"),
    [
        ("ZFY_20261127_093015_0002.MP4", 2),
        ("ZFY001_20261127093015_0001.MP4", 1),
        ("REC-123.AVI", 123),
        ("DJI_0001.JPG", 1),
        ("DJI_20261127093015_0007_D.MP4", 7),
        ("DJI_20261127093015_0007_W.MP4", 7),
        ("2026_1127_093015_001.MOV", 1),
        ("ZFY_12.MP4", None),  # two digits
        ("ZFY_12345.MP4", None),  # five digits
        ("MOVI0002.AVI", None),  # no separator
        ("IMG_20261127_093015.jpg", None),  # six digits are the time
        ("ZFY_0002_X.MP4", None),  # X is not a lens letter
        ("ZFY_0002\n", None),  # a newline after the digits ends nothing
    ],
)
def test_sequence_is_a_trailing_3_or_4_digit_counter(path: str, sequence: int | None) -> None:
    assert parse_name(path).sequence == sequence


@pytest.mark.parametrize(
    ("path", "gopro"),
    [
        ("DCIM/100GOPRO/GH011234.MP4", ("1234", 1)),
        ("DCIM/100GOPRO/GH021234.MP4", ("1234", 2)),
        ("DCIM/100GOPRO/GX031234.MP4", ("1234", 3)),
        ("DCIM/100GOPRO/GOPR1234.MP4", ("1234", 0)),
        ("DCIM/100GOPRO/GP011234.MP4", ("1234", 1)),
        ("dcim/100gopro/gh011234.mp4", ("1234", 1)),
        ("DCIM/100GOPRO/GH0112345.MP4", None),
        ("DCIM/100GOPRO/XGH011234.MP4", None),
    ],
)
def test_gopro_chapters_and_clip_numbers(path: str, gopro: tuple[str, int] | None) -> None:
    facts = parse_name(path)
    assert facts.gopro == gopro
    if gopro is not None:
        assert facts.sequence is None


def _family(path: str) -> str:
    return parse_name(path).family


def test_segments_of_one_recording_share_a_family() -> None:
    assert _family("DCIM/ZFY001_20261127093015_0001.MP4") == _family(
        "DCIM/ZFY001_20261127094015_0002.MP4"
    )
    assert _family("DCIM/ZFY001_20261127093015_0001.MP4") == _family(
        "DCIM/ZFY001_20261127094015_0002.mp4"
    )


def test_gopro_chapters_of_one_clip_share_a_family_and_other_clips_do_not() -> None:
    assert _family("DCIM/GH011234.MP4") == _family("DCIM/GH021234.MP4")
    assert _family("DCIM/GOPR1234.MP4") == _family("DCIM/GP011234.MP4")
    assert _family("DCIM/GH011234.MP4") != _family("DCIM/GH011235.MP4")
    assert _family("DCIM/GH011234.MP4") != _family("DCIM/GX011234.MP4")


def test_different_folder_extension_or_dji_lens_means_another_family() -> None:
    name = "ZFY001_20261127093015_0001"
    assert _family(f"DCIM/A/{name}.MP4") != _family(f"DCIM/B/{name}.MP4")
    assert _family(f"DCIM/{name}.MP4") != _family(f"DCIM/{name}.WAV")
    assert _family("DJI_20261127093015_0001_D.MP4") != _family("DJI_20261127093015_0001_W.MP4")


def test_marking_one_segment_important_keeps_its_family() -> None:
    plain = _family("DCIM/ZFY_20261127_093015_0001.MP4")
    assert _family("DCIM/!ZFY_20261127_094015_0002.MP4") == plain
    assert _family("DCIM/ZFY_IMP_20261127_094015_0002.MP4") == plain


@pytest.mark.parametrize(
    "folder",
    ["IMPORTANT", "Important", "imp", "EMERGENCY", "EMR", "EVENT", "LOCK", "Locked"]
    + ["PROTECT", "protected", "重要", "重点"],
)
def test_vendor_important_folders_mark_the_file(folder: str) -> None:
    assert parse_name(f"DCIM/{folder}/ZFY_20261127_093015_0001.MP4").important


@pytest.mark.parametrize(
    "name",
    ["ZFY_20261127_093015_0001_IMP.MP4", "IMPORTANT_0001.MP4", "ZFY-emr-0001.MP4"]
    + ["ZFY.LOCK.MP4", "!ZFY_20261127_093015_0001.MP4"],
)
def test_vendor_important_tokens_mark_the_file(name: str) -> None:
    assert parse_name(f"DCIM/{name}").important


@pytest.mark.parametrize(
    "path",
    [
        "IMPORTED/ZFY_0001.MP4",
        "EVENTS/ZFY_0001.MP4",
        "LOCKER/ZFY_0001.MP4",
        "DCIM/SIMPLE_0001.MP4",
        "DCIM/IMPORTANTLY_0001.MP4",
        "DCIM/EVENT_0001.MP4",  # EVENT marks a folder, not a name token
        "DCIM/ZFY_ımp_0001.MP4",  # dotless ı upper-cases to I; not the word IMP
        "DCIM/ZFY_0001.MP4!",
        "IMPORTANT.BAK/ZFY_0001.MP4",
    ],
)
def test_words_that_only_contain_a_mark_are_not_important(path: str) -> None:
    assert not parse_name(path).important


@pytest.mark.parametrize(
    "path",
    ["", "/", "//", ".", ".MP4", "DCIM/", "\x00\x1f\n", "   .MP4", "名字.MP4", "a\\b.mp4"]
    + ["DCIM/../..", "ZFY_\udcff_0001.MP4", "\u202egnp.exe"],
)
def test_junk_names_give_empty_facts_without_raising(path: str) -> None:
    facts = parse_name(path)
    assert facts.timestamp is None
    assert facts.gopro is None
    assert isinstance(facts.family, str)


@given(st.text())
def test_any_text_parses_without_raising(path: str) -> None:
    assert isinstance(parse_name(path), NameFacts)


@given(
    st.lists(st.sampled_from(["_", "-", ".", "/", "2026", "1127", "093015", "0001"]) | st.text())
)
def test_name_like_text_parses_without_raising(pieces: list[str]) -> None:
    facts = parse_name("".join(pieces))
    assert facts.timestamp is None or 2000 <= facts.timestamp.year <= 2099
    assert facts.sequence is None or 0 <= facts.sequence <= 9999
