"""Dock receipts and the stations' keys that sign them.

A station registers its public key (PUT /api/v1/stations/{id}/key) and sends each receipt
it signed (POST /api/v1/receipts); the api keeps a receipt only when its signature holds
under a key registered for the station that sent it. GET /api/v1/media/{id}/receipts gives
the receipts of the docks that took a medium, signed as the station made them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Body, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import (
    MEDIA_READERS,
    STATIONS,
    CurrentToken,
    MediaId,
    SessionDep,
    roles,
    secured_router,
)
from api.principal import Principal
from api.scope import visible_media_or_404
from api.stations import speaking_for
from storage.catalogue import key_repo, receipt_repo
from storage.catalogue.models import SigningKey, utc_now
from wire.receipts import ReceiptDocument
from wire.signatures import SignatureInvalid, load_public_pem, verify

stations_router = secured_router("/api/v1/stations", ["receipts"])
receipts_router = secured_router("/api/v1/receipts", ["receipts"])
media_router = secured_router("/api/v1/media", ["receipts"])

StationId = Annotated[str, Path(min_length=1, max_length=128, description="a station's id")]


class StationKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_key_pem: str = Field(max_length=1000, description="Ed25519 public key, PEM")


class StationKeyOut(BaseModel):
    key_id: str
    station_id: str


class ReceiptOut(BaseModel):
    receipt_id: str
    new: bool = Field(description="false when the api had it already (a retry)")


class MediaReceipts(BaseModel):
    media_id: str
    receipts: list[dict[str, Any]] = Field(description="signed receipts, oldest first")


@stations_router.put("/{station_id}/key", **roles(*STATIONS))
def register_station_key(
    station_id: StationId, body: StationKeyIn, session: SessionDep, token: CurrentToken
) -> StationKeyOut:
    """Register the key this station signs its dock receipts with (idempotent)."""
    station = speaking_for(token, station_id)
    try:
        key = load_public_pem(body.public_key_pem)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    row = key_repo.register(session, "station", station, key, now=utc_now())
    if row.owner_kind != "station" or row.owner_id != station:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="this key is registered to another owner"
        )
    return StationKeyOut(key_id=row.key_id, station_id=station)


@receipts_router.post("", status_code=201, responses={200: {"description": "a retry"}},
                      **roles(*STATIONS))  # fmt: skip
def post_receipt(
    signed: Annotated[
        dict[str, Any], Body(description="the signed receipt, as the station made it")
    ],
    session: SessionDep,
    token: CurrentToken,
    response: Response,
) -> ReceiptOut:
    """Keep a dock receipt the calling station signed. 422 when it is not a receipt, 409
    when its signature does not hold under a key registered for the station."""
    document = _checked(session, token, signed)
    row, new = receipt_repo.keep(
        session, document, signed, signed["signature"]["key_id"], now=utc_now()
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return ReceiptOut(receipt_id=row.receipt_id, new=new)


def _checked(session: Session, token: Principal, signed: dict[str, Any]) -> ReceiptDocument:
    """The receipt's document, once its signature holds under a key of the station that
    sends it."""
    claimed = signed.get("document")
    station_id = claimed.get("station_id") if isinstance(claimed, dict) else None
    station = speaking_for(token, station_id if isinstance(station_id, str) else None)
    keys = {
        k.key_id: load_public_pem(k.public_key_pem)
        for k in session.scalars(
            select(SigningKey).where(
                SigningKey.owner_kind == "station", SigningKey.owner_id == station
            )
        )
    }
    try:
        document = verify(signed, keys).document
    except SignatureInvalid as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the receipt's signature does not hold for station {station!r}: {exc}; "
            "register the station's key (PUT /api/v1/stations/{id}/key) first",
        ) from exc
    try:
        receipt = ReceiptDocument.model_validate(document)
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"not a dock receipt: {exc}"
        ) from exc
    if receipt.station_id != station:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="a receipt of another station")
    return receipt


@media_router.get(
    "/{media_id}/receipts", responses={404: {"description": "no such medium"}},
    **roles(*MEDIA_READERS),
)  # fmt: skip
def media_receipts(media_id: MediaId, session: SessionDep, token: CurrentToken) -> MediaReceipts:
    """The signed receipts of the docks that took this medium (its SHA-256), oldest first."""
    media = visible_media_or_404(session, token, media_id)
    return MediaReceipts(
        media_id=media.id,
        receipts=[json.loads(r.signed) for r in receipt_repo.of_media(session, media.sha256)],
    )
