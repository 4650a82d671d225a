"""Units in the catalogue (rules/unit_tree.py decides what lies below what)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from rules.unit_tree import units_under as tree_under
from rules.unit_tree import would_cycle
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Unit, UnitRules


class UnitCycle(CatalogueError):
    """The parent given would put a unit below itself."""


@dataclass(frozen=True)
class UnitFields:
    name: str
    kind: str
    parent_id: str | None
    officer_count: int
    on_duty_officer_count: int


def parents(session: Session) -> dict[str, str | None]:
    """{unit: its parent} of every unit (a bureau has hundreds at most)."""
    return {unit: parent for unit, parent in session.execute(select(Unit.unit_id, Unit.parent_id))}


def units_under(session: Session, root: str) -> frozenset[str]:
    """`root` and every unit below it, as the catalogue knows them now."""
    return tree_under(parents(session), root)


def get_unit(session: Session, unit_id: str) -> Unit | None:
    return session.get(Unit, unit_id)


def list_units(session: Session, within: frozenset[str] | None) -> Sequence[Unit]:
    """Every unit (only those in `within`, when given), by id."""
    stmt = select(Unit).order_by(Unit.unit_id)
    if within is not None:
        stmt = stmt.where(Unit.unit_id.in_(sorted(within)))
    return session.scalars(stmt).all()


def put_unit(
    session: Session, unit_id: str, fields: UnitFields, *, actor: str, now: datetime
) -> tuple[Unit, bool]:
    """Create or replace a unit; commit. Raises UnitCycle for a parent at or below the unit,
    CatalogueError when the write fails."""
    if would_cycle(parents(session), unit_id, fields.parent_id):
        raise UnitCycle(
            f"unit {fields.parent_id!r} is {unit_id!r} itself or below it: it cannot be its parent"
        )
    unit = session.get(Unit, unit_id)
    created = unit is None
    if unit is None:
        unit = Unit(unit_id=unit_id)
        session.add(unit)
    unit.name, unit.kind, unit.parent_id = fields.name, fields.kind, fields.parent_id
    unit.officer_count = fields.officer_count
    unit.on_duty_officer_count = fields.on_duty_officer_count
    unit.updated_at, unit.updated_by = now, actor
    try:
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not save unit {unit_id!r}: {exc}") from exc
    return unit, created


def overrides_of(session: Session, unit_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The stored overrides of each of `unit_ids` that has any."""
    if not unit_ids:
        return {}
    rows = session.scalars(select(UnitRules).where(UnitRules.unit_id.in_(sorted(unit_ids))))
    return {row.unit_id: row.overrides for row in rows}


def put_overrides(
    session: Session, unit_id: str, overrides: dict[str, Any], *, actor: str, now: datetime
) -> None:
    """Replace the recording rules `unit_id` sets; commit. Raises CatalogueError."""
    row = session.get(UnitRules, unit_id)
    if row is None:
        row = UnitRules(unit_id=unit_id)
        session.add(row)
    row.overrides, row.updated_at, row.updated_by = overrides, now, actor
    try:
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not save the rules of unit {unit_id!r}: {exc}") from exc
