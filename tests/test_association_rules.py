"""Automatic association (自动关联): officer + time window, interview rooms, re-sent cases."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.association import (
    DEFAULT_TOLERANCE,
    MAX_EVENT,
    Changes,
    Event,
    ExistingLink,
    Link,
    LinkSource,
    MediaFacts,
    candidate_event_window,
    candidate_officer_ids,
    candidate_room_ids,
    candidate_window,
    event_window_problem,
    match,
    matches_for_case,
    matches_for_media,
    reconcile,
)

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
TOL = DEFAULT_TOLERANCE
SHANGHAI = timezone(timedelta(hours=8))


def event(
    start: datetime = T0,
    minutes: int = 30,
    *,
    case_no: str = "C1",
    event_id: str = "E1",
    officers: tuple[str, ...] = ("010001",),
    room_id: str | None = None,
) -> Event:
    return Event(
        case_no=case_no,
        event_id=event_id,
        activity="interrogation" if room_id else "dispatch_110",
        officer_ids=frozenset(officers),
        start=start,
        end=start + timedelta(minutes=minutes),
        room_id=room_id,
    )


def clip(
    start: datetime | None,
    end: datetime | None,
    *,
    media_id: str = "m1",
    officer: str | None = "010001",
    device: str = "cam1",
) -> MediaFacts:
    return MediaFacts(media_id=media_id, officer_id=officer, device_id=device, start=start, end=end)


def apply(current: list[ExistingLink], changes: Changes) -> list[ExistingLink]:
    """What the catalogue holds after the api applies `changes` (adds are `auto` links)."""
    remaining = list(current)
    for gone in changes.remove:
        remaining.remove(gone)
    return remaining + [
        ExistingLink(link.case_no, link.media_id, "auto", link.event_id) for link in changes.add
    ]


# --- both orders -----------------------------------------------------------------------------


def test_footage_arriving_after_the_case_is_associated() -> None:
    events = [event()]
    footage = clip(T0 + timedelta(minutes=10), T0 + timedelta(minutes=20))

    wanted = matches_for_media(footage, events, TOL)
    changes = reconcile([], wanted)

    assert changes == Changes(add=[Link("C1", "E1", "m1", "officer")], remove=[])


def test_case_arriving_after_the_footage_associates_it() -> None:
    footage = [
        clip(T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), media_id="m1"),
        clip(T0 - timedelta(hours=2), T0 - timedelta(hours=1), media_id="m2"),
        clip(T0, T0 + timedelta(minutes=5), media_id="m3", officer="010002"),
    ]

    wanted = matches_for_case([event()], footage, TOL)

    assert reconcile([], wanted).add == [Link("C1", "E1", "m1", "officer")]


def test_footage_already_linked_at_the_dock_is_not_linked_again() -> None:
    footage = clip(T0, T0 + timedelta(minutes=5))
    current = [ExistingLink("C1", "m1", "dock")]

    changes = reconcile(current, matches_for_media(footage, [event()], TOL))

    assert changes == Changes(add=[], remove=[])


def test_media_matching_events_of_two_cases_is_linked_to_both() -> None:
    events = [event(case_no="C2", event_id="E9"), event(case_no="C1", event_id="E1")]
    footage = clip(T0, T0 + timedelta(minutes=5))

    assert reconcile([], matches_for_media(footage, events, TOL)).add == [
        Link("C1", "E1", "m1", "officer"),
        Link("C2", "E9", "m1", "officer"),
    ]


def test_media_matching_two_events_of_one_case_gets_one_link_naming_the_first() -> None:
    events = [event(event_id="E2"), event(T0 + timedelta(minutes=20), event_id="E1")]
    footage = clip(T0 + timedelta(minutes=15), T0 + timedelta(minutes=25))

    wanted = matches_for_media(footage, events, TOL)

    assert [link.event_id for link in wanted] == ["E1", "E2"]
    assert reconcile([], wanted).add == [Link("C1", "E1", "m1", "officer")]


# --- the time window -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "matches"),
    [
        # Ends exactly at event start - tolerance: closed intervals, touching counts.
        (T0 - timedelta(minutes=10), T0 - TOL, True),
        (T0 - timedelta(minutes=10), T0 - TOL - timedelta(seconds=1), False),
        # Starts exactly at event end + tolerance.
        (T0 + timedelta(minutes=35), T0 + timedelta(minutes=40), True),
        (T0 + timedelta(minutes=35, seconds=1), T0 + timedelta(minutes=40), False),
        # Covers the whole event.
        (T0 - timedelta(hours=1), T0 + timedelta(hours=1), True),
    ],
)
def test_recording_matches_up_to_the_tolerance_either_side(
    start: datetime, end: datetime, matches: bool
) -> None:
    assert (match(event(), clip(start, end), TOL) == "officer") is matches


def test_zero_tolerance_still_matches_a_recording_touching_the_event() -> None:
    assert match(event(), clip(T0 - timedelta(minutes=1), T0), timedelta(0)) == "officer"


def test_photo_matches_when_its_instant_is_in_the_widened_window() -> None:
    assert match(event(), clip(T0 - TOL, None), TOL) == "officer"
    assert match(event(), clip(T0 - TOL - timedelta(seconds=1), None), TOL) is None


def test_media_without_recorded_start_never_associates() -> None:
    assert match(event(), clip(None, None), TOL) is None
    assert match(event(), clip(None, T0 + timedelta(minutes=1)), TOL) is None
    assert candidate_event_window(clip(None, None), TOL) is None


def test_another_officers_footage_does_not_match() -> None:
    assert match(event(), clip(T0, T0 + timedelta(minutes=5), officer="010002"), TOL) is None
    assert match(event(), clip(T0, T0 + timedelta(minutes=5), officer=None), TOL) is None


def test_times_compare_by_instant_whatever_their_offset() -> None:
    local_event = event(T0.astimezone(SHANGHAI))
    assert match(local_event, clip(T0 + timedelta(minutes=1), None), TOL) == "officer"


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        match(event(), clip(T0, None), timedelta(seconds=-1))


# --- interview rooms -------------------------------------------------------------------------


def test_interview_room_recording_with_unknown_officer_matches_by_room() -> None:
    interrogation = event(room_id="room-3", officers=("010001",))
    recording = clip(
        T0 - timedelta(minutes=2), T0 + timedelta(minutes=40), officer=None, device="room-3"
    )

    assert match(interrogation, recording, TOL) == "room"


def test_recording_of_another_room_does_not_match() -> None:
    interrogation = event(room_id="room-3")
    recording = clip(T0, T0 + timedelta(minutes=30), officer=None, device="room-4")

    assert match(interrogation, recording, TOL) is None


def test_room_recording_outside_the_interrogation_does_not_match() -> None:
    interrogation = event(room_id="room-3")
    recording = clip(
        T0 + timedelta(hours=2), T0 + timedelta(hours=3), officer=None, device="room-3"
    )

    assert match(interrogation, recording, TOL) is None


def test_room_is_the_reason_when_room_and_officer_both_match() -> None:
    interrogation = event(room_id="room-3", officers=("010001",))
    recording = clip(T0, T0 + timedelta(minutes=30), officer="010001", device="room-3")

    assert match(interrogation, recording, TOL) == "room"


# --- re-sent cases ---------------------------------------------------------------------------


def test_resent_case_with_moved_times_removes_stale_auto_link_keeps_manual_and_dock() -> None:
    footage = [
        clip(T0, T0 + timedelta(minutes=10), media_id="auto-1"),
        clip(T0, T0 + timedelta(minutes=10), media_id="hand-1"),
        clip(T0, T0 + timedelta(minutes=10), media_id="dock-1"),
    ]
    first = matches_for_case([event()], footage, TOL)
    assert {link.media_id for link in first} == {"auto-1", "hand-1", "dock-1"}
    current = [
        ExistingLink("C1", "auto-1", "auto", "E1"),
        ExistingLink("C1", "hand-1", "manual"),
        ExistingLink("C1", "dock-1", "dock"),
    ]

    moved = event(T0 + timedelta(hours=3))
    changes = reconcile(current, matches_for_case([moved], footage, TOL))

    assert changes == Changes(add=[], remove=[ExistingLink("C1", "auto-1", "auto", "E1")])


def test_resent_case_with_new_times_adds_what_now_matches() -> None:
    later = clip(T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=10), media_id="m2")
    current = [ExistingLink("C1", "m1", "auto", "E1")]

    changes = reconcile(current, matches_for_case([event(T0 + timedelta(hours=3))], [later], TOL))

    assert changes.add == [Link("C1", "E1", "m2", "officer")]
    assert changes.remove == [ExistingLink("C1", "m1", "auto", "E1")]


def test_resending_an_unchanged_case_changes_nothing() -> None:
    footage = [clip(T0, T0 + timedelta(minutes=10))]
    wanted = matches_for_case([event()], footage, TOL)
    current = apply([], reconcile([], wanted))

    assert reconcile(current, wanted) == Changes(add=[], remove=[])


def test_pair_dissociated_by_a_reviewer_is_not_linked_again() -> None:
    wanted = matches_for_case([event()], [clip(T0, None)], TOL)

    assert reconcile([], wanted, dissociated=[("C1", "m1")]).add == []


# --- refused event windows -------------------------------------------------------------------


def test_zero_length_event_window_is_refused() -> None:
    problem = event_window_problem(T0, T0)
    assert problem is not None and "empty" in problem
    with pytest.raises(ValueError, match="empty"):
        event(minutes=0)


def test_event_ending_before_it_starts_is_refused() -> None:
    problem = event_window_problem(T0, T0 - timedelta(seconds=1))
    assert problem is not None and "before it starts" in problem


def test_event_of_8_hours_is_accepted_and_one_second_more_refused() -> None:
    assert event_window_problem(T0, T0 + MAX_EVENT) is None
    problem = event_window_problem(T0, T0 + MAX_EVENT + timedelta(seconds=1))
    assert problem is not None and "longer than" in problem
    with pytest.raises(ValueError, match="longer than"):
        event(minutes=8 * 60 + 1)


def test_naive_event_times_are_refused() -> None:
    naive = datetime(2026, 11, 27, 9, 0)
    for start, end in [(naive, naive + timedelta(hours=1)), (T0, naive)]:
        problem = event_window_problem(start, end)
        assert problem is not None and "no time zone offset" in problem
    with pytest.raises(ValueError, match="no time zone offset"):
        event(naive)


def test_naive_or_backwards_media_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no offset"):
        clip(datetime(2026, 11, 27, 9, 0), None)
    with pytest.raises(ValueError, match="before it starts"):
        clip(T0, T0 - timedelta(seconds=1))


# --- what the api queries --------------------------------------------------------------------


def test_candidate_window_and_ids_cover_all_events_of_a_case() -> None:
    events = [
        event(T0, officers=("a", "b")),
        event(T0 + timedelta(hours=5), event_id="E2", officers=("c",), room_id="room-3"),
    ]

    assert candidate_window(events, TOL) == (T0 - TOL, T0 + timedelta(hours=5, minutes=30) + TOL)
    assert candidate_officer_ids(events) == {"a", "b", "c"}
    assert candidate_room_ids(events) == {"room-3"}


def test_candidate_window_of_no_events_is_refused() -> None:
    with pytest.raises(ValueError, match="no events"):
        candidate_window([], TOL)


# --- properties ------------------------------------------------------------------------------

CASES = st.sampled_from(["C1", "C2"])
EVENT_IDS = st.sampled_from(["E1", "E2", "E3"])
MEDIA_IDS = st.sampled_from(["m1", "m2", "m3", "m4"])
OFFICERS = ["o1", "o2", "o3"]
ROOMS = ["room1", "room2"]
SECONDS = st.integers(min_value=0, max_value=3 * 3600)
TOLERANCES = st.integers(min_value=0, max_value=1800).map(lambda s: timedelta(seconds=s))


@st.composite
def events_(draw: st.DrawFn) -> Event:
    start = T0 + timedelta(seconds=draw(SECONDS))
    length = timedelta(seconds=draw(st.integers(1, int(MAX_EVENT.total_seconds()))))
    return Event(
        case_no=draw(CASES),
        event_id=draw(EVENT_IDS),
        activity="dispatch_110",
        officer_ids=draw(st.frozensets(st.sampled_from(OFFICERS))),
        start=start,
        end=start + length,
        room_id=draw(st.none() | st.sampled_from(ROOMS)),
    )


@st.composite
def media_(draw: st.DrawFn) -> MediaFacts:
    # Mostly with a start: media without one never match, so they say little.
    start = T0 + timedelta(seconds=draw(SECONDS)) if draw(st.integers(0, 4)) else None
    length = draw(st.none() | st.integers(0, 2 * 3600).map(lambda s: timedelta(seconds=s)))
    end = start + length if start is not None and length is not None else None
    return MediaFacts(
        media_id=draw(MEDIA_IDS),
        officer_id=draw(st.sampled_from([None, *OFFICERS])),
        device_id=draw(st.sampled_from(["cam1", "cam2", *ROOMS])),
        start=start,
        end=end,
    )


LINKS = st.builds(Link, CASES, EVENT_IDS, MEDIA_IDS, st.sampled_from(["officer", "room"]))
SOURCES: tuple[LinkSource, ...] = ("auto", "manual", "dock")
# The catalogue holds at most one link per (case, media).
CURRENT = st.dictionaries(
    st.tuples(CASES, MEDIA_IDS),
    st.tuples(st.sampled_from(SOURCES), st.none() | EVENT_IDS),
).map(
    lambda links: [
        ExistingLink(case_no, media_id, source, event_id)
        for (case_no, media_id), (source, event_id) in links.items()
    ]
)
DISSOCIATED = st.lists(st.tuples(CASES, MEDIA_IDS), max_size=3)


@given(CURRENT, st.lists(LINKS), DISSOCIATED)
def test_reconcile_is_idempotent(
    current: list[ExistingLink], wanted: list[Link], dissociated: list[tuple[str, str]]
) -> None:
    after = apply(current, reconcile(current, wanted, dissociated=dissociated))

    assert reconcile(after, wanted, dissociated=dissociated) == Changes(add=[], remove=[])


@given(CURRENT, st.lists(LINKS), DISSOCIATED)
def test_reconcile_never_removes_manual_or_dock_links(
    current: list[ExistingLink], wanted: list[Link], dissociated: list[tuple[str, str]]
) -> None:
    changes = reconcile(current, wanted, dissociated=dissociated)

    assert all(link.source == "auto" and link in current for link in changes.remove)
    kept = [link for link in current if link.source != "auto"]
    assert all(link in apply(current, changes) for link in kept)


@given(CURRENT, st.lists(LINKS), DISSOCIATED)
def test_reconcile_leaves_every_wanted_pair_linked_and_no_stale_auto_link(
    current: list[ExistingLink], wanted: list[Link], dissociated: list[tuple[str, str]]
) -> None:
    after = apply(current, reconcile(current, wanted, dissociated=dissociated))
    linked = [(link.case_no, link.media_id) for link in after]
    wanted_pairs = {(link.case_no, link.media_id) for link in wanted}

    assert len(linked) == len(set(linked)), "one link per (case, media)"
    assert wanted_pairs - set(dissociated) <= set(linked)
    assert {(lk.case_no, lk.media_id) for lk in after if lk.source == "auto"} <= wanted_pairs


@given(
    st.lists(events_(), min_size=1, max_size=4),
    st.lists(media_(), min_size=1, max_size=6),
    TOLERANCES,
)
def test_case_first_and_footage_first_give_the_same_links(
    events: list[Event], media: list[MediaFacts], tolerance: timedelta
) -> None:
    per_media = {link for item in media for link in matches_for_media(item, events, tolerance)}

    assert matches_for_case(events, media, tolerance) == sorted(per_media)


@given(events_(), media_(), TOLERANCES, TOLERANCES)
def test_match_survives_a_larger_tolerance(
    ev: Event, media: MediaFacts, tolerance: timedelta, extra: timedelta
) -> None:
    found = match(ev, media, tolerance)
    if found is not None:
        assert match(ev, media, tolerance + extra) == found


@given(
    st.lists(events_(), min_size=1, max_size=4),
    st.lists(media_(), min_size=1, max_size=6),
    TOLERANCES,
    st.integers(-(10**8), 10**8).map(lambda s: timedelta(seconds=s)),
)
def test_shifting_all_times_or_their_zone_changes_nothing(
    events: list[Event], media: list[MediaFacts], tolerance: timedelta, shift: timedelta
) -> None:
    def moved(moment: datetime) -> datetime:
        return (moment + shift).astimezone(SHANGHAI)

    moved_events = [
        Event(
            e.case_no,
            e.event_id,
            e.activity,
            e.officer_ids,
            moved(e.start),
            moved(e.end),
            e.room_id,
        )
        for e in events
    ]
    moved_media = [
        MediaFacts(
            m.media_id,
            m.officer_id,
            m.device_id,
            moved(m.start) if m.start is not None else None,
            moved(m.end) if m.end is not None else None,
        )
        for m in media
    ]

    assert matches_for_case(moved_events, moved_media, tolerance) == matches_for_case(
        events, media, tolerance
    )


@given(st.lists(events_(), min_size=1, max_size=4), media_(), TOLERANCES)
def test_candidate_queries_never_miss_a_match(
    events: list[Event], media: MediaFacts, tolerance: timedelta
) -> None:
    if not matches_for_media(media, events, tolerance):
        return
    assert media.start is not None
    media_end = media.end or media.start
    # Case first: the api searches media by time window and officer or room device.
    lo, hi = candidate_window(events, tolerance)
    assert media.start <= hi and media_end >= lo
    assert media.officer_id in candidate_officer_ids(events) or media.device_id in (
        candidate_room_ids(events)
    )
    # Footage first: the api searches events by time window.
    window = candidate_event_window(media, tolerance)
    assert window is not None
    for ev in events:
        if match(ev, media, tolerance) is not None:
            assert ev.start <= window[1] and ev.end >= window[0]


def test_a_case_links_only_media_of_its_own_unit() -> None:
    def unit_event(unit: str | None, room_id: str | None = None) -> Event:
        return Event(
            case_no="C1", event_id="E1", activity="dispatch_110", officer_ids=frozenset({"010001"}),
            start=T0, end=T0 + timedelta(minutes=30), room_id=room_id, unit_id=unit,
        )  # fmt: skip

    def unit_clip(unit: str | None, device: str = "cam1") -> MediaFacts:
        return MediaFacts(
            media_id="m1", officer_id="010001", device_id=device, start=T0,
            end=T0 + timedelta(minutes=5), unit_id=unit,
        )  # fmt: skip

    assert match(unit_event("U1"), unit_clip("U1"), TOL) == "officer"
    assert match(unit_event("U1"), unit_clip("U2"), TOL) is None  # an officer lent to U2
    assert match(unit_event("U1"), unit_clip(None), TOL) is None  # footage of no known unit
    assert match(unit_event("U1", room_id="room1"), unit_clip("U2", "room1"), TOL) is None
    assert matches_for_media(unit_clip("U2"), [unit_event("U1")], TOL) == []
    assert match(unit_event(None), unit_clip("U2"), TOL) == "officer"  # a case of no unit
