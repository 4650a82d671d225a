"""The audit trail's hash chain: how an entry is hashed, and how a chain is checked.

Every entry carries the hash of the one before it and its own hash over its number, its
content and that previous hash. Editing an entry breaks its own hash; removing, inserting
or reordering entries breaks the numbering or the link of the entry that follows; rewriting
every hash from some entry on is caught only against a signed checkpoint of an earlier head
(`checkpoint_break`). The hash is over canonical JSON (keys sorted, no spaces, UTF-8), so
anyone can recompute it from the rows with a few lines of any language.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
"""The previous hash of the first entry."""

CONTENT_FIELDS = (
    "at",
    "actor",
    "token_id",
    "role",
    "unit_id",
    "action",
    "target",
    "detail",
    "client",
    "outcome",
    "status",
    "request_id",
)
"""What an entry's hash covers, besides its number and the previous hash."""


def canonical_json(value: Any) -> str:
    """`value` as canonical JSON: sorted keys, no insignificant space, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(seq: int, prev_hash: str, content: Mapping[str, str | int | None]) -> str:
    """The hex SHA-256 of entry `seq`: over `{"seq", "prev_hash", **content}` as canonical
    JSON. `content` holds exactly CONTENT_FIELDS (ValueError otherwise)."""
    if set(content) != set(CONTENT_FIELDS):
        raise ValueError(f"an audit entry's content is {CONTENT_FIELDS}, got {sorted(content)}")
    document = {"seq": seq, "prev_hash": prev_hash, **content}
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """An entry as stored: its number, content and the two hashes it carries."""

    seq: int
    content: Mapping[str, str | int | None]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Break:
    """Where a chain stops being what was written: the first entry that does not fit."""

    seq: int
    reason: str


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    """How many entries were read."""
    head_seq: int
    head_hash: str
    """The last entry's number and hash (0 and GENESIS for an empty chain)."""
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def check_chain(links: Iterable[Link]) -> ChainCheck:
    """Walk `links` in the order of their numbers and name the first that does not fit.

    An entry is missing when a number is skipped (its number is named); edited when its
    hash is not that of its content; out of place (inserted, removed or reordered before
    it, or the one before rewritten with a new hash) when it does not carry the hash of the
    entry before it. Numbers start at 1.
    """
    expected_seq, prev_hash, entries = 1, GENESIS, 0
    for link in links:
        entries += 1
        if link.seq != expected_seq:
            missing = (
                f"entry {expected_seq} is missing"
                if link.seq == expected_seq + 1
                else f"entries {expected_seq} to {link.seq - 1} are missing"
            )
            return ChainCheck(entries, expected_seq - 1, prev_hash, Break(expected_seq, missing))
        if entry_hash(link.seq, link.prev_hash, link.content) != link.hash:
            return ChainCheck(
                entries,
                expected_seq - 1,
                prev_hash,
                Break(
                    link.seq, f"entry {link.seq} was changed: its content no longer has its hash"
                ),
            )
        if link.prev_hash != prev_hash:
            return ChainCheck(
                entries,
                expected_seq - 1,
                prev_hash,
                Break(
                    link.seq,
                    f"entry {link.seq} does not follow entry {link.seq - 1}: an entry was "
                    f"inserted, removed or reordered here, or entry {link.seq - 1} was "
                    "rewritten with a new hash",
                ),
            )
        expected_seq, prev_hash = link.seq + 1, link.hash
    return ChainCheck(entries, expected_seq - 1, prev_hash, None)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain's entry `seq` had hash `hash` at `signed_at`."""

    seq: int
    hash: str
    signed_at: str


def checkpoint_break(
    checkpoint: Checkpoint, hash_at_seq: str | None, head_seq: int
) -> Break | None:
    """Whether the chain as stored contradicts a (signature-checked) checkpoint: entries
    cut off after it (`head_seq` below its number) or the chain rewritten up to it (a
    different hash at its number, or none: the entry is gone)."""
    if head_seq < checkpoint.seq:
        return Break(
            head_seq + 1,
            f"the chain ends at entry {head_seq}, but a checkpoint signed at "
            f"{checkpoint.signed_at} saw entry {checkpoint.seq}: the newest entries were removed",
        )
    if hash_at_seq != checkpoint.hash:
        return Break(
            checkpoint.seq,
            f"entry {checkpoint.seq} is not the one a checkpoint signed at "
            f"{checkpoint.signed_at} saw: the chain was rewritten up to it",
        )
    return None
