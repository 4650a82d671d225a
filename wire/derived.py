"""What a station tells the api about a registered medium's derived files (`PUT
/api/v1/media/{id}/derived`): its renditions, its thumbnail and where its browser copy stands.
Object keys are not sent: the api derives them from the medium's SHA-256
(storage.object_store.rendition_key), so a station cannot point one medium at another's."""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wire.text import Note

RenditionName = Literal["h264", "hevc", "aac"]
"""h264: H.264/AAC MP4, plays in every browser (the proxy); aac: audio-only M4A (the proxy of
a sound recording); hevc: H.265 MP4 tagged hvc1, for browsers that decode HEVC."""


class ProxyStatus(StrEnum):
    """Where a registered medium's browser copy stands (`Media.proxy_status`)."""

    PENDING = "pending"
    """Registered; the station's backlog has not made it yet."""
    READY = "ready"
    FAILED = "failed"
    """It could not be made (`proxy_error` says why); the original is evidence all the same."""
    NONE = "none"
    """Nothing to make: photos (a thumbnail only), unreadable originals, `other` files."""


class RenditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RenditionName
    content_type: Literal["video/mp4", "audio/mp4"]
    codec: str = Field(max_length=64, description="avc1, hvc1 or mp4a")
    encoder: str = Field(
        max_length=64, description="copy (stream copy), libx264, h264_vaapi, ... that made it"
    )


class DerivedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proxy_status: ProxyStatus
    proxy_error: Note | None = Field(default=None, description="why the browser copy failed")
    proxy_note: Note | None = Field(
        default=None,
        description="what else a reviewer should know, e.g. a hardware encode that failed "
        "and was made again in software",
    )
    renditions: list[RenditionIn] = Field(
        default_factory=list, max_length=3, description="each uploaded and checked to decode"
    )
    thumbnail: bool = Field(default=False, description="whether the thumbnail is uploaded")
    unplayable_reason: Note | None = Field(
        default=None, description="why nothing plays, when no rendition does"
    )
