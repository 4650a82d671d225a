"""rules/equipment.py alone: exact requirements, inherited standards, roll-up, usage."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rules.equipment import (
    DeviceUse,
    Headcount,
    Standard,
    own_rows,
    required,
    rolled_up,
    standards_of,
    usage,
)

PARENTS = {"FJ": None, "P1": "FJ", "P2": "FJ"}
CAMERA = "body_camera"


def test_required_is_exact_for_decimal_ratios() -> None:
    assert required(0.1, 30) == 3  # 0.1 * 30 is 3.0000000000000004 in floats
    assert required(1.0, 30) == 30
    assert required(0.5, 7) == 4
    assert required(0.3, 7) == 3
    assert required(0, 100) == 0


@given(st.integers(0, 2000), st.integers(0, 10_000))
def test_required_covers_the_ratio_and_no_more(thousandths: int, headcount: int) -> None:
    ratio = thousandths / 1000
    need = required(ratio, headcount)
    exact = thousandths * headcount  # the requirement in thousandths of a device
    assert need * 1000 >= exact
    assert need == 0 or (need - 1) * 1000 < exact


def test_a_unit_takes_the_nearest_standard_above_it_per_kind() -> None:
    stored = {
        "FJ": [
            Standard(CAMERA, "officer", 1, "FJ"),
            Standard("handheld_terminal", "officer", 0.1, "FJ"),
        ],
        "P2": [Standard(CAMERA, "officer", 0.5, "P2")],
    }
    assert standards_of("P1", PARENTS, stored)[CAMERA].unit_id == "FJ"
    p2 = standards_of("P2", PARENTS, stored)
    assert (p2[CAMERA].ratio, p2["handheld_terminal"].unit_id) == (0.5, "FJ")
    assert standards_of("ELSEWHERE", PARENTS, stored) == {}


def test_roll_up_adds_shortfalls_unit_by_unit() -> None:
    standard = {CAMERA: Standard(CAMERA, "officer", 1, "FJ")}
    own = {
        "FJ": own_rows("FJ", Headcount(2, 1), standard, {}),
        "P1": own_rows("P1", Headcount(10, 3), standard, {CAMERA: 6}),
        "P2": own_rows("P2", Headcount(5, 2), standard, {CAMERA: 9}),
    }
    [row] = rolled_up(own, PARENTS, "FJ")
    # P2's four spare cameras do not equip P1: 2 + 4 + 0 short, not 17 - 15.
    assert (row.headcount, row.required, row.active, row.shortfall) == (17, 17, 15, 6)
    assert row.rate == 15 / 17
    # A device of a kind without a standard is still counted.
    [unlisted] = own_rows("P1", Headcount(1, 1), {}, {"interview_room": 2})
    assert (unlisted.required, unlisted.active, unlisted.rate) == (0, 2, None)


def test_usage_names_never_docked_and_idle_devices() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    used = usage([
        DeviceUse("B", CAMERA, "P1", at, True),
        DeviceUse("A", CAMERA, "P1", None, False),
        DeviceUse("C", CAMERA, "P1", at, False),
    ])  # fmt: skip
    assert (used.active, used.docked, used.never_docked, used.idle) == (3, 1, ["A"], ["C"])
    assert used.rate == 1 / 3
    assert usage([]).rate is None
