"""Response bodies of the api (requests are `ingest.record.IngestRecord`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from storage.catalogue.models import (
    CustodyEvent,
    CustodyEventKind,
    CustodyOutcome,
    Device,
    DeviceKind,
    DeviceStatus,
    Media,
    Viewing,
)
from wire.derived import ProxyStatus, RenditionName
from wire.media_kinds import MediaKind
from wire.moments import Moment
from wire.registration import TimeFacts
from wire.text import DeviceRef, Id, Note, Reason

log = logging.getLogger(__name__)


def _nullable(field: FieldInfo) -> bool:
    return type(None) in get_args(field.annotation) or field.annotation is None


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_in_utc)]
"""A time written in UTC with `Z` (pydantic writes UTC that way)."""


class RenditionOut(BaseModel):
    name: RenditionName
    content_type: str
    codec: str = Field(description="avc1 (H.264), hvc1 (H.265) or mp4a (AAC)")
    encoder: str = Field(description="copy (stream copy) or the encoder that made it")


class MediaOut(BaseModel):
    """One medium as CONTRACT.md's `Media`, plus what a player or reviewer needs to know."""

    id: str
    sha256: str = Field(description="SHA-256 of the original, hex")
    size_bytes: int
    kind: MediaKind
    original_name: str = Field(description="file name on the device")
    device_id: str
    officer_id: str | None
    station_id: str
    recorded_start: UtcTime | None = Field(description="corrected to station time, UTC")
    recorded_end: UtcTime | None
    duration_s: float | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    case_nos: list[str]
    important: bool
    playable: bool = Field(
        description="whether a browser copy exists that holds a stream of the medium's kind "
        "and decodes (false while proxy_status is pending)"
    )
    ingested_at: UtcTime
    retention_until: UtcTime | None = Field(
        description="not to be deleted before this time; null: kept permanently (evidence in "
        "a case, marked important, or under legal hold)"
    )
    legal_hold: bool
    recording_id: str | None = Field(description="the merged recording it belongs to, if any")
    # Extras beyond CONTRACT.md.
    unit_id: str | None = Field(description="unit of the device (registry), else of the station")
    time_source: str | None = Field(
        description="which device time recorded_start/end come from: container, file_name or "
        "file_mtime; corrected by clock_offset_s when the station knew it"
    )
    recorded_start_raw: UtcTime | None = Field(
        description="that time as the device stamped it, before clock correction"
    )
    time_facts: TimeFacts | None = Field(
        description="every time the device gave, and why a source was passed over"
    )
    unplayable_reason: str | None
    proxy_status: ProxyStatus = Field(
        description="pending (registered; the station is making it), ready, failed "
        "(proxy_error says why) or none (photos, unreadable originals, other files)"
    )
    proxy_error: str | None
    proxy_note: str | None = Field(
        description="e.g. a hardware encode that failed and was made again in software"
    )
    renditions: list[RenditionOut] = Field(
        description="browser copies that exist, each at GET .../renditions/{name}; h264 or "
        "aac is also GET .../proxy"
    )
    sidecar_of: str | None = Field(
        description="id of the medium this file travels with (GoPro .LRV/.THM, DJI .SRT, "
        "GPS logs...), once registered"
    )
    has_proxy: bool = Field(description="GET .../proxy will answer")
    has_thumbnail: bool = Field(description="GET .../thumbnail will answer")
    device_serial: str | None = Field(description="the device's serial as the station saw it")
    device_registered: bool | None = Field(
        description="whether the registry knew the device at the dock (None: not asked)"
    )
    clock_offset_s: float | None = Field(
        description="device clock minus station clock at the dock, seconds"
    )
    classification: Literal["non_evidential"] | None = Field(
        description="a reviewer judged it of no evidential value (the reason is in custody)"
    )

    unreadable_fields: list[str] = Field(
        default_factory=list,
        description="fields whose stored value could not be read (served empty; the api's "
        "log names the fault): the catalogue row needs repair",
    )

    @classmethod
    def of(cls, media: Media) -> MediaOut:
        """The medium as the api shows it. A stored value that does not fit (a row written
        by hand or by an old version) is served empty and named in `unreadable_fields`, so
        one bad row never fails a page of search results; the fault is logged."""
        fields = {
            **{name: getattr(media, name) for name in _COLUMN_FIELDS},
            "case_nos": media.case_nos,
            "renditions": media.renditions or [],
            "sidecar_of": media.sidecar_of,
            "has_proxy": media.proxy_key is not None,
            "has_thumbnail": media.thumbnail_key is not None,
        }
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            bad = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
            if not set(bad) <= set(_EMPTY):
                raise
            log.error("medium %s: unreadable stored fields %s (%s); served without them",
                      media.id, ", ".join(bad), exc.errors(include_input=False))  # fmt: skip
            return cls.model_validate(
                {**fields, **{name: _EMPTY[name] for name in bad}, "unreadable_fields": bad}
            )


_COMPUTED = {
    "case_nos", "renditions", "sidecar_of", "has_proxy", "has_thumbnail", "unreadable_fields"
}  # fmt: skip
_COLUMN_FIELDS = [name for name in MediaOut.model_fields if name not in _COMPUTED]
_EMPTY: dict[str, Any] = {
    **{name: None for name, f in MediaOut.model_fields.items() if not f.is_required()},
    **{name: None for name in _COLUMN_FIELDS if _nullable(MediaOut.model_fields[name])},
    "kind": MediaKind.OTHER, "proxy_status": ProxyStatus.NONE, "renditions": [],
    "important": False, "playable": False, "legal_hold": False,
}  # fmt: skip
"""What a field is served as when its stored value cannot be read."""


class ImportantIn(BaseModel):
    """PUT /api/v1/media/{id}/important: mark or unmark, with the reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    important: bool
    reason: Reason = Field(description="why, for the record")


class ClassificationIn(BaseModel):
    """PUT /api/v1/media/{id}/classification: a reviewer's judgement, with the reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    classification: (
        Literal["non_evidential", "obstruction", "major_incident", "major_case"] | None
    ) = Field(
        description="`non_evidential` (无证据价值); a permanent category, which keeps the "
        "medium permanently: `obstruction` (阻碍依法执行职务), `major_incident` (重大突发事件、"
        "群体性事件), `major_case` (其他重大、疑难复杂案件); or null to take the judgement back"
    )
    reason: Reason = Field(description="why, for the record")


class MediaPage(BaseModel):
    items: list[MediaOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class Health(BaseModel):
    status: str


class DeviceIn(BaseModel):
    """PUT /api/v1/devices/{device_id}: the whole device; a field left out is cleared."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind
    serial: DeviceRef | None = Field(
        default=None, description="hardware serial or volume name; unique among devices"
    )
    unit_id: Id | None = Field(
        default=None, description="owning unit; may be one the catalogue does not know yet"
    )
    officer_id: Id | None = Field(
        default=None, description="officer it is issued to; may be unknown yet"
    )
    status: DeviceStatus = Field(
        default=DeviceStatus.ACTIVE,
        description="active, inactive (in stock), repair, lost or retired",
    )


class DeviceOut(BaseModel):
    device_id: str
    kind: DeviceKind
    serial: str | None
    unit_id: str | None
    officer_id: str | None
    status: DeviceStatus
    created_at: UtcTime
    updated_at: UtcTime = Field(description="when it last changed")

    @classmethod
    def of(cls, device: Device) -> DeviceOut:
        return cls.model_validate(device, from_attributes=True)


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class UnregisteredDeviceOut(BaseModel):
    """A device id seen in media that no registered device has: flagged for IT."""

    device_id: str = Field(description="the id the station registered the media with")
    serial: str | None = Field(description="the serial the station read, if any")
    first_seen: UtcTime = Field(description="when its first medium was registered")
    last_seen: UtcTime = Field(description="when its latest medium was registered")
    media_count: int
    station_ids: list[str] = Field(description="stations it was docked at")
    serial_registered_as: str | None = Field(
        description="the registered device that has this serial now, if any: "
        "its media still carry the old device_id"
    )


class UnregisteredDevices(BaseModel):
    items: list[UnregisteredDeviceOut]


class CustodyEventOut(BaseModel):
    """One step of a medium's chain of custody."""

    at: UtcTime = Field(description="when it happened (dock steps: station clock)")
    event: CustodyEventKind
    actor: str = Field(description="name of the api token that did or reported it")
    role: str = Field(description="role of that token")
    station_id: str | None = Field(description="the station where it happened, if at a dock")
    device_id: str | None = Field(description="the device it concerned, if any")
    client: str | None = Field(description="network address the request came from")
    detail: dict[str, Any] | None = Field(description="what else is known; depends on event")
    outcome: CustodyOutcome
    viewing: ViewingOut | None = Field(
        default=None, description="for a playback: every request of the viewing it started"
    )

    @classmethod
    def of(cls, event: CustodyEvent, viewing: Viewing | None = None) -> CustodyEventOut:
        out = cls.model_validate(event, from_attributes=True)
        if viewing is not None:
            out.viewing = ViewingOut.model_validate(viewing, from_attributes=True)
        return out


class ViewingOut(BaseModel):
    requests: int = Field(description="requests the player made, the first one included")
    bytes: int = Field(description="bytes sent for them")
    first_at: UtcTime
    last_at: UtcTime
    last_range: str | None = Field(description="Content-Range of the last request, if any")


class CustodyOut(BaseModel):
    """GET /api/v1/media/{id}/custody: every event from the dock to now, oldest first."""

    media_id: str
    events: list[CustodyEventOut]


class CustodyReportIn(BaseModel):
    """POST /api/v1/media/{id}/custody: a station reports what it did at the dock."""

    model_config = ConfigDict(extra="forbid")

    event: Literal["wiped_from_device", "wipe_failed"] = Field(
        description="only events that happen at the dock after registration"
    )
    at: Moment = Field(description="when it happened, with an offset")
    device_id: DeviceRef = Field(description="the device the file was on")
    path: str = Field(
        min_length=1, max_length=4096, description="the file's path on the device volume"
    )
    sha256_verified: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) the station verified the stored copy against before it "
        "acted; must be the medium's",
    )
    station_id: Id | None = Field(default=None, description="the reporting station")
    reason: Note | None = Field(default=None, description="why a wipe failed, if it did")
