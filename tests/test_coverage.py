"""Coverage arithmetic and event status (rules/coverage.py), alone."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rules.coverage import Interval, coverage, covered, longest_gap, status_of

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
EVENT = Interval(T0, T0 + timedelta(minutes=30))
TOL = timedelta(seconds=30)
DAY = timedelta(hours=24)


def at(minutes: float, until: float) -> Interval:
    return Interval(T0 + timedelta(minutes=minutes), T0 + timedelta(minutes=until))


def test_coverage_worked_by_hand() -> None:
    assert coverage(EVENT, [at(0, 30)]) == 1.0
    assert coverage(EVENT, [at(-5, 10), at(20, 40)]) == 20 / 30
    assert coverage(EVENT, [at(5, 10), at(8, 15)]) == 10 / 30  # overlap counted once
    assert coverage(EVENT, [at(40, 50)]) == 0.0
    assert longest_gap(EVENT, [at(0, 10), at(12, 30)]) == timedelta(minutes=2)
    assert longest_gap(EVENT, [at(1, 30)]) == timedelta(minutes=1)  # a late start is a gap
    assert covered(EVENT, [at(0, 10), at(10, 30)]) == [at(0, 30)]  # touching pieces join


def test_status_worked_by_hand() -> None:
    stored = T0 + timedelta(hours=2)

    def status(requirement: str, pieces: list[Interval], stored_last: datetime = stored) -> str:
        return status_of(requirement, EVENT, pieces, gap_tolerance=TOL,  # type: ignore[arg-type]
                         stored_last=stored_last, deadline=DAY)  # fmt: skip

    assert status("full_process", [at(0, 30)]) == "compliant"
    assert status("full_process", [at(0, 10), at(10.25, 30)]) == "compliant"  # 15 s gap
    assert status("full_process", [at(0, 10), at(11, 30)]) == "partial"  # 60 s gap
    assert status("full_process", []) == "missing"
    assert status("key_steps", [at(29, 31)]) == "compliant"
    assert status("key_steps", [at(31, 40)]) == "missing"
    assert status("none", []) == "compliant"
    late = T0 + timedelta(minutes=30) + DAY + timedelta(seconds=1)
    assert status("full_process", [at(0, 30)], stored_last=late) == "late"
    assert status("full_process", [at(0, 10)], stored_last=late) == "partial"  # worse first


minutes = st.floats(min_value=-60, max_value=90, allow_nan=False)
pieces = st.lists(st.tuples(minutes, minutes).map(lambda p: at(min(p), max(p))), max_size=8)


@given(pieces, st.randoms())
def test_coverage_is_order_independent_and_never_above_one(found: list[Interval], rnd) -> None:  # noqa: ANN001
    shuffled = list(found)
    rnd.shuffle(shuffled)
    assert coverage(EVENT, found) == coverage(EVENT, shuffled)
    assert 0.0 <= coverage(EVENT, found) <= 1.0
    assert longest_gap(EVENT, found) == longest_gap(EVENT, shuffled)


@given(st.floats(min_value=-10, max_value=40), st.floats(min_value=0, max_value=30),
       st.floats(min_value=0, max_value=30))  # fmt: skip
def test_a_recording_split_at_a_join_covers_what_it_covers_whole(
    start: float, first: float, second: float
) -> None:
    whole = at(start, start + first + second)
    split = [at(start, start + first), at(start + first, start + first + second)]
    assert covered(EVENT, split) == covered(EVENT, [whole])
    assert coverage(EVENT, split) == coverage(EVENT, [whole])
