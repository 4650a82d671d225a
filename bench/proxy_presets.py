"""Measure libx264 presets for the software browser copy: speed (x real time) and SSIM.

The source is what a body camera records and a browser cannot play: 25 s of 1080p30 H.265 at
~8 Mb/s with AAC, made once and cached outside the repo (~/.cache/evidence-station-bench, or
$BENCH_CACHE). Its picture is testsrc2 with a licence plate ("AB 12345", black on white,
~43 px capitals) moving slowly across it, and temporal noise over everything, so it does not
compress trivially. Each candidate is run through the production command line
(`ingest.renditions.rendition_argv` with a variant of the software `EncoderPreset`), one
ffmpeg at a time, and its wall time taken around `run_tool`. Quality is SSIM against the
source scaled to the candidate's size, over the whole frame and over the plate.

    .venv/bin/python bench/proxy_presets.py [--rounds N] [--only LABEL ...] [--keep DIR]

Prints a table; nothing here runs in the tests. `--keep DIR` also writes a PNG of the plate
from each candidate (to look at).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ingest.encoders import PRESETS, EncoderPreset  # noqa: E402
from ingest.ffmpeg_run import run_tool  # noqa: E402
from ingest.renditions import RenditionPlan, rendition_argv  # noqa: E402

CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "evidence-station-bench"))
SECONDS = 25
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
# The plate's white box in the 1080p source (measured from the drawtext below): it starts at
# x=286 and moves 20 px/s to the right; y=746, 300x72.
PLATE_X0, PLATE_SPEED, PLATE_Y, PLATE_W, PLATE_H = 286, 20, 746, 300, 72

_FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]


def source() -> Path:
    """The cached H.265 source; made on first use (about a minute)."""
    dst = CACHE / f"hevc-1080p30-{SECONDS}s-plate.mp4"
    if dst.exists():
        return dst
    CACHE.mkdir(parents=True, exist_ok=True)
    plate = (
        f"drawtext=fontfile={FONT}:text='AB 12345':fontsize=56:fontcolor=black"
        f":box=1:boxcolor=white:boxborderw=14:x='300+{PLATE_SPEED}*t':y=760"
    )
    picture = f"testsrc2=size=1920x1080:rate=30,{plate},noise=alls=12:allf=t"
    tmp = dst.with_suffix(".part.mp4")
    print(f"making the {SECONDS} s 1080p H.265 source once (about a minute)...", flush=True)
    run_tool(
        [
            *_FFMPEG,
            *("-f", "lavfi", "-i", picture),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"),
            *("-map", "0:v", "-map", "1:a", "-t", str(SECONDS)),
            *("-c:v", "libx265", "-preset", "superfast", "-b:v", "8M"),
            *("-maxrate", "10M", "-bufsize", "16M"),
            *("-x265-params", "log-level=error:keyint=60", "-tag:v", "hvc1"),
            *("-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"),
            *("-f", "mp4", "file:" + str(tmp)),
        ],
        timeout_s=1800,
        what=dst.name,
    )
    tmp.rename(dst)
    return dst


def candidate(
    lines: int, preset: str, crf: int, fastdecode: bool = False, scaler: str = ""
) -> tuple[str, EncoderPreset]:
    """A variant of the production software preset: size, preset, CRF, tune, scaler differ."""
    base = PRESETS["software"]
    args = list(base.codec_args)
    args[args.index("-preset") + 1] = preset
    args[args.index("-crf") + 1] = str(crf)
    if fastdecode:
        args += ["-tune", "fastdecode"]
    label = f"{lines}p {preset} crf{crf}{' fastdecode' if fastdecode else ''}"
    label += f" {scaler}" if scaler else ""
    variant = dataclasses.replace(
        base, max_lines=lines, codec_args=tuple(args), scale_flags=scaler or base.scale_flags
    )
    return label, variant


CANDIDATES = [
    *(
        candidate(lines, preset, crf, fastdecode)
        for lines in (1080, 720)
        for preset in ("ultrafast", "superfast", "veryfast")
        for crf in (23, 26)
        for fastdecode in (False, True)
    ),
    *(
        candidate(720, preset, 23, scaler=scaler)
        for preset in ("ultrafast", "superfast")
        for scaler in ("bicubic", "bilinear", "fast_bilinear")
    ),
    candidate(540, "ultrafast", 23),  # below what the brief allows: how much faster it gets
]


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ffmpeg run; CPU is user + system of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    run_tool(argv, timeout_s=900)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def encode(src: Path, dst: Path, preset: EncoderPreset) -> tuple[float, float]:
    """(wall, CPU) seconds of the production transcode of `src` with `preset`."""
    plan = RenditionPlan("h264", "encode", "encode", float(SECONDS))
    return timed(rendition_argv(src, dst, plan, preset))


def decode_only(src: Path) -> tuple[float, float]:
    """The floor: decoding the H.265 video alone, nothing scaled or encoded."""
    return timed([*_FFMPEG, "-i", str(src), "-map", "0:V:0", "-f", "null", "-"])


def ssim(proxy: Path, src: Path, lines: int) -> tuple[float, float]:
    """(whole frame, plate) SSIM "All" of `proxy` against `src` scaled to `proxy`'s size."""
    height = lines
    width = round(1920 * lines / 1080 / 2) * 2
    s = lines / 1080
    crop = (
        f"crop=w={round(PLATE_W * s)}:h={round(PLATE_H * s)}"
        f":x='({PLATE_X0}+{PLATE_SPEED}*t)*{s}':y={PLATE_Y * s}"
    )
    graph = (
        "[0:v]split[p0][p1];"
        f"[1:v]scale={width}:{height}:flags=bicubic,split[r0][r1];"
        "[p0][r0]ssim[whole];"
        f"[p1]{crop}[pc];[r1]{crop}[rc];[pc][rc]ssim[plate]"
    )
    result = run_tool(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-v",
            "info",
            *("-i", str(proxy), "-i", str(src)),
            *("-filter_complex", graph),
            *("-map", "[whole]", "-map", "[plate]", "-f", "null", "-"),
        ],
        timeout_s=600,
        what=proxy.name,
    )
    found = re.findall(
        r"\[Parsed_ssim_(\d+) @ [^\]]*\] SSIM .*? All:([0-9.]+)", result.stderr.decode()
    )
    by_filter = sorted((int(index), float(value)) for index, value in found)
    if len(by_filter) != 2:
        raise RuntimeError(f"expected two SSIM results, got {found}")
    return by_filter[0][1], by_filter[1][1]


def plate_png(proxy: Path, dst: Path, lines: int, at_s: float = 12.0) -> None:
    s = lines / 1080
    x = round((PLATE_X0 + PLATE_SPEED * at_s) * s) - 20
    run_tool(
        [
            *_FFMPEG,
            *("-ss", str(at_s), "-i", str(proxy), "-frames:v", "1"),
            *(
                "-vf",
                f"crop={round(PLATE_W * s) + 40}:{round(PLATE_H * s) + 40}:{x}:{PLATE_Y * s - 20}",
            ),
            str(dst),
        ],
        timeout_s=60,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="timed runs per candidate (median)")
    parser.add_argument("--only", nargs="*", help="labels to run (default: all)")
    parser.add_argument("--keep", type=Path, help="folder for plate PNGs of each candidate")
    args = parser.parse_args()
    src = source()
    print(f"source: {src} ({src.stat().st_size / 1e6:.1f} MB, {SECONDS} s 1080p30 H.265)")
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(
        f"{'candidate':<40} {'wall s':>7} {'x real':>7} {'CPU s':>6} {'MB':>6}"
        f" {'SSIM all':>9} {'SSIM plate':>11}"
    )
    wall, cpu = decode_only(src)
    print(f"{'(decode only: the floor)':<40} {wall:7.1f} {SECONDS / wall:7.2f} {cpu:6.1f}")
    work = Path(tempfile.mkdtemp(prefix="proxy-presets-"))
    try:
        for label, preset in CANDIDATES:
            if args.only and label not in args.only:
                continue
            out = work / "out.mp4"
            runs = [encode(src, out, preset) for _ in range(args.rounds)]
            wall = statistics.median(run[0] for run in runs)
            cpu = statistics.median(run[1] for run in runs)
            whole, plate = ssim(out, src, preset.max_lines)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                plate_png(out, args.keep / (label.replace(" ", "_") + ".png"), preset.max_lines)
            print(
                f"{label:<40} {wall:7.1f} {SECONDS / wall:7.2f} {cpu:6.1f}"
                f" {out.stat().st_size / 1e6:6.1f} {whole:9.4f} {plate:11.4f}",
                flush=True,
            )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
