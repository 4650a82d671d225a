"""Benchmark the station agent with eight body cameras docked at once, against plain copying.

Builds eight simulated camera volumes once (each ~90 MB of 1080p H.264/AAC in two
recordings, distinct bytes per device; cached in ~/.cache/evidence-station-bench, reusing the
import bench's master clip), then times on the same machine, one after the other, with the
page cache dropped before each:
  (a) eight `cp -r` in parallel + sync            the floor: what copying alone costs
  (c) eight (`cp -r` + sync + `sha256sum` of the copy) in parallel: copying and hashing as
      separate tools would do it, the nearest baseline that also proves what it copied
  (b) `station agent` + `station api` (local store, SQLite): the eight volumes appear under
      its mount root at once; the status page is polled every 0.1 s until every dock is
      safe to undock, then until every dock is done (all registered)
and prints the ratio (a)/(b until safe) and the agent's peak RSS (VmHWM), then the same
agent figures with one camera docked, to show memory does not grow with the device count.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from import_bench import _drop_caches, _free_port  # noqa: E402  (the same bench folder)

from ingest.ffmpeg_run import run_tool  # noqa: E402

CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "evidence-station-bench"))
STATION = str(Path(sys.executable).with_name("station"))
DEVICES = 8
ROUNDS = 3
POLL_S = 0.1
# The watcher's debounce: a volume is imported once unchanged this long (the agent default
# is 2 s for automounters; the time is reported apart from the import's own).
SETTLE_S = 0.5
SAFE = {"safe_to_undock", "done"}


def _ffmpeg(*args: str) -> None:
    run_tool(["ffmpeg", "-y", "-loglevel", "error", *args], timeout_s=600)


def _master() -> Path:
    """60 s of 1080p H.264/AAC: the import bench's master clip, made here if it is missing."""
    master = CACHE / "master.mp4"
    if not master.exists():
        print("generating 60 s of 1080p H.264/AAC footage (once)...", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        part = CACHE / "master.part.mp4"
        _ffmpeg(
            *("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
            *("-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M"),
            *("-maxrate", "8M", "-bufsize", "16M", "-g", "30", "-pix_fmt", "yuv420p"),
            *("-c:a", "aac", str(part)),
        )
        part.rename(master)
    return master


def _volumes() -> list[Path]:
    """Eight camera volumes, each a minute and half a minute of footage (~90 MB); a remux
    with the device's own creation times gives every file distinct bytes at no encoding cost."""
    root = CACHE / "docks"
    volumes = [root / f"ZFY-BENCH-{n:02d}" for n in range(1, DEVICES + 1)]
    if (root / "done").exists():
        return volumes
    master = _master()
    shutil.rmtree(root, ignore_errors=True)
    for n, volume in enumerate(volumes, start=1):
        folder = volume / "DCIM" / "100MEDIA"
        folder.mkdir(parents=True)
        start = datetime(2026, 11, 27, 8, 0, tzinfo=UTC) + timedelta(hours=n)
        for i, seconds in enumerate((60, 30), start=1):
            at = start + timedelta(minutes=2 * i)
            name = f"1301000000151{n:07d}_0100{n:02d}_{at:%Y%m%d_%H%M%S}_{i:04d}.MP4"
            _ffmpeg(
                *("-i", str(master), "-t", str(seconds), "-c", "copy"),
                *("-metadata", f"creation_time={at.isoformat()}", str(folder / name)),
            )
        (volume / "LOG").mkdir()
        (volume / "LOG" / "device.log").write_text(f"{start.isoformat()} power on\n")
    (root / "done").touch()
    return volumes


def _wait(
    what: str, check: Callable[[], bool], proc: subprocess.Popen[bytes], timeout_s: float = 30
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}; see its log")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not come up within {timeout_s:.0f} s")


def _copy_in_parallel(volumes: list[Path], work: Path, *, hash_after: bool = False) -> float:
    """Eight `cp -r` at once, then sync; with `hash_after`, each copy is hashed by
    `sha256sum` as soon as it (and a sync) is done, all in parallel."""
    _drop_caches()
    began = time.perf_counter()
    script = 'cp -r "$1" "$2" && sync && find "$2" -type f -exec sha256sum {} + > /dev/null'
    copies = [
        subprocess.Popen(
            ["sh", "-c", script if hash_after else 'cp -r "$1" "$2"', "copy", str(v), str(dest)]
        )
        for v in volumes
        for dest in [work / f"cp-{v.name}"]
    ]
    if any(c.wait() != 0 for c in copies):
        raise SystemExit("cp -r failed")
    subprocess.run(["sync"], check=True)
    elapsed = time.perf_counter() - began
    for v in volumes:
        shutil.rmtree(work / f"cp-{v.name}")
    return elapsed


@dataclass(frozen=True)
class AgentRun:
    safe_s: float
    """From the agent seeing the docks (after the watcher's debounce) until all safe."""
    registered_s: float
    """From the same moment until every dock is done (every file registered)."""
    debounce_s: float
    """From the volumes appearing until the agent opened the last dock."""
    peak_rss_mb: float


def agent_env(work: Path) -> tuple[dict[str, str], str, int]:
    """Settings of a fresh api and agent under `work` (SQLite, local store, its mount root
    `work/media`, created): (environment, api url, status page port)."""
    api_url, status_port = f"http://127.0.0.1:{_free_port()}", _free_port()
    env = {
        **os.environ,
        "STATION_DATABASE_URL": f"sqlite:///{work}/station.db",
        "STATION_STORAGE_URL": f"file://{work}/objects",
        "STATION_STATE_DIR": str(work / "state"),
        "STATION_API_URL": api_url,
        "STATION_ID": "bench",
        "STATION_MOUNT_ROOTS": str(work / "media"),
        "STATION_SETTLE_S": str(SETTLE_S),
        "STATION_STATUS_PORT": str(status_port),
        "STATION_WIPE": "never",  # the benches' footage stays; their devices are unregistered
    }
    (work / "media").mkdir()
    return env, api_url, status_port


def bench_token(env: dict[str, str], role: str) -> str:
    out = subprocess.run(
        [STATION, "token", "create", "--role", role, "--name", f"bench-{role}"]
        + (["--station-id", env["STATION_ID"]] if role == "station" else []),
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _agent_run(volumes: list[Path], work: Path) -> AgentRun:
    """Dock `volumes` at once under a fresh agent and time it; the volumes are moved (same
    file system, no copy) into its mount root and moved back afterwards."""
    env, api_url, status_port = agent_env(work)
    env["STATION_API_TOKEN"] = bench_token(env, "station")
    admin = httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {bench_token(env, 'admin')}"}
    )
    status = httpx.Client(base_url=f"http://127.0.0.1:{status_port}", timeout=5)
    procs: list[subprocess.Popen[bytes]] = []
    docked: list[Path] = []
    try:
        with (work / "api.log").open("wb") as log:
            api = subprocess.Popen([STATION, "api", "--port", api_url.rsplit(":", 1)[1]],
                                   env=env, stdout=log, stderr=log)  # fmt: skip
        procs.append(api)
        _wait("the api", lambda: admin.get("/healthz").status_code == 200, api)
        with (work / "agent.log").open("wb") as log:
            agent = subprocess.Popen([STATION, "agent"], env=env, stdout=log, stderr=log)
        procs.append(agent)
        _wait("the agent", lambda: status.get("/status.json").status_code == 200, agent)
        _drop_caches()

        appeared = time.time()
        for volume in volumes:  # all appear within a millisecond, as at a dock of eight
            volume.rename(work / "media" / volume.name)
            docked.append(work / "media" / volume.name)
        safe_at = None
        while True:
            docks = status.get("/status.json").json()["docks"]
            now = time.time()
            states = [d["state"] for d in docks]
            if len(docks) == len(volumes) and safe_at is None and all(s in SAFE for s in states):
                safe_at = now
            if len(docks) == len(volumes) and all(s == "done" for s in states):
                break
            if any(s == "keep_docked" for s in states) or agent.poll() is not None:
                raise SystemExit(f"a dock failed: {docks}; see {work}/agent.log")
            time.sleep(POLL_S)
        assert safe_at is not None
        seen = max(datetime.fromisoformat(d["docked_at"]).timestamp() for d in docks)
        first = min(datetime.fromisoformat(d["docked_at"]).timestamp() for d in docks)
        every = admin.get("/api/v1/media", params={"limit": 500}).json()["items"]
        media = [m for m in every if m["kind"] != "other"]  # each camera's log is kept too
        files = sum(1 for v in docked for p in v.rglob("*.MP4"))
        if len(media) != files:
            raise SystemExit(f"{len(media)} recordings registered, {files} docked")
        peak_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{agent.pid}/status").read_text().splitlines()
            if line.startswith("VmHWM:")
        )
        return AgentRun(safe_at - first, now - first, seen - appeared, peak_kb / 1024)
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for volume, moved in zip(volumes, docked, strict=False):
            moved.rename(volume)
        admin.close()
        status.close()


def main() -> None:
    volumes = _volumes()
    sizes = [sum(f.stat().st_size for f in v.rglob("*") if f.is_file()) for v in volumes]
    total_mb = sum(sizes) / 1e6
    print(
        f"footage: {DEVICES} camera volumes of {min(sizes) / 1e6:.0f}-{max(sizes) / 1e6:.0f} MB "
        f"({total_mb:.0f} MB of 1080p H.264/AAC) in {CACHE / 'docks'}"
    )
    print(f"{ROUNDS} rounds, each: (a), (c), then (b); medians reported")
    cold = _drop_caches()
    cp: list[float] = []
    cp_hash: list[float] = []
    runs: list[AgentRun] = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            cp.append(_copy_in_parallel(volumes, Path(tmp)))
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            cp_hash.append(_copy_in_parallel(volumes, Path(tmp), hash_after=True))
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            runs.append(_agent_run(volumes, Path(tmp)))
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        one = _agent_run(volumes[:1], Path(tmp))

    def row(label: str, values: list[float], mb: float = total_mb) -> str:
        med = statistics.median(values)
        runs_text = " ".join(f"{v:.2f}" for v in values)
        return f"{label:<46}{med:6.2f} s {mb / med:6.0f} MB/s   (runs: {runs_text})"

    a = statistics.median(cp)
    safe = statistics.median(r.safe_s for r in runs)
    print(f"page cache dropped before each run: {'yes' if cold else 'no (not permitted)'}")
    print(row(f"(a) {DEVICES} x cp -r in parallel + sync", cp))
    print(row(f"(c) {DEVICES} x (cp -r + sync + sha256sum)", cp_hash))
    print(row("(b) agent, all safe to undock", [r.safe_s for r in runs]))
    print(row("(b) agent, all registered", [r.registered_s for r in runs]))
    debounce = statistics.median(r.debounce_s for r in runs)
    print(f"(b) is timed from the agent opening the docks; before that, its {SETTLE_S} s debounce")
    print(f"    and the watcher's poll took {debounce:.2f} s (median) after the volumes appeared")
    print(f"ratio (a) / (b safe to undock): {a / safe:.2f}   (target >= 0.8)")
    print(f"ratio (a) / (b safe, debounce included): {a / (safe + debounce):.2f}")
    print(f"ratio (c) / (b safe to undock): {statistics.median(cp_hash) / safe:.2f}")
    print(
        f"agent peak RSS, {DEVICES} docked: {max(r.peak_rss_mb for r in runs):.0f} MB (target < 300)"
    )
    print(
        f"agent peak RSS, 1 docked: {one.peak_rss_mb:.0f} MB   "
        f"(safe {one.safe_s:.2f} s, registered {one.registered_s:.2f} s for {sizes[0] / 1e6:.0f} MB)"
    )


if __name__ == "__main__":
    main()
