"""The public keys that sign evidence documents: the api's and the stations'.

Registered here so that `/api/v1/keys` can publish them. A key here is a name for a
fingerprint, not a trust anchor: whoever can write the catalogue can add one, so checks
that must hold against the catalogue's operator (audit checkpoints) trust only the keys
they are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.catalogue.models import SigningKey
from wire.signatures import key_id_of, public_pem


def register(
    session: Session, owner_kind: str, owner_id: str, key: Ed25519PublicKey, *, now: datetime
) -> SigningKey:
    """Record `key` as `owner_kind`'s (`api`, `station`) `owner_id`'s and commit; a key
    already recorded is left as it is."""
    key_id = key_id_of(key)
    found = session.get(SigningKey, key_id)
    if found is not None:
        return found
    row = SigningKey(
        key_id=key_id,
        owner_kind=owner_kind,
        owner_id=owner_id,
        public_key_pem=public_pem(key),
        registered_at=now,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # another replica registered it at the same moment
        session.rollback()
        return session.get_one(SigningKey, key_id)
    return row


def all_keys(session: Session) -> Sequence[SigningKey]:
    return session.scalars(
        select(SigningKey).order_by(SigningKey.owner_kind, SigningKey.owner_id, SigningKey.key_id)
    ).all()
