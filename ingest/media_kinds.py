"""What kind of media a file on a volume is, judged by its name (cameras name files reliably).

The name gives a provisional kind. A name this table does not know is `MediaKind.OTHER`: the
file is kept as evidence all the same, and ffprobe decides what it is (see
`ingest.probe.kind_from_probe`): a recorder's own container that ffprobe opens with video
becomes video.
"""

from pathlib import PurePath

from wire.media_kinds import MediaKind

VIDEO_SUFFIXES = frozenset(
    {
        # MP4/QuickTime family: cameras, phones (.3gp/.3g2), GoPro low-res copies (.lrv), DJI
        # low-res copies (.lrf), Insta360 (.insv) and GoPro MAX (.360) are MP4 inside.
        ".mp4",
        ".mov",
        ".m4v",
        ".3gp",
        ".3g2",
        ".lrv",
        ".lrf",
        ".insv",
        ".360",
        ".avi",
        # MPEG transport streams: AVCHD (.mts/.m2ts), HDV (.m2t), JVC Everio (.tod).
        ".ts",
        ".mts",
        ".m2ts",
        ".m2t",
        ".tod",
        # MPEG program streams: DVD (.vob), JVC/Panasonic SD camcorders (.mod).
        ".mpg",
        ".mpeg",
        ".m2p",
        ".vob",
        ".mod",
        ".dv",
        ".dif",
        ".mxf",
        ".mkv",
        ".webm",
        ".flv",
        ".f4v",
        ".ogv",
        ".asf",
        ".wmv",
    }
)
AUDIO_SUFFIXES = frozenset(
    {
        ".wav",
        ".amr",
        ".awb",
        ".mp3",
        ".aac",
        ".m4a",
        ".3ga",
        ".wma",
        ".ogg",
        ".oga",
        ".opus",
        ".flac",
        ".aif",
        ".aiff",
        ".aifc",
        ".caf",
    }
)
PHOTO_SUFFIXES = frozenset(
    # ffmpeg's image2 reads each of these (.dng and .tif as TIFF; .thm is GoPro's JPEG thumbnail).
    {".jpg", ".jpeg", ".png", ".heic", ".bmp", ".tif", ".tiff", ".dng", ".thm"}
)
RECORDER_SUFFIXES = frozenset(
    {".dav", ".psf", ".h264", ".264", ".h265", ".265", ".hevc", ".ps", ".ifv", ".hik"}
)
"""Interview-room and vehicle recorders' own containers and raw streams (Dahua .dav, VMax .psf,
Hikvision .hik/.264, ...). Their kind is OTHER until ffprobe opens one; they are footage all the
same, so sidecars find them (`ingest.file_classes`)."""

_BY_SUFFIX: dict[str, MediaKind] = {
    **dict.fromkeys(VIDEO_SUFFIXES, MediaKind.VIDEO),
    **dict.fromkeys(AUDIO_SUFFIXES, MediaKind.AUDIO),
    **dict.fromkeys(PHOTO_SUFFIXES, MediaKind.PHOTO),
}


def media_kind(name: str) -> MediaKind:
    """The provisional kind of a file by its name's suffix (any case); OTHER when unknown."""
    return _BY_SUFFIX.get(PurePath(name).suffix.lower(), MediaKind.OTHER)
