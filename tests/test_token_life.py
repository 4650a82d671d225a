"""How long a token lives (rules/token_life.py), alone."""

from datetime import UTC, datetime, timedelta

import pytest

from rules.token_life import PEOPLE_DEFAULT, expiry, is_live, parse_duration

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "length"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("90d", timedelta(days=90)),
     (" 45s ", timedelta(seconds=45))],
)  # fmt: skip
def test_durations_read_as_written(text: str, length: timedelta) -> None:
    assert parse_duration(text) == length


@pytest.mark.parametrize("text", ["", "12", "h", "1.5h", "-3h", "0m", "12 hours", "99999d", "1w"])
def test_anything_else_is_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"30m|at most"):
        parse_duration(text)


def test_people_expire_within_a_working_day_and_machines_when_told() -> None:
    for role in ("officer", "reviewer", "supervisor", "it_admin", "admin"):
        until = expiry(role, NOW, None)
        assert until is not None and until - NOW == PEOPLE_DEFAULT <= timedelta(hours=12)
    assert expiry("station", NOW, None) is None
    assert expiry("case_system", NOW, None) is None
    assert expiry("station", NOW, timedelta(days=90)) == NOW + timedelta(days=90)
    assert expiry("officer", NOW, timedelta(minutes=30)) == NOW + timedelta(minutes=30)


def test_a_token_is_live_until_it_expires_or_is_revoked() -> None:
    later = NOW + timedelta(hours=1)
    assert is_live(revoked_at=None, expires_at=None, now=NOW)
    assert is_live(revoked_at=None, expires_at=later, now=NOW)
    assert not is_live(revoked_at=None, expires_at=later, now=later)  # the moment it expires
    assert not is_live(revoked_at=NOW, expires_at=None, now=later)
