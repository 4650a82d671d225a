"""POST /api/v1/ingest: a station registers one original it has uploaded.

The api registers only what is stored: the original must be in the object store with the
size (and, when the store knows it, the SHA-256) the record claims.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response, status

from api import association
from api.custody_log import caller
from api.deps import (
    STATIONS,
    CurrentToken,
    SessionDep,
    StoreDep,
    roles,
    secured_router,
)
from api.problems import unavailable
from api.schemas import MediaOut
from api.stations import speaking_for
from storage.catalogue import custody_repo, media_repo
from storage.catalogue.errors import CatalogueError, DuplicateConflict
from storage.catalogue.models import CustodyEventKind, CustodyOutcome, utc_now
from storage.errors import ObjectNotFound, StorageError
from storage.object_store import ObjectStore, original_key, proxy_key, thumbnail_key
from wire.registration import IngestRecord

router = secured_router("/api/v1", ["ingest"])


@router.post(
    "/ingest",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "already registered (same sha256): the existing media"},
        409: {"description": "the stored object or an earlier registration disagrees"},
        422: {"description": "invalid record, or an object it names is not stored"},
    },
    **roles(*STATIONS),
)
def ingest(
    record: IngestRecord,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    token: CurrentToken,
    response: Response,
) -> MediaOut:
    """Register one uploaded original; idempotent on `sha256` (201 new, 200 known).

    A new medium starts its chain of custody: copied from the device (at `staged_at`),
    stored (at `uploaded_at`, when given), registered. The same bytes from another device,
    path or station add `seen_again` to the existing medium's chain, once per sighting.
    The medium is then associated with the cases whose events it matches (api/association.py).
    """
    record = record.model_copy(update={"station_id": speaking_for(token, record.station_id)})
    _check_keys(record)
    _check_stored(store, record)
    who = caller(request, token)
    now = utc_now()
    try:
        media, created = media_repo.register(
            session,
            record,
            actor=who.actor,
            unit_id=token.unit_id,
            now=now,
            custody=custody_repo.registration_events(record, who, now=now),
        )
        if not created:
            custody_repo.record_seen_again(session, media, record, who, now=now)
        elif record.case_no and record.case_no not in media.case_nos:
            custody_repo.record_event(
                session,
                media,
                CustodyEventKind.ASSOCIATED_WITH_CASE,
                who,
                detail={
                    "case_no": record.case_no,
                    "source": "dock",
                    "reason": "not linked: the case belongs to another unit than the footage",
                },
                outcome=CustodyOutcome.FAILED,
                now=now,
            )
        # On every registration, not only the first: a retry after a failed association
        # (503) must associate, and for an associated medium it changes nothing.
        association.associate_media(
            session, media, who, association.tolerances_of(request, session)
        )
    except DuplicateConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except CatalogueError as exc:
        raise unavailable("the registration could not be recorded", exc) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return MediaOut.of(media)


def _check_keys(record: IngestRecord) -> None:
    """Keys are derived from the content, never chosen by a station: otherwise a station could
    point one medium's proxy at another medium's original."""
    expected = {
        "original_key": original_key(record.sha256),
        "proxy_key": proxy_key(record.sha256, record.proxy_content_type or "")
        if record.proxy_key is not None
        else None,
        "thumbnail_key": thumbnail_key(record.sha256) if record.thumbnail_key else None,
    }
    for field, want in expected.items():
        if getattr(record, field) != want:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"{field} must be {want!r} for this sha256 and content type",
            )
    if record.proxy_key is not None and record.proxy_content_type not in ("video/mp4", "audio/mp4"):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="proxy_content_type must be video/mp4 or audio/mp4",
        )


def _check_stored(store: ObjectStore, record: IngestRecord) -> None:
    try:
        info = store.stat(record.original_key)
    except ObjectNotFound as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"original_key {record.original_key!r} is not in the object store: "
            "upload the original before registering it",
        ) from exc
    except StorageError as exc:
        raise _store_unavailable(exc) from exc
    if info.size != record.size_bytes:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the stored original {record.original_key!r} has {info.size} bytes, "
            f"the record says {record.size_bytes}: upload it again",
        )
    if info.sha256 is not None and info.sha256 != record.sha256:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the stored original {record.original_key!r} has sha256 {info.sha256}, "
            f"the record says {record.sha256}: upload it again",
        )
    for field, key in (("proxy_key", record.proxy_key), ("thumbnail_key", record.thumbnail_key)):
        if key is None:
            continue
        try:
            stored = store.exists(key)
        except StorageError as exc:
            raise _store_unavailable(exc) from exc
        if not stored:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"{field} {key!r} is not in the object store: upload it first",
            )


def _store_unavailable(exc: StorageError) -> HTTPException:
    return unavailable("the object store is unavailable", exc)
