"""Range header parsing, alone (RFC 9110 section 14)."""

import pytest

from api.http_ranges import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),  # end clipped to the object
        ("bytes=-100", ByteRange(900, 999)),  # the last 100 bytes
        ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the object: all of it
        ("bytes=999-999", ByteRange(999, 999)),
        ("Bytes = 10 - 19 ", ByteRange(10, 19)),
    ],
)
def test_single_ranges_are_resolved_against_the_size(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "items=0-1",
        "bytes=abc",
        "bytes=-",
        "bytes=5-1",
        "bytes=0-1,5-9",
        "bytes=1.5-2",
        "bytes=--1",
    ],
)
def test_absent_malformed_or_multiple_ranges_mean_the_whole_object(header: str | None) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),
        ("bytes=5000-6000", 1000),
        ("bytes=-0", 1000),
        ("bytes=0-", 0),
        ("bytes=-10", 0),
    ],
)
def test_ranges_outside_the_object_are_not_satisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, size)
    assert raised.value.content_range == f"bytes */{size}"


def test_a_range_knows_its_length_and_content_range() -> None:
    assert ByteRange(10, 19).length == 10
    assert ByteRange(10, 19).content_range(100) == "bytes 10-19/100"
