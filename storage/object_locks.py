"""Keeping each original's lock in the object store in step with what keeps the medium
(rules/retention.next_lock): retention to the end of its class's period, compliance once it
is permanent, the legal hold of the medium or its cases mirrored; extended, never shortened.

The station locks an original as it uploads it (rules/retention.lock_at_upload). The api
brings the lock up to date after a change that moves it (a hold, a case, a mark, a
category) and, for whatever that missed (an automatic association, a store that was down),
on the deletion job's schedule: `out_of_step` finds the media whose lock, as last put, no
longer fits.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from rules.retention import PERMANENT_LOCK, LockMode, next_lock
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import Case, CaseMedia, Media, utc_now
from storage.deletion import keeping
from storage.errors import StorageError
from storage.object_store import ObjectStore

log = logging.getLogger(__name__)

NOT_LOCKABLE = "none"
_BATCH = 200


def sync_lock(session: Session, store: ObjectStore, media: Media, *, now: datetime) -> None:
    """Lock `media`'s original as what keeps it now wants, and note the lock on the medium
    (the caller commits). Raises StorageError, ObjectNotFound."""
    current = store.lock_of(media.original_key)
    new = next_lock(current, keeping(session, media), now)
    if new is not None:
        store.protect(media.original_key, new)
        current = store.lock_of(media.original_key)
    if current is None:
        # No lock after asking for one that has not ended: the store cannot lock. (One whose
        # time is over and that nothing holds needs none: the medium is due for deletion.)
        cannot = new is not None and new.until > now
        media.lock_mode = NOT_LOCKABLE if cannot else None
        media.locked_until, media.lock_legal_hold = None, None
    else:
        media.lock_mode, media.locked_until = current.mode.value, current.until
        media.lock_legal_hold = current.legal_hold


def sync_locks_of(
    sessions: sessionmaker[Session], store: ObjectStore, media_ids: Collection[str]
) -> None:
    """sync_lock each of `media_ids`, each in its own transaction; a failure is logged and
    left to the schedule (`sync_out_of_step`)."""
    for media_id in sorted(media_ids):
        try:
            with sessions() as session:
                media = session.get(Media, media_id)
                if media is not None:
                    sync_lock(session, store, media, now=utc_now())
                    session.commit()
        except (StorageError, CatalogueError, SQLAlchemyError, OSError):
            log.exception("could not bring the lock of media %s up to date yet", media_id)


def _held_case() -> ColumnElement[bool]:
    return exists().where(
        CaseMedia.media_id == Media.id,
        CaseMedia.case_no == Case.case_no,
        Case.legal_hold.is_(True),
    )


def out_of_step(session: Session, *, now: datetime, after: str, limit: int) -> list[str]:
    """Ids of media (above `after`, in order) whose lock, as last put, does not fit now."""
    held = or_(Media.legal_hold.is_(True), _held_case())
    lock_held = Media.lock_legal_hold.is_(True)
    stmt = (
        select(Media.id)
        .where(
            Media.id > after,
            or_(Media.lock_mode.is_(None), Media.lock_mode != NOT_LOCKABLE),
            or_(
                Media.lock_mode.is_(None),
                and_(Media.retention_until.is_(None), Media.lock_mode != LockMode.COMPLIANCE.value),
                and_(
                    Media.retention_until.is_not(None), Media.locked_until < Media.retention_until
                ),
                and_(
                    Media.lock_mode == LockMode.COMPLIANCE.value,
                    Media.locked_until < now + PERMANENT_LOCK / 2,
                ),
                and_(held, ~lock_held),
                and_(~held, lock_held),
            ),
        )
        .order_by(Media.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def sync_out_of_step(sessions: sessionmaker[Session], store: ObjectStore, *, now: datetime) -> int:
    """sync_lock every medium whose lock does not fit now; how many were looked at."""
    seen, after = 0, ""
    while True:
        with sessions() as session:
            ids = out_of_step(session, now=now, after=after, limit=_BATCH)
        if not ids:
            return seen
        sync_locks_of(sessions, store, ids)
        seen += len(ids)
        after = ids[-1]
