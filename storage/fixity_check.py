"""The fixity job: re-read stored originals, compare their SHA-256 with the catalogue, and
write every result to the medium's fixity state and to the audit trail (rules/fixity.py).

Run by `station fixity check` and on the api's schedule. A store that cannot be read stops
the run (StorageError): that says nothing about the originals, so nothing is recorded for
the one being read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from rules.fixity import FixityOutcome, outcome_of
from storage.catalogue import audit_repo, fixity_repo
from storage.catalogue.audit_repo import Actor, AuditRecord
from storage.catalogue.fixity_repo import Original
from storage.catalogue.models import AuditOutcome, Media, utc_now
from storage.errors import ObjectNotFound
from storage.object_store import ObjectStore

_BATCH = 200


@dataclass(frozen=True)
class FixityResult:
    original: Original
    outcome: FixityOutcome
    actual_sha256: str | None


def check_originals(
    sessions: sessionmaker[Session],
    store: ObjectStore,
    *,
    limit: int | None,
    actor: Actor,
    on_result: Callable[[FixityResult], None] = lambda _result: None,
) -> list[FixityResult]:
    """Check up to `limit` originals (None: every one), those checked longest ago first;
    the results that were not OK. Raises StorageError when the store cannot be read,
    CatalogueError/SQLAlchemyError when the catalogue cannot be written."""
    started = utc_now()
    failed: list[FixityResult] = []
    checked = 0
    while limit is None or checked < limit:
        with sessions() as session:
            batch = fixity_repo.due(
                session,
                checked_before=started,
                limit=_BATCH if limit is None else min(_BATCH, limit - checked),
            )
        if not batch:
            break
        for original in batch:
            result = _check(store, original)
            with sessions() as session:
                # Locked while its result is written: a deletion by policy waits, or came first.
                if session.get(Media, original.media_id, with_for_update=True) is None:
                    continue  # deleted since the batch was read: nothing to keep
                _record(session, result, actor, now=utc_now())
                session.commit()
            on_result(result)
            if result.outcome != FixityOutcome.OK:
                failed.append(result)
        checked += len(batch)
    return failed


def _check(store: ObjectStore, original: Original) -> FixityResult:
    try:
        actual: str | None = store.sha256_of(original.original_key)
    except ObjectNotFound:
        actual = None
    return FixityResult(original, outcome_of(original.sha256, actual), actual)


def _record(session: Session, result: FixityResult, actor: Actor, *, now: datetime) -> None:
    original = result.original
    # `now` is after the run started, so the next batch does not take this medium again.
    fixity_repo.record(session, original.media_id, result.outcome, result.actual_sha256, now=now)
    audit_repo.append(
        session,
        AuditRecord(
            actor=actor,
            action="fixity.check",
            target=original.media_id,
            outcome=AuditOutcome.OK if result.outcome == FixityOutcome.OK else AuditOutcome.FAILED,
            detail={
                "result": result.outcome.value,
                "key": original.original_key,
                "expected_sha256": original.sha256,
                "actual_sha256": result.actual_sha256,
            },
        ),
        now=now,
    )
