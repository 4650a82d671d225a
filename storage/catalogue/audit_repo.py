"""The audit trail: appending entries to its hash chain, reading and checking it.

One chain for the whole catalogue, however many api processes write to it. An append takes
the next number from the `audit` change counter, whose row stays locked until the
transaction ends (PostgreSQL's row lock; SQLite's one writer), reads the hash of the entry
before and inserts its own: appends are serialised by the database, not by a process, and
an append that rolls back gives its number back.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Select, Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from rules.audit_chain import (
    CONTENT_FIELDS,
    GENESIS,
    ChainCheck,
    Link,
    canonical_json,
    check_chain,
    entry_hash,
)
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import AuditEntry, AuditOutcome, ChangeCounter, utc_now
from storage.catalogue.upsert import bump

COUNTER = "audit"
_CHECK_BATCH = 5000


@dataclass(frozen=True)
class Actor:
    """Who acted, and from where."""

    name: str
    """A token's name or `token:ID`; `anonymous`; or a program (`station-cli:USER`)."""
    token_id: str | None = None
    role: str | None = None
    unit_id: str | None = None
    client: str | None = None


def local_actor() -> Actor:
    """Whoever runs a command on this machine against the catalogue itself (`station token
    create`, `station fixity check`): its user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid:{os.getuid()}"
    return Actor(name=f"station-cli:{user}", client="local")


@dataclass(frozen=True)
class AuditRecord:
    """What to append: who did what to which thing, and how it went."""

    actor: Actor
    action: str
    outcome: AuditOutcome
    target: str | None = None
    status: int | None = None
    detail: Mapping[str, Any] | None = field(default=None)
    request_id: str | None = None


def at_text(at: datetime) -> str:
    """A time as the chain hashes it: UTC, always with microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_of(entry: AuditEntry | Row[Any]) -> dict[str, str | int | None]:
    """What an entry's hash covers (rules/audit_chain.CONTENT_FIELDS), from the stored row
    (an entry, or a row of the audit_entry table's columns)."""
    return _content({name: getattr(entry, name) for name in CONTENT_FIELDS})


@dataclass(frozen=True)
class Appended:
    seq: int
    hash: str


_NEWEST = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
_INSERT = insert(cast(Table, AuditEntry.__table__))  # Core: no ORM bookkeeping


def append(session: Session, record: AuditRecord, *, now: datetime | None = None) -> Appended:
    """Add `record` to the chain in the caller's transaction (not committed): the caller
    commits it with whatever it records. Holds the chain until that commit.

    Core statements, built once: this runs before every answer of the api."""
    seq = bump(session, COUNTER)
    newest = session.execute(_NEWEST).one_or_none()
    if newest is not None and newest.seq >= seq:
        # Rows numbered past the counter were written around it (tampering, or a restore
        # of the table without its counter): chain on after them rather than stop auditing,
        # and let the check name what does not fit.
        seq = newest.seq + 1
        session.execute(
            update(ChangeCounter).where(ChangeCounter.name == COUNTER).values(value=seq)
        )
    actor = record.actor
    row: dict[str, Any] = {
        "seq": seq,
        # Microseconds are the most both catalogues keep: the stored time hashes the same.
        "at": (now or utc_now()).astimezone(UTC),
        "actor": actor.name[:200],
        "token_id": actor.token_id,
        "role": actor.role,
        "unit_id": actor.unit_id,
        "action": record.action[:200],
        "target": record.target[:200] if record.target is not None else None,
        "detail": canonical_json(dict(record.detail)) if record.detail else None,
        "client": actor.client[:64] if actor.client is not None else None,
        "outcome": record.outcome.value,
        "status": record.status,
        "request_id": record.request_id,
        "prev_hash": newest.hash if newest is not None else GENESIS,
    }
    row["hash"] = entry_hash(seq, row["prev_hash"], _content(row))
    session.execute(_INSERT, row)
    return Appended(seq, row["hash"])


def _content(row: dict[str, Any]) -> dict[str, str | int | None]:
    return {name: at_text(row["at"]) if name == "at" else row[name] for name in CONTENT_FIELDS}


def append_alone(factory: sessionmaker[Session], record: AuditRecord) -> int:
    """Append `record` in a transaction of its own and commit; its number. Raises
    CatalogueError when the catalogue cannot take it."""
    try:
        with factory() as session:
            seq = append(session, record).seq
            session.commit()
            return seq
    except SQLAlchemyError as exc:
        raise CatalogueError(f"could not append to the audit trail: {exc}") from exc


def links(session: Session) -> Iterator[Link]:
    """Every entry as a chain link, by number, read in batches."""
    after = 0
    columns = AuditEntry.__table__.columns
    while True:
        # Rows, not entities: a check of millions of entries must not fill the session.
        batch = session.execute(
            select(*columns).where(columns.seq > after).order_by(columns.seq).limit(_CHECK_BATCH)
        ).all()
        if not batch:
            return
        for row in batch:
            yield Link(row.seq, content_of(row), row.prev_hash, row.hash)
        after = batch[-1].seq


def check(session: Session) -> ChainCheck:
    """Recompute the whole chain (rules/audit_chain.check_chain)."""
    return check_chain(links(session))


def hash_at(session: Session, seq: int) -> str | None:
    return session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))


def head(session: Session) -> tuple[int, str] | None:
    """The newest entry's number and hash, as stored (unchecked)."""
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).one_or_none()
    return (row.seq, row.hash) if row is not None else None


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    token_id: str | None = None
    action: str | None = None
    """Entries whose action starts with this (`GET /api/v1/media`, `token.`)."""
    target: str | None = None
    outcome: AuditOutcome | None = None
    client: str | None = None


def page(
    session: Session,
    where: AuditFilter,
    *,
    units: frozenset[str] | None,
    before: int | None,
    limit: int,
) -> list[AuditEntry]:
    """Up to `limit` entries matching `where`, newest first, numbered below `before`; with
    `units`, only entries of tokens of those units."""
    stmt: Select[tuple[AuditEntry]] = select(AuditEntry)
    if units is not None:
        stmt = stmt.where(AuditEntry.unit_id.in_(sorted(units)))
    if before is not None:
        stmt = stmt.where(AuditEntry.seq < before)
    if where.since is not None:
        stmt = stmt.where(AuditEntry.at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEntry.at < where.until)
    for column, value in (
        (AuditEntry.actor, where.actor),
        (AuditEntry.token_id, where.token_id),
        (AuditEntry.target, where.target),
        (AuditEntry.client, where.client),
        (AuditEntry.outcome, where.outcome.value if where.outcome else None),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if where.action is not None:
        stmt = stmt.where(AuditEntry.action.startswith(where.action, autoescape=True))
    return list(session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(limit)))
