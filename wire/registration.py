"""The registration record: what a station tells the api about one verified media item.

It is the wire format of `POST /api/v1/ingest`, shared by the station (client) and the api.
"""

from pydantic import BaseModel, ConfigDict, Field

from wire.derived import ProxyStatus
from wire.media_kinds import MediaKind
from wire.moments import Moment
from wire.text import CaseNo, Code, DevicePath, DeviceRef, Id, Note
from wire.zones import TimeSource

Sha256Hex = str


class TimeFacts(BaseModel):
    """Every time the device gave for a file, as it gave them, and how the start was chosen
    (ingest/recorded_time.py)."""

    model_config = ConfigDict(extra="forbid")

    container_time_raw: Note | None = Field(
        default=None, description="the container's creation time as written"
    )
    name_time_raw: Note | None = Field(
        default=None, description="the local time in the file name, without a zone"
    )
    file_mtime_raw: Note | None = Field(default=None, description="the file's modification time")
    clock_corrected: bool = Field(
        default=False, description="whether the dock's clock offset was subtracted"
    )
    note: Note | None = Field(default=None, description="why a source was passed over, if one was")


class IngestRecord(BaseModel):
    """Strings are bounded by their columns (wire/text.py); ids a person or a registry chose
    are plain, while what the device itself wrote (file name, path, volume name as device
    id, serial) is kept as written, bounded. Numbers are finite and within their columns."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the original, hex")
    size_bytes: int = Field(ge=0, le=2**63 - 1)
    kind: MediaKind
    original_name: DevicePath = Field(
        description="file name on the device, as data (never a local path)"
    )
    original_path: DevicePath = Field(description="path on the device volume, relative to its root")
    device_id: DeviceRef
    officer_id: Id | None = None
    station_id: Id
    case_no: CaseNo | None = Field(default=None, description="case to associate with at the dock")
    recorded_start: Moment | None = None
    recorded_end: Moment | None = None
    time_source: TimeSource | None = Field(
        default=None,
        description="which device time recorded_start comes from (container, file_name, "
        "file_mtime), corrected by clock_offset_s",
    )
    recorded_start_raw: Moment | None = Field(
        default=None, description="the chosen time before clock correction"
    )
    time_facts: TimeFacts | None = None
    duration_s: float | None = Field(default=None, ge=0, le=10**7)
    width: int | None = Field(default=None, ge=0, le=100_000)
    height: int | None = Field(default=None, ge=0, le=100_000)
    video_codec: Code | None = None
    audio_codec: Code | None = None
    container: Code | None = None
    playable: bool
    unplayable_reason: Note | None = None
    important: bool = False
    proxy_status: ProxyStatus | None = Field(
        default=None,
        description="pending: the station's backlog will make the browser copy and attach it "
        "(PUT /api/v1/media/{id}/derived); none: nothing will be made. Null (stations before "
        "v1.1): ready when proxy_key is given, else none",
    )
    sidecar_of_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the medium this file travels with (GoPro .LRV/.THM, DJI .SRT, "
        "GPS logs, a file sharing the medium's base name)",
    )
    original_key: str = Field(max_length=512)
    proxy_key: str | None = Field(
        default=None, description="stations before v1.1 registered with their proxy"
    )
    proxy_content_type: Code | None = None
    thumbnail_key: str | None = Field(default=None, max_length=512)
    file_mtime: Moment
    staged_at: Moment
    device_serial: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="serial the device reported (or its volume's folder name), if known",
    )
    device_registered: bool | None = Field(
        default=None,
        description="whether the station resolved the device in the registry at the dock; "
        "false: unregistered, imported but not wiped, flagged for IT",
    )
    clock_offset_s: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="device clock minus station clock at the dock, in seconds",
    )
    clock_set_at: Moment | None = Field(
        default=None,
        description="when the station set the device's clock at this dock (station time it "
        "was set to); clock_offset_before_set_s is the offset before",
    )
    clock_offset_before_set_s: float | None = Field(default=None, allow_inf_nan=False)
    uploaded_at: Moment | None = Field(
        default=None,
        description="when the station had uploaded the original and verified it in the "
        "object store; recorded as the `stored` step of the chain of custody",
    )
