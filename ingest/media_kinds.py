"""What kind of media a file on a volume is, judged by its name (cameras name files reliably)."""

from pathlib import PurePath

from wire.media_kinds import MediaKind

_BY_SUFFIX: dict[str, MediaKind] = {
    **dict.fromkeys(
        [".mp4", ".mov", ".m4v", ".avi", ".ts", ".mts", ".m2ts", ".mkv", ".3gp", ".asf", ".wmv"],
        MediaKind.VIDEO,
    ),
    **dict.fromkeys(
        [".wav", ".amr", ".mp3", ".aac", ".m4a", ".wma", ".ogg", ".opus", ".flac"],
        MediaKind.AUDIO,
    ),
    **dict.fromkeys([".jpg", ".jpeg", ".png", ".heic", ".bmp"], MediaKind.PHOTO),
}


def media_kind(name: str) -> MediaKind | None:
    """The media kind for a file name, or None when the file is not media (logs, configs...)."""
    return _BY_SUFFIX.get(PurePath(name).suffix.lower())
