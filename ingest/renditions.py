"""What a medium gets for the browser: renditions, made in two steps.

Quick renditions are stream copies (seconds for an hour of footage): H.264 8-bit 4:2:0 video
as "h264", H.265 as "hevc" (an MP4 tagged hvc1, for the browsers that play it), audio as
"aac". The transcode makes the H.264/AAC "h264" rendition with the chosen `EncoderPreset`
only when no quick rendition is one every browser plays. `plan_quick`, `plan_transcode` and
`rendition_argv` are pure; `make_quick` and `make_transcode` run ffmpeg.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.encoders import PRESETS, EncoderPreset
from ingest.errors import TranscodeError
from ingest.ffmpeg_run import bounded_timeout, run_tool, safe_input_args
from ingest.probe import ProbeResult, StreamInfo
from storage.durable import fsync_path
from wire.media_kinds import MediaKind

log = logging.getLogger(__name__)

RenditionName = Literal["h264", "hevc", "aac"]
StreamHandling = Literal["copy", "encode"]

BROWSER_SAFE: frozenset[str] = frozenset({"h264", "aac"})
"""Renditions every browser plays (H.265 plays in Safari and some others only)."""

_AUDIO_ENCODE_ARGS = ("-c:a", "aac", "-b:a", "128k")
# H.264 that Chromium decodes: 8-bit 4:2:0. High 10 / 4:2:2 files are transcoded.
_PLAYABLE_H264_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
# For the time limit of a file without a duration: its length is estimated from its size at a
# bitrate below what cameras record video at, so the estimate errs long. (Low-rate audio such as
# AMR is longer than estimated, but re-encodes at hundreds of times real time.)
_LOW_BITRATE_BPS = 250_000
_TRANSCODE_FLOOR_S = 60.0
_COPY_FLOOR_S = 30.0


@dataclass(frozen=True)
class _Format:
    content_type: Literal["video/mp4", "audio/mp4"]
    codec: str
    suffix: Literal[".mp4", ".m4a"]
    muxer: Literal["mp4", "ipod"]


_FORMATS: dict[str, _Format] = {
    "h264": _Format("video/mp4", "avc1", ".mp4", "mp4"),
    "hevc": _Format("video/mp4", "hvc1", ".mp4", "mp4"),
    "aac": _Format("audio/mp4", "mp4a", ".m4a", "ipod"),
}


@dataclass(frozen=True)
class Rendition:
    """A finished rendition file."""

    name: str
    """"h264" (H.264/AAC MP4, what every browser plays), "hevc" (H.265 MP4 tagged hvc1),
    "aac" (audio-only M4A)."""
    path: Path
    content_type: str
    """"video/mp4" or "audio/mp4"."""
    codec: str
    """RFC 6381-ish: "avc1", "hvc1", "mp4a"."""
    encoder: str
    """What made the main stream (video, else audio): "copy", "libx264", "h264_vaapi", "aac"..."""
    note: str | None = None
    """Something a reviewer of the record should know, e.g. a hardware encode that failed."""


@dataclass(frozen=True)
class RenditionPlan:
    """How to make one rendition of one probed file."""

    name: RenditionName
    video: StreamHandling | None
    """None: the rendition has no video."""
    audio: StreamHandling | None
    """None: the source has no audio."""
    duration_s: float | None

    @property
    def content_type(self) -> str:
        return _FORMATS[self.name].content_type

    @property
    def codec(self) -> str:
        return _FORMATS[self.name].codec

    @property
    def file_name(self) -> str:
        """Fixed per rendition name, so a retry overwrites the file of the last attempt."""
        return f"rendition-{self.name}{_FORMATS[self.name].suffix}"

    @property
    def transcodes(self) -> bool:
        return "encode" in (self.video, self.audio)

    def timeout_s(self, source_bytes: int | None) -> float:
        """The ffmpeg time limit for this plan, as `time_limit_s`."""
        return time_limit_s(self.duration_s, source_bytes, transcodes=self.transcodes)


def time_limit_s(duration_s: float | None, source_bytes: int | None, *, transcodes: bool) -> float:
    """Time limit for ffmpeg: re-encoding runs near real time, copying ~300x faster.

    4x the duration to transcode (at least 60 s), a tenth of it to copy (at least 30 s), never
    more than `MAX_TIMEOUT_S`. Without a usable duration the length is estimated from
    `source_bytes`; with neither the limit is the ceiling.
    """
    duration = duration_s
    if duration is None or not math.isfinite(duration) or duration < 0:
        duration = source_bytes * 8 / _LOW_BITRATE_BPS if source_bytes is not None else math.inf
    if transcodes:
        return bounded_timeout(4.0 * duration, floor_s=_TRANSCODE_FLOOR_S)
    return bounded_timeout(duration / 10.0, floor_s=_COPY_FLOOR_S)


def plan_quick(probe: ProbeResult, kind: MediaKind) -> list[RenditionPlan]:
    """The stream-copy renditions of a file (empty for photos, `OTHER`, and video that can
    only be transcoded: MJPEG, MPEG-4, 10-bit or 4:2:2 H.264...).

    Audio that is not AAC is encoded to AAC here (audio encodes at hundreds of times real
    time); video is only ever copied.
    """
    if kind not in (MediaKind.VIDEO, MediaKind.AUDIO):
        return []
    video = probe.video if kind is MediaKind.VIDEO else None  # cover art of audio is ignored
    audio = _audio_handling(probe.audio, allow_copy=True)
    if video is None:
        return [RenditionPlan("aac", None, audio, probe.duration_s)] if audio else []
    if _browser_h264(video):
        return [RenditionPlan("h264", "copy", audio, probe.duration_s)]
    if video.codec_name == "hevc":
        return [RenditionPlan("hevc", "copy", audio, probe.duration_s)]
    return []


def plan_transcode(probe: ProbeResult, kind: MediaKind) -> RenditionPlan | None:
    """The H.264/AAC "h264" rendition to encode, or None when `plan_quick` already includes a
    browser-safe rendition ("h264" or "aac") or the file gets nothing (photos, `OTHER`)."""
    if any(plan.name in BROWSER_SAFE for plan in plan_quick(probe, kind)):
        return None
    return _encode_plan(probe, kind)


def _encode_plan(probe: ProbeResult, kind: MediaKind) -> RenditionPlan | None:
    """The browser-safe rendition with every stream encoded (None when there is nothing).

    Audio is encoded even when it is AAC: it costs ~1% of the video encode, and a failed
    transcode is then the video encoder's failure, which the software retry is for.
    """
    if kind not in (MediaKind.VIDEO, MediaKind.AUDIO):
        return None
    video = probe.video if kind is MediaKind.VIDEO else None
    audio = _audio_handling(probe.audio, allow_copy=False)
    if video is not None:
        return RenditionPlan("h264", "encode", audio, probe.duration_s)
    return RenditionPlan("aac", None, audio, probe.duration_s) if audio else None


def _browser_h264(video: StreamInfo) -> bool:
    return video.codec_name == "h264" and (
        video.pix_fmt is None or video.pix_fmt in _PLAYABLE_H264_PIX_FMTS
    )


def _audio_handling(audio: StreamInfo | None, *, allow_copy: bool) -> StreamHandling | None:
    if audio is None:
        return None
    return "copy" if allow_copy and audio.codec_name == "aac" else "encode"


def rendition_argv(
    src: Path, dst: Path, plan: RenditionPlan, encoder: EncoderPreset | None = None
) -> list[str]:
    """The ffmpeg command line that writes `plan`'s rendition of `src` to `dst` (exact path).

    `encoder` is required when the plan encodes video (ValueError otherwise); its input-side
    arguments go before `-i`, its filter chain and codec arguments after the video map.
    """
    if plan.video == "encode" and encoder is None:
        raise ValueError(f"the {plan.name} rendition encodes video: an encoder is needed")
    kind = MediaKind.VIDEO if plan.video else MediaKind.AUDIO
    hw_input = list(encoder.input_args) if encoder and plan.video == "encode" else []
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    argv += [*hw_input, *safe_input_args(src, kind)]
    if plan.video is None:
        argv += ["-vn"]
    else:
        # `V` skips attached pictures (cover art), as the probe does.
        argv += ["-map", "0:V:0"]
        if plan.video == "copy":
            argv += ["-c:v", "copy"]
            if plan.name == "hevc":
                argv += ["-tag:v", "hvc1"]  # what Safari needs; ffmpeg writes hev1 by default
        elif encoder is not None:
            argv += encoder.output_args()
    if plan.audio is not None:
        argv += ["-map", "0:a:0"]
        argv += ["-c:a", "copy"] if plan.audio == "copy" else list(_AUDIO_ENCODE_ARGS)
    muxer = _FORMATS[plan.name].muxer
    argv += ["-f", muxer, "-movflags", "+faststart", "file:" + str(dst.absolute())]
    return argv


def make_quick(src: Path, probe: ProbeResult, kind: MediaKind, workdir: Path) -> list[Rendition]:
    """Make the stream-copy renditions of `plan_quick` in `workdir`; seconds at most.

    A copy that ffmpeg refuses (some cameras write timestamps the MP4 muxer rejects) is
    skipped with a warning and its file removed: the "h264" case is then made by
    `make_transcode`, which encodes when the browser-safe quick file is missing; a refused
    "hevc" copy is simply not offered. Raises TranscodeError when `src` cannot be read and
    FfmpegTimeout when a copy overruns its limit (a tenth of the duration, at least 30 s).
    """
    plans = plan_quick(probe, kind)
    if not plans:
        return []
    size = _source_size(src)
    made: list[Rendition] = []
    for plan in plans:
        dst = workdir / plan.file_name
        try:
            _write(src, dst, plan, None, source_bytes=size)
        except TranscodeError as exc:
            log.warning("%s: the %s stream copy was refused: %s", src.name, plan.name, exc)
            with contextlib.suppress(OSError):
                dst.unlink(missing_ok=True)  # a stale copy must not pass for this run's
            continue
        encoder = "copy" if plan.video == "copy" or plan.audio == "copy" else "aac"
        made.append(Rendition(plan.name, dst, plan.content_type, plan.codec, encoder))
    return made


def make_transcode(
    src: Path, probe: ProbeResult, kind: MediaKind, workdir: Path, encoder: EncoderPreset
) -> Rendition | None:
    """Encode the browser-safe rendition in `workdir` when the quick step does not give one.

    That is `plan_transcode`'s plan, or, when the quick step planned a browser-safe copy but
    its file is missing from `workdir` (the copy was refused), the same rendition with every
    stream encoded. None when nothing is to be made. When a hardware `encoder` fails it is
    retried once with the software preset and the Rendition's note says so. The file is
    written as a .part, fsynced and renamed; the index is at the front. Raises TranscodeError
    when ffmpeg fails (in software) or the file cannot be read or written, and FfmpegTimeout
    when ffmpeg overruns its limit (4x the duration, at least 60 s, bounded whatever the file
    claims; an overrun is not retried: the limit already allows four times the duration);
    nothing else.
    """
    plan = plan_transcode(probe, kind)
    if plan is None:
        planned = [p for p in plan_quick(probe, kind) if p.name in BROWSER_SAFE]
        if all((workdir / p.file_name).exists() for p in planned):
            return None
        plan = _encode_plan(probe, kind)
        if plan is None:
            return None
    size = _source_size(src)
    dst = workdir / plan.file_name
    if plan.video is None:  # audio only: no video encoder involved
        _write(src, dst, plan, None, source_bytes=size)
        return Rendition(plan.name, dst, plan.content_type, plan.codec, "aac")
    note = None
    try:
        _write(src, dst, plan, encoder, source_bytes=size)
    except TranscodeError as exc:
        if not encoder.hardware:
            raise
        log.warning("%s: %s encode failed, retrying in software: %s", src.name, encoder.name, exc)
        note = f"hardware encode ({encoder.name}) failed: {_short(exc)}; made in software"
        encoder = PRESETS["software"]
        _write(src, dst, plan, encoder, source_bytes=size)
    return Rendition(plan.name, dst, plan.content_type, plan.codec, encoder.ffmpeg_encoder, note)


def _write(
    src: Path,
    dst: Path,
    plan: RenditionPlan,
    encoder: EncoderPreset | None,
    *,
    source_bytes: int | None,
) -> None:
    """Run `rendition_argv` into a .part beside `dst`, fsync it, rename it to `dst`, fsync the
    folder; `dst` never holds half a file. Raises TranscodeError or FfmpegTimeout."""
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.part")
    try:
        run_tool(
            rendition_argv(src, tmp, plan, encoder),
            timeout_s=plan.timeout_s(source_bytes),
            error=TranscodeError,
            what=src.name,
        )
        fsync_path(tmp)
        os.replace(tmp, dst)
        fsync_path(dst.parent)
    except OSError as exc:
        raise TranscodeError(
            f"{src.name}: the rendition could not be saved as {dst.name}: {exc}"
        ) from exc
    finally:
        # Only a .part in the file's own work folder is left if this fails; not worth hiding
        # the error that brought us here.
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _source_size(src: Path) -> int:
    try:
        return src.stat().st_size
    except OSError as exc:
        raise TranscodeError(f"{src.name}: cannot be read ({exc.strerror})") from exc


def _short(exc: Exception, limit: int = 300) -> str:
    """An error on one line: its first line and the tool's last word."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if len(lines) <= 1 else f"{lines[0]} {lines[-1]}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
