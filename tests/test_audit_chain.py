"""The audit chain's rules alone: each kind of tampering is named at the right entry."""

from __future__ import annotations

import dataclasses

import pytest

from rules.audit_chain import (
    CONTENT_FIELDS,
    GENESIS,
    Checkpoint,
    Link,
    check_chain,
    checkpoint_break,
    entry_hash,
)


def content(n: int) -> dict[str, str | int | None]:
    fields: dict[str, str | int | None] = dict.fromkeys(CONTENT_FIELDS)
    return {**fields, "at": f"2026-12-03T00:00:{n:02d}.000000Z", "actor": "r", "action": "GET x",
            "outcome": "ok", "status": 200, "detail": '{"n":' + str(n) + "}"}  # fmt: skip


def chain(n: int) -> list[Link]:
    links, prev = [], GENESIS
    for seq in range(1, n + 1):
        body = content(seq)
        digest = entry_hash(seq, prev, body)
        links.append(Link(seq, body, prev, digest))
        prev = digest
    return links


def rehashed(link: Link, prev: str) -> Link:
    """`link` as a forger who knows the algorithm would write it after `prev`."""
    return dataclasses.replace(link, prev_hash=prev, hash=entry_hash(link.seq, prev, link.content))


def test_an_untouched_chain_holds_and_reports_its_head() -> None:
    links = chain(5)
    check = check_chain(links)
    assert check.ok and check.entries == 5
    assert (check.head_seq, check.head_hash) == (5, links[-1].hash)
    empty = check_chain([])
    assert empty.ok and (empty.entries, empty.head_seq, empty.head_hash) == (0, 0, GENESIS)


def test_an_edited_entry_is_named() -> None:
    links = chain(5)
    links[2] = dataclasses.replace(links[2], content={**links[2].content, "actor": "x"})
    broken = check_chain(links).broken
    assert broken is not None and broken.seq == 3 and "changed" in broken.reason


def test_an_edit_with_a_recomputed_hash_is_caught_by_the_next_entry() -> None:
    links = chain(5)
    forged = dataclasses.replace(links[2], content={**links[2].content, "actor": "x"})
    links[2] = rehashed(forged, links[1].hash)
    broken = check_chain(links).broken
    assert broken is not None and broken.seq == 4 and "entry 3 was rewritten" in broken.reason


def test_a_removed_entry_is_named_by_its_number() -> None:
    links = chain(5)
    del links[1]
    broken = check_chain(links).broken
    assert broken is not None and broken.seq == 2 and broken.reason == "entry 2 is missing"
    del links[1:3]
    broken = check_chain(links).broken
    assert broken is not None and broken.seq == 2 and "entries 2 to 4" in broken.reason


def test_a_removal_renumbered_to_hide_the_gap_is_named() -> None:
    links = chain(5)
    renumbered = [links[0]] + [dataclasses.replace(x, seq=x.seq - 1) for x in links[2:]]
    broken = check_chain(renumbered).broken
    assert broken is not None and broken.seq == 2


def test_an_inserted_entry_is_named() -> None:
    links = chain(4)
    forged = Link(3, content(99), links[1].hash, "f" * 64)
    shifted = [dataclasses.replace(x, seq=x.seq + 1) for x in links[2:]]
    broken = check_chain([*links[:2], forged, *shifted]).broken
    assert broken is not None and broken.seq == 3


def test_reordered_entries_are_named() -> None:
    links = chain(5)
    swapped = [links[0], dataclasses.replace(links[2], seq=2),
               dataclasses.replace(links[1], seq=3), *links[3:]]  # fmt: skip
    broken = check_chain(swapped).broken
    assert broken is not None and broken.seq == 2
    # Contents swapped between two numbers (each keeping its hash) do not hash either.
    moved = [links[0], dataclasses.replace(links[1], content=links[2].content), *links[2:]]
    broken = check_chain(moved).broken
    assert broken is not None and broken.seq == 2


def test_a_content_with_other_fields_is_refused() -> None:
    with pytest.raises(ValueError, match="content"):
        entry_hash(1, GENESIS, {"actor": "r"})


def test_checkpoints_catch_a_cut_off_tail_and_a_rewritten_chain() -> None:
    links = chain(5)
    seen = Checkpoint(seq=5, hash=links[4].hash, signed_at="2026-12-03T00:10:00Z")
    assert checkpoint_break(seen, links[4].hash, head_seq=7) is None
    cut = checkpoint_break(seen, None, head_seq=3)
    assert cut is not None and cut.seq == 4 and "removed" in cut.reason
    rewritten = checkpoint_break(seen, "e" * 64, head_seq=5)
    assert rewritten is not None and rewritten.seq == 5 and "rewritten" in rewritten.reason
    gone = checkpoint_break(seen, None, head_seq=6)
    assert gone is not None and gone.seq == 5
