"""Deleting media by policy (rules/retention.py): what keeps a medium, the deletion itself,
the job that takes expired media, and the objects' removal after.

A deletion is one transaction in the catalogue: the audit entry (with the medium's SHA-256),
the tombstone (what it was, who deleted it and why, its custody chain as it stood) and the
removal of its rows. Its objects are removed from the store only after that commit, and a
removal that fails is tried again by the next run (the tombstone says which are left): the
catalogue never names an original the store no longer has, and a crash leaves at worst an
object nobody points to, still listed in its tombstone.

A medium that is a part of a merged recording is deleted only together with every other
part (the merged proxy holds them all), so the job waits until all parts are expired.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from rules.retention import Keeping, expired
from storage.catalogue import audit_repo, custody_repo
from storage.catalogue.audit_repo import Actor, AuditRecord
from storage.catalogue.models import (
    AuditOutcome,
    Case,
    CaseDissociation,
    CaseMedia,
    CustodyEvent,
    FixityState,
    Media,
    MediaTombstone,
    Recording,
    Viewing,
    utc_now,
)
from storage.errors import ObjectNotFound, StorageError
from storage.object_store import ObjectStore, rendition_key

log = logging.getLogger(__name__)

_BATCH = 200


def keeping(session: Session, media: Media) -> Keeping:
    """What keeps `media` now: its period, its own hold or a hold on a case it is in, and
    whether it is in a case at all."""
    held_case = bool(media.case_links) and bool(
        session.scalar(
            select(exists().where(Case.case_no.in_(media.case_nos), Case.legal_hold.is_(True)))
        )
    )
    return Keeping(
        retention_until=media.retention_until,
        legal_hold=media.legal_hold or held_case,
        in_case=bool(media.case_links),
    )


def object_keys(media: Media) -> list[str]:
    """The objects a medium has: its original, browser copies and thumbnail."""
    keys = [media.original_key]
    keys += [rendition_key(media.sha256, r["name"]) for r in media.renditions or []]
    if media.proxy_key is not None and media.proxy_key not in keys:
        keys.append(media.proxy_key)
    if media.thumbnail_key is not None:
        keys.append(media.thumbnail_key)
    return keys


@dataclass(frozen=True)
class Deletion:
    how: str
    """`expired` or `early`."""
    reason: str
    by: Actor
    approved_by: Actor | None = None
    request_id: str | None = None
    """The DeletionRequest approved, for an early deletion."""


def delete_medium(
    session: Session, media: Media, deletion: Deletion, *, now: datetime
) -> MediaTombstone:
    """Delete `media` from the catalogue in the caller's transaction (the caller commits),
    leaving its tombstone and its audit entry; a recording whose last part it is goes too.
    The caller has checked that nothing keeps it."""
    keys = object_keys(media)
    recording = session.get(Recording, media.recording_id) if media.recording_id else None
    if recording is not None:
        others = session.scalar(
            select(exists().where(Media.recording_id == recording.id, Media.id != media.id))
        )
        if not others:
            if recording.merged_proxy_key is not None:
                keys.append(recording.merged_proxy_key)
            session.delete(recording)
    chain = [
        {
            "at": custody_repo.utc_text(e.at),
            "event": e.event,
            "actor": e.actor,
            "role": e.role,
            "station_id": e.station_id,
            "device_id": e.device_id,
            "client": e.client,
            "detail": e.detail,
            "outcome": e.outcome,
        }
        for e in custody_repo.chain(session, media.id)
    ]
    entry = audit_repo.append(
        session,
        AuditRecord(
            actor=deletion.by,
            action="media.delete",
            target=media.id,
            outcome=AuditOutcome.OK,
            detail={
                "how": deletion.how,
                "reason": deletion.reason,
                "sha256": media.sha256,
                "size_bytes": media.size_bytes,
                "original_name": media.original_name,
                "device_id": media.device_id,
                "unit_id": media.unit_id,
                "retention_until": (
                    custody_repo.utc_text(media.retention_until) if media.retention_until else None
                ),
                "approved_by": deletion.approved_by.name if deletion.approved_by else None,
                "deletion_request_id": deletion.request_id,
            },
        ),
        now=now,
    )
    tombstone = MediaTombstone(
        media_id=media.id,
        sha256=media.sha256,
        size_bytes=media.size_bytes,
        kind=media.kind,
        original_name=media.original_name,
        device_id=media.device_id,
        officer_id=media.officer_id,
        unit_id=media.unit_id,
        station_id=media.station_id,
        recorded_start=media.recorded_start,
        ingested_at=media.ingested_at,
        retention_until=media.retention_until,
        how=deletion.how,
        deleted_at=now,
        deleted_by=deletion.by.name,
        approved_by=deletion.approved_by.name if deletion.approved_by else None,
        reason=deletion.reason,
        deletion_request_id=deletion.request_id,
        audit_seq=entry.seq,
        object_keys=keys,
        objects_removed_at=None,
        custody=chain,
    )
    session.add(tombstone)
    for model in (Viewing, CustodyEvent, CaseDissociation, CaseMedia, FixityState):
        session.execute(delete(model).where(model.media_id == media.id))
    session.delete(media)  # through the session: the compliance report sees its days change
    session.flush()
    return tombstone


def _expired_batch(session: Session, now: datetime, after: str) -> Sequence[Media]:
    return session.scalars(
        select(Media)
        .where(
            Media.retention_until.is_not(None),
            Media.retention_until <= now,
            Media.legal_hold.is_(False),
            ~exists().where(CaseMedia.media_id == Media.id),
            Media.id > after,
        )
        .order_by(Media.id)
        .limit(_BATCH)
    ).all()


def _parts_all_expired(session: Session, media: Media, now: datetime) -> bool:
    if media.recording_id is None:
        return True
    parts = session.scalars(select(Media).where(Media.recording_id == media.recording_id)).all()
    return all(expired(keeping(session, p), now) for p in parts)


def delete_expired(sessions: sessionmaker[Session], *, by: Actor, now: datetime) -> int:
    """Delete every medium whose period ran out and that nothing keeps; how many."""
    deleted, after = 0, ""
    while True:
        with sessions() as session:
            batch = _expired_batch(session, now, after)
            if not batch:
                return deleted
            ids = [m.id for m in batch]
        after = ids[-1]
        for media_id in ids:
            with sessions() as session:
                # Read again, locked: a hold or a case may have come since the batch was
                # read, and none may come now until this deletion commits.
                media = session.get(Media, media_id, with_for_update=True)
                if media is None or not expired(keeping(session, media), now):
                    continue
                if not _parts_all_expired(session, media, now):
                    continue
                delete_medium(
                    session,
                    media,
                    Deletion(how="expired", reason="retention period ended", by=by),
                    now=now,
                )
                session.commit()
                deleted += 1


def remove_objects_of(session: Session, store: ObjectStore, media_id: str) -> bool:
    """Remove from the store the objects of the deleted medium `media_id`, and note it in
    its tombstone (commits); whether that is done. A store that refuses is logged and left
    for the next run of remove_deleted_objects."""
    tombstone = session.get_one(MediaTombstone, media_id)
    if tombstone.objects_removed_at is not None:
        return True
    try:
        for key in tombstone.object_keys:
            with contextlib.suppress(ObjectNotFound):  # gone already: the aim
                # Two people approved an early deletion: a governance lock gives way.
                store.delete(key, bypass_governance=tombstone.how == "early")
    except StorageError:
        log.exception("could not remove the objects of deleted media %s yet", media_id)
        return False
    tombstone.objects_removed_at = utc_now()
    session.commit()
    return True


def remove_deleted_objects(sessions: sessionmaker[Session], store: ObjectStore) -> int:
    """Remove the objects of every tombstone still holding some; how many were finished."""
    with sessions() as session:
        pending = session.scalars(
            select(MediaTombstone.media_id).where(MediaTombstone.objects_removed_at.is_(None))
        ).all()
    finished = 0
    for media_id in pending:
        with sessions() as session:
            finished += remove_objects_of(session, store, media_id)
    return finished
