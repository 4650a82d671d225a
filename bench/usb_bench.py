"""Benchmark the station against cameras read at USB 2.0 speed, against `cat` of the same files.

Each camera is an ext4 image (~300 MB of 1080p H.264/AAC in four recordings, distinct bytes
per file, made once from the import bench's master clip and cached in
~/.cache/evidence-station-bench/usb) on a loop device mounted read-only; reads of the loop
device are capped at 30 MiB/s (USB 2.0 in practice) by a cgroup v1 blkio throttle that holds
only the measured process and its threads. The page cache is dropped before each run.
  1. one camera: `cat` of its files to /dev/null, then `station import` (local store, SQLite,
     api in a subprocess): safe to undock and every original registered, as ratios to cat
  2. four cameras docked at once into one `station agent`: four `cat`s in parallel (the
     slowest one is the baseline), then the agent, its status page polled until every dock
     is safe to undock and until every dock's originals are registered
Where loop devices or the throttle are not available (not root, no cgroup v1 blkio), it says
which and exits 0. `--small` uses ~60 MB cameras (for developing the bench).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from docks_bench import _ffmpeg, _master, _wait, agent_env, bench_token  # noqa: E402  (the same bench folder)
from import_bench import _concat_master, _drop_caches, _import_once  # noqa: E402
from usb_throttle import (  # noqa: E402
    LoopDevice,
    ReadThrottle,
    ThrottleUnavailable,
    attach,
    build_image,
    clear_stale,
    mount_ro,
    mounted_under,
    unavailable,
)

CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "evidence-station-bench"))
STATION = str(Path(sys.executable).with_name("station"))
USB2_BPS = 30 * 2**20  # 31457280: what a USB 2.0 mass-storage camera delivers
CAMERAS = 4
ROUNDS = 2
POLL_S = 0.05
SETTLE_S = 0.5  # the agent's debounce, as in docks_bench (reported apart)
SAFE = {"safe_to_undock", "done"}
GOAL_SAFE = 1.05
GOAL_ORIGINALS = 1.2
# Recordings on one camera, in seconds: 5 minutes of 8 Mb/s footage, ~300 MB.
FULL = (60, 60, 60, 120)
SMALL = (30, 30)


def _camera_name(n: int) -> str:
    return f"ZFY-USB-{n:02d}"


def _image(n: int, clips: tuple[int, ...], tag: str) -> Path:
    """Camera `n`'s ext4 image: DCIM/100MEDIA with `clips` recordings, remuxed from the
    master clip with the camera's own creation times (distinct bytes, no encoding)."""
    image = CACHE / "usb" / f"{tag}-{_camera_name(n)}.img"
    if image.exists():
        return image
    source = CACHE / "usb" / f"{tag}-{_camera_name(n)}.src"
    shutil.rmtree(source, ignore_errors=True)
    folder = source / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    master = _master()
    at = datetime(2026, 11, 28, 8, 0, tzinfo=UTC) + timedelta(hours=n)
    for i, seconds in enumerate(clips, start=1):
        target = folder / f"ZFY_0100{n:02d}_{at:%Y%m%d_%H%M%S}_{i:04d}.MP4"
        if seconds > 60:
            _concat_master(seconds // 60, target, at.isoformat())
        else:
            _ffmpeg("-i", str(master), "-t", str(seconds), "-c", "copy",
                    "-metadata", f"creation_time={at.isoformat()}", str(target))  # fmt: skip
        at += timedelta(seconds=seconds)
    build_image(source, image, _camera_name(n))
    shutil.rmtree(source)
    return image


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    """A scratch folder in the cache; never removed while something is mounted inside it
    (rmtree would walk into the camera)."""
    work = Path(tempfile.mkdtemp(dir=CACHE, prefix=f"usb-{os.getpid()}-"))
    try:
        yield work
    finally:
        left = mounted_under(work)
        if left:
            print(f"warning: {work} kept: still mounted: {', '.join(left)}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _timed_run(argv: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def _cat(throttle: ReadThrottle, volume: Path) -> list[str]:
    return throttle.wrap(["find", str(volume), "-type", "f", "-exec", "cat", "{}", "+"])


def _volume_bytes(volume: Path) -> int:
    return sum(p.stat().st_size for p in volume.rglob("*") if p.is_file())


def _check_throttle(label: str, mb: float, seconds: float) -> None:
    """A cat far above the cap means the throttle did not hold: the figures would lie."""
    rate = mb * 1e6 / seconds
    if rate > 1.5 * USB2_BPS:
        raise ThrottleUnavailable(
            f"{label} read at {rate / 1e6:.0f} MB/s through a {USB2_BPS / 1e6:.1f} MB/s "
            "throttle: blkio throttling does not act on loop devices here"
        )


# 1. One camera, `station import`


@dataclass(frozen=True)
class ImportRun:
    cat_s: float
    safe_s: float
    originals_s: float


def _station_import_flags() -> tuple[list[str], bool]:
    """(extra `station import` arguments, whether --originals-only exists yet)."""
    help_text = subprocess.run(
        [STATION, "import", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    ).stdout
    has = "--originals-only" in help_text
    return (["--originals-only"] if has else []), has


def _one_camera(image: Path, rounds: int, extra: list[str]) -> tuple[list[ImportRun], bool, int]:
    """(runs, whether originals_registered_s was missing, bytes on the camera)."""
    runs: list[ImportRun] = []
    fell_back = False
    with _workdir() as work, contextlib.ExitStack() as stack:
        device = attach(stack, image)
        volume = work / _camera_name(1)
        mount_ro(stack, device, volume)
        throttle = stack.enter_context(ReadThrottle(f"{os.getpid()}-one"))
        throttle.limit(device, USB2_BPS)
        size = _volume_bytes(volume)
        for r in range(rounds):
            _drop_caches()
            cat_s = _timed_run(_cat(throttle, volume))
            _check_throttle("cat", size / 1e6, cat_s)
            run_dir = work / f"import-{r}"
            run_dir.mkdir()
            summary = _import_once(volume, run_dir, wrap=throttle.wrap([]), extra_args=extra)
            originals = summary.get("originals_registered_s")
            if originals is None:  # not in the summary yet: every file registered instead
                fell_back = True
                originals = summary["registered_s"]
            safe = summary["safe_to_undock_s"]
            runs.append(ImportRun(cat_s, float(safe), float(originals)))  # type: ignore[arg-type]
            shutil.rmtree(run_dir)
    return runs, fell_back, size


# 2. Four cameras, one `station agent`


@dataclass(frozen=True)
class AgentRun:
    safe_s: float
    """From the agent opening the first dock until every dock is safe to undock."""
    originals_s: float
    """From the same moment until every dock has files_registered == files_total."""
    debounce_s: float
    """From the last mount until the agent opened the first dock (its settle time)."""
    spread_s: float
    """From the agent opening the first dock until it opened the last."""


def _cats_in_parallel(
    devices: list[LoopDevice], throttle: ReadThrottle, work: Path, sizes: list[int]
) -> float:
    """Four `cat`s at once, one per camera, each through its own device's cap: the slowest."""
    with contextlib.ExitStack() as mounts:
        volumes = [work / "cat" / _camera_name(n) for n in range(1, len(devices) + 1)]
        for device, volume in zip(devices, volumes, strict=True):
            mount_ro(mounts, device, volume)
        _drop_caches()
        with ThreadPoolExecutor(len(volumes)) as pool:
            times = list(pool.map(lambda v: _timed_run(_cat(throttle, v)), volumes))
    for t, size in zip(times, sizes, strict=True):
        _check_throttle("a parallel cat", size / 1e6, t)
    return max(times)


def _agent_run(devices: list[LoopDevice], throttle: ReadThrottle, work: Path) -> AgentRun:
    """A fresh api and agent (the agent in the throttle's cgroup); the cameras are mounted
    under its mount root at once, as an automounter does, and the status page is polled."""
    env, api_url, status_port = agent_env(work)
    env["STATION_API_TOKEN"] = bench_token(env, "station")
    admin = httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {bench_token(env, 'admin')}"}
    )
    status = httpx.Client(base_url=f"http://127.0.0.1:{status_port}", timeout=5)
    with contextlib.ExitStack() as stack:
        stack.callback(admin.close)
        stack.callback(status.close)
        # The mounts are made below, after the agent is up; registered here so that they are
        # unmounted only after the processes (registered later) have stopped.
        mounts = stack.enter_context(contextlib.ExitStack())
        with (work / "api.log").open("wb") as log:
            api = _started(stack, [STATION, "api", "--port", api_url.rsplit(":", 1)[1]], env, log)
        _wait("the api", lambda: admin.get("/healthz").status_code == 200, api)
        with (work / "agent.log").open("wb") as log:
            agent = _started(stack, throttle.wrap([STATION, "agent"]), env, log)
        _wait("the agent", lambda: status.get("/status.json").status_code == 200, agent)
        _drop_caches()

        volumes = [work / "media" / _camera_name(n) for n in range(1, len(devices) + 1)]
        for volume in volumes:  # the folders first, then the mounts, as an automounter does
            volume.mkdir()
        for device, volume in zip(devices, volumes, strict=True):
            mount_ro(mounts, device, volume)
        appeared = time.time()
        safe_at = originals_at = None
        while True:
            docks = status.get("/status.json").json()["docks"]
            now = time.time()
            if len(docks) == len(volumes):
                if safe_at is None and all(d["state"] in SAFE for d in docks):
                    safe_at = now
                if originals_at is None and all(
                    d["files_total"] > 0 and d.get("files_registered") == d["files_total"]
                    for d in docks
                ):
                    originals_at = now
                if safe_at is not None and originals_at is not None:
                    break
            if any(d["state"] == "keep_docked" for d in docks) or agent.poll() is not None:
                raise SystemExit(f"a dock failed: {docks}; see {work}/agent.log")
            time.sleep(POLL_S)
        opened = [datetime.fromisoformat(d["docked_at"]).timestamp() for d in docks]
        media = admin.get("/api/v1/media", params={"limit": 500}).json()["items"]
        files = sum(1 for v in volumes for _ in v.rglob("*.MP4"))
        if len(media) != files:
            raise SystemExit(f"{len(media)} media registered, {files} files docked")
    first = min(opened)
    assert safe_at is not None and originals_at is not None
    return AgentRun(safe_at - first, originals_at - first, first - appeared, max(opened) - first)


def _started(
    stack: contextlib.ExitStack, argv: list[str], env: dict[str, str], log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start a process that `stack` stops (SIGTERM, then SIGKILL after 15 s) when it closes."""
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)

    def stop() -> None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    stack.callback(stop)
    return proc


def _four_cameras(images: list[Path], rounds: int) -> tuple[list[float], list[AgentRun], list[int]]:
    """(the slowest parallel cat of each round, the agent's runs, bytes on each camera)."""
    cats: list[float] = []
    runs: list[AgentRun] = []
    with _workdir() as work, contextlib.ExitStack() as stack:
        devices = [attach(stack, image) for image in images]
        throttle = stack.enter_context(ReadThrottle(f"{os.getpid()}-four"))
        for device in devices:
            throttle.limit(device, USB2_BPS)
        sizes: list[int] = []
        with contextlib.ExitStack() as mounts:
            for n, device in enumerate(devices, start=1):
                mount_ro(mounts, device, work / "size" / _camera_name(n))
                sizes.append(_volume_bytes(work / "size" / _camera_name(n)))
        for r in range(rounds):
            cats.append(_cats_in_parallel(devices, throttle, work / f"cat-{r}", sizes))
            run_dir = work / f"agent-{r}"
            run_dir.mkdir()
            runs.append(_agent_run(devices, throttle, run_dir))
            shutil.rmtree(run_dir)
    return cats, runs, sizes


def _row(label: str, values: list[float], mb: float) -> str:
    med = statistics.median(values)
    runs = " ".join(f"{v:.2f}" for v in values)
    return f"  {label:<44}{med:6.2f} s {mb / med:5.1f} MB/s   (runs: {runs})"


def _ratio(label: str, num: list[float], den: list[float], goal: float) -> str:
    ratio = statistics.median(num) / statistics.median(den)
    per_run = " ".join(f"{n / d:.2f}" for n, d in zip(num, den, strict=True))
    verdict = "met" if ratio <= goal else "NOT met"
    return f"  ratio {label:<38}{ratio:6.2f}   (goal <= {goal}: {verdict}; runs: {per_run})"


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C or SIGTERM: unwind through every `finally` (umount, losetup -d, rmdir); a
    second signal is ignored so that it cannot cut that clean-up short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="~60 MB cameras, for development")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    print("usb bench: cameras read at USB 2.0 speed through a cgroup v1 blkio throttle")
    reason = unavailable()
    if reason is not None:
        print(f"usb bench skipped: {reason}")
        return
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    clips, tag = (SMALL, "small") if args.small else (FULL, "full")
    CACHE.mkdir(parents=True, exist_ok=True)
    images = [CACHE / "usb" / f"{tag}-{_camera_name(n)}.img" for n in range(1, CAMERAS + 1)]
    clear_stale(images, CACHE)
    if not all(image.exists() for image in images):
        print(f"building {CAMERAS} camera images (once) in {CACHE / 'usb'}...", flush=True)
    images = [_image(n, clips, tag) for n in range(1, CAMERAS + 1)]
    extra, originals_only = _station_import_flags()
    try:
        one, fell_back, size = _one_camera(images[0], args.rounds, extra)
        slowest, four, sizes = _four_cameras(images, args.rounds)
    except ThrottleUnavailable as exc:
        print(f"usb bench skipped: {exc}")
        return

    mb = size / 1e6
    limit = f"{USB2_BPS / 2**20:.0f} MiB/s ({USB2_BPS / 1e6:.1f} MB/s)"
    print(f"each camera: {len(clips)} files, {mb:.0f} MB of 1080p H.264/AAC on an ext4 image,")
    print(f"  loop device mounted read-only, reads capped at {limit}")
    rounds = f"{args.rounds} round{'s' if args.rounds != 1 else ''}"
    print(f"{rounds}; page cache dropped before each run; medians, then each run")
    print("1. one camera, `station import` (local store, SQLite, api in a subprocess):")
    cat = [r.cat_s for r in one]
    safe = [r.safe_s for r in one]
    originals = [r.originals_s for r in one]
    what = "all registered (fallback)" if fell_back else "originals registered"
    print(_row("cat of its files to /dev/null", cat, mb))
    print(_row("station import, safe to undock", safe, mb))
    print(_row(f"station import, {what}", originals, mb))
    print(_ratio("safe-to-undock / cat", safe, cat, GOAL_SAFE))
    print(_ratio(f"{what} / cat", originals, cat, GOAL_ORIGINALS))
    print("  (the import is timed inside the importer, from its scan; process start-up excluded)")

    total = sum(sizes) / 1e6
    print(f"2. {CAMERAS} cameras docked at once into one `station agent` ({total:.0f} MB):")
    safe4 = [r.safe_s for r in four]
    originals4 = [r.originals_s for r in four]
    print(_row(f"{CAMERAS} x cat in parallel, the slowest", slowest, max(sizes) / 1e6))
    print(_row("agent, every dock safe to undock", safe4, total))
    print(_row("agent, every dock's files registered", originals4, total))
    print(_ratio("safe-to-undock / slowest cat", safe4, slowest, GOAL_SAFE))
    print(_ratio("files registered / slowest cat", originals4, slowest, GOAL_ORIGINALS))
    debounce = statistics.median(r.debounce_s for r in four)
    with_debounce = [s + r.debounce_s for s, r in zip(safe4, four, strict=True)]
    print("  (registered: the status page's files_registered == files_total for every dock)")
    print(f"  (timed from the agent opening the first dock; before that its {SETTLE_S} s debounce")
    print(f"   and the watcher's poll took {debounce:.2f} s (median) after the mounts; with it:)")
    print(_ratio("safe, debounce included / slowest cat", with_debounce, slowest, GOAL_SAFE))
    spread = " ".join(f"{r.spread_s:.2f}" for r in four)
    print(f"  (the agent opened the last dock this long after the first: {spread} s)")
    if not originals_only:
        print("note: `station import` has no --originals-only yet: it made proxies and")
        print("      thumbnails too (H.264/AAC: stream copies)")
    if fell_back:
        print("note: the import summary has no originals_registered_s yet: registered_s (every")
        print("      file registered, after its proxy and upload) was used instead")


if __name__ == "__main__":
    main()
