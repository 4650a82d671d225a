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


def test_required_is_exact_for_thirds() -> None:
    # A ratio sent as 1/3 arrives as the float 0.3333333333333333: just below a third.
    assert [required(1 / 3, n) for n in (0, 1, 3, 30, 31)] == [0, 1, 1, 10, 11]
    assert required(2 / 3, 3) == 2
    assert required(1 / 3, 1_000_000) == 333_334


tree_units = st.sampled_from(["FJ", "P1", "P2", "P1a"])
TREE = {"FJ": None, "P1": "FJ", "P2": "FJ", "P1a": "P1"}
kinds = st.sampled_from([CAMERA, "handheld_terminal"])
standard = st.builds(
    Standard,
    device_kind=kinds,
    per=st.sampled_from(["officer", "on_duty_officer"]),
    ratio=st.integers(0, 300).map(lambda n: n / 100),
    unit_id=st.just(""),
)


@given(
    st.dictionaries(tree_units, st.lists(standard, max_size=2)),
    st.dictionaries(tree_units, st.tuples(st.integers(0, 50), st.integers(0, 50))),
    st.dictionaries(st.tuples(tree_units, kinds), st.integers(0, 60)),
)
def test_standards_are_inherited_per_kind_and_rolled_up_unit_by_unit(
    set_by: dict[str, list[Standard]],
    heads: dict[str, tuple[int, int]],
    held: dict[tuple[str, str], int],
) -> None:
    stored = {
        unit: [Standard(s.device_kind, s.per, s.ratio, unit) for s in listed]
        for unit, listed in set_by.items()
    }
    own = {}
    for unit in TREE:
        applied = standards_of(unit, TREE, stored)
        for kind, found in applied.items():  # the nearest unit up the tree that sets it
            chain: list[str] = []
            at: str | None = unit
            while at is not None:
                chain.append(at)
                at = TREE[at]
            nearest = next(
                u for u in chain if any(s.device_kind == kind for s in stored.get(u, ()))
            )
            assert found.unit_id == nearest
        officers, on_duty = heads.get(unit, (0, 0))
        active = {k: n for (u, k), n in held.items() if u == unit}
        own[unit] = own_rows(unit, Headcount(officers, on_duty), applied, active)
    for top, below in (("FJ", ("FJ", "P1", "P2", "P1a")), ("P1", ("P1", "P1a")), ("P2", ("P2",))):
        for row in rolled_up(own, TREE, top):
            parts = [r for u in below for r in own[u] if r.device_kind == row.device_kind]
            assert row.required == sum(r.required for r in parts)
            assert row.active == sum(r.active for r in parts)
            # Spares in one unit never make up for another's shortfall.
            assert row.shortfall == sum(r.shortfall for r in parts)
            assert row.shortfall >= max(0, row.required - row.active)
            assert row.rate is None if row.required == 0 else row.rate == row.active / row.required


docks = st.lists(
    st.tuples(st.booleans(), st.booleans()).map(
        lambda p: (datetime(2026, 1, 1, tzinfo=UTC) if p[0] or p[1] else None, p[1])
    ),
    max_size=12,
)


@given(docks)
def test_usage_splits_the_active_devices_into_docked_idle_and_never_docked(
    facts: list[tuple[datetime | None, bool]],
) -> None:
    devices = [
        DeviceUse(f"D{i:02}", CAMERA, "P1", last, in_period)
        for i, (last, in_period) in enumerate(facts)
    ]
    used = usage(reversed(devices))
    assert used.docked + len(used.idle) + len(used.never_docked) == used.active == len(devices)
    assert not set(used.idle) & set(used.never_docked)
    assert used.idle == sorted(used.idle) and used.never_docked == sorted(used.never_docked)
    assert used.rate is None if not devices else used.rate == used.docked / len(devices)
