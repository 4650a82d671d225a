"""The api's deletion job: every `retention_interval_s` (api/schedules.py), the media whose
default period ran out and that no hold or case keeps are deleted, the objects of deleted
media removed from the store (storage/deletion.py), and the locks of originals that fell
out of step brought up to date (storage/object_locks.py), by one replica at a time."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.catalogue.audit_repo import Actor
from storage.catalogue.db import one_runner
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import utc_now
from storage.deletion import delete_expired, remove_deleted_objects
from storage.errors import StorageError
from storage.object_locks import sync_out_of_step
from storage.object_store import ObjectStore

log = logging.getLogger(__name__)

ACTOR = Actor(name="api:retention", client="local")


class RetentionRuns:
    def __init__(self, engine: Engine, sessions: sessionmaker[Session], store: ObjectStore) -> None:
        self._engine = engine
        self._sessions = sessions
        self._store = store

    def run_once(self) -> int | None:
        """Delete what expired; how many, or None when another replica runs it or it failed
        (logged)."""
        try:
            with one_runner(self._engine, "retention") as mine:
                if not mine:
                    return None
                deleted = delete_expired(self._sessions, by=ACTOR, now=utc_now())
                remove_deleted_objects(self._sessions, self._store)
                sync_out_of_step(self._sessions, self._store, now=utc_now())
        except (SQLAlchemyError, CatalogueError, StorageError):
            log.exception("the deletion job failed; trying again at the next interval")
            return None
        if deleted:
            log.info("deletion job: %d expired media deleted", deleted)
        return deleted
