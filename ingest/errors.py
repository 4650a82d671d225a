"""Errors of the ingest stages. Each message names the file and what the operator can do."""


class IngestError(Exception):
    """Base of everything that can go wrong turning a file on a volume into verified media."""


class CopyError(IngestError):
    """The file could not be read from the device or written to the station's staging area."""


class ProbeError(IngestError):
    """ffprobe could not read the file; the file is still evidence and is kept."""


class TranscodeError(IngestError):
    """ffmpeg could not make a proxy or thumbnail."""


class FfmpegTimeout(IngestError):
    """ffmpeg or ffprobe ran over its time limit and was killed."""


class EncoderUnavailable(IngestError):
    """The H.264 encoder asked for (`STATION_TRANSCODE`) does not work on this machine."""


class ToolsStopped(Exception):
    """The station is shutting down and killed (or will not start) ffmpeg/ffprobe. Not an
    IngestError on purpose: it says nothing about the file, whose step is redone after the
    restart; no handler may take it for a verdict on the file."""
