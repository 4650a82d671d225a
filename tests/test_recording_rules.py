"""Recording rules (rules/recording_rules.py), alone: defaults, overrides down the tree."""

from datetime import timedelta

import pytest

from rules.recording_rules import (
    DEFAULT_DEADLINE,
    DEFAULT_REQUIREMENTS,
    Overrides,
    chain_to,
    effective,
)


def test_with_no_overrides_the_rules_are_domain_md_s() -> None:
    rules = effective([])
    assert {a: r.value for a, r in rules.requirements.items()} == dict(DEFAULT_REQUIREMENTS)
    assert rules.requirement("inspection") == "key_steps"
    assert rules.requirement("unheard_of") == "none"
    assert rules.deadline.value == timedelta(hours=24) == DEFAULT_DEADLINE
    assert rules.gap_tolerance.value == timedelta(seconds=30)
    assert rules.room_activities.value == {"interrogation"}
    assert {r.source for r in rules.requirements.values()} == {"default"}


def test_the_nearest_unit_wins_value_by_value() -> None:
    county = Overrides(requirements={"inspection": "full_process"}, deadline=timedelta(hours=48))
    station = Overrides(deadline=timedelta(hours=12), requirements={"other": "key_steps"})
    rules = effective([("CO", county), ("P1", station)])
    assert (rules.deadline.value, rules.deadline.source) == (timedelta(hours=12), "P1")
    assert (rules.requirements["inspection"].value, rules.requirements["inspection"].source) == (
        "full_process",
        "CO",
    )
    assert rules.requirements["other"].source == "P1"
    assert rules.requirements["dispatch_110"].source == "default"
    assert rules.gap_tolerance.source == "default"


def test_an_unknown_activity_is_refused() -> None:
    with pytest.raises(ValueError, match="karaoke"):
        effective([("P1", Overrides(requirements={"karaoke": "none"}))])


def test_the_chain_runs_from_the_top_down_and_survives_a_cycle() -> None:
    parents = {"city": None, "co": "city", "p1": "co"}
    assert chain_to(parents, "p1") == ["city", "co", "p1"]
    assert chain_to(parents, "new") == ["new"]
    assert chain_to({"a": "b", "b": "a"}, "a") == ["b", "a"]
