"""Make the browser proxy of a recording: MP4 (index first) with H.264 video and AAC audio.

What the browser already plays is stream-copied (fast, lossless); anything else is
transcoded. `plan_proxy` and `proxy_argv` are pure; `make_proxy` runs ffmpeg.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.errors import TranscodeError
from ingest.ffmpeg_run import run_tool, safe_input_args
from ingest.probe import ProbeResult
from ingest.renditions import time_limit_s
from storage.durable import fsync_path
from wire.media_kinds import MediaKind

log = logging.getLogger(__name__)

MAX_LINES = 1080
# H.264 that Chromium decodes: 8-bit 4:2:0. High 10 / 4:2:2 files are transcoded.
_PLAYABLE_H264_PIX_FMTS = {"yuv420p", "yuvj420p"}


@dataclass(frozen=True)
class ProxyPlan:
    """How to turn one probed file into its browser proxy."""

    content_type: Literal["video/mp4", "audio/mp4"]
    muxer: Literal["mp4", "ipod"]
    suffix: Literal[".mp4", ".m4a"]
    has_video: bool
    has_audio: bool
    copy_video: bool
    copy_audio: bool
    scale_to_1080: bool
    """The source is taller than 1080 lines and is transcoded, so it is scaled down."""
    duration_s: float | None
    source_bytes: int | None = None
    """Size of the source file, for the time limit when the duration is unknown."""

    @property
    def transcodes(self) -> bool:
        """True when any stream is re-encoded (not only stream-copied)."""
        return (self.has_video and not self.copy_video) or (self.has_audio and not self.copy_audio)

    @property
    def timeout_s(self) -> float:
        """Time limit for ffmpeg, as `ingest.renditions.time_limit_s` (the one rule for both)."""
        return time_limit_s(self.duration_s, self.source_bytes, transcodes=self.transcodes)


@dataclass(frozen=True)
class Proxy:
    """A finished proxy file."""

    path: Path
    content_type: str
    video_copied: bool
    audio_copied: bool
    copy_failed: str | None = None
    """Why the stream copy was refused and the proxy re-encoded instead (None if it was not)."""


def plan_proxy(
    probe: ProbeResult, kind: MediaKind, *, source_bytes: int | None = None
) -> ProxyPlan | None:
    """The proxy plan for a file, or None when it gets no proxy (photos, nothing playable).

    `source_bytes`, the file's size, bounds the time limit when the probe has no duration.
    """
    return _plan(probe, kind, allow_copy=True, source_bytes=source_bytes)


def _plan(
    probe: ProbeResult, kind: MediaKind, *, allow_copy: bool, source_bytes: int | None
) -> ProxyPlan | None:
    if kind is MediaKind.PHOTO:
        return None
    video = probe.video if kind is MediaKind.VIDEO else None
    audio = probe.audio
    if video is None and audio is None:
        return None
    copy_video = (
        allow_copy
        and video is not None
        and video.codec_name == "h264"
        and (video.pix_fmt is None or video.pix_fmt in _PLAYABLE_H264_PIX_FMTS)
    )
    copy_audio = allow_copy and audio is not None and audio.codec_name == "aac"
    is_video = video is not None
    return ProxyPlan(
        content_type="video/mp4" if is_video else "audio/mp4",
        muxer="mp4" if is_video else "ipod",
        suffix=".mp4" if is_video else ".m4a",
        has_video=is_video,
        has_audio=audio is not None,
        copy_video=copy_video,
        copy_audio=copy_audio,
        scale_to_1080=video is not None and not copy_video and (video.height or 0) > MAX_LINES,
        duration_s=probe.duration_s,
        source_bytes=source_bytes,
    )


def proxy_argv(src: Path, dst: Path, plan: ProxyPlan) -> list[str]:
    """The ffmpeg command line that writes the proxy of `src` to `dst` (the exact path given)."""
    kind = MediaKind.VIDEO if plan.has_video else MediaKind.AUDIO
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *safe_input_args(src, kind)]
    if plan.has_video:
        # `V` skips attached pictures (cover art), as the probe does.
        argv += ["-map", "0:V:0"]
        if plan.copy_video:
            argv += ["-c:v", "copy"]
        else:
            argv += [
                "-vf",
                # At most 1080 lines, aspect kept, both sides even (libx264 4:2:0 needs that).
                f"scale=w=-2:h='trunc(min(ih,{MAX_LINES})/2)*2'",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-maxrate",
                "5M",
                "-bufsize",
                "10M",
                "-pix_fmt",
                "yuv420p",
            ]
    else:
        argv += ["-vn"]
    if plan.has_audio:
        argv += ["-map", "0:a:0"]
        argv += ["-c:a", "copy"] if plan.copy_audio else ["-c:a", "aac", "-b:a", "128k"]
    argv += ["-f", plan.muxer, "-movflags", "+faststart", "file:" + str(dst.absolute())]
    return argv


def make_proxy(src: Path, dst: Path, probe: ProbeResult, kind: MediaKind) -> Proxy | None:
    """Write the browser proxy of `src` to `dst`, or return None when it gets none (photos).

    The proxy is written under a temporary name in `dst`'s folder and renamed at the end, so
    `dst` never holds half a proxy. When a stream copy fails (some cameras write timestamps
    the MP4 muxer refuses) it is retried once re-encoding everything, and the Proxy says why.
    Raises TranscodeError when ffmpeg fails or a file cannot be read or written, and
    FfmpegTimeout when ffmpeg overruns (the limit follows the duration, bounded whatever the
    file claims); nothing else.
    """
    plan = plan_proxy(probe, kind)
    if plan is None:
        return None
    try:
        size = src.stat().st_size
    except OSError as exc:
        raise TranscodeError(f"{src.name}: cannot be read ({exc.strerror})") from exc
    plan = dataclasses.replace(plan, source_bytes=size)
    copy_failed: str | None = None
    try:
        _run_to(src, dst, plan)
    except TranscodeError as exc:
        if not (plan.copy_video or plan.copy_audio):
            raise
        copy_failed = str(exc)
        log.warning("stream copy failed for %s, re-encoding instead: %s", src.name, exc)
        retry = _plan(probe, kind, allow_copy=False, source_bytes=size)
        if retry is None:  # cannot happen: same streams as the first plan
            raise
        plan = retry
        _run_to(src, dst, plan)
    return Proxy(
        path=dst,
        content_type=plan.content_type,
        video_copied=plan.copy_video,
        audio_copied=plan.copy_audio,
        copy_failed=copy_failed,
    )


def _run_to(src: Path, dst: Path, plan: ProxyPlan) -> None:
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.part")
    try:
        run_tool(
            proxy_argv(src, tmp, plan),
            timeout_s=plan.timeout_s,
            error=TranscodeError,
            what=src.name,
        )
        fsync_path(tmp)
        os.replace(tmp, dst)
    except OSError as exc:
        raise TranscodeError(
            f"{src.name}: the proxy could not be saved as {dst.name}: {exc}"
        ) from exc
    finally:
        # Only a .part in the file's own work folder is left if this fails; not worth hiding
        # the error that brought us here.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
