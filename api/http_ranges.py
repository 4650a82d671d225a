"""Parsing an HTTP `Range` request header (RFC 9110 section 14) for one byte range.

Pure: no I/O, no framework. Players ask for one range at a time; a request for several
ranges is answered with the whole representation (200), which RFC 9110 allows.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class ByteRange(NamedTuple):
    start: int
    end: int
    """Inclusive, as in `Content-Range`."""

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class RangeNotSatisfiable(Exception):
    """No byte of the requested range exists: answer 416 with `Content-Range: bytes */size`."""

    def __init__(self, header: str, size: int) -> None:
        super().__init__(f"Range {header!r} is outside the {size} bytes of this object")
        self.size = size

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


_RANGE_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range to send of an object of `size` bytes, or None to send all of it.

    None when there is no header, it is not a single `bytes` range, or it is malformed
    (RFC 9110 lets a server ignore such a header). The end is clipped to the object. Raises
    RangeNotSatisfiable when the range starts past the end or asks for a zero-length suffix.
    """
    if header is None:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in specs:
        return None
    match = _RANGE_SPEC.match(specs)
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None  # syntactically invalid: ignored, not unsatisfiable
        if start >= size:
            raise RangeNotSatisfiable(header, size)
        return ByteRange(start, min(end, size - 1))
    if not last:
        return None  # "bytes=-"
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise RangeNotSatisfiable(header, size)
    return ByteRange(max(0, size - suffix), size - 1)
