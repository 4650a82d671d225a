"""What a file's name on a camera tells us: a local timestamp, the segment sequence number, the
GoPro chapter, the recording family it belongs to, and whether the officer marked it important.

Pure (no I/O). Names are data from devices and may hold anything; nothing here raises.

Importance marks are vendor habits, not a standard: a folder named IMPORTANT, IMP, EMERGENCY,
EMR, EVENT, LOCK, LOCKED, PROTECT, PROTECTED, 重要 or 重点 (cameras and dash cams move marked
or G-sensor-locked files there); a stem token IMP, IMPORTANT, EMR or LOCK; or a name starting
with "!". Whole folder names and tokens only, never substrings: IMPORTED, EVENTS, LOCKER or
SIMPLE are ordinary names, and a false "important" keeps a file and draws a reviewer's eye.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_TS = r"(?P<Y>[0-9]{4})"  # every form names its fields Y M D h m s
# Each form must be bounded by non-digits: a timestamp is never a slice of a longer digit run
# (a 20-digit GB/T 28181 device ID holds plausible "dates").
_TIMESTAMP_FORMS = tuple(
    re.compile(form, re.ASCII)
    for form in (
        # 14 digits: ZFY001_20261127093015_0001, DJI_20261127093015_0007_D, IMG20261127093015
        r"(?<![0-9])" + _TS + r"(?P<M>[0-9]{2})(?P<D>[0-9]{2})"
        r"(?P<h>[0-9]{2})(?P<m>[0-9]{2})(?P<s>[0-9]{2})(?![0-9])",
        # 8 + 6 split by one separator: IMG_20261127_093015, VID_20261127_093015, 20261127-093015
        r"(?<![0-9])" + _TS + r"(?P<M>[0-9]{2})(?P<D>[0-9]{2})[_-]"
        r"(?P<h>[0-9]{2})(?P<m>[0-9]{2})(?P<s>[0-9]{2})(?![0-9])",
        # 2026-11-27_09-30-15 (phones, recorders), also 2026_11_27_09_30_15, 2026-11-27 09.30.15
        r"(?<![0-9])" + _TS + r"(?P<ds>[-_])(?P<M>[0-9]{2})(?P=ds)(?P<D>[0-9]{2})[-_ T]"
        r"(?P<h>[0-9]{2})(?P<ts>[-_.])(?P<m>[0-9]{2})(?P=ts)(?P<s>[0-9]{2})(?![0-9])",
        # Novatek-based cameras: 2026_1127_093015_001.MOV
        r"(?<![0-9])" + _TS + r"_(?P<M>[0-9]{2})(?P<D>[0-9]{2})_"
        r"(?P<h>[0-9]{2})(?P<m>[0-9]{2})(?P<s>[0-9]{2})(?![0-9])",
    )
)
# ..._0002 or DJI ..._0007_D (the letter is the lens: D default, W wide, T tele, Z zoom).
# \Z, not $: a name may end in a newline, and $ would match before it.
_SEQUENCE = re.compile(r"[_-](?P<seq>[0-9]{3,4})(?:[_-][DWTZdwtz])?\Z", re.ASCII)
# GH01xxxx / GX01xxxx (chapter 01..), old scheme GOPRxxxx (first chapter) then GP01xxxx.
_GOPRO_CHAPTER = re.compile(
    r"(?P<scheme>G[HXP])(?P<chapter>[0-9]{2})(?P<clip>[0-9]{4})", re.I | re.A
)
_GOPRO_FIRST = re.compile(r"GOPR(?P<clip>[0-9]{4})", re.I | re.A)
_DIGIT_RUN = re.compile(r"[0-9]+", re.ASCII)
_TOKEN_SEPARATOR = re.compile(r"([_.-])")

_IMPORTANT_FOLDERS = frozenset(
    {"IMPORTANT", "IMP", "EMERGENCY", "EMR", "EVENT", "LOCK", "LOCKED", "PROTECT", "PROTECTED"}
    | {"重要", "重点"}
)
_IMPORTANT_TOKENS = frozenset({"IMP", "IMPORTANT", "EMR", "LOCK"})


@dataclass(frozen=True)
class NameFacts:
    timestamp: datetime | None
    """Local (naive) time written in the name; the caller decides the zone."""
    sequence: int | None
    """The camera's segment counter at the end of the stem (..._0002, DJI ..._0007_D)."""
    gopro: tuple[str, int] | None
    """GoPro (clip number, chapter): GOPR1234 is chapter 0, GP011234 chapter 1, GH021234 2."""
    family: str
    """Key shared by the segments of one recording: the folder, the stem with every ASCII digit
    run as "#" and importance marks left out (GoPro: scheme + clip, chapter left out), the
    lower-case extension. A key to compare, not text to show."""
    important: bool
    """The officer marked the file important on the camera (重点标记)."""


def parse_name(path_on_device: str) -> NameFacts:
    """Facts from a file's path relative to the volume root (``/``-separated). Never raises:
    a name that says nothing gives None/False fields and a family of its own pattern."""
    parts = [part for part in path_on_device.split("/") if part not in ("", ".")]
    name = parts[-1] if parts else ""
    folders = parts[:-1]
    dot = name.rfind(".")
    # A leading dot (".hidden") starts a name, not an extension.
    stem, ext = (name[:dot], name[dot + 1 :].lower()) if dot > 0 else (name, "")

    timestamp, ts_span = _timestamp(stem)
    gopro = _gopro(stem)
    sequence = None if gopro else _sequence(stem, ts_span)
    if gopro:
        scheme = "GP" if stem[:4].upper() == "GOPR" else stem[:2].upper()
        pattern = scheme + gopro[0]
    else:
        pattern = _DIGIT_RUN.sub("#", _without_marks(stem))
    family = "/".join([*folders, pattern]) + ("." + ext if ext else "")
    important = (
        any(_is_word(folder, _IMPORTANT_FOLDERS) for folder in folders)
        or name.startswith("!")
        or any(_is_word(token, _IMPORTANT_TOKENS) for token in _TOKEN_SEPARATOR.split(stem))
    )
    return NameFacts(timestamp, sequence, gopro, family, important)


def _timestamp(stem: str) -> tuple[datetime | None, tuple[int, int] | None]:
    """The first (leftmost) well-formed timestamp that is a real time in 2000..2099."""
    matches = sorted(
        (
            (match.start(), index, match)
            for index, form in enumerate(_TIMESTAMP_FORMS)
            for match in form.finditer(stem)
        ),
        key=lambda found: (found[0], found[1]),
    )
    for _, _, match in matches:
        year, month, day, hour, minute, second = (
            int(match[field]) for field in ("Y", "M", "D", "h", "m", "s")
        )
        if not 2000 <= year <= 2099:
            continue
        try:
            return datetime(year, month, day, hour, minute, second), match.span()
        except ValueError:
            continue
    return None, None


def _sequence(stem: str, ts_span: tuple[int, int] | None) -> int | None:
    match = _SEQUENCE.search(stem)
    if match is None:
        return None
    if ts_span is not None and match.start("seq") < ts_span[1] and ts_span[0] < match.end("seq"):
        return None  # the digits belong to the timestamp
    return int(match["seq"])


def _gopro(stem: str) -> tuple[str, int] | None:
    if first := _GOPRO_FIRST.fullmatch(stem):
        return first["clip"], 0
    if chapter := _GOPRO_CHAPTER.fullmatch(stem):
        return chapter["clip"], int(chapter["chapter"])
    return None


def _without_marks(stem: str) -> str:
    """The stem without importance marks, so marking one segment does not split a recording."""
    pieces = _TOKEN_SEPARATOR.split(stem.lstrip("!"))
    kept: list[str] = []
    for index in range(0, len(pieces), 2):
        token = pieces[index]
        if _is_word(token, _IMPORTANT_TOKENS):
            continue
        kept.append((pieces[index - 1] if index and kept else "") + token)
    return "".join(kept)


def _is_word(text: str, words: frozenset[str]) -> bool:
    """Whole-word match; ASCII case-insensitive. Only ASCII is upper-cased: "ımp".upper() is
    "IMP" and must not count."""
    return (text.upper() if text.isascii() else text) in words
