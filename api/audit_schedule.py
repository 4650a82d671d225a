"""The api's audit checkpoints: every `audit_checkpoint_interval_s` (api/schedules.py), and
once more on shutdown, the chain's head is signed into the object store
(storage/audit_checkpoints).

Every replica signs; each only when the head moved since its own last checkpoint, and their
checkpoints never share a key, so running several is harmless. A failure is logged and
tried again at the next tick: the entries meanwhile are still chained, only not yet sealed.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.audit_checkpoints import write_checkpoint
from storage.catalogue import audit_repo
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import utc_now
from storage.errors import StorageError
from storage.object_store import ObjectStore

log = logging.getLogger(__name__)


class AuditCheckpoints:
    def __init__(
        self, sessions: sessionmaker[Session], store: ObjectStore, key: Ed25519PrivateKey
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._key = key
        self._signed: tuple[int, str] | None = None

    def sign_if_moved(self) -> bool:
        """Sign the head now unless this schedule signed it already; whether it did."""
        try:
            with self._sessions() as session:
                head = audit_repo.head(session)
                if head is None or head == self._signed:
                    return False
                checkpoint = write_checkpoint(session, self._store, self._key, now=utc_now())
        except (SQLAlchemyError, CatalogueError, StorageError):
            log.exception("could not sign an audit checkpoint; trying again at the next tick")
            return False
        if checkpoint is None:
            return False
        self._signed = (checkpoint.seq, checkpoint.hash)
        log.info("audit checkpoint signed at entry %d", checkpoint.seq)
        return True
