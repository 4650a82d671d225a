"""Retention: 183 days from recording, permanent for evidence; deletion only when nothing
keeps a medium, early only with two people (rules/retention.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from rules.retention import (
    Keeping,
    RetentionClass,
    early_deletion_refusal,
    expired,
    retention_class,
    retention_until,
    second_approver_refusal,
)

RECORDED = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
STORED = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
ORDINARY = {"important": False, "in_case": False, "classification": None}


def test_ordinary_footage_is_kept_183_days_from_its_recording() -> None:
    until = retention_until(recorded_start=RECORDED, ingested_at=STORED, **ORDINARY)  # type: ignore[arg-type]
    assert until == RECORDED + timedelta(days=183)
    assert retention_class(**ORDINARY) == RetentionClass.DEFAULT  # type: ignore[arg-type]


def test_without_a_recording_time_the_period_runs_from_storage() -> None:
    until = retention_until(recorded_start=None, ingested_at=STORED, **ORDINARY)  # type: ignore[arg-type]
    assert until == STORED + timedelta(days=183)


@pytest.mark.parametrize(
    "why",
    [{"important": True}, {"in_case": True}, {"classification": "obstruction"},
     {"classification": "major_incident"}, {"classification": "major_case"}],
)  # fmt: skip
def test_evidence_is_kept_permanently(why: dict[str, object]) -> None:
    flags = {**ORDINARY, **why}
    assert retention_until(recorded_start=RECORDED, ingested_at=STORED, **flags) is None  # type: ignore[arg-type]
    assert retention_class(**flags) == RetentionClass.PERMANENT  # type: ignore[arg-type]


def test_non_evidential_footage_keeps_the_default_period() -> None:
    flags = {**ORDINARY, "classification": "non_evidential"}
    assert retention_until(recorded_start=RECORDED, ingested_at=STORED, **flags) is not None  # type: ignore[arg-type]


def test_the_job_deletes_only_what_nothing_keeps() -> None:
    due = RECORDED + timedelta(days=183)
    free = Keeping(retention_until=due, legal_hold=False, in_case=False)
    assert expired(free, due) and not expired(free, due - timedelta(seconds=1))
    assert not expired(Keeping(due, legal_hold=True, in_case=False), due)
    assert not expired(Keeping(due, legal_hold=False, in_case=True), due)
    assert not expired(Keeping(None, legal_hold=False, in_case=False), due)


def test_early_deletion_is_refused_for_evidence_and_held_media() -> None:
    assert early_deletion_refusal(Keeping(RECORDED, legal_hold=False, in_case=False)) is None
    assert "hold" in str(early_deletion_refusal(Keeping(RECORDED, legal_hold=True, in_case=False)))
    assert "case" in str(early_deletion_refusal(Keeping(RECORDED, legal_hold=False, in_case=True)))
    assert "permanent" in str(
        early_deletion_refusal(Keeping(None, legal_hold=False, in_case=False))
    )


def test_a_deletion_needs_a_second_person() -> None:
    assert second_approver_refusal(requested_by="t1", requested_by_name="li", approver="t1",
                                   approver_name="li") is not None  # fmt: skip
    assert second_approver_refusal(requested_by="t1", requested_by_name="li", approver="t2",
                                   approver_name="li") is not None  # fmt: skip
    assert second_approver_refusal(requested_by="t1", requested_by_name="li", approver="t2",
                                   approver_name="wang") is None  # fmt: skip
    assert second_approver_refusal(requested_by="t1", requested_by_name=None, approver="t2",
                                   approver_name=None) is None  # fmt: skip
