"""Fixity: whether a stored original still holds the bytes it was registered with, and how
many to re-read per run so that every one is read within a period.

Each run checks the originals checked longest ago (never-checked first), so with runs on
schedule, `share_per_run` of them per run reaches every original within the period, and a
collection that grows is caught up with by the next runs.
"""

from __future__ import annotations

import math
from datetime import timedelta
from enum import StrEnum


class FixityOutcome(StrEnum):
    OK = "ok"
    """The stored bytes hash to the catalogue's SHA-256."""
    MISMATCH = "mismatch"
    """They hash to something else: damaged or replaced."""
    MISSING = "missing"
    """The store has no object under the original's key."""


def outcome_of(expected_sha256: str, actual_sha256: str | None) -> FixityOutcome:
    """`actual_sha256` None: there was no object to read."""
    if actual_sha256 is None:
        return FixityOutcome.MISSING
    return FixityOutcome.OK if actual_sha256 == expected_sha256 else FixityOutcome.MISMATCH


def share_per_run(total: int, interval: timedelta, period: timedelta) -> int:
    """How many of `total` originals a run every `interval` checks so that each is checked
    within `period` (all of them when the interval is as long as the period)."""
    if total <= 0:
        return 0
    if interval >= period:
        return total
    return min(total, math.ceil(total * interval / period))
