"""How long a signed-in page session lives. Pure: the catalogue keeps the times
(storage/catalogue/web_sessions.py).

A session ends after IDLE without a request, and at the latest after LIFETIME (one shift),
whatever its use: a terminal left signed in at the case-management center does not stay
open overnight."""

from __future__ import annotations

from datetime import datetime, timedelta

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
"""A request records its time on the session at most this often (one write a minute, not
one per thumbnail)."""


def live(*, created_at: datetime, last_seen_at: datetime, ended_at: datetime | None,
         now: datetime) -> bool:  # fmt: skip
    return ended_at is None and now < created_at + LIFETIME and now < last_seen_at + IDLE


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_EVERY
