"""What must be recorded and how (音像记录事项清单), as configuration with DOMAIN.md's
defaults, which a unit may override for itself and the units below it.

A unit's effective rules are the defaults, then the overrides of each unit on its chain
from the top of the tree down to it, the nearest winning, value by value. Each effective
value says where it came from (`"default"` or a unit id), so a report can say which rules
it applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, Literal, TypeVar

Requirement = Literal["none", "key_steps", "full_process"]

DEFAULT_REQUIREMENTS: Mapping[str, Requirement] = {
    "dispatch_110": "full_process",
    "stop_and_check": "full_process",
    "onsite_penalty": "full_process",
    "scene_search_seizure": "full_process",
    "forced_execution": "full_process",
    "mass_incident": "full_process",
    "inspection": "key_steps",
    "interrogation": "full_process",
    "other": "none",
}
"""DOMAIN.md, "What must be recorded"."""

DEFAULT_ROOM_ACTIVITIES = frozenset({"interrogation"})
"""Activities that need their interview room's recorder, covering the event without a gap."""

DEFAULT_DEADLINE = timedelta(hours=24)
DEFAULT_GAP_TOLERANCE = timedelta(seconds=30)
DEFAULT_ASSOCIATION_TOLERANCE = timedelta(minutes=5)

DEFAULT = "default"


@dataclass(frozen=True)
class Overrides:
    """What one unit sets; anything left None (or out of `requirements`) it inherits."""

    requirements: Mapping[str, Requirement] = field(default_factory=dict)
    room_activities: frozenset[str] | None = None
    deadline: timedelta | None = None
    gap_tolerance: timedelta | None = None
    association_tolerance: timedelta | None = None


T = TypeVar("T")


@dataclass(frozen=True)
class Sourced(Generic[T]):
    value: T
    source: str
    """`default`, or the id of the unit that set it."""


@dataclass(frozen=True)
class RecordingRules:
    requirements: Mapping[str, Sourced[Requirement]]
    room_activities: Sourced[frozenset[str]]
    deadline: Sourced[timedelta]
    gap_tolerance: Sourced[timedelta]
    association_tolerance: Sourced[timedelta]

    def requirement(self, activity: str) -> Requirement:
        found = self.requirements.get(activity)
        return found.value if found is not None else "none"


def effective(chain: Sequence[tuple[str, Overrides]]) -> RecordingRules:
    """The rules of the last unit of `chain`: (unit id, its overrides) from the top of the
    tree down to that unit. Raises ValueError for an activity DOMAIN.md does not know."""
    requirements: dict[str, Sourced[Requirement]] = {
        activity: Sourced(req, DEFAULT) for activity, req in DEFAULT_REQUIREMENTS.items()
    }
    rooms = Sourced(DEFAULT_ROOM_ACTIVITIES, DEFAULT)
    deadline = Sourced(DEFAULT_DEADLINE, DEFAULT)
    gap = Sourced(DEFAULT_GAP_TOLERANCE, DEFAULT)
    association = Sourced(DEFAULT_ASSOCIATION_TOLERANCE, DEFAULT)
    for unit, overrides in chain:
        for activity, req in overrides.requirements.items():
            if activity not in DEFAULT_REQUIREMENTS:
                raise ValueError(f"unknown activity {activity!r} in the rules of unit {unit!r}")
            requirements[activity] = Sourced(req, unit)
        if overrides.room_activities is not None:
            rooms = Sourced(overrides.room_activities, unit)
        if overrides.deadline is not None:
            deadline = Sourced(overrides.deadline, unit)
        if overrides.gap_tolerance is not None:
            gap = Sourced(overrides.gap_tolerance, unit)
        if overrides.association_tolerance is not None:
            association = Sourced(overrides.association_tolerance, unit)
    return RecordingRules(requirements, rooms, deadline, gap, association)


def chain_to(parents: Mapping[str, str | None], unit: str) -> list[str]:
    """`unit` and the units above it, from the top down (a cycle is cut where it repeats)."""
    chain: list[str] = []
    current: str | None = unit
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain[::-1]
