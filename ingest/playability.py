"""Whether a browser copy really plays: "playable" must never be said of a file that does not.

An MP4 can carry a perfect index (moov) and no media data, and ffmpeg stream-copies it without
complaint into a "proxy" with nothing in it. So a rendition is checked, cheaply whatever its
length: ffprobe reads its index and one packet, and ffmpeg decodes one frame at the start and
one near the end. `check_argv` and `decode_argv` are pure; `check_playable` runs them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingest.errors import FfmpegTimeout, ProbeError
from ingest.ffmpeg_run import run_tool, safe_input_args
from ingest.ffprobe_json import as_float, as_int, as_mapping
from wire.media_kinds import MediaKind

TIMEOUT_S = 30.0
"""Per ffprobe/ffmpeg run: each reads an index and a few packets, never the whole file."""
END_FRACTION = 0.9
"""Where the end check decodes, as a fraction of the duration."""

# "[mjpeg @ 0x55a3...] No JPEG data" -> "mjpeg: No JPEG data"
_CONTEXT = re.compile(r"^\[([^\]@ ]+) @ 0x[0-9a-f]+\] ")
# `V` is video that is not an attached picture (cover art is no video to watch).
_STREAM: dict[MediaKind, tuple[str, str, str]] = {
    MediaKind.VIDEO: ("V:0", "video", "-frames:v"),
    MediaKind.AUDIO: ("a:0", "audio", "-frames:a"),
}


def check_argv(path: Path, kind: MediaKind) -> list[str]:
    """ffprobe: the stream of `kind`'s index facts and how many of its first packets read.

    `-read_intervals %+#1` stops reading after one packet, so the count is 1 for a file with
    media data and absent for one with none, at the cost of one packet.
    """
    selector, _, _ = _stream_for(kind)
    return [
        "ffprobe",
        "-hide_banner",
        "-v",
        "error",
        "-print_format",
        "json",
        "-count_packets",
        "-read_intervals",
        "%+#1",
        "-select_streams",
        selector,
        "-show_entries",
        "stream=codec_type,nb_frames,nb_read_packets,duration:format=duration",
        *safe_input_args(path, kind),
    ]


def decode_argv(path: Path, kind: MediaKind, at_s: float) -> list[str]:
    """ffmpeg: decode one frame of `kind`'s stream at `at_s` (input seek) and print its CRC.

    `framecrc` prints one line per decoded frame, so the output says how many frames came out
    (`-f null` says nothing when none did, and ffmpeg may still exit 0).
    """
    selector, _, frames = _stream_for(kind)
    seek = ["-ss", f"{at_s:.3f}"] if at_s > 0 else []
    return [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        *seek,
        *safe_input_args(path, kind),
        "-map",
        f"0:{selector}",
        frames,
        "1",
        "-f",
        "framecrc",
        "-",
    ]


def check_playable(path: Path, kind: MediaKind, *, duration_s: float | None) -> str | None:
    """None when the rendition at `path` holds a stream of the medium's `kind` (video for video
    media, audio for audio) that decodes; else a short English reason.

    Decodes one frame at the start and one at 90% of `duration_s` (the medium's duration; the
    rendition's own when None, and no end check when neither is known), so it costs the same
    for two seconds or two hours. A file that makes a tool overrun `TIMEOUT_S` is unplayable.
    Raises ValueError for a photo or `OTHER` (no browser copy), and ProbeError only when
    ffprobe/ffmpeg cannot be started at all.
    """
    _, noun, _ = _stream_for(kind)
    if not path.is_file():
        return "the browser copy is missing"
    try:
        report = run_tool(
            check_argv(path, kind), timeout_s=TIMEOUT_S, error=ProbeError, check=False
        )
    except FfmpegTimeout:
        return "reading the browser copy's index ran over its time limit"
    stream, container_s = _parse(report.stdout)
    if report.returncode != 0 and stream is None:
        return f"the browser copy cannot be read: {_first_word(report.stderr)}"
    if stream is None:
        return f"the browser copy holds no {noun} stream"
    frames = as_int(stream.get("nb_frames"))
    if not as_int(stream.get("nb_read_packets")):
        listed = f"the index lists {frames} frames but " if frames else ""
        return (
            f"no {noun} data can be read from the browser copy ({listed}the media data is missing)"
        )
    reason = _decodes(path, kind, 0.0)
    if reason is not None:
        return f"no frame of the browser copy decodes: {reason}"
    length = _positive(duration_s) or _positive(stream.get("duration")) or container_s
    if length:
        at_s = END_FRACTION * length
        reason = _decodes(path, kind, at_s)
        if reason is not None:
            return (
                f"the end of the browser copy does not decode (at {at_s:.1f} s of"
                f" {length:.1f} s): {reason}"
            )
    return None


def _decodes(path: Path, kind: MediaKind, at_s: float) -> str | None:
    """None when one frame decodes at `at_s`, else why not."""
    try:
        result = run_tool(
            decode_argv(path, kind, at_s), timeout_s=TIMEOUT_S, error=ProbeError, check=False
        )
    except FfmpegTimeout:
        return "decoding ran over its time limit"
    lines = result.stdout.decode("utf-8", errors="replace").splitlines()
    decoded = sum(1 for line in lines if line.strip() and not line.startswith("#"))
    if result.returncode == 0 and decoded > 0:
        return None
    return _first_word(result.stderr) if result.stderr.strip() else "no frame came out"


def _stream_for(kind: MediaKind) -> tuple[str, str, str]:
    try:
        return _STREAM[kind]
    except KeyError:
        raise ValueError(f"a {kind} medium has no browser copy to check") from None


def _parse(stdout: bytes) -> tuple[Mapping[str, Any] | None, float | None]:
    """(the selected stream, the container's duration) from ffprobe's JSON; None for missing."""
    try:
        data = json.loads(stdout.decode("utf-8", errors="replace"))
    except ValueError:
        return None, None
    if not isinstance(data, Mapping):
        return None, None
    streams = data.get("streams")
    stream = streams[0] if isinstance(streams, list) and streams else None
    duration = _positive(as_mapping(data.get("format")).get("duration"))
    return (stream if isinstance(stream, Mapping) else None), duration


def _first_word(stderr: bytes) -> str:
    """The tool's first complaint (the cause; later lines are its consequences), on one line."""
    text = stderr.decode("utf-8", errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "no message")
    return _CONTEXT.sub(r"\1: ", first)


def _positive(value: object) -> float | None:
    """A length in seconds from `value` when it is one (finite and above 0), else None."""
    number = as_float(value)
    return number if number is not None and number > 0 else None
