"""Join the proxies of a recording's segments into one merged proxy (自动合成).

The parts are browser proxies this station made (H.264/AAC MP4, or AAC in audio/mp4). When
their streams match they are joined with ffmpeg's concat demuxer and stream copy (lossless,
~300x real time); otherwise they are re-encoded in software through the concat filter. The
originals are never touched: this only reads proxies and writes a new file.

`plan_merge` and the argv builders are pure; `merge_proxies` runs ffmpeg through the one
wrapper (ingest/ffmpeg_run.py).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.encoders import PRESETS
from ingest.errors import TranscodeError
from ingest.ffmpeg_run import bounded_timeout, run_tool, safe_input_args
from ingest.probe import ProbeResult, StreamInfo, probe
from storage.durable import fsync_path
from wire.media_kinds import MediaKind

log = logging.getLogger(__name__)

MergeMethod = Literal["stream_copy", "transcoded"]

# The concat list names only files we linked next to it; `-safe 1` refuses anything else
# (absolute paths, `..`, odd characters). Its parts are our own MP4 proxies, so the
# demuxers allowed are concat for the list and the MP4 family for the parts: nothing else.
_CONCAT_DEMUXERS = ("concat", "mov,mp4,m4a,3gp,3g2,mj2")
_AUDIO_RATE = 48000
# A re-encoded merge is a libx264 encode under the software preset's 5 Mb/s cap, which starves
# 1080 lines (measured in ingest/encoders.py), so it takes that preset's limit. Parts come at the
# camera's size (copied), 720 lines (software) or 1080 (hardware); `plan_merge` never enlarges one.
MAX_LINES = PRESETS["software"].max_lines
_TRANSCODE_FLOOR_S = 60.0
_COPY_FLOOR_S = 30.0


@dataclass(frozen=True)
class MergeResult:
    path: Path
    method: MergeMethod
    content_type: Literal["video/mp4", "audio/mp4"]
    copy_failed: str | None = None
    """Why the stream copy was refused and the parts re-encoded instead (None if it was not)."""


@dataclass(frozen=True)
class MergePlan:
    method: MergeMethod
    has_video: bool
    has_audio: bool
    width: int
    """Output frame size when transcoding (even; as tall as the shortest part, at most
    MAX_LINES); 0 without video."""
    height: int
    durations_s: tuple[float | None, ...]

    @property
    def content_type(self) -> Literal["video/mp4", "audio/mp4"]:
        return "video/mp4" if self.has_video else "audio/mp4"

    @property
    def timeout_s(self) -> float:
        known = [d for d in self.durations_s if d is not None and math.isfinite(d) and d >= 0]
        total = sum(known) if len(known) == len(self.durations_s) else math.inf
        if self.method == "transcoded":
            return bounded_timeout(4.0 * total, floor_s=_TRANSCODE_FLOOR_S)
        return bounded_timeout(total / 10.0, floor_s=_COPY_FLOOR_S)


def _video_signature(stream: StreamInfo | None) -> tuple[object, ...] | None:
    if stream is None:
        return None
    return (stream.codec_name, stream.width, stream.height, stream.pix_fmt)


def _audio_signature(stream: StreamInfo | None) -> tuple[object, ...] | None:
    if stream is None:
        return None
    return (stream.codec_name, stream.sample_rate, stream.channels)


def plan_merge(probes: list[ProbeResult], *, allow_copy: bool = True) -> MergePlan:
    """How to join parts probed as `probes` (in order). Stream copy when every part has the
    same streams (codec, size, pixel format; sample rate, channels) in H.264/AAC; else
    transcoded, as tall as the shortest part (no part is enlarged) but at most `MAX_LINES`,
    with the first part's aspect. Raises TranscodeError when there are fewer than two parts
    or one has neither audio nor video."""
    if len(probes) < 2:
        raise TranscodeError("a merged proxy needs at least two parts")
    if any(p.video is None and p.audio is None for p in probes):
        raise TranscodeError("a part has neither audio nor video")
    videos = [_video_signature(p.video) for p in probes]
    audios = [_audio_signature(p.audio) for p in probes]
    has_video = any(v is not None for v in videos)
    has_audio = any(a is not None for a in audios)
    same = len(set(videos)) == 1 and len(set(audios)) == 1
    browser_codecs = all(v is None or v[0] == "h264" for v in videos) and all(
        a is None or a[0] == "aac" for a in audios
    )
    width = height = 0
    if has_video:
        pictures = [p.video for p in probes if p.video is not None]
        first = pictures[0]
        height = min([MAX_LINES, *(v.height for v in pictures if v.height)])
        width = round((first.width or 16 * height // 9) * height / (first.height or height))
        width, height = width // 2 * 2 or 2, height // 2 * 2 or 2
    return MergePlan(
        method="stream_copy" if allow_copy and same and browser_codecs else "transcoded",
        has_video=has_video,
        has_audio=has_audio,
        width=width,
        height=height,
        durations_s=tuple(p.duration_s for p in probes),
    )


def concat_list(names: list[str]) -> str:
    """The concat demuxer's list file for `names` (plain relative names, checked)."""
    for name in names:
        if not name or "/" in name or name.startswith(".") or "'" in name or "\n" in name:
            raise ValueError(f"{name!r} is not a safe name for a concat list")
    return "ffconcat version 1.0\n" + "".join(f"file '{name}'\n" for name in names)


def stream_copy_argv(list_file: Path, dst: Path, plan: MergePlan) -> list[str]:
    """ffmpeg joining the files named in `list_file` without re-encoding, index first."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    argv += ["-protocol_whitelist", "file", "-format_whitelist", ",".join(_CONCAT_DEMUXERS)]
    argv += ["-f", "concat", "-safe", "1", "-i", "file:" + str(list_file.absolute())]
    if plan.has_video:
        argv += ["-map", "0:v:0"]
    if plan.has_audio:
        argv += ["-map", "0:a:0"]
    argv += ["-c", "copy", *_output_args(plan, dst)]
    return argv


def transcode_argv(
    parts: list[Path], dst: Path, plan: MergePlan, probes: list[ProbeResult]
) -> list[str]:
    """ffmpeg joining `parts` through the concat filter, re-encoded like a proxy. A part
    without the other parts' audio (or video) gets silence (or black) for its length, so
    nothing shifts in time."""
    kind = MediaKind.VIDEO if plan.has_video else MediaKind.AUDIO
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    for part in parts:
        argv += safe_input_args(part, kind)
    chains: list[str] = []
    labels = ""
    for i, probed in enumerate(probes):
        length = f"{probed.duration_s or 0.0:.3f}"
        if plan.has_video:
            size = f"{plan.width}:{plan.height}"
            if probed.video is not None:
                chains.append(
                    f"[{i}:v:0]scale={size}:force_original_aspect_ratio=decrease,"
                    f"pad={size}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[v{i}]"
                )
            else:
                chains.append(
                    f"color=c=black:s={plan.width}x{plan.height}:d={length},format=yuv420p[v{i}]"
                )
            labels += f"[v{i}]"
        if plan.has_audio:
            layout = f"aresample={_AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
            if probed.audio is not None:
                chains.append(f"[{i}:a:0]{layout}[a{i}]")
            else:
                chains.append(f"anullsrc=r={_AUDIO_RATE}:cl=stereo,atrim=duration={length}[a{i}]")
            labels += f"[a{i}]"
    outputs = ("[v]" if plan.has_video else "") + ("[a]" if plan.has_audio else "")
    chains.append(
        f"{labels}concat=n={len(parts)}:v={int(plan.has_video)}:a={int(plan.has_audio)}{outputs}"
    )
    argv += ["-filter_complex", ";".join(chains)]
    if plan.has_video:
        argv += ["-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
        argv += ["-maxrate", "5M", "-bufsize", "10M", "-pix_fmt", "yuv420p"]
    if plan.has_audio:
        argv += ["-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
    argv += _output_args(plan, dst)
    return argv


def _output_args(plan: MergePlan, dst: Path) -> list[str]:
    muxer = "mp4" if plan.has_video else "ipod"
    return ["-f", muxer, "-movflags", "+faststart", "file:" + str(dst.absolute())]


def merge_proxies(parts: list[Path], dest: Path) -> MergeResult:
    """Join the proxies `parts` (in recording order) into `dest`.

    `dest` is written under a temporary name in its folder, fsynced and renamed, so it never
    holds half a file. When a stream copy fails it is retried once re-encoding, and the
    result says why. Raises ProbeError when a part cannot be probed, TranscodeError when
    ffmpeg fails or a file cannot be written, FfmpegTimeout when ffmpeg overruns.
    """
    probes = [probe(part) for part in parts]
    plan = plan_merge(probes)
    copy_failed: str | None = None
    tmp_out = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
    try:
        with tempfile.TemporaryDirectory(prefix=".merge-", dir=dest.parent) as tmp:
            if plan.method == "stream_copy":
                list_file = _link_parts(parts, Path(tmp))
                try:
                    _run_to(stream_copy_argv(list_file, tmp_out, plan), tmp_out, dest, plan)
                except TranscodeError as exc:
                    copy_failed = str(exc)
                    log.warning("stream copy merge into %s failed, re-encoding: %s", dest.name, exc)
                    plan = plan_merge(probes, allow_copy=False)
            if plan.method == "transcoded":
                _run_to(transcode_argv(parts, tmp_out, plan, probes), tmp_out, dest, plan)
    except OSError as exc:
        raise TranscodeError(f"the merged proxy {dest} could not be made: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp_out.unlink(missing_ok=True)
    return MergeResult(dest, plan.method, plan.content_type, copy_failed)


def _link_parts(parts: list[Path], folder: Path) -> Path:
    """Link each part under a plain name in `folder` and write the concat list naming them."""
    names = []
    for i, part in enumerate(parts):
        name = f"part{i:04d}.mp4"
        target = folder / name
        try:
            os.symlink(part.absolute(), target)
        except OSError:
            shutil.copyfile(part, target)
        names.append(name)
    list_file = folder / "parts.ffconcat"
    list_file.write_text(concat_list(names), encoding="ascii")
    return list_file


def _run_to(argv: list[str], tmp: Path, dest: Path, plan: MergePlan) -> None:
    run_tool(argv, timeout_s=plan.timeout_s, error=TranscodeError, what=dest.name)
    fsync_path(tmp)
    os.replace(tmp, dest)
    fsync_path(dest.parent)
