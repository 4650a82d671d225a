"""How long a bearer token lives (issue 9, CONTRACT.md `station token create --expires-in`).

People's tokens expire within a working day unless told otherwise: a token copied off a
screen or left in a shell history stops working by the next shift. Machines (a station,
the case-handling system) hold theirs in configuration and may keep them until revoked.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

PEOPLE_ROLES = frozenset({"officer", "reviewer", "supervisor", "it_admin", "admin"})
MACHINE_ROLES = frozenset({"station", "case_system"})
PEOPLE_DEFAULT = timedelta(hours=12)
LONGEST = timedelta(days=3650)

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `90d` (or `45s`) as a timedelta; ValueError with what is accepted."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: give a whole number and s, m, h or d (30m, 12h, 90d)"
        )
    length = timedelta(**{_UNIT[match[2]]: int(match[1])})
    if length <= timedelta(0) or length > LONGEST:
        raise ValueError(f"{text!r}: a token lives more than 0 s and at most {LONGEST.days} days")
    return length


def expiry(role: str, now: datetime, expires_in: timedelta | None) -> datetime | None:
    """When a new token of `role` expires: `expires_in` from now, else a person's working
    day; None (until revoked) for a machine's token made without `expires_in`."""
    if expires_in is not None:
        return now + expires_in
    if role in MACHINE_ROLES:
        return None
    return now + PEOPLE_DEFAULT


def is_live(*, revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
    return revoked_at is None and (expires_at is None or now < expires_at)
