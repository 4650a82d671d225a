"""Probe a media file with ffprobe into a typed result.

`probe_argv`, `parse_ffprobe_output`, `parse_ffprobe_json` and `kind_from_probe` are pure;
`probe` runs ffprobe through the one wrapper with the input-safety options (the file is hostile:
ffprobe may read it and nothing else). What the file says about itself is checked for sense
here, so later stages (time limits, recorded intervals) never compute with an absurd claim.

A file whose name says nothing (`MediaKind.OTHER`: a recorder's own container, a file without
a known suffix) is probed like audio and video, through the same demuxer allow-list. It counts
as media only when ffprobe is sure of the format (`kind_from_probe`); otherwise `probe` says
why not, and the file stays OTHER, kept as evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.errors import ProbeError
from ingest.ffmpeg_run import run_tool, safe_input_args, stderr_tail
from ingest.ffprobe_json import as_float, as_int, as_mapping
from ingest.media_kinds import MediaKind, media_kind


@dataclass(frozen=True)
class StreamInfo:
    index: int
    codec_name: str
    width: int | None = None
    height: int | None = None
    pix_fmt: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration_s: float | None = None
    """Seconds, or None when unknown or implausible (see `MAX_PLAUSIBLE_DURATION_S`)."""


@dataclass(frozen=True)
class ProbeResult:
    format_name: str
    duration_s: float | None
    """Seconds; None when neither the container nor a stream gives a plausible duration."""
    video: StreamInfo | None
    audio: StreamInfo | None
    creation_time: datetime | None
    """The container's creation_time tag parsed as written (tz-aware only when the tag says so)."""
    creation_time_raw: str | None
    duration_raw: str | None = None
    """The container's duration as ffprobe printed it, kept even when refused as implausible."""
    probe_score: int | None = None
    """How sure ffprobe was of `format_name`, 1 to 100 (100 when the format was forced);
    None when it did not say. See `GUESSED_SCORE`."""


NO_STREAMS = "no audio or video stream"
MAX_PLAUSIBLE_DURATION_S = 24 * 3600.0
"""No single camera file is longer; a longer (or negative, or infinite) claim is a corrupt or
hostile header and is treated as unknown."""
GUESSED_SCORE = 25
"""A format detected with at most this score is a guess: ffmpeg's own threshold
(AVPROBE_SCORE_RETRY), at or below which it warns "misdetection possible". A name's suffix alone
scores 1, and random bytes can pass for a few MP3 frames."""


def kind_from_probe(result: ProbeResult, provisional: MediaKind) -> MediaKind:
    """The kind a probed file is registered as.

    A file named as video, audio or photo keeps that kind (the name is the camera's word; an
    MP4 holding only audio is still the camera's video file). An OTHER file becomes VIDEO when
    ffprobe found a picture stream, AUDIO when only sound, and stays OTHER when ffprobe only
    guessed its format (score at most `GUESSED_SCORE`, or unknown).
    """
    if provisional is not MediaKind.OTHER:
        return provisional
    if result.probe_score is None or result.probe_score <= GUESSED_SCORE:
        return MediaKind.OTHER
    if result.video is not None:
        return MediaKind.VIDEO
    return MediaKind.AUDIO if result.audio is not None else MediaKind.OTHER


def probe_argv(path: Path, kind: MediaKind | None = None) -> list[str]:
    """The ffprobe command line for `path`; `kind` defaults to the kind its name implies.

    Photos are read as one image; every other kind, OTHER included, only through the audio and
    video demuxer allow-list (`ingest.ffmpeg_run.safe_input_args`).
    """
    if kind is None:
        kind = media_kind(path.name)
    return [
        "ffprobe",
        "-hide_banner",
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        *safe_input_args(path, kind),
    ]


def probe(path: Path, *, kind: MediaKind | None = None, timeout_s: float = 30.0) -> ProbeResult:
    """Read container and stream facts of the media file at `path`.

    Raises ProbeError with a short human reason when the file is missing or empty, when it
    is an MP4 without its index (the camera lost power while recording), when it is not a
    format we accept (for example a playlist disguised as .mp4), or when it has no audio or
    video stream, or when ffprobe's report cannot be understood. Raises FfmpegTimeout if
    ffprobe runs over `timeout_s`. Nothing else escapes, whatever the file holds. The file
    itself is never modified: a file that fails to probe is still evidence.

    For an OTHER file (`kind`, or its name when `kind` is None) the reasons say that it is
    kept as other evidence, and ProbeError is also raised when ffprobe only guessed the format
    (see `kind_from_probe`): a ProbeResult returned for an OTHER file always has a kind.
    """
    if kind is None:
        kind = media_kind(path.name)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProbeError(f"{path.name}: cannot be read ({exc.strerror})") from exc
    if size == 0:
        raise ProbeError(f"{path.name}: the file is empty (0 bytes); nothing was recorded")
    result = run_tool(
        probe_argv(path, kind), timeout_s=timeout_s, error=ProbeError, what=path.name, check=False
    )
    if result.returncode != 0:
        raise ProbeError(f"{path.name}: {_reason(result.stderr, kind)}")
    try:
        probed = parse_ffprobe_output(result.stdout)
    except ProbeError as exc:
        if kind is MediaKind.OTHER:
            raise ProbeError(f"{path.name}: {exc}; {_KEPT_AS_OTHER}") from exc
        raise ProbeError(f"{path.name}: {exc}") from exc
    except (ValueError, TypeError, LookupError, AttributeError, ArithmeticError) as exc:
        # The parser is meant to take any JSON; this is the net for a shape nobody foresaw.
        raise ProbeError(
            f"{path.name}: ffprobe's report could not be understood ({type(exc).__name__}: {exc})"
        ) from exc
    if kind_from_probe(probed, kind) is MediaKind.OTHER:
        score = "unknown" if probed.probe_score is None else f"{probed.probe_score} of 100"
        raise ProbeError(
            f"{path.name}: ffprobe only guessed that this is '{probed.format_name}' (certainty"
            f" {score}), too weak to treat it as audio or video; {_KEPT_AS_OTHER}"
        )
    return probed


_KEPT_AS_OTHER = "the file is kept as evidence of kind 'other' (nothing here plays it)"


def _reason(stderr: bytes, kind: MediaKind) -> str:
    """A short English reason for an ffprobe failure, with ffprobe's own last words."""
    tail = stderr_tail(stderr, lines=3)
    if "moov atom not found" in tail:
        return (
            "the recording is incomplete: moov atom not found (the MP4 has no index, most"
            " likely because the camera lost power while recording). It cannot be played"
            " without repair; the original is kept as evidence."
        )
    refused = re.search(r"\[([\w,]+) @ [^\]]*\] Format not on whitelist", tail)
    if kind is MediaKind.OTHER:
        if refused:
            return (
                f"ffprobe recognises the format '{refused.group(1)}', which is not an audio or"
                f" video format it may open here; {_KEPT_AS_OTHER}"
            )
        if "Invalid data found when processing input" in tail:
            return f"not an audio or video file ffprobe can open; {_KEPT_AS_OTHER}"
        last = tail.splitlines()[-1] if tail else "no message"
        return f"ffprobe could not read it as audio or video ({last}); {_KEPT_AS_OTHER}"
    if refused:
        return (
            f"format '{refused.group(1)}' is not an accepted media format (a playlist or"
            " script disguised as media is refused unread); the original is kept as evidence."
        )
    if "Invalid data found when processing input" in tail:
        return "not a readable audio, video or photo file (ffprobe: invalid data)"
    last = tail.splitlines()[-1] if tail else "no message"
    return f"ffprobe could not read the file: {last}"


def parse_ffprobe_output(stdout: bytes) -> ProbeResult:
    """Parse ffprobe's JSON report as printed (bytes) into a ProbeResult.

    Bytes that are not UTF-8 (a tag written by a broken camera) are replaced, not fatal.
    Raises ProbeError when the report is not a JSON object, and as `parse_ffprobe_json`.
    """
    try:
        data = json.loads(stdout.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as exc:
        raise ProbeError("ffprobe printed something that is not JSON") from exc
    if not isinstance(data, Mapping):
        raise ProbeError("ffprobe's report is not a JSON object")
    return parse_ffprobe_json(data)


def parse_ffprobe_json(data: Mapping[str, Any]) -> ProbeResult:
    """Normalise ffprobe's `-show_format -show_streams` JSON into a ProbeResult.

    Picks the first video stream that is not an attached picture (cover art) and the first
    audio stream. Values of the wrong type or "N/A" become None; durations that are negative,
    not finite or over `MAX_PLAUSIBLE_DURATION_S` are unknown, and the container's is then
    taken from a stream if one has a plausible duration. Raises ProbeError(NO_STREAMS) when
    there is no audio or video stream, and ProbeError when the only picture has no decodable
    frame size; nothing else.
    """
    fmt = as_mapping(data.get("format"))
    raw_streams = data.get("streams")
    streams = (
        [s for s in raw_streams if isinstance(s, Mapping)] if isinstance(raw_streams, list) else []
    )
    video_raw = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not as_mapping(s.get("disposition")).get("attached_pic")
        ),
        None,
    )
    audio_raw = next((s for s in streams if s.get("codec_type") == "audio"), None)
    video = _stream(video_raw) if video_raw is not None else None
    audio = _stream(audio_raw) if audio_raw is not None else None
    if video is not None and not (video.width and video.height):
        # ffprobe reports a sizeless picture for bytes it could not decode (e.g. junk in a .jpg).
        if audio is None:
            raise ProbeError("not a readable picture or video (no frame size could be decoded)")
        video = None
    if video is None and audio is None:
        raise ProbeError(NO_STREAMS)

    duration = _duration(fmt.get("duration"))
    if duration is None:
        duration = next(
            (s.duration_s for s in (video, audio) if s and s.duration_s is not None), None
        )
    raw_time = _tag(fmt, "creation_time")
    if raw_time is None and video_raw is not None:
        raw_time = _tag(video_raw, "creation_time")
    return ProbeResult(
        format_name=_text(fmt.get("format_name")) or "unknown",
        duration_s=duration,
        video=video,
        audio=audio,
        creation_time=_parse_time(raw_time) if raw_time else None,
        creation_time_raw=raw_time,
        duration_raw=_text(fmt.get("duration")),
        probe_score=as_int(fmt.get("probe_score")),
    )


def _stream(s: Mapping[str, Any]) -> StreamInfo:
    index = as_int(s.get("index"))
    return StreamInfo(
        index=index if index is not None else 0,
        codec_name=_text(s.get("codec_name")) or "unknown",
        width=as_int(s.get("width")),
        height=as_int(s.get("height")),
        pix_fmt=_text(s.get("pix_fmt")),
        sample_rate=as_int(s.get("sample_rate")),
        channels=as_int(s.get("channels")),
        duration_s=_duration(s.get("duration")),
    )


def _tag(obj: Mapping[str, Any], name: str) -> str | None:
    tags = as_mapping(obj.get("tags"))
    return _text(next((v for k, v in tags.items() if str(k).lower() == name), None))


def _parse_time(raw: str) -> datetime | None:
    """creation_time as written: ISO 8601 (ffprobe's form), or EXIF-style `Y:m:d H:M:S`.

    None for a stamp in the first or last year of the calendar: it could not be moved to UTC
    or have a duration added, and says nothing true anyway.
    """
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        try:
            parsed = datetime.strptime(raw.strip(), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            return None
    return parsed if datetime.min.year < parsed.year < datetime.max.year else None


def _text(value: object) -> str | None:
    """`value` as text that can be stored anywhere (lone surrogates replaced); None if empty."""
    if value is None:
        return None
    return str(value).encode("utf-8", errors="replace").decode("utf-8") or None


def _duration(value: object) -> float | None:
    """A duration in seconds if it is plausible for one camera file, else None (unknown)."""
    number = as_float(value)
    return number if number is not None and 0 <= number <= MAX_PLAUSIBLE_DURATION_S else None
