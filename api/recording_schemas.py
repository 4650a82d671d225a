"""Request and response bodies of /api/v1/recordings (a recording split into segments)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.schemas import UtcTime
from wire.text import DeviceRef, Id

MergeMethod = Literal["stream_copy", "transcoded"]
ProxyType = Literal["video/mp4", "audio/mp4"]


class PartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    media_id: str = Field(min_length=1, max_length=36)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the part's original")


class JoinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    before: str = Field(description="media id of the earlier part")
    after: str = Field(description="media id of the part that follows it")
    gap_s: float = Field(
        allow_inf_nan=False,
        ge=-(10**7),
        le=10**7,
        description="after's start minus before's end; negative: overlap",
    )

    @field_validator("gap_s")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("gap_s must be a finite number of seconds")
        return value


class RecordingIn(BaseModel):
    """PUT /api/v1/recordings/{id}: a station registers (or replaces) a recording."""

    model_config = ConfigDict(extra="forbid")

    station_id: Id
    device_id: DeviceRef | None = Field(
        default=None,
        description="the device as the station knows it; the recording's device is its parts'",
    )
    parts: list[PartIn] = Field(min_length=2, max_length=1000, description="in recording order")
    joins: list[JoinIn] = Field(description="one per pair of consecutive parts, in order")
    merged_proxy_key: str | None = Field(
        default=None,
        max_length=512,
        description="`recordings/<sha256 of the merged file>.mp4|.m4a`, stored",
    )
    merged_proxy_content_type: ProxyType | None = None
    merge_method: MergeMethod | None = None

    @model_validator(mode="after")
    def _proxy_fields_together(self) -> RecordingIn:
        given = [
            self.merged_proxy_key is not None,
            self.merged_proxy_content_type is not None,
            self.merge_method is not None,
        ]
        if any(given) and not all(given):
            raise ValueError(
                "merged_proxy_key, merged_proxy_content_type and merge_method go together"
            )
        return self


class JoinOut(BaseModel):
    before: str
    after: str
    gap_s: float


class RecordingPartOut(BaseModel):
    media_id: str
    original_name: str
    recorded_start: UtcTime | None
    recorded_end: UtcTime | None
    duration_s: float | None


class GapOut(BaseModel):
    """Footage missing between two parts: reported, never hidden."""

    after_media_id: str = Field(description="the part the gap follows")
    before_media_id: str = Field(description="the part the gap precedes")
    gap_s: float
    from_: UtcTime | None = Field(serialization_alias="from", description="end of the part before")
    to: UtcTime | None = Field(description="start of the part after")


class RecordingOut(BaseModel):
    id: str
    device_id: str
    recorded_start: UtcTime | None
    recorded_end: UtcTime | None
    parts: list[RecordingPartOut]
    gaps: list[GapOut] = Field(description="joins whose gap is longer than timing rounding")
    joins: list[JoinOut]
    merge_method: MergeMethod | None
    has_merged_proxy: bool = Field(description="GET .../proxy will answer")
