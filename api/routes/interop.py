"""GET /api/v1/interop/files: each medium as the per-file record existing management
platforms exchange (DOMAIN.md; the pinyin field names likely from GA/T 947.4), for a
platform that polls for the files registered since its last poll.

Times are ISO 8601 in Asia/Shanghai with their +08:00 offset (`2024-05-01T16:00:00+08:00`):
the local time these platforms show, and still a time with an offset as CONTRACT.md wants
from this api. The platforms' own `YYYY-MM-DD HH:MM:SS` (no zone) is that string's first
19 characters with the `T` a space; the other way round would lose the zone for good.
`scsj` keeps its microseconds: passed back as `start`, it must not repeat or skip a file.
`jy_xm` (the officer's name) is always null: this catalogue keeps officer numbers only.
`wjsc` is the duration rounded to whole seconds. `bfwz`/`sltxdwz` are absolute urls of this
api's browser copy and thumbnail (null until the station made them); they need a token
like every other path under /api/v1.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from api.deps import CurrentToken, SessionDep, roles, secured_router
from api.scope import media_scope
from storage.catalogue import media_repo, unit_repo
from storage.catalogue.errors import InvalidCursor
from storage.catalogue.models import Media, utc_now
from wire.media_kinds import MediaKind
from wire.moments import Moment
from wire.zones import SHOWN_ZONE

router: APIRouter = secured_router("/api/v1/interop", ["interop"])

INTEROP_READERS = ("case_system", "supervisor", "admin")

SETTLE = timedelta(seconds=30)
"""A poll is served registrations at least this old. Two registrations can commit in the
other order of their times: a platform that went past the later one would never be served
the earlier one if it could see registrations still being committed."""
FileType = Literal[0, 1, 2, 3, 4]
FILE_TYPES: dict[str, FileType] = {
    MediaKind.VIDEO: 0,
    MediaKind.AUDIO: 1,
    MediaKind.PHOTO: 2,
    MediaKind.OTHER: 4,
}
"""wjlx: 0 video, 1 audio, 2 image, 3 text, 4 other. Nothing here is a text file (3): a
recorder's notes or telemetry are `other`."""


class FileRecord(BaseModel):
    wjbh: str = Field(description="file number: the medium's id")
    pssj: str | None = Field(description="recording time, +08:00")
    wjdx: int = Field(description="size in bytes")
    wjlx: FileType = Field(description="0 video, 1 audio, 2 image, 3 text, 4 other")
    wjsc: int | None = Field(description="duration, whole seconds")
    bzlx: Literal[0, 1] = Field(description="0 normal, 1 marked important")
    jgdm: str | None = Field(description="unit code")
    dwmc: str | None = Field(description="unit name")
    jybh: str | None = Field(description="officer number")
    jy_xm: None = Field(description="officer name: not kept here, always null")
    cpxh: str = Field(description="camera (device) id")
    gzz_xh: str = Field(description="station id")
    scsj: str = Field(description="upload (registration) time, +08:00")
    bfwz: str | None = Field(description="playback url (the browser copy)")
    sltxdwz: str | None = Field(description="thumbnail url")
    sha256: str


class FilePage(BaseModel):
    items: list[FileRecord]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


@router.get("/files", **roles(*INTEROP_READERS))
def files(
    request: Request,
    session: SessionDep,
    token: CurrentToken,
    start: Annotated[Moment | None, Query(description="registered at or after")] = None,
    end: Annotated[Moment | None, Query(description="registered before")] = None,
    limit: Annotated[int, Query(ge=1, le=media_repo.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> FilePage:
    """Per-file records of the media registered in [`start`, `end`), oldest registration
    first, and at least SETTLE (30 s) ago: a platform passes the `scsj` of the last record
    it holds (or `next_cursor`) to get what is new. Unit-scoped like the media search; a case_system sees media in cases
    only. 422 for `end` not after `start` or a cursor this api did not hand out."""
    if start is not None and end is not None and end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="`end` must be after `start`")  # fmt: skip
    settled = utc_now() - SETTLE
    end = settled if end is None or end > settled else end
    if start is not None and start >= end:
        return FilePage(items=[], next_cursor=None)
    try:
        page = media_repo.registered_between(
            session, start, end, limit=limit, cursor=cursor, scope=media_scope(token)
        )
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    names = {u.unit_id: u.name for u in unit_repo.list_units(
        session, frozenset(m.unit_id for m in page.items if m.unit_id is not None))}  # fmt: skip
    base = str(request.base_url).rstrip("/")
    return FilePage(items=[_record(m, names, base) for m in page.items],
                    next_cursor=page.next_cursor)  # fmt: skip


def _record(media: Media, names: dict[str, str], base: str) -> FileRecord:
    path = f"{base}/api/v1/media/{media.id}"
    return FileRecord(
        wjbh=media.id, pssj=_local(media.recorded_start), wjdx=media.size_bytes,
        wjlx=FILE_TYPES.get(media.kind, 4),
        wjsc=round(media.duration_s) if media.duration_s is not None else None,
        bzlx=1 if media.important else 0, jgdm=media.unit_id,
        dwmc=names.get(media.unit_id) if media.unit_id else None, jybh=media.officer_id,
        jy_xm=None, cpxh=media.device_id, gzz_xh=media.station_id,
        scsj=_local(media.ingested_at) or "",
        bfwz=f"{path}/proxy" if media.proxy_key is not None else None,
        sltxdwz=f"{path}/thumbnail" if media.thumbnail_key is not None else None,
        sha256=media.sha256,
    )  # fmt: skip


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(SHOWN_ZONE).isoformat() if moment is not None else None
