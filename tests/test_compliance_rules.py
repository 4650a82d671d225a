"""rules/compliance.py alone: judging an event, lateness, rooms, and the roll-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rules.compliance import (
    EventFacts,
    Footage,
    MediaCount,
    Part,
    judge,
    report,
    summarise,
)
from rules.recording_rules import Overrides, effective

T = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
RULES = effective([])


def event(activity: str = "dispatch_110", room: str | None = None, **kw: object) -> EventFacts:
    fields: dict[str, object] = dict(case_no="C1", event_id="E1", activity=activity,
        unit_id="U1", officer_ids=("O1",), start=T, end=T + 30 * M, room_id=room)  # fmt: skip
    fields.update(kw)
    return EventFacts(**fields)  # type: ignore[arg-type]


def clip(start: timedelta, end: timedelta, stored: timedelta = H, *, officer: str | None = "O1",
         device: str = "BC-1", media: str = "m", unit: str | None = "U1") -> Footage:  # fmt: skip
    return Footage((media,), officer, device, unit, T + start, T + end, T + 30 * M + stored)


def test_lateness_is_when_the_event_first_had_qualifying_footage_stored() -> None:
    # The first half was stored in time, the second half 26 h after the end: late by 2 h.
    pieces = [clip(0 * M, 15 * M, H, media="a"), clip(15 * M, 30 * M, 26 * H, media="b")]
    result = judge(event(), RULES, pieces)
    assert (result.status, result.late_by) == ("late", 2 * H)
    # A late copy of footage that was already there in time changes nothing.
    pieces.append(clip(0 * M, 30 * M, H, media="c"))
    assert judge(event(), RULES, pieces).status == "compliant"


def recording(*parts: tuple[timedelta, timedelta, timedelta]) -> Footage:
    """One recording whose parts (start, end, stored: after the event's end) were
    registered at different docks."""
    stored = [Part(T + a, T + b, T + 30 * M + c) for a, b, c in parts]
    return Footage(tuple(f"p{i}" for i in range(len(parts))), "O1", "BC-1", "U1",
                   stored[0].start, stored[-1].end, max(p.stored_at for p in stored),
                   stored_from=min(p.stored_at for p in stored), recording="R1",
                   parts=tuple(stored))  # fmt: skip


def test_a_recording_stored_part_by_part_is_late_only_if_what_covers_the_event_was() -> None:
    # The part that covers the event came in time; the next part, at a dock two days later.
    assert judge(event(), RULES, [recording((0 * M, 30 * M, H), (30 * M, 40 * M, 48 * H))]
                 ).status == "compliant"  # fmt: skip
    # The event needs both parts: it qualified when the second came, 26 h after its end.
    result = judge(event(), RULES, [recording((0 * M, 20 * M, H), (20 * M, 30 * M, 26 * H))])
    assert (result.status, result.late_by) == ("late", 2 * H)
    # The first and last parts came in time, the middle one late: the joins around a part
    # still on the camera are a gap, so the event qualified only with it.
    result = judge(event(), RULES, [recording((0 * M, 10 * M, H), (10 * M, 20 * M, 30 * H),
                                              (20 * M, 30 * M, H))])  # fmt: skip
    assert (result.status, result.late_by) == ("late", 6 * H)


def test_partial_and_missing_stay_so_however_late_the_footage() -> None:
    assert judge(event(), RULES, [clip(0 * M, 10 * M, 40 * H)]).status == "partial"
    assert judge(event(), RULES, [clip(40 * M, 50 * M)]).status == "missing"
    assert judge(event(), RULES, [clip(0 * M, 30 * M, officer="O2")]).status == "missing"


def test_a_room_activity_counts_only_its_rooms_recorder() -> None:
    body_camera = clip(0 * M, 30 * M)
    room = clip(0 * M, 30 * M, officer=None, device="ROOM-1", media="r")
    interrogation = event("interrogation", room="ROOM-1")
    assert judge(interrogation, RULES, [body_camera]).status == "missing"
    assert judge(interrogation, RULES, [body_camera, room]).media_ids == ("r",)
    assert judge(event("interrogation"), RULES, [room]).status == "missing"  # no room named
    # A unit that no longer treats interrogation as a room activity takes body cameras.
    rules = effective([("U1", Overrides(room_activities=frozenset()))])
    assert judge(interrogation, rules, [body_camera]).status == "compliant"


def test_a_case_of_a_unit_counts_only_its_units_footage() -> None:
    # As association links a unit's case only to its unit's media (rules/association.py).
    assert judge(event(), RULES, [clip(0 * M, 30 * M, unit="U2")]).status == "missing"
    assert judge(event(unit_id=None), RULES, [clip(0 * M, 30 * M, unit="U2")]).status == (
        "compliant")  # fmt: skip


def test_report_finds_each_events_footage_by_officer_and_room() -> None:
    events = [event(event_id="E1"), event(event_id="E2", officer_ids=("O2",))]
    footage = [clip(0 * M, 30 * M), clip(0 * M, 30 * M, officer="O3", media="x")]
    results = report(events, footage, lambda unit: RULES)
    assert [(r.event.event_id, r.status) for r in results] == [("E1", "compliant"),
                                                               ("E2", "missing")]  # fmt: skip


def test_summary_rolls_up_and_counts_units_the_tree_does_not_know() -> None:
    parents = {"FJ": None, "P1": "FJ", "P2": "FJ"}
    results = [
        judge(event(unit_id="P1"), RULES, [clip(0 * M, 30 * M, unit="P1")]),
        judge(event(unit_id="P2", officer_ids=("O2", "O2")), RULES, []),
        judge(event(unit_id="NEW"), RULES, []),
    ]
    counts = [MediaCount("P1", "O1", 3, 2), MediaCount("NEW", None, 1, 0)]
    summary = summarise(results, counts, parents, ["FJ", "P1", "P2", "NEW"])
    fj = summary.by_unit["FJ"]
    assert (fj.events, fj.required, fj.missing, fj.media, fj.categorised) == (2, 2, 1, 3, 2)
    assert fj.activation_rate == 0.5
    assert summary.by_unit["NEW"].events == 1
    assert summary.by_officer["O2"].events == 1  # named twice, counted once
    assert summary.total.events == 3 and summary.total.media == 4
    assert summary.by_unit["P2"].late_rate is None  # no event with footage: no rate


minutes = st.integers(min_value=-60, max_value=90)


@given(st.lists(st.tuples(minutes, st.integers(0, 60), st.integers(0, 60 * 48)), max_size=6))
def test_a_judgement_is_consistent_with_its_parts(raw: list[tuple[int, int, int]]) -> None:
    pieces = [
        clip(start * M, (start + length) * M, stored * M, media=f"m{i}")
        for i, (start, length, stored) in enumerate(raw)
    ]
    result = judge(event(), RULES, pieces)
    assert 0.0 <= result.coverage <= 1.0
    assert (result.status == "late") == (result.late_by is not None)
    if result.late_by is not None:
        assert result.late_by > timedelta(0)
    if result.status in ("compliant", "late"):
        assert result.longest_gap <= RULES.gap_tolerance.value
    if result.status == "missing":
        assert result.media_ids == ()
    # Order of the footage never matters.
    assert judge(event(), RULES, list(reversed(pieces))) == result


@given(
    st.lists(st.tuples(minutes, st.integers(1, 120)), max_size=12),
    st.lists(st.tuples(minutes, st.integers(0, 200), st.sampled_from(["O1", "O2"])), max_size=12),
)
def test_the_time_line_finds_what_judging_against_everything_finds(
    windows: list[tuple[int, int]], raw: list[tuple[int, int, str]]
) -> None:
    events = [event(event_id=f"E{i}", start=T + s * M, end=T + (s + n) * M)
              for i, (s, n) in enumerate(windows)]  # fmt: skip
    footage = [clip(s * M, (s + n) * M, officer=o, media=f"m{i}")
               for i, (s, n, o) in enumerate(raw)]  # fmt: skip
    results = report(events, footage, lambda unit: RULES)
    by_id = {r.event.event_id: r for r in results}
    for e in events:
        assert by_id[e.event_id] == judge(e, RULES, footage)
