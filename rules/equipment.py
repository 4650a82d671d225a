"""Equipment (配备) against a unit's standards, and how much the devices are used, as pure
functions (DOMAIN.md "Equipment ratios").

A standard is (device kind, per officer or per on-duty officer, ratio): required =
ceil(ratio × headcount), computed exactly (a ratio of 0.1 × 30 officers is 3, not 4).
A unit without a standard of its own for a kind takes the nearest one above it in the
tree, applied to its own headcount: a 分局 that sets "1 body camera per officer" sets it for
every 派出所 below that sets nothing else.

Rolled up the tree, a unit's row sums its own and every unit's below it: required and
active add up, and so do shortfalls (a spare camera in one 派出所 does not equip another).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from rules.recording_rules import chain_to
from rules.unit_tree import units_under


@dataclass(frozen=True)
class Standard:
    device_kind: str
    per: str
    """`officer` or `on_duty_officer`."""
    ratio: float
    unit_id: str
    """The unit that set it (the unit itself, or the one above it it inherits from)."""


@dataclass(frozen=True)
class Headcount:
    officers: int
    on_duty: int

    def of(self, per: str) -> int:
        return self.on_duty if per == "on_duty_officer" else self.officers


def required(ratio: float, headcount: int) -> int:
    """ceil(ratio × headcount), exactly: the ratio as written in decimal, not as a float."""
    return math.ceil(Fraction(str(ratio)) * headcount)


@dataclass(frozen=True)
class Row:
    device_kind: str
    per: str | None
    ratio: float | None
    standard_from: str | None
    headcount: int
    required: int
    active: int
    shortfall: int

    @property
    def rate(self) -> float | None:
        """Active ÷ required (None: nothing is required)."""
        return self.active / self.required if self.required else None


def standards_of(
    unit: str,
    parents: Mapping[str, str | None],
    standards: Mapping[str, Sequence[Standard]],
) -> dict[str, Standard]:
    """The standards that apply to `unit`: its own, else the nearest ancestor's, per kind."""
    applied: dict[str, Standard] = {}
    for above in chain_to(parents, unit):  # top first: nearer units overwrite
        for standard in standards.get(above, ()):
            applied[standard.device_kind] = standard
    return applied


def own_rows(
    unit: str,
    headcount: Headcount,
    applied: Mapping[str, Standard],
    active: Mapping[str, int],
) -> list[Row]:
    """One row per kind with a standard or an active device, by kind."""
    rows = []
    for kind in sorted(set(applied) | {k for k, n in active.items() if n}):
        standard = applied.get(kind)
        count = headcount.of(standard.per) if standard else 0
        need = required(standard.ratio, count) if standard else 0
        have = active.get(kind, 0)
        rows.append(Row(kind, standard.per if standard else None,
                        standard.ratio if standard else None,
                        standard.unit_id if standard else None, count, need, have,
                        max(0, need - have)))  # fmt: skip
    return rows


def rolled_up(rows_by_unit: Mapping[str, Sequence[Row]], parents: Mapping[str, str | None],
              unit: str) -> list[Row]:  # fmt: skip
    """The unit's rows with every unit below it added in, by kind."""
    totals: dict[str, list[int]] = {}
    for below in sorted(units_under(parents, unit)):
        for row in rows_by_unit.get(below, ()):
            t = totals.setdefault(row.device_kind, [0, 0, 0, 0])
            t[0] += row.headcount
            t[1] += row.required
            t[2] += row.active
            t[3] += row.shortfall
    own = {row.device_kind: row for row in rows_by_unit.get(unit, ())}
    return [
        Row(kind, own[kind].per if kind in own else None,
            own[kind].ratio if kind in own else None,
            own[kind].standard_from if kind in own else None, *totals[kind])
        for kind in sorted(totals)
    ]  # fmt: skip


@dataclass(frozen=True)
class DeviceUse:
    device_id: str
    device_kind: str
    unit_id: str | None
    last_docked: datetime | None
    docked_in_period: bool


@dataclass(frozen=True)
class Usage:
    active: int
    docked: int
    never_docked: list[str]
    idle: list[str]
    """Docked before, but not in the period."""

    @property
    def rate(self) -> float | None:
        return self.docked / self.active if self.active else None


def usage(devices: Iterable[DeviceUse]) -> Usage:
    """Of the active devices given: how many docked footage in the period, which never
    docked, and which were idle in it."""
    listed = sorted(devices, key=lambda d: d.device_id)
    return Usage(
        active=len(listed),
        docked=sum(1 for d in listed if d.docked_in_period),
        never_docked=[d.device_id for d in listed if d.last_docked is None],
        idle=[d.device_id for d in listed if d.last_docked is not None and not d.docked_in_period],
    )
