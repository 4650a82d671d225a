"""Dock receipts as the api keeps them: the signed document as sent, and its files by
SHA-256 so that each medium finds the receipts of the docks that took it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.catalogue.models import DockReceipt, DockReceiptFile
from wire.receipts import ReceiptDocument


def keep(
    session: Session,
    document: ReceiptDocument,
    signed: dict[str, Any],
    key_id: str,
    *,
    now: datetime,
) -> tuple[DockReceipt, bool]:
    """Keep a receipt whose signature was checked; commit. A receipt sent again (a retry)
    is kept once: returns the one kept and whether it is new."""
    found = session.get(DockReceipt, document.receipt_id)
    if found is not None:
        return found, False
    row = DockReceipt(
        receipt_id=document.receipt_id,
        station_id=document.station_id,
        device_id=document.device_id,
        officer_id=document.officer_id,
        signed_at=datetime.fromisoformat(document.signed_at),
        key_id=key_id,
        signed=json.dumps(signed, ensure_ascii=False),
        received_at=now,
    )
    session.add(row)
    session.add_all(
        DockReceiptFile(receipt_id=row.receipt_id, path=f.path, sha256=f.sha256)
        for f in document.files
        if f.sha256 is not None
    )
    try:
        session.commit()
    except IntegrityError:  # the same receipt, sent twice at once
        session.rollback()
        return session.get_one(DockReceipt, document.receipt_id), False
    return row, True


def of_media(session: Session, sha256: str) -> Sequence[DockReceipt]:
    """The receipts naming a file with this SHA-256, oldest first."""
    return session.scalars(
        select(DockReceipt)
        .join(DockReceiptFile, DockReceiptFile.receipt_id == DockReceipt.receipt_id)
        .where(DockReceiptFile.sha256 == sha256)
        .order_by(DockReceipt.signed_at)
        .distinct()
    ).all()
