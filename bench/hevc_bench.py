"""Benchmark a shift of 1080p H.265 footage: originals registered long before the proxies.

Makes 8 minutes of 1080p30 H.265/AAC once (eight one-minute camera segments with distinct
bytes, cached in ~/.cache/evidence-station-bench), then times on this machine, one after
the other, with the page cache dropped before each:
  (a) cp -r + sync                      the floor: what copying alone costs
  (b) station import (local store, SQLite, api in a subprocess): until every original is
      registered (`originals_registered_s`) and until its browser copies are made too
      (`derived_done_s`: the HEVC remux at once, the H.264 proxy by the software preset)
and prints (b originals)/(a), and the backlog's throughput in × real time (minutes of
footage per minute of backlog work).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from import_bench import CACHE, _drop_caches, _import_once, _timed  # noqa: E402

from ingest.ffmpeg_run import run_tool  # noqa: E402

SEGMENTS = 8
SEGMENT_S = 60
ROUNDS = 1  # the backlog alone runs minutes; one round, reported with its parts


def _master() -> Path:
    master = CACHE / "hevc-master-60s.mp4"
    if master.exists():
        return master
    print(f"generating {SEGMENT_S} s of 1080p30 H.265/AAC footage (once, a few minutes)...")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = master.with_name(".part-" + master.name)
    run_tool(
        [
            "ffmpeg", "-y", "-loglevel", "error",
            "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30,noise=alls=8:allf=t",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(SEGMENT_S),
            "-c:v", "libx265", "-preset", "ultrafast", "-b:v", "8M", "-tag:v", "hvc1",
            "-x265-params", "log-level=error",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mp4", str(tmp),
        ],
        timeout_s=3600,
    )  # fmt: skip
    tmp.rename(master)
    return master


def _footage() -> Path:
    volume = CACHE / "hevc-volume"
    done = CACHE / "hevc-volume.done"
    if done.exists():
        return volume
    shutil.rmtree(volume, ignore_errors=True)
    (volume / "DCIM").mkdir(parents=True)
    master = _master()
    start = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    for n in range(SEGMENTS):
        at = start + timedelta(minutes=n)
        # A remux with its own creation time: distinct bytes (and sha256) at no encoding cost.
        run_tool(
            [
                "ffmpeg", "-y", "-loglevel", "error", "-i", str(master), "-c", "copy",
                "-metadata", f"creation_time={at.isoformat()}",
                str(volume / "DCIM" / f"ZFY_010001_{at:%Y%m%d_%H%M%S}_{n + 1:04d}.MP4"),
            ],
            timeout_s=120,
        )  # fmt: skip
    done.touch()
    return volume


def main() -> None:
    volume = _footage()
    files = sorted((volume / "DCIM").iterdir())
    total = sum(f.stat().st_size for f in files)
    footage_s = SEGMENTS * SEGMENT_S
    print(
        f"footage: {len(files)} files, {total / 1e6:.0f} MB, {footage_s / 60:.0f} min of "
        f"1080p30 H.265/AAC in {volume}"
    )
    cp, originals, derived = [], [], []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            work = Path(tmp)
            _drop_caches()
            cp.append(_timed(f"cp -r '{volume}' '{work}/cp' && sync"))
            shutil.rmtree(work / "cp")
            summary = _import_once(volume, work)
            originals.append(float(summary["originals_registered_s"]))  # type: ignore[arg-type]
            derived.append(float(summary["derived_done_s"]))  # type: ignore[arg-type]
            statuses = {f["proxy_status"] for f in summary["files"]}  # type: ignore[union-attr,index]
            if statuses != {"ready"}:
                raise SystemExit(f"not every browser copy was made: {statuses}")
    a, o, d = (statistics.median(v) for v in (cp, originals, derived))
    backlog_s = d - o

    def runs(values: list[float]) -> str:
        return " ".join(f"{v:.1f}" for v in values)

    print(f"(a) cp -r + sync                         {a:7.1f} s   (runs: {runs(cp)})")
    print(f"(b) station import, originals registered {o:7.1f} s   (runs: {runs(originals)})")
    print(f"(b) station import, browser copies done  {d:7.1f} s   (runs: {runs(derived)})")
    print(f"ratio originals-registered / (a): {o / a:.2f}")
    print(
        f"backlog: {backlog_s:.1f} s for {footage_s} s of footage = "
        f"{footage_s / backlog_s:.2f}x real time (goal >= 3x)"
    )


if __name__ == "__main__":
    main()
