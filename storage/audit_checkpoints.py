"""Signed checkpoints of the audit chain's head, kept in the object store.

Whoever can write the catalogue can cut off the newest entries of the audit trail, or
rewrite every entry from some point on with fresh hashes: the chain still links. A
checkpoint, signed by the api's key (which the catalogue never holds) and written where the
catalogue's operator cannot change it (the object store, under object lock where the store
has it), states which hash the chain had at which entry; a chain that ends before a
checkpoint, or disagrees with one, was tampered with.

Keys: `audit/checkpoints/<seq, 12 digits>-<signed at, UTC>-<key id, 16 hex>.json`, so they
list in the chain's order and two api replicas never write the same key.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from rules.audit_chain import Break, Checkpoint, checkpoint_break
from rules.retention import PERMANENT_LOCK, Lock, LockMode
from storage.catalogue import audit_repo
from storage.errors import ObjectNotFound
from storage.object_store import ObjectStore
from wire.signatures import SignatureInvalid, key_id_of, sign, verify

PREFIX = "audit/checkpoints"
KIND = "audit_checkpoint"


def write_checkpoint(
    session: Session, store: ObjectStore, key: Ed25519PrivateKey, *, now: datetime
) -> Checkpoint | None:
    """Sign the chain's current head and store it; None (nothing written) for an empty
    chain. Raises StorageError when the store refuses it."""
    head = audit_repo.head(session)
    if head is None:
        return None
    checkpoint = Checkpoint(
        seq=head[0], hash=head[1], signed_at=now.astimezone(UTC).isoformat().replace("+00:00", "Z")
    )
    signed = sign(
        {
            "kind": KIND,
            "seq": checkpoint.seq,
            "hash": checkpoint.hash,
            "signed_at": checkpoint.signed_at,
        },
        key,
    )
    name = (
        f"{PREFIX}/{checkpoint.seq:012d}-{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"
        f"-{key_id_of(key.public_key())[:16]}.json"
    )
    with tempfile.TemporaryDirectory(prefix="checkpoint-") as folder:
        path = Path(folder) / "checkpoint.json"
        path.write_text(json.dumps(signed, ensure_ascii=False))
        store.put_file(
            name,
            path,
            sha256=None,
            content_type="application/json",
            lock=Lock(LockMode.COMPLIANCE, now + PERMANENT_LOCK, legal_hold=False),
        )
    return checkpoint


@dataclass(frozen=True)
class StoreCheck:
    """The chain checked against the checkpoints in the store."""

    checkpoints: int
    """How many checkpoints were read and found signed by a trusted key."""
    broken: Break | None
    """The first contradiction, or a checkpoint that does not hold."""


def read_checkpoints(
    store: ObjectStore, trusted: Mapping[str, Ed25519PublicKey]
) -> Iterator[Checkpoint | Break]:
    """Each stored checkpoint, oldest first, once its signature holds; a Break (at entry 0,
    naming the object) for one that does not."""
    for name in store.list_keys(PREFIX):
        try:
            raw = b"".join(store.open_range(name))
            document = verify(json.loads(raw), trusted).document
            if document.get("kind") != KIND:
                raise SignatureInvalid(f"it is a {document.get('kind')!r}, not a checkpoint")
            yield Checkpoint(
                seq=int(document["seq"]),
                hash=str(document["hash"]),
                signed_at=str(document["signed_at"]),
            )
        except ObjectNotFound:
            continue  # listed, then gone: only a store without object lock lets that happen
        except (SignatureInvalid, ValueError, KeyError, TypeError) as exc:
            yield Break(0, f"checkpoint {name} does not hold: {exc}")


def check_against_store(
    session: Session, store: ObjectStore, trusted: Mapping[str, Ed25519PublicKey]
) -> StoreCheck:
    """Whether the chain as stored agrees with every checkpoint (the chain's own links are
    audit_repo.check's). Raises StorageError when the store cannot be read."""
    head = audit_repo.head(session)
    head_seq = head[0] if head is not None else 0
    count = 0
    for item in read_checkpoints(store, trusted):
        if isinstance(item, Break):
            return StoreCheck(count, item)
        count += 1
        broken = checkpoint_break(item, audit_repo.hash_at(session, item.seq), head_seq)
        if broken is not None:
            return StoreCheck(count, broken)
    return StoreCheck(count, None)
