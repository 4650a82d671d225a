"""Probe a media file with ffprobe into a typed result.

`probe_argv` and `parse_ffprobe_json` are pure; `probe` runs ffprobe through the one wrapper
with the input-safety options (the file is hostile: ffprobe may read it and nothing else).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ingest.errors import ProbeError
from ingest.ffmpeg_run import run_tool, safe_input_args, stderr_tail
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


@dataclass(frozen=True)
class ProbeResult:
    format_name: str
    duration_s: float | None
    video: StreamInfo | None
    audio: StreamInfo | None
    creation_time: datetime | None
    """The container's creation_time tag parsed as written (tz-aware only when the tag says so)."""
    creation_time_raw: str | None


NO_STREAMS = "no audio or video stream"


def probe_argv(path: Path, kind: MediaKind | None = None) -> list[str]:
    """The ffprobe command line for `path`; `kind` defaults to the kind its name implies."""
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
    video stream. Raises FfmpegTimeout if ffprobe runs over `timeout_s`. The file itself is
    never modified: a file that fails to probe is still evidence.
    """
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
        raise ProbeError(f"{path.name}: {_reason(result.stderr)}")
    try:
        data = json.loads(result.stdout)
    except ValueError as exc:
        raise ProbeError(f"{path.name}: ffprobe printed something that is not JSON") from exc
    try:
        return parse_ffprobe_json(data)
    except ProbeError as exc:
        raise ProbeError(f"{path.name}: {exc}") from exc


def _reason(stderr: bytes) -> str:
    """A short English reason for an ffprobe failure, with ffprobe's own last words."""
    tail = stderr_tail(stderr, lines=3)
    if "moov atom not found" in tail:
        return (
            "the recording is incomplete: moov atom not found (the MP4 has no index, most"
            " likely because the camera lost power while recording). It cannot be played"
            " without repair; the original is kept as evidence."
        )
    refused = re.search(r"\[([\w,]+) @ [^\]]*\] Format not on whitelist", tail)
    if refused:
        return (
            f"format '{refused.group(1)}' is not an accepted media format (a playlist or"
            " script disguised as media is refused unread); the original is kept as evidence."
        )
    if "Invalid data found when processing input" in tail:
        return "not a readable audio, video or photo file (ffprobe: invalid data)"
    last = tail.splitlines()[-1] if tail else "no message"
    return f"ffprobe could not read the file: {last}"


def parse_ffprobe_json(data: Mapping[str, Any]) -> ProbeResult:
    """Normalise ffprobe's `-show_format -show_streams` JSON into a ProbeResult.

    Picks the first video stream that is not an attached picture (cover art) and the first
    audio stream. Raises ProbeError(NO_STREAMS) when there is neither, and ProbeError when
    the only picture has no decodable frame size.
    """
    fmt: Mapping[str, Any] = data.get("format") or {}
    streams: list[Mapping[str, Any]] = list(data.get("streams") or [])
    video_raw = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not (s.get("disposition") or {}).get("attached_pic")
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

    duration = _float(fmt.get("duration"))
    if duration is None:
        duration = next(
            (s.duration_s for s in (video, audio) if s and s.duration_s is not None), None
        )
    raw_time = _tag(fmt, "creation_time")
    if raw_time is None and video_raw is not None:
        raw_time = _tag(video_raw, "creation_time")
    return ProbeResult(
        format_name=str(fmt.get("format_name") or "unknown"),
        duration_s=duration,
        video=video,
        audio=audio,
        creation_time=_parse_time(raw_time) if raw_time else None,
        creation_time_raw=raw_time,
    )


def _stream(s: Mapping[str, Any]) -> StreamInfo:
    return StreamInfo(
        index=int(s.get("index", 0)),
        codec_name=str(s.get("codec_name") or "unknown"),
        width=_int(s.get("width")),
        height=_int(s.get("height")),
        pix_fmt=s.get("pix_fmt") or None,
        sample_rate=_int(s.get("sample_rate")),
        channels=_int(s.get("channels")),
        duration_s=_float(s.get("duration")),
    )


def _tag(obj: Mapping[str, Any], name: str) -> str | None:
    tags: Mapping[str, Any] = obj.get("tags") or {}
    value = next((v for k, v in tags.items() if k.lower() == name), None)
    return str(value) if value else None


def _parse_time(raw: str) -> datetime | None:
    """creation_time as written: ISO 8601 (ffprobe's form), or EXIF-style `Y:m:d H:M:S`."""
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        pass
    try:
        return datetime.strptime(raw.strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _float(value: object) -> float | None:
    try:
        number = float(str(value)) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
