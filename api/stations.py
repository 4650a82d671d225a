"""A station speaks only for itself: what it sends carries its token's station id, and it
acts only on media it registered.

A station token names its station (`station token create --role station --station-id ID`);
a body naming another station is refused rather than silently corrected, so that an agent
started with the wrong STATION_ID or another station's token says so at its first call.
An admin token, which names no station, may act for the station its body names.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlalchemy.orm import Session

from api.principal import Principal
from storage.catalogue import custody_repo
from storage.catalogue.models import Media


def speaking_for(token: Principal, claimed: str | None) -> str:
    """The station id a request of `token` carries; 403 when the body claims another."""
    if token.role != "station":
        if not claimed:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail="name the station (station_id)"
            )
        return claimed
    if token.station_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="this station token names no station: replace it with "
            "`station token create --role station --station-id ID`",
        )
    if claimed is not None and claimed != token.station_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this token speaks for station {token.station_id!r}, the request names "
            f"{claimed!r}: set STATION_ID={token.station_id} or use that station's own token",
        )
    return token.station_id


def check_registered_by(session: Session, token: Principal, media: Media) -> None:
    """404 unless the calling station registered `media` (an admin may act on any)."""
    if token.role != "station":
        return
    if not custody_repo.registered_by(session, media, speaking_for(token, None)):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no media with id {media.id!r} registered by station {token.station_id!r}",
        )
