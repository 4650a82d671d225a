"""INSERT ... ON CONFLICT DO UPDATE for the two catalogues (PostgreSQL and SQLite both have
it, with different dialect constructs)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.catalogue.models import Base, ChangeCounter

_BATCH = 1000


def _insert(bind: Connection | Session, model: type[Base]) -> Any:
    name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)


def upsert(
    bind: Connection | Session, model: type[Base], rows: Sequence[dict[str, Any]], key: list[str]
) -> None:
    """Insert `rows`, replacing the other columns of those whose `key` exists."""
    for i in range(0, len(rows), _BATCH):
        batch = rows[i : i + _BATCH]
        stmt = _insert(bind, model)
        stmt = stmt.on_conflict_do_update(
            index_elements=key,
            set_={c: stmt.excluded[c] for c in batch[0] if c not in key},
        )
        bind.execute(stmt, list(batch))


def bump(bind: Connection | Session, name: str) -> int:
    """The counter `name` plus one (1 if it had no row), in the caller's transaction."""
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return int(bind.execute(_bump_statement(dialect, name)).scalar_one())


@functools.cache
def _bump_statement(dialect: str, name: str) -> Any:
    # Built once per counter: it runs with every audited request and every footage change.
    stmt: Insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        ChangeCounter
    ).values(name=name, value=1)
    return stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["name"], set_={"value": ChangeCounter.value + 1}
    ).returning(ChangeCounter.value)
