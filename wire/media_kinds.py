"""The kinds of media a station registers."""

from enum import StrEnum


class MediaKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    PHOTO = "photo"
    OTHER = "other"
    """Kept as evidence, but nothing here plays it (a recorder's own container, telemetry)."""
