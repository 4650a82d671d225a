"""Points in time on the wire: with an offset, and representable in UTC.

A time like 9999-12-31T23:59:59-14:00 parses, but has no UTC form (it falls in year
10000): left to the catalogue, it fails the query or the write with an overflow. Here it
is refused as invalid input, and every accepted time is converted to UTC at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is outside the years 1-9999 once converted to UTC") from exc


Moment = Annotated[AwareDatetime, AfterValidator(in_utc)]
"""An aware time, converted to UTC; ValueError (422 at the api) when it has no UTC form."""
