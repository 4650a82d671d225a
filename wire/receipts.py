"""The dock receipt: what a station took from a device at one dock, signed by the station's
own key (wire/signatures.py) as soon as every file is staged, so the officer holds proof of
what was taken before anything reaches the center."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

KIND: Literal["dock_receipt"] = "dock_receipt"


class ReceiptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="path on the device volume")
    size_bytes: int | None = Field(ge=0, description="null for a skipped entry")
    sha256: str | None = Field(description="of the staged copy; null for a skipped file")
    state: Literal["staged", "imported_before", "skipped"]
    """staged: copied and hashed at this dock. imported_before: the same file (path, size,
    time) was taken at an earlier dock. skipped: not taken, for `reason`."""
    reason: str | None = None


class ReceiptDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["dock_receipt"]
    receipt_id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="a UUID (it names the receipt's file wherever it is kept)",
    )
    station_id: str = Field(min_length=1, max_length=128)
    device_id: str = Field(min_length=1, max_length=128)
    device_serial: str | None = None
    officer_id: str | None = None
    case_no: str | None = None
    clock_offset_s: float | None = Field(
        default=None, description="device clock minus station clock at the dock"
    )
    docked_at: str = Field(description="when the import started (UTC)")
    signed_at: str = Field(description="when every file was staged (UTC)")
    files: list[ReceiptFile]
