"""Recordings split into segments (自动合成): a station registers one; readers get its parts,
its gaps and its merged proxy."""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException, Request, Response, status
from sqlalchemy.orm import Session

from api import association
from api.custody_log import caller, logged_read
from api.deps import (
    MEDIA_READERS,
    STATIONS,
    CurrentToken,
    RecordingId,
    SessionDep,
    StoreDep,
    roles,
    secured_router,
)
from api.object_responses import object_response, stat_object
from api.principal import Principal
from api.problems import unavailable
from api.recording_schemas import GapOut, JoinOut, RecordingIn, RecordingOut, RecordingPartOut
from api.scope import media_scope
from api.stations import speaking_for
from storage.catalogue import custody_repo, media_repo, recording_repo
from storage.catalogue.errors import CatalogueError
from storage.catalogue.models import (
    CustodyEventKind,
    Media,
    Recording,
)
from storage.catalogue.recording_repo import InvalidRecording, JoinRef, MergedProxy, PartRef
from storage.errors import StorageError
from storage.object_store import ObjectStore, merged_proxy_key
from wire.recordings import GAP_TOLERANCE_S

router = secured_router("/api/v1/recordings", ["recordings"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such recording"}}
_MERGED_KEY = re.compile(r"^recordings/(?P<sha256>[0-9a-f]{64})\.(mp4|m4a)$")


@router.put(
    "/{recording_id}",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "replaced"},
        404: {"description": "another station's recording has this id"},
        422: {"description": "unknown parts, joins that do not pair them, or no such proxy"},
    },
    **roles(*STATIONS),
)
def put_recording(
    recording_id: RecordingId,
    body: RecordingIn,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    token: CurrentToken,
    response: Response,
) -> RecordingOut:
    """Register or replace a recording; its parts name it in `recording_id` (201 new, 200
    replaced). A part of another recording moves to this one. The parts are associated
    again: an event that one segment matches claims the whole recording. A station
    names only parts it registered itself."""
    station_id = speaking_for(token, body.station_id)
    if token.role == "station":
        known = recording_repo.get(session, recording_id)
        if known is not None and known.station_id != station_id:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                detail=f"no recording {recording_id!r} registered by station {station_id!r}",
            )
        for ref in body.parts:
            medium = media_repo.get_media(session, ref.media_id)
            if medium is not None and not custody_repo.registered_by(session, medium, station_id):
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    detail=f"part {ref.media_id!r} is not a medium station {station_id!r} "
                    "registered",
                )
    merged = _checked_proxy(store, body)
    try:
        recording, created = recording_repo.put(
            session,
            recording_id,
            station_id=station_id,
            parts=[PartRef(p.media_id, p.sha256) for p in body.parts],
            joins=[JoinRef(j.before, j.after, j.gap_s) for j in body.joins],
            merged=merged,
        )
    except InvalidRecording as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except CatalogueError as exc:
        raise _unavailable(exc) from exc
    parts = recording_repo.parts_of(session, recording)
    who, tolerances = caller(request, token), association.tolerances_of(request, session)
    try:
        for part in parts:
            association.associate_media(session, part, who, tolerances)
    except CatalogueError as exc:  # the station retries the PUT, which associates again
        raise _unavailable(exc) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return _out(recording, parts)


def _unavailable(exc: CatalogueError) -> HTTPException:
    return unavailable("the recording could not be recorded", exc)


@router.get("/{recording_id}", responses=_NOT_FOUND, **roles(*MEDIA_READERS))
def get_recording(
    recording_id: RecordingId, session: SessionDep, token: CurrentToken
) -> RecordingOut:
    """A recording: the parts in order that the caller may see, and the joins and gaps
    among them (joins that touch a part it may not see are left out)."""
    recording, visible = _visible_or_404(session, token, recording_id)
    return _out(recording, visible)


@router.get(
    "/{recording_id}/proxy",
    response_class=Response,
    responses={
        **_NOT_FOUND,
        206: {"description": "the requested byte range"},
        416: {"description": "the range is outside the object"},
    },
    **roles(*MEDIA_READERS),
)
@router.head(
    "/{recording_id}/proxy",
    response_class=Response,
    include_in_schema=False,
    **roles(*MEDIA_READERS),
)
def get_recording_proxy(
    recording_id: RecordingId,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    token: CurrentToken,
) -> Response:
    """The merged proxy of the whole recording (`video/mp4` or `audio/mp4`).

    Served only to a caller who may see every part (403 otherwise), and recorded as
    `played_proxy` in the chain of custody of every part, naming the recording (a player's
    follow-up ranges are folded into the viewing, as for a medium's proxy).
    """
    recording, visible = _visible_or_404(session, token, recording_id)
    parts = recording_repo.parts_of(session, recording)
    if len(visible) != len(parts):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"the merged proxy of recording {recording.id} shows parts this token may "
            "not see; play the parts it may see one by one",
        )
    key = recording.merged_proxy_key
    if key is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"recording {recording.id} has no merged proxy; play its parts instead",
        )
    content_type = recording.merged_proxy_content_type or "video/mp4"

    def respond() -> Response:
        info = stat_object(store, key, "merged proxy")
        return object_response(
            request,
            store,
            key,
            size=info.size,
            content_type=content_type,
            etag=f'"{key.rsplit("/", 1)[-1].split(".")[0]}"',
            what="merged proxy",
            headers={},
        )

    return logged_read(
        request,
        session,
        parts,
        token,
        CustodyEventKind.PLAYED_PROXY,
        respond,
        playback=True,
        context={"recording_id": recording.id},
    )


def _visible_or_404(
    session: Session, token: Principal, recording_id: str
) -> tuple[Recording, list[Media]]:
    recording = recording_repo.get(session, recording_id)
    visible = recording_repo.parts_of(session, recording, media_scope(token)) if recording else []
    if recording is None or not visible:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"no recording with id {recording_id!r}"
        )
    return recording, visible


def _checked_proxy(store: ObjectStore, body: RecordingIn) -> MergedProxy | None:
    """The merged proxy named by `body`, checked: its key is derived from its content (a
    station never points a recording at another object) and the store holds it."""
    key, content_type = body.merged_proxy_key, body.merged_proxy_content_type
    if key is None or content_type is None or body.merge_method is None:
        return None
    match = _MERGED_KEY.match(key)
    if match is None or key != merged_proxy_key(match["sha256"], content_type):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"merged_proxy_key {key!r} must be recordings/<sha256 of the merged file>"
            f".{'m4a' if content_type == 'audio/mp4' else 'mp4'} for {content_type}",
        )
    try:
        info = store.stat(key) if store.exists(key) else None
    except StorageError as exc:
        raise unavailable("the object store is unavailable", exc) from exc
    if info is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"merged_proxy_key {key!r} is not in the object store: upload it first",
        )
    if info.sha256 is not None and info.sha256 != match["sha256"]:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"the stored {key!r} has sha256 {info.sha256}: upload it again",
        )
    return MergedProxy(key, content_type, body.merge_method)


def _out(recording: Recording, parts: list[Media]) -> RecordingOut:
    media = {m.id: m for m in parts}
    joins = [
        JoinOut(**join)
        for join in recording.joins
        if join["before"] in media and join["after"] in media
    ]
    gaps = []
    for join in joins:
        if join.gap_s <= GAP_TOLERANCE_S:
            continue
        before, after = media.get(join.before), media.get(join.after)
        gaps.append(
            GapOut(
                after_media_id=join.before,
                before_media_id=join.after,
                gap_s=join.gap_s,
                from_=before.recorded_end if before else None,
                to=after.recorded_start if after else None,
            )
        )
    # A caller who sees only some parts learns nothing of the others: not their times,
    # nor that a merged proxy (which it may not play) exists.
    whole = len(parts) == len(recording.part_ids)
    starts = [m.recorded_start for m in parts if m.recorded_start is not None]
    ends = [m.recorded_end for m in parts if m.recorded_end is not None]
    return RecordingOut(
        id=recording.id,
        device_id=recording.device_id,
        recorded_start=recording.recorded_start if whole else min(starts, default=None),
        recorded_end=recording.recorded_end if whole else max(ends, default=None),
        parts=[
            RecordingPartOut(
                media_id=m.id,
                original_name=m.original_name,
                recorded_start=m.recorded_start,
                recorded_end=m.recorded_end,
                duration_s=m.duration_s,
            )
            for m in parts
        ],
        gaps=gaps,
        joins=joins,
        merge_method=recording.merge_method,  # type: ignore[arg-type]
        has_merged_proxy=whole and recording.merged_proxy_key is not None,
    )
