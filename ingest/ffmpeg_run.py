"""The one way this project runs ffmpeg and ffprobe: argv lists, a timeout, kill on overrun.

Media files are hostile, so every input goes through `safe_input_args`: ffmpeg may read
the named file and nothing else (no playlists, concat scripts or image sequences that name
other paths, no network).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import threading
from pathlib import Path

from ingest.errors import FfmpegTimeout, IngestError, ToolsStopped, TranscodeError
from wire.media_kinds import MediaKind

STDERR_TAIL_LINES = 15
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()
MAX_TIMEOUT_S = 6 * 3600.0
"""No ffmpeg/ffprobe run may take longer, whatever a file claims about its own length."""

# Demuxers we accept for audio and video, by the names `ffprobe -formats` lists (ffmpeg 5.1).
# Anything else is refused by ffmpeg before it reads past the probe: an HLS playlist named .mp4
# would otherwise make ffmpeg open every local path it names, and `-protocol_whitelist file`
# alone does not stop that. Each demuxer here reads only the one input it is given: none of
# them opens another path (unlike hls, dash, concat/ffconcat, imf, image2 sequences, vobsub's
# .idx+.sub, and mov only with `enable_drefs`, which is off by default and never set here),
# none fetches a URL, and the sub-demuxers some use (DV inside AVI, S/PDIF inside WAV) read
# the same input. The raw and loosely-probed ones (h264, hevc, mpeg) are as safe; a weak
# detection of a file whose name says nothing is refused by `ingest.probe.kind_from_probe`, not
# here. Checked on ffmpeg 5.1 by tracing the files ffprobe opens on a sample of each format:
# only the input.
AV_DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",  # MP4/MOV/3GP/M4A, GoPro .LRV, DJI .LRF
    "avi",
    "mpegts",  # .ts, AVCHD .mts/.m2ts, HDV .m2t, JVC .tod
    "mpeg",  # MPEG program stream: .mpg, .vob, .mod, VCD .dat, Hikvision .mp4/.ps that are PS
    "dv",  # DV camcorders (.dv, .dif)
    "mxf",  # professional camcorders (XDCAM, P2)
    "matroska,webm",
    "flv",
    "asf",  # .asf, .wmv, .wma
    "dhav",  # Dahua DVR/NVR .dav
    "ifv",  # IFV CCTV DVR .ifv
    "h264",  # raw H.264 elementary stream (.h264, .264, Hikvision exports)
    "hevc",  # raw H.265 elementary stream (.h265, .265)
    "wav",
    "amr",
    "mp3",
    "aac",
    "flac",
    "ogg",  # .ogg, .oga, .opus, .ogv
    "aiff",
    "caf",
)


def safe_input_args(path: Path, kind: MediaKind | None) -> list[str]:
    """ffmpeg/ffprobe arguments that open `path` as input and nothing else.

    Photos are read with the image2 demuxer forced and patterns off: left to probe, a name
    like `IMG%d.jpg` makes image2 read sibling files as a sequence. Everything else (video,
    audio, and OTHER: a file whose name says nothing) must be detected as one of
    `AV_DEMUXERS`. The path is absolute with the `file:` protocol, so a name such as
    `http:x.mp4` or `-i` is never read as a URL or an option.
    """
    if kind is MediaKind.PHOTO:
        fmt = ["-f", "image2", "-pattern_type", "none"]
    else:
        fmt = ["-format_whitelist", ",".join(AV_DEMUXERS)]
    return ["-protocol_whitelist", "file", *fmt, "-i", "file:" + str(path.absolute())]


def bounded_timeout(seconds: float, *, floor_s: float) -> float:
    """`seconds` clamped to [`floor_s`, `MAX_TIMEOUT_S`]; NaN (a length nobody knows) is the ceiling."""
    if math.isnan(seconds):
        return MAX_TIMEOUT_S
    return min(max(seconds, floor_s), MAX_TIMEOUT_S)


def stderr_tail(stderr: bytes, lines: int = STDERR_TAIL_LINES) -> str:
    """The last `lines` non-empty lines of a tool's stderr, decoded leniently."""
    text = stderr.decode("utf-8", errors="replace")
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_tool(
    argv: list[str],
    *,
    timeout_s: float,
    error: type[IngestError] = TranscodeError,
    what: str = "",
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg/ffprobe (or any tool) from an argv list; stdin is /dev/null; output captured.

    The tool runs in its own process group. If it is still running after `timeout_s` (at
    most `MAX_TIMEOUT_S`, whatever is asked) the whole group is killed and `FfmpegTimeout` is
    raised. A missing executable, an argv the OS refuses, or a non-zero exit when `check` is
    true, raises `error` (an `IngestError` subclass chosen by the caller) with the last lines
    of stderr. `what` names the file concerned in messages.
    """
    tool = Path(argv[0]).name
    subject = f" on {what}" if what else ""
    if _STOPPING.is_set():
        raise ToolsStopped(f"{tool} not started{subject}: the station is shutting down")
    # A limit derived from a file's claims must never overflow the OS timer or be endless.
    timeout_s = bounded_timeout(timeout_s, floor_s=0.0)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in an argument
        raise error(f"{tool} could not be started{subject}: {exc}") from exc
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise FfmpegTimeout(
            f"{tool} ran over its {timeout_s:g} s limit{subject} and was killed"
        ) from exc
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    if _STOPPING.is_set() and proc.returncode < 0:
        raise ToolsStopped(f"{tool} killed{subject}: the station is shutting down")
    result = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise error(
            f"{tool} failed{subject} (exit status {proc.returncode}):\n{stderr_tail(stderr)}"
        )
    return result


def kill_running() -> None:
    """At shutdown: kill every tool this process started that still runs (each runs in its own
    process group, so it would outlive us) and start no more; their callers get ToolsStopped
    and the journal redoes the work after a restart. For the rest of the process's life."""
    _STOPPING.set()
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:  # the thread that started each one reaps it and raises
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process and anything it started, then reap it without waiting forever."""
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        # Something outside the group still holds our pipes open; do not hang on it.
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.kill()
        proc.wait()
