"""Strings that cross the wire, bounded by the catalogue columns that keep them and plain.

Plain: no control characters and no bidirectional controls (U+202A-U+202E, U+2066-U+2069,
U+200E, U+200F, U+061C). An id or case number holding U+202E shows reversed on a page,
and one holding a newline forges lines in a log or a report. Prose (reasons, titles)
may hold line breaks and tabs, never bidirectional controls. Longer than its column, a
value would make PostgreSQL refuse the write on every retry; here it is a 422 at once.

A file's own name and path on a device are evidence as the device recorded them: they are
bounded but not refused for their characters (a camera's file must never fail to register
for its name), and the station and pages show them escaped.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_PROSE_CONTROLS = frozenset("\n\t\r")


def _first_forbidden(text: str, allowed: frozenset[str]) -> str | None:
    return next(
        (c for c in text if c in _BIDI or (unicodedata.category(c) == "Cc" and c not in allowed)),
        None,
    )


def plain(text: str) -> str:
    """`text`, or ValueError naming the control or bidirectional character it holds."""
    bad = _first_forbidden(text, frozenset())
    if bad is not None:
        raise ValueError(f"must not contain the control character U+{ord(bad):04X}")
    return text


NOTE_MAX = 4000


def escaped(text: str) -> str:
    """`text` with each control character but line breaks and tabs, and each bidirectional
    control, written as `\\uXXXX`, cut to NOTE_MAX characters: what a station says about a
    file often quotes the file's own name (or a tool's long output), and that must never
    make the file's registration fail."""
    out = "".join(
        f"\\u{ord(c):04x}"
        if c in _BIDI or (unicodedata.category(c) == "Cc" and c not in _PROSE_CONTROLS)
        else c
        for c in text
    )
    return out if len(out) <= NOTE_MAX else out[: NOTE_MAX - 14] + " … (truncated)"


def prose(text: str) -> str:
    """`text`, which may hold line breaks and tabs but no other control character."""
    bad = _first_forbidden(text, _PROSE_CONTROLS)
    if bad is not None:
        raise ValueError(f"must not contain the control character U+{ord(bad):04X}")
    return text


Id = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(plain),
]
"""A device, officer, unit, station, event or room id (String(128) columns)."""

CaseNo = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(plain)]
"""A case number, as the case-handling system issues it (String(64))."""

Code = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(plain)]
"""A codec, container or content-type name (String(64))."""

Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(prose),
]
"""Why a person did something, for the record."""

Title = Annotated[str, StringConstraints(max_length=500), AfterValidator(prose)]

Note = Annotated[str, AfterValidator(escaped)]
"""What a station says about a file (an unplayable reason, a proxy error, a raw time):
kept, with control and bidirectional characters escaped."""

DevicePath = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
"""A file's name or path on a device, kept as the device wrote it (see the module doc)."""

DeviceRef = Annotated[str, StringConstraints(min_length=1, max_length=128)]
"""A device id as a station saw it: the registry's, or the volume's own name (as written)."""
