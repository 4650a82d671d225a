"""How long a medium must be kept, and when it may be deleted (DOMAIN.md, "Deadlines and
retention").

Two classes. Default: at least 6 months (183 days) from when it was recorded (from when it
was stored, when the recording time is unknown). Permanent: evidence, that is associated
with a case, marked important by the officer or a reviewer, or classified in one of the
permanent categories. A legal hold is not a class: it stops any deletion while it lasts,
and when it is lifted the class rules again.

Deletion is by policy: the deletion job takes media whose default period has run out, that
no hold and no case keeps. Before that, only a deletion one person asks for and another
approves (`early_deletion_refusal`, `second_approver_refusal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_RETENTION = timedelta(days=183)

PERMANENT_CATEGORIES = {
    "obstruction": "阻碍依法执行职务",
    "major_incident": "重大突发事件、群体性事件",
    "major_case": "其他重大、疑难复杂案件",
}
"""Classifications that keep a medium permanently, with their names as shown."""


class RetentionClass(StrEnum):
    DEFAULT = "default"
    PERMANENT = "permanent"


def retention_class(
    *, important: bool, in_case: bool, classification: str | None
) -> RetentionClass:
    if important or in_case or classification in PERMANENT_CATEGORIES:
        return RetentionClass.PERMANENT
    return RetentionClass.DEFAULT


def retention_until(
    *,
    recorded_start: datetime | None,
    ingested_at: datetime,
    important: bool,
    in_case: bool,
    classification: str | None,
) -> datetime | None:
    """The time before which the medium must not be deleted; None: keep permanently."""
    if retention_class(important=important, in_case=in_case, classification=classification) == (
        RetentionClass.PERMANENT
    ):
        return None
    return (recorded_start or ingested_at) + DEFAULT_RETENTION


@dataclass(frozen=True)
class Keeping:
    """What keeps a medium from deletion now."""

    retention_until: datetime | None
    legal_hold: bool
    """Its own hold, or a hold on a case it is in."""
    in_case: bool


def expired(keeping: Keeping, now: datetime) -> bool:
    """Whether the deletion job may take it: its period is over and nothing keeps it."""
    return (
        keeping.retention_until is not None
        and keeping.retention_until <= now
        and not keeping.legal_hold
        and not keeping.in_case
    )


def early_deletion_refusal(keeping: Keeping) -> str | None:
    """Why a medium may not be deleted before its time even with two people agreeing, or
    None: evidence (permanent, in a case) and held media never are."""
    if keeping.legal_hold:
        return "it is under legal hold (its own or its case's): lift the hold first"
    if keeping.in_case:
        return "it is associated with a case: dissociate it first, with a reason"
    if keeping.retention_until is None:
        return "it is kept permanently (marked important or in a permanent category)"
    return None


class LockMode(StrEnum):
    """How the object store locks an original (S3 object lock). Governance: the default
    class, whose lock a break-glass identity can lift. Compliance: evidence kept
    permanently, whose lock nobody can lift or shorten, the store's owner included."""

    GOVERNANCE = "governance"
    COMPLIANCE = "compliance"


PERMANENT_LOCK = timedelta(days=50 * 365)
"""How far ahead a permanent medium's compliance lock runs (S3 has no "forever"); it is
extended again as it nears its end, by the same rule."""


@dataclass(frozen=True)
class Lock:
    mode: LockMode
    until: datetime
    """In whole seconds (S3 keeps no more): see `lock_time`."""
    legal_hold: bool


def lock_time(moment: datetime) -> datetime:
    """`moment` rounded up to the whole second, so a lock never ends before it."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def lock_at_upload(*, permanent: bool, now: datetime) -> Lock:
    """The lock a station puts on an original as it uploads it, before the api knows its
    recorded time: the default period from now (never shorter than from its recording),
    or compliance when the dock already made it evidence (a case number, an important
    mark)."""
    if permanent:
        return Lock(LockMode.COMPLIANCE, lock_time(now + PERMANENT_LOCK), legal_hold=False)
    return Lock(LockMode.GOVERNANCE, lock_time(now + DEFAULT_RETENTION), legal_hold=False)


def next_lock(current: Lock | None, keeping: Keeping, now: datetime) -> Lock | None:
    """The lock the original should have now, given the one it has (`current`, None when
    it has none), or None when that one will do. A lock is extended, never shortened or
    weakened: the later time and the stricter mode win. The legal hold follows what holds
    it now. A permanent medium's compliance lock is renewed once half of it has run."""
    hold = keeping.legal_hold
    if keeping.retention_until is None:
        until = lock_time(now + PERMANENT_LOCK)
        renewed_lately = (
            current is not None
            and current.mode == LockMode.COMPLIANCE
            and current.until >= now + PERMANENT_LOCK / 2
        )
        if current is not None and renewed_lately:
            until = current.until
        wanted = Lock(LockMode.COMPLIANCE, until, hold)
    else:
        wanted = Lock(LockMode.GOVERNANCE, lock_time(keeping.retention_until), hold)
    new = extended(current, wanted)
    return None if new == current else new


def extended(current: Lock | None, wanted: Lock) -> Lock:
    """`wanted`, without shortening or weakening `current`: the later time and the stricter
    mode win; the legal hold is as wanted."""
    if current is None:
        return wanted
    mode = (
        LockMode.COMPLIANCE
        if LockMode.COMPLIANCE in (current.mode, wanted.mode)
        else LockMode.GOVERNANCE
    )
    return Lock(mode, max(current.until, wanted.until), wanted.legal_hold)


def hold_kept(current: Lock | None, wanted: Lock) -> Lock:
    """`wanted` with the hold `current` has: storing an object again (a retry, the same
    bytes from another dock) must never lift a hold; only `next_lock` says when one ends."""
    held = wanted.legal_hold or (current is not None and current.legal_hold)
    return Lock(wanted.mode, wanted.until, held)


def second_approver_refusal(
    *, requested_by: str, requested_by_name: str | None, approver: str, approver_name: str | None
) -> str | None:
    """Why `approver` (a token id, with its name) may not approve a deletion asked for by
    `requested_by`, or None: one person must not delete evidence alone, so the approver
    must be another token, and not one of the same name."""
    if approver == requested_by:
        return "the token that asked for this deletion cannot also approve it"
    if approver_name is not None and approver_name == requested_by_name:
        return f"the deletion was asked for by {requested_by_name!r}; another person must approve"
    return None
