"""The chain of custody of each medium: writing its events and reading them back.

Events are only ever added. Those a caller may send twice (a station's report retried after
a lost response, a re-registration retried) carry a dedupe key, and the unique constraint on
(media_id, dedupe_key) decides the duplicate: the INSERT is always tried and, when the
constraint refuses it, the event that got there first is returned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import (
    CustodyEvent,
    CustodyEventKind,
    CustodyOutcome,
    Media,
    Viewing,
    utc_now,
)
from wire.registration import IngestRecord

STATION_EVENTS = frozenset({CustodyEventKind.WIPED_FROM_DEVICE, CustodyEventKind.WIPE_FAILED})
"""Events a station reports about what it did at the dock after registration."""


class CustodyRefused(CatalogueError):
    """A reported event does not fit the medium (wrong code, wrong SHA-256)."""


@dataclass(frozen=True)
class Caller:
    """Who caused an event and from where, as the api saw the request."""

    actor: str
    """The token's name, or `token:ID`."""
    role: str
    client: str | None
    """The network address the request came from, if known."""


@dataclass(frozen=True)
class StationReport:
    """A station's report of something it did at the dock (POST .../custody)."""

    event: CustodyEventKind
    at: datetime
    device_id: str
    path: str
    """Path of the file on the device volume, as in the registration's original_path."""
    sha256_verified: str
    """The SHA-256 the station checked the stored copy against before it acted."""
    station_id: str | None = None
    reason: str | None = None
    """Why a wipe failed, in the station's words."""


def utc_text(value: datetime) -> str:
    """A time as the api writes it: UTC with `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dedupe_key(*parts: str | None) -> str:
    # Hashed: paths are long and a unique index on long text is not portable.
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _event(
    media_id: str | None,
    kind: CustodyEventKind,
    caller: Caller,
    *,
    at: datetime,
    station_id: str | None = None,
    device_id: str | None = None,
    detail: dict[str, Any] | None = None,
    outcome: CustodyOutcome = CustodyOutcome.OK,
    dedupe_key: str | None = None,
) -> CustodyEvent:
    event = CustodyEvent(
        at=at,
        event=kind.value,
        actor=caller.actor,
        role=caller.role,
        station_id=station_id,
        device_id=device_id,
        client=caller.client,
        detail=detail,
        outcome=outcome.value,
        dedupe_key=dedupe_key,
    )
    if media_id is not None:
        event.media_id = media_id
    return event


def registration_events(
    record: IngestRecord, caller: Caller, *, now: datetime
) -> list[CustodyEvent]:
    """The events of a first registration, oldest first: the device's clock set at the dock
    (when the station did), copied from the device (at the record's `staged_at`), stored (at
    `uploaded_at`, when the station gives it) and registered (`now`).

    Not added to any session: media_repo.register writes them in the transaction that
    inserts the medium, so a medium never exists without the start of its chain.
    """
    events = []
    if record.clock_set_at is not None:
        # Before the copy: the camera's stamps on this file carry the offset read before.
        events.append(
            _event(
                None,
                CustodyEventKind.DEVICE_CLOCK_SET,
                caller,
                at=record.clock_set_at,
                station_id=record.station_id,
                device_id=record.device_id,
                detail={
                    "offset_before_s": record.clock_offset_before_set_s,
                    "set_to": record.clock_set_at.isoformat(),
                },
            )
        )
    events.append(
        _event(
            None,
            CustodyEventKind.COPIED_FROM_DEVICE,
            caller,
            at=record.staged_at,
            station_id=record.station_id,
            device_id=record.device_id,
            detail={
                "original_path": record.original_path,
                "original_name": record.original_name,
                "sha256": record.sha256,
                "size_bytes": record.size_bytes,
                "device_serial": record.device_serial,
            },
        )
    )
    if record.uploaded_at is not None:
        events.append(
            _event(
                None,
                CustodyEventKind.STORED,
                caller,
                at=record.uploaded_at,
                station_id=record.station_id,
                device_id=record.device_id,
                detail={
                    "original_key": record.original_key,
                    "sha256": record.sha256,
                    "size_bytes": record.size_bytes,
                },
            )
        )
    events.append(
        _event(
            None,
            CustodyEventKind.REGISTERED,
            caller,
            at=now,
            station_id=record.station_id,
            device_id=record.device_id,
            detail={"case_no": record.case_no},
        )
    )
    return events


def record_seen_again(
    session: Session, media: Media, record: IngestRecord, caller: Caller, *, now: datetime
) -> CustodyEvent | None:
    """Note that the bytes of `media` arrived again, from the device, path or station that
    `record` names; commit.

    Returns None, writing nothing, when `record` names the very copy the medium was first
    registered from (a station retrying its registration). A retry of the same sighting is
    recorded once. Raises CatalogueError when the write fails.
    """
    first = (media.device_id, media.original_path, media.station_id)
    if (record.device_id, record.original_path, record.station_id) == first:
        return None
    event = _event(
        media.id,
        CustodyEventKind.SEEN_AGAIN,
        caller,
        at=now,
        station_id=record.station_id,
        device_id=record.device_id,
        detail={
            "original_path": record.original_path,
            "original_name": record.original_name,
            "staged_at": utc_text(record.staged_at),
            "uploaded_at": utc_text(record.uploaded_at) if record.uploaded_at else None,
            "device_serial": record.device_serial,
            "case_no": record.case_no,
        },
        dedupe_key=_dedupe_key(
            CustodyEventKind.SEEN_AGAIN, record.device_id, record.original_path, record.station_id
        ),
    )
    return _add_once(session, event)[0]


def record_station_report(
    session: Session, media: Media, report: StationReport, caller: Caller
) -> tuple[CustodyEvent, bool]:
    """Record what a station did at the dock; return (event, created) and commit.

    Idempotent on (medium, event, at, device, path): a retry returns the event recorded the
    first time with `created` False. Raises CustodyRefused for an event a station may not
    report or a `sha256_verified` that is not the medium's, CatalogueError when the write
    fails.
    """
    if report.event not in STATION_EVENTS:
        allowed = ", ".join(sorted(STATION_EVENTS))
        raise CustodyRefused(f"a station may report only {allowed}, not {report.event!r}")
    if report.sha256_verified != media.sha256:
        raise CustodyRefused(
            f"sha256_verified {report.sha256_verified} is not the SHA-256 of media {media.id} "
            f"({media.sha256}): the station checked other bytes; nothing was recorded"
        )
    failed = report.event == CustodyEventKind.WIPE_FAILED
    event = _event(
        media.id,
        report.event,
        caller,
        at=report.at,
        station_id=report.station_id,
        device_id=report.device_id,
        detail={
            "original_path": report.path,
            "sha256_verified": report.sha256_verified,
            "reason": report.reason,
        },
        outcome=CustodyOutcome.FAILED if failed else CustodyOutcome.OK,
        dedupe_key=_dedupe_key(report.event, utc_text(report.at), report.device_id, report.path),
    )
    return _add_once(session, event)


def record_event(
    session: Session,
    media: Media,
    kind: CustodyEventKind,
    caller: Caller,
    *,
    detail: dict[str, Any] | None = None,
    outcome: CustodyOutcome = CustodyOutcome.OK,
    now: datetime | None = None,
) -> CustodyEvent:
    """Record an event that happened now in the api (a read of content); commit.

    Raises CatalogueError when the write fails: the caller must then not go ahead with
    what it was about to do unlogged.
    """
    event = _event(
        media.id,
        kind,
        caller,
        at=now or utc_now(),
        station_id=None,
        device_id=None,
        detail=detail,
        outcome=outcome,
    )
    return _add_once(session, event)[0]


def _add_once(session: Session, event: CustodyEvent) -> tuple[CustodyEvent, bool]:
    session.add(event)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        existing = None
        if event.dedupe_key is not None:
            existing = session.scalars(
                select(CustodyEvent).where(
                    CustodyEvent.media_id == event.media_id,
                    CustodyEvent.dedupe_key == event.dedupe_key,
                )
            ).one_or_none()
        if existing is None:
            raise CatalogueError(
                f"could not record {event.event} for media {event.media_id}: {exc.orig}"
            ) from exc
        return existing, False
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(
            f"could not record {event.event} for media {event.media_id}: {exc}"
        ) from exc
    return event, True


def chain(session: Session, media_id: str) -> list[CustodyEvent]:
    """Every event of the medium, oldest first (ties in the order they were recorded)."""
    return list(
        session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.media_id == media_id)
            .order_by(CustodyEvent.at, CustodyEvent.id)
        )
    )


def registered_by(session: Session, media: Media, station_id: str) -> bool:
    """Whether `station_id` registered `media`: first, or as the same bytes seen again."""
    if media.station_id == station_id:
        return True
    found = session.scalars(
        select(CustodyEvent.id)
        .where(
            CustodyEvent.media_id == media.id,
            CustodyEvent.station_id == station_id,
            CustodyEvent.event.in_(
                [CustodyEventKind.REGISTERED.value, CustodyEventKind.SEEN_AGAIN.value]
            ),
        )
        .limit(1)
    ).first()
    return found is not None


VIEWING_WINDOW = timedelta(minutes=10)
"""A player's requests for one medium by one token from one address, each within this long
of the one before, are one viewing."""


def record_viewing(
    session: Session,
    media: Media,
    kind: CustodyEventKind,
    caller: Caller,
    *,
    token_id: str,
    detail: dict[str, Any],
    recording_id: str | None = None,
    now: datetime | None = None,
) -> Viewing:
    """Record one playback request: counted in the viewing this token has open on `media`
    from the caller's address (of the same recording, or of none; its last request within
    VIEWING_WINDOW), else the start of a new viewing, written to custody as `kind`.
    Commits; raises CatalogueError when the write fails."""
    now = now or utc_now()
    same_client = (
        Viewing.client.is_(None) if caller.client is None else Viewing.client == caller.client
    )
    same_recording = (
        Viewing.recording_id.is_(None)
        if recording_id is None
        else Viewing.recording_id == recording_id
    )
    try:
        viewing = session.scalars(
            select(Viewing)
            .where(
                Viewing.media_id == media.id,
                Viewing.token_id == token_id,
                same_client,
                same_recording,
                Viewing.last_at >= now - VIEWING_WINDOW,
            )
            .order_by(Viewing.last_at.desc())
            .limit(1)
            .with_for_update()  # a browser's parallel ranges must not lose counts (PostgreSQL)
        ).first()
        if viewing is None:
            event = _event(
                media.id,
                kind,
                caller,
                at=now,
                station_id=None,
                device_id=None,
                detail=detail,
                outcome=CustodyOutcome.OK,
            )
            session.add(event)
            session.flush()
            viewing = Viewing(
                media_id=media.id,
                custody_event_id=event.id,
                token_id=token_id,
                client=caller.client,
                recording_id=recording_id,
                first_at=now,
                last_at=now,
                requests=1,
                bytes=int(detail.get("bytes", 0)),
                last_range=detail.get("range"),
            )
            session.add(viewing)
        else:
            viewing.requests += 1
            viewing.bytes += int(detail.get("bytes", 0))
            viewing.last_at = now
            viewing.last_range = detail.get("range")
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise CatalogueError(f"could not record a viewing of media {media.id}: {exc}") from exc
    return viewing


def viewings_of(session: Session, media_id: str) -> dict[int, Viewing]:
    """The medium's viewings by the id of the custody event that started each."""
    return {
        v.custody_event_id: v
        for v in session.scalars(select(Viewing).where(Viewing.media_id == media_id))
    }
