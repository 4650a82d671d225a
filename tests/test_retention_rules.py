"""Retention: 183 days from recording, permanent for evidence (rules/retention.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from rules.retention import retention_until

RECORDED = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
STORED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def test_ordinary_footage_is_kept_183_days_from_its_recording() -> None:
    until = retention_until(
        recorded_start=RECORDED, ingested_at=STORED, important=False, in_case=False,
        legal_hold=False,
    )  # fmt: skip
    assert until == RECORDED + timedelta(days=183)


def test_without_a_recording_time_the_period_runs_from_storage() -> None:
    until = retention_until(
        recorded_start=None, ingested_at=STORED, important=False, in_case=False, legal_hold=False
    )
    assert until == STORED + timedelta(days=183)


@pytest.mark.parametrize("why", ["important", "in_case", "legal_hold"])
def test_evidence_is_kept_permanently(why: str) -> None:
    flags = {"important": False, "in_case": False, "legal_hold": False, why: True}
    assert retention_until(recorded_start=RECORDED, ingested_at=STORED, **flags) is None
