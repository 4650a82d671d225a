"""Benchmark `station import` against plain `cp -r` of the same footage, in the same run.

Generates >= 500 MB of 1080p H.264/AAC footage once (cached outside the repo, in
~/.cache/evidence-station-bench), then times on the same machine, one after the other:
  (a) cp -r + sync                     the floor: what copying alone costs
  (b) cp -r + sync + sha256sum         what a careful manual copy costs
  (c) station import (local store, SQLite, api in a subprocess), until safe to undock
      (every file staged and hashed) and until all registered
and prints the ratios c/a and c/b and the importer's peak RSS.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest.ffmpeg_run import run_tool  # noqa: E402

CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "evidence-station-bench"))
STATION = str(Path(sys.executable).with_name("station"))
CLIP_SECONDS = 60
SEGMENTS = 7  # 7 one-minute segments plus one three-minute recording: ~600 MB
ROUNDS = 3


def _footage() -> Path:
    """The camera volume: DCIM/ with 1080p H.264/AAC files, each with distinct bytes."""
    volume = CACHE / "volume"
    done = CACHE / "volume.done"
    if done.exists():
        return volume
    shutil.rmtree(volume, ignore_errors=True)
    (volume / "DCIM").mkdir(parents=True)
    master = CACHE / "master.mp4"
    if not master.exists():
        print(f"generating {CLIP_SECONDS} s of 1080p H.264/AAC footage (once)...", flush=True)
        run_tool(
            [
                "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1920x1080:rate=30",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=48000",
                "-t",
                str(CLIP_SECONDS),
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-b:v",
                "8M",
                "-maxrate",
                "8M",
                "-bufsize",
                "16M",
                "-g",
                "30",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                str(master),
            ],
            timeout_s=600,
        )
    start = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    for n in range(SEGMENTS):
        # A remux with its own creation time: distinct bytes (and sha256) at no encoding cost.
        at = start + timedelta(minutes=n)
        run_tool(
            [
                "ffmpeg",
                "-y",
                "-loglevel",
                "error",
                "-i",
                str(master),
                "-c",
                "copy",
                "-metadata",
                f"creation_time={at.isoformat()}",
                str(volume / "DCIM" / f"ZFY_010001_{at:%Y%m%d_%H%M%S}_{n + 1:04d}.MP4"),
            ],
            timeout_s=120,
        )
    _concat_master(
        3, volume / "DCIM" / "ZFY_010001_20261127_090000_0100.MP4", "2026-11-27T09:00:00Z"
    )
    done.touch()
    return volume


def _concat_master(copies: int, dst: Path, creation_time: str) -> None:
    """`copies` minutes of the master clip back to back, remuxed (no encoding) into `dst`."""
    listing = dst.with_name(dst.name + ".txt")
    listing.write_text(f"file '{CACHE / 'master.mp4'}'\n" * copies)
    run_tool(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-metadata",
            f"creation_time={creation_time}",
            str(dst),
        ],
        timeout_s=60 + 15 * copies,
    )
    listing.unlink()


def _single_file_volume(name: str, minutes: int) -> Path:
    """A volume holding one recording of `minutes` of the master clip (for the memory check)."""
    volume = CACHE / name
    target = volume / "DCIM" / f"ZFY_010001_20261127_100000_{minutes:04d}.MP4"
    if target.exists():
        return volume
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(".part.mp4")
    _concat_master(minutes, tmp, "2026-11-27T10:00:00Z")
    tmp.rename(target)
    return volume


def _drop_caches() -> bool:
    """Start each run with a cold page cache when the machine lets us (root, not a container)."""
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _timed(argv: list[str] | str) -> float:
    began = time.perf_counter()
    subprocess.run(argv, check=True, shell=isinstance(argv, str))
    return time.perf_counter() - began


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the api did not start; see its output above")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the api did not become healthy within 30 s")


def _import_once(
    volume: Path, work: Path, *, wrap: Sequence[str] = (), extra_args: Sequence[str] = ()
) -> dict[str, object]:
    """One `station import` of the volume into a fresh catalogue, store and journal; `wrap`
    goes before its argv (the USB bench runs it in a throttled cgroup), `extra_args` after."""
    port = _free_port()
    env = {
        **os.environ,
        "STATION_DATABASE_URL": f"sqlite:///{work}/station.db",
        "STATION_STORAGE_URL": f"file://{work}/objects",
        "STATION_STATE_DIR": str(work / "state"),
        "STATION_API_URL": f"http://127.0.0.1:{port}",
        "STATION_ID": "bench",
    }
    token = (
        subprocess.run(
            [STATION, "token", "create", "--role", "station", "--station-id", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    env["STATION_API_TOKEN"] = token
    api = subprocess.Popen(
        [STATION, "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(env["STATION_API_URL"], api)
        _drop_caches()
        summary_path = work / "summary.json"
        subprocess.run(
            [
                *wrap,
                STATION,
                "import",
                str(volume),
                "--device-id",
                "bench-cam",
                "--summary-json",
                str(summary_path),
                *extra_args,
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        api.kill()
        api.wait()
    summary: dict[str, object] = json.loads(summary_path.read_text())
    if not summary["ok"]:
        raise SystemExit("the import did not register every file: " + json.dumps(summary["files"]))
    return summary


def main() -> None:
    volume = _footage()
    files = sorted((volume / "DCIM").iterdir())
    total = sum(f.stat().st_size for f in files)
    print(f"footage: {len(files)} files, {total / 1e6:.0f} MB of 1080p H.264/AAC in {volume}")
    print(f"{ROUNDS} rounds, each: (a), (b), (c) one after the other; medians reported")

    cp, cp_hash, undock, registered, rss = [], [], [], [], []
    cold = _drop_caches()
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            work = Path(tmp)
            _drop_caches()
            cp.append(_timed(f"cp -r '{volume}' '{work}/cp' && sync"))
            _drop_caches()
            cp_hash.append(
                _timed(
                    f"cp -r '{volume}' '{work}/cph' && sync && sha256sum '{work}'/cph/DCIM/* >/dev/null"
                )
            )
            shutil.rmtree(work / "cp")
            shutil.rmtree(work / "cph")
            summary = _import_once(volume, work)
            undock.append(float(summary["safe_to_undock_s"]))  # type: ignore[arg-type]
            registered.append(float(summary["registered_s"]))  # type: ignore[arg-type]
            rss.append(float(summary["peak_rss_mb"]))  # type: ignore[arg-type]

    a, b = statistics.median(cp), statistics.median(cp_hash)
    u, r = statistics.median(undock), statistics.median(registered)
    mb = total / 1e6

    def row(label: str, values: list[float]) -> str:
        runs = " ".join(f"{v:.2f}" for v in values)
        med = statistics.median(values)
        return f"{label:<38}{med:6.2f} s {mb / med:6.0f} MB/s   (runs: {runs})"

    print(
        f"page cache dropped before each run: {'yes' if cold else 'no (not permitted: warm runs)'}"
    )
    print(row("(a) cp -r + sync", cp))
    print(row("(b) cp -r + sync + sha256sum", cp_hash))
    print(row("(c) station import, safe to undock", undock))
    print(row("(c) station import, all registered", registered))
    print(f"ratio safe-to-undock / (a): {u / a:.2f}   (target <= 1.3)")
    print(f"ratio all-registered / (a): {r / a:.2f}   (target <= 2.0)")
    print(f"ratio safe-to-undock / (b): {u / b:.2f}")
    print(f"ratio all-registered / (b): {r / b:.2f}")
    largest = max(f.stat().st_size for f in files) / 1e6
    print(f"importer peak RSS: {max(rss):.0f} MB (largest file {largest:.0f} MB)")
    print("(c) is timed inside the importer, from scanning the volume; process start-up excluded")

    # Memory must not grow with file size: import one 1-minute file, then one 20-minute file.
    peaks = []
    for name, minutes in (("one-minute", 1), ("twenty-minutes", 20)):
        single = _single_file_volume(name, minutes)
        size = sum(f.stat().st_size for f in (single / "DCIM").iterdir())
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            peak = float(_import_once(single, Path(tmp))["peak_rss_mb"])  # type: ignore[arg-type]
        peaks.append(peak)
        print(f"importer peak RSS importing one {size / 1e6:5.0f} MB file: {peak:.0f} MB")
    print(f"peak RSS ratio, 20x the file size: {peaks[1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
