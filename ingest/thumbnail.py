"""Make the JPEG thumbnail (320 px wide) of a video or photo; audio has none.

`thumbnail_seek_s` and `thumbnail_argv` are pure; `make_thumbnail` runs ffmpeg.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from ingest.errors import TranscodeError
from ingest.ffmpeg_run import run_tool, safe_input_args
from ingest.probe import ProbeResult
from wire.media_kinds import MediaKind

WIDTH = 320
TIMEOUT_S = 30.0
_PREFERRED_SEEK_S = 1.0  # past the first frames, which are often black on cameras


def thumbnail_seek_s(probe: ProbeResult, kind: MediaKind) -> float | None:
    """Where to take the frame: ~1 s in, the mid-point of shorter clips, 0 for photos.

    None when the file gets no thumbnail (audio, or no picture stream).
    """
    if kind is MediaKind.AUDIO or probe.video is None:
        return None
    if kind is MediaKind.PHOTO or not probe.duration_s:
        return 0.0
    return min(_PREFERRED_SEEK_S, probe.duration_s / 2)


def thumbnail_argv(src: Path, dst: Path, kind: MediaKind, seek_s: float) -> list[str]:
    """The ffmpeg command line writing one JPEG frame of `src`, taken at `seek_s`, to `dst`."""
    seek = ["-ss", f"{seek_s:.3f}"] if seek_s > 0 else []
    return [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        *seek,
        *safe_input_args(src, kind),
        "-map",
        "0:V:0",
        "-frames:v",
        "1",
        # 320 wide, aspect kept, even height.
        "-vf",
        f"scale=w={WIDTH}:h=-2",
        "-c:v",
        "mjpeg",
        "-q:v",
        "4",
        "-f",
        "image2",
        "-update",
        "1",
        "file:" + str(dst.absolute()),
    ]


def make_thumbnail(
    src: Path, dst: Path, probe: ProbeResult, kind: MediaKind, *, timeout_s: float = TIMEOUT_S
) -> Path | None:
    """Write the thumbnail of `src` to `dst` and return `dst`, or None for audio.

    Written under a temporary name in `dst`'s folder and renamed, so `dst` is never half
    written. If the frame at the seek point cannot be had (seeking past the last frame of a
    duration that lies, or frames there that do not decode) it retries at the start. Raises
    TranscodeError when no frame can be decoded or the file cannot be written, and
    FfmpegTimeout when an attempt runs over `timeout_s` (not retried: the start would most
    likely hang as well); nothing else.
    """
    seek_s = thumbnail_seek_s(probe, kind)
    if seek_s is None:
        return None
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.part")
    failure: TranscodeError | None = None
    try:
        for attempt_s in dict.fromkeys([seek_s, 0.0]):
            try:
                run_tool(
                    thumbnail_argv(src, tmp, kind, attempt_s),
                    timeout_s=timeout_s,
                    error=TranscodeError,
                    what=src.name,
                )
            except TranscodeError as exc:
                failure = exc
                continue
            if tmp.exists() and tmp.stat().st_size > 0:
                os.replace(tmp, dst)
                return dst
    except OSError as exc:
        raise TranscodeError(
            f"{src.name}: the thumbnail could not be saved as {dst.name}: {exc}"
        ) from exc
    finally:
        with contextlib.suppress(OSError):  # a stray .part must not hide the error above
            tmp.unlink(missing_ok=True)
    detail = f" ({failure})" if failure else ""
    raise TranscodeError(
        f"{src.name}: no picture could be decoded for a thumbnail{detail}"
    ) from failure
