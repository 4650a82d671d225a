"""The api's fixity runs: every `fixity_interval_s` (api/schedules.py), the share of stored
originals that keeps every one re-read within `fixity_period_days` (storage/fixity_check.py),
by one api replica at a time (storage.catalogue.db.one_runner). What fails becomes an early
warning and a metric, read from each original's fixity state."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.settings import ApiSettings
from rules.fixity import share_per_run
from storage.catalogue import fixity_repo
from storage.catalogue.audit_repo import Actor
from storage.catalogue.db import one_runner
from storage.catalogue.errors import CatalogueError
from storage.errors import StorageError
from storage.fixity_check import FixityResult, check_originals
from storage.object_store import ObjectStore

log = logging.getLogger(__name__)

ACTOR = Actor(name="api:fixity", client="local")


class FixityRuns:
    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        store: ObjectStore,
        settings: ApiSettings,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._store = store
        self._interval = timedelta(seconds=settings.fixity_interval_s)
        self._period = timedelta(days=settings.fixity_period_days)

    def run_once(self) -> list[FixityResult] | None:
        """Check this run's share; the failures, or None when another replica is running
        it or it could not run (logged)."""
        try:
            with one_runner(self._engine, "fixity") as mine:
                if not mine:
                    log.info("fixity: another api replica is running it")
                    return None
                with self._sessions() as session:
                    total = fixity_repo.originals(session)
                failed = check_originals(
                    self._sessions,
                    self._store,
                    limit=share_per_run(total, self._interval, self._period),
                    actor=ACTOR,
                )
        except (SQLAlchemyError, CatalogueError, StorageError):
            log.exception("fixity run failed; trying again at the next interval")
            return None
        for result in failed:
            log.error(
                "fixity: media %s (%s) is %s: expected %s, found %s",
                result.original.media_id,
                result.original.original_key,
                result.outcome.value,
                result.original.sha256,
                result.actual_sha256,
            )
        return failed
