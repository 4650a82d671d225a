"""The registration record: what a station tells the api about one verified media item.

It is the wire format of `POST /api/v1/ingest`, shared by the station (client) and the api.
"""

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from wire.derived import ProxyStatus
from wire.media_kinds import MediaKind
from wire.zones import TimeSource

Sha256Hex = str


class TimeFacts(BaseModel):
    """Every time the device gave for a file, as it gave them, and how the start was chosen
    (ingest/recorded_time.py)."""

    model_config = ConfigDict(extra="forbid")

    container_time_raw: str | None = Field(
        default=None, description="the container's creation time as written"
    )
    name_time_raw: str | None = Field(
        default=None, description="the local time in the file name, without a zone"
    )
    file_mtime_raw: str | None = Field(default=None, description="the file's modification time")
    clock_corrected: bool = Field(
        default=False, description="whether the dock's clock offset was subtracted"
    )
    note: str | None = Field(default=None, description="why a source was passed over, if one was")


class IngestRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the original, hex")
    size_bytes: int = Field(ge=0)
    kind: MediaKind
    original_name: str = Field(description="file name on the device, as data (never a local path)")
    original_path: str = Field(description="path on the device volume, relative to its root")
    device_id: str
    officer_id: str | None = None
    station_id: str
    case_no: str | None = Field(default=None, description="case to associate with at the dock")
    recorded_start: AwareDatetime | None = None
    recorded_end: AwareDatetime | None = None
    time_source: TimeSource | None = Field(
        default=None,
        description="which device time recorded_start comes from (container, file_name, "
        "file_mtime), corrected by clock_offset_s",
    )
    recorded_start_raw: AwareDatetime | None = Field(
        default=None, description="the chosen time before clock correction"
    )
    time_facts: TimeFacts | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None
    playable: bool
    unplayable_reason: str | None = None
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
    original_key: str
    proxy_key: str | None = Field(
        default=None, description="stations before v1.1 registered with their proxy"
    )
    proxy_content_type: str | None = None
    thumbnail_key: str | None = None
    file_mtime: AwareDatetime
    staged_at: AwareDatetime
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
    clock_set_at: AwareDatetime | None = Field(
        default=None,
        description="when the station set the device's clock at this dock (station time it "
        "was set to); clock_offset_before_set_s is the offset before",
    )
    clock_offset_before_set_s: float | None = Field(default=None, allow_inf_nan=False)
    uploaded_at: AwareDatetime | None = Field(
        default=None,
        description="when the station had uploaded the original and verified it in the "
        "object store; recorded as the `stored` step of the chain of custody",
    )
