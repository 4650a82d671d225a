"""The one subprocess wrapper: argv only, stdin closed, timeouts kill the whole group."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from ingest.errors import FfmpegTimeout, ProbeError, TranscodeError
from ingest.ffmpeg_run import (
    AV_DEMUXERS,
    MAX_TIMEOUT_S,
    bounded_timeout,
    run_tool,
    safe_input_args,
)
from wire.media_kinds import MediaKind


def test_stdin_is_dev_null_so_a_tool_waiting_for_input_cannot_hang() -> None:
    result = run_tool(
        [sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"], timeout_s=10
    )
    assert result.returncode == 0
    assert result.stdout.strip() == b"''"


def test_non_zero_exit_raises_the_callers_error_with_the_stderr_tail() -> None:
    script = (
        "import sys\nfor i in range(30): print(f'line-{i:02d}', file=sys.stderr)\nsys.exit(3)\n"
    )
    with pytest.raises(ProbeError) as caught:
        run_tool([sys.executable, "-c", script], timeout_s=10, error=ProbeError, what="X.MP4")
    message = str(caught.value)
    assert "X.MP4" in message and "exit status 3" in message
    assert "line-29" in message and "line-15" in message
    assert "line-14" not in message


def test_check_false_returns_the_failed_process_for_the_caller_to_judge() -> None:
    result = run_tool([sys.executable, "-c", "raise SystemExit(2)"], timeout_s=10, check=False)
    assert result.returncode == 2


def test_a_missing_executable_is_the_callers_error() -> None:
    with pytest.raises(TranscodeError, match="could not be started"):
        run_tool(["/nonexistent/ffmpeg", "-version"], timeout_s=5)


def test_an_overrunning_ffmpeg_is_killed_and_raises_ffmpeg_timeout() -> None:
    endless = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2"]
    started = time.monotonic()
    with pytest.raises(FfmpegTimeout, match="0.5 s limit"):
        run_tool([*endless, "-f", "null", "-"], timeout_s=0.5)
    assert time.monotonic() - started < 5


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    with pytest.raises(FfmpegTimeout):
        run_tool([sys.executable, "-c", script], timeout_s=1.5)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


@pytest.mark.parametrize("timeout_s", [4 * 4294967295.0, 1e10, float("inf"), float("nan")])
def test_a_limit_too_large_for_the_os_timer_is_capped_never_an_overflow(timeout_s: float) -> None:
    """4x a duration of 2**32 - 1 s, as a crafted MP4 header can claim, once raised OverflowError."""
    result = run_tool([sys.executable, "-c", "pass"], timeout_s=timeout_s)
    assert result.returncode == 0


def test_time_limits_are_clamped_between_a_floor_and_a_hard_ceiling() -> None:
    assert bounded_timeout(10.0, floor_s=60.0) == 60.0
    assert bounded_timeout(600.0, floor_s=60.0) == 600.0
    assert bounded_timeout(1e9, floor_s=60.0) == MAX_TIMEOUT_S == 6 * 3600.0
    assert bounded_timeout(float("inf"), floor_s=60.0) == MAX_TIMEOUT_S
    assert bounded_timeout(float("nan"), floor_s=60.0) == MAX_TIMEOUT_S


def test_an_argument_the_os_refuses_is_the_callers_error() -> None:
    with pytest.raises(ProbeError, match="could not be started on X.MP4"):
        run_tool(["ffprobe", "file:/v/X\0.MP4"], timeout_s=5, error=ProbeError, what="X.MP4")


def test_safe_input_args_whitelist_demuxers_protocols_and_use_an_absolute_file_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = safe_input_args(Path("VID.MP4"), MediaKind.VIDEO)
    assert args[:2] == ["-protocol_whitelist", "file"]
    demuxers = args[args.index("-format_whitelist") + 1].split(",")
    assert "mov" in demuxers and "avi" in demuxers and "wav" in demuxers
    assert not {"hls", "concat", "image2", "tee", "data"} & set(demuxers)
    assert args[-2:] == ["-i", f"file:{tmp_path}/VID.MP4"]
    assert ",".join(AV_DEMUXERS) == args[args.index("-format_whitelist") + 1]


# Demuxers that open paths other than their input (playlists, manifests, scripts, sequences,
# a sub-picture .idx naming its .sub), or read from outside the file system (devices, network).
_OPENS_OTHER_PATHS = {
    "hls",
    "dash",
    "concat",
    "imf",
    "image2",
    "image2pipe",
    "vobsub",
    "ffmetadata",
    "webm_dash_manifest",
    "sdp",
    "rtsp",
    "rtp",
    "lavfi",
    "tee",
    "data",
    "libopenmpt",
    "video4linux2,v4l2",
    "alsa",
    "fbdev",
}


def test_every_accepted_demuxer_exists_in_this_ffmpeg_and_none_opens_other_paths() -> None:
    listing = run_tool(["ffprobe", "-hide_banner", "-demuxers"], timeout_s=30).stdout.decode()
    names = {line.split()[1] for line in listing.splitlines() if line.startswith(" D")}
    assert {"hls", "concat", "image2", "dhav", "dv"} <= names  # the listing was read
    assert set(AV_DEMUXERS) <= names, set(AV_DEMUXERS) - names
    assert not set(AV_DEMUXERS) & _OPENS_OTHER_PATHS
    for wanted in ("dv", "mpeg", "mpegts", "flv", "mxf", "dhav", "h264", "hevc", "aiff", "caf"):
        assert wanted in AV_DEMUXERS


@pytest.mark.parametrize("kind", [MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.OTHER, None])
def test_everything_but_a_photo_is_read_through_the_demuxer_allow_list(
    kind: MediaKind | None,
) -> None:
    args = safe_input_args(Path("/v/ch01.dav"), kind)
    assert args[args.index("-format_whitelist") + 1] == ",".join(AV_DEMUXERS)
    assert "-f" not in args


def test_photos_are_read_as_single_images_never_as_a_sequence_pattern() -> None:
    args = safe_input_args(Path("/v/IMG_%d.JPG"), MediaKind.PHOTO)
    assert args == [
        "-protocol_whitelist",
        "file",
        "-f",
        "image2",
        "-pattern_type",
        "none",
        "-i",
        "file:/v/IMG_%d.JPG",
    ]


def _alive(pid: int) -> bool:
    """True if `pid` runs (a zombie waiting for a reaper that never comes counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_tools_still_running_are_killed_at_shutdown_and_no_verdict_is_drawn() -> None:
    """A transcode runs in its own process group and would outlive the agent: kill_running
    ends it at once, and its caller learns the station stopped (ToolsStopped), never that the
    file failed (TranscodeError); nothing starts afterwards. In a process of its own: the
    stop is for the rest of the process's life."""
    script = """
import threading, time
from ingest.errors import ToolsStopped, TranscodeError
from ingest.ffmpeg_run import kill_running, run_tool
seen = []
def transcode():
    try:
        run_tool(["sh", "-c", "sleep 30 & wait"], timeout_s=60, error=TranscodeError)
    except (ToolsStopped, TranscodeError) as exc:
        seen.append(type(exc).__name__)
worker = threading.Thread(target=transcode)
began = time.monotonic()
worker.start()
time.sleep(0.3)
kill_running()
worker.join(10)
assert not worker.is_alive() and time.monotonic() - began < 10
try:
    run_tool(["true"], timeout_s=5)
except ToolsStopped:
    seen.append("not started")
print(seen)
"""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "['ToolsStopped', 'not started']"
