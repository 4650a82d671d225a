"""Read values out of ffprobe's JSON report, which describes a hostile file: any field may be
missing, "N/A", of another type or absurd. Each reader returns None (or an empty object) for
what it cannot use and never raises. Used by `ingest.probe` and `ingest.playability`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def as_mapping(value: object) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_int(value: object) -> int | None:
    """`value` as a whole number (ffprobe prints some as strings), else None."""
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def as_float(value: object) -> float | None:
    """`value` as a finite number, else None (`inf`, `nan`, "N/A", other types)."""
    try:
        number = float(str(value)) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
