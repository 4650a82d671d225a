"""The H.264 encoders a station can make browser copies with: one software, three hardware.

Hardware acceleration is a table of presets (`PRESETS`), not `if` ladders. `choose_encoder`
turns the `STATION_TRANSCODE` setting into a preset; `encoder_works` is its real test (device
node, ffmpeg lists the encoder, a one-frame encode). The argv pieces are pure.

The software preset was chosen by measurement (`bench/proxy_presets.py --rounds 3`, median of
3): 25 s of 1080p30 H.265 at 8 Mb/s + AAC (testsrc2, a moving "AB 12345" plate with ~43 px
capitals, temporal noise over all) to H.264 + AAC on this 2-core machine (load ~4 from other
jobs meanwhile). SSIM is against the source scaled to the proxy's size, whole and plate crop:

    candidate               wall s  x real  CPU s    MB  SSIM all  SSIM plate
    decode only (floor)        8.1    3.07   13.5
    1080p ultrafast crf23     12.5    2.01   23.1  17.0    0.909     0.806
    720p ultrafast crf23      10.8    2.31   19.8  16.7    0.958     0.934   <- chosen
    720p ultrafast crf26      11.2    2.23   20.6  15.5    0.958     0.933
    720p superfast crf23      13.4    1.87   25.2  16.6    0.967     0.931
    720p veryfast crf23       17.8    1.41   31.2   7.2    0.959     0.930

No preset reaches 3x real time: decoding the H.265 alone barely does, and is two thirds of the
CPU (540p would save only ~9% of it). So the fastest preset whose plate reads is taken. At 1080p the
5 Mb/s cap starves every preset (plate 0.80-0.82; superfast/veryfast 1080p also run at 0.5-1.2x);
`-tune fastdecode` changes nothing measurable; a fast_bilinear scale saves ~1 CPU-s for 0.92 on
the plate. The cost of ultrafast is size: ~2.3x the bytes of veryfast, held at the cap.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.errors import EncoderUnavailable, FfmpegTimeout, IngestError
from ingest.ffmpeg_run import run_tool

TranscodeChoice = Literal["auto", "software", "vaapi", "qsv", "nvenc"]
"""The `STATION_TRANSCODE` setting: `auto` takes the first hardware encoder that works."""

KEYFRAME_INTERVAL_S = 2
"""A keyframe every 2 s whatever the frame rate, so a browser seeks to within 2 s at once."""

_RENDER_NODE = "/dev/dri/renderD128"
_NVIDIA_NODE = "/dev/nvidia0"
_PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class EncoderPreset:
    """How one H.264 encoder is driven: what goes before `-i`, the filter chain, the codec args."""

    name: str
    """"software", "vaapi", "qsv" or "nvenc" (the `STATION_TRANSCODE` value that picks it)."""
    ffmpeg_encoder: str
    device: str | None
    """The device node the encoder needs (None for software)."""
    max_lines: int
    """The browser copy is scaled down to at most this many lines (aspect kept)."""
    input_args: tuple[str, ...]
    """Before `-i`: the hardware device and decoder acceleration."""
    upload: str
    """Filters after the (software) scale that hand frames to the encoder ("" for software)."""
    codec_args: tuple[str, ...]
    """After `-c:v ENCODER`: preset or quality, rate cap, profile, pixel format, IDR on demand."""
    scale_flags: str = ""
    """The software scaler's algorithm (the scale filter's `flags`); "" is its default, bicubic."""

    @property
    def hardware(self) -> bool:
        return self.device is not None

    def video_filter(self) -> str:
        """The `-vf` chain: at most `max_lines` lines, aspect kept, both sides even, then upload.

        Scaling is done in software before the upload, so it works whether the decoder handed
        over frames from the GPU (downloaded) or from the CPU (a codec the GPU cannot decode).
        """
        scale = f"scale=w=-2:h='trunc(min(ih,{self.max_lines})/2)*2'"
        if self.scale_flags:
            scale += f":flags={self.scale_flags}"
        return f"{scale},{self.upload}" if self.upload else scale

    def output_args(self) -> list[str]:
        """The video part of the output argv: filter chain, encoder and its settings, GOP."""
        return [
            "-vf",
            self.video_filter(),
            "-c:v",
            self.ffmpeg_encoder,
            *self.codec_args,
            "-force_key_frames",
            f"expr:gte(t,n_forced*{KEYFRAME_INTERVAL_S})",
        ]


# Hardware rates: constant quality knobs differ per driver, a capped VBR means the same
# everywhere. The cap is what a reviewer's browser copy needs at 1080p, not the camera's rate.
_HW_RATE = ("-b:v", "4M", "-maxrate", "5M", "-bufsize", "10M")

PRESETS: dict[str, EncoderPreset] = {
    preset.name: preset
    for preset in (
        EncoderPreset(
            name="software",
            ffmpeg_encoder="libx264",
            device=None,
            max_lines=720,
            input_args=(),
            upload="",
            codec_args=(
                "-preset",
                "ultrafast",
                "-crf",
                "23",
                "-maxrate",
                "5M",
                "-bufsize",
                "10M",
                "-profile:v",
                "high",
                "-pix_fmt",
                "yuv420p",
            ),
        ),
        EncoderPreset(
            name="vaapi",
            ffmpeg_encoder="h264_vaapi",
            device=_RENDER_NODE,
            max_lines=1080,
            input_args=(
                "-init_hw_device",
                f"vaapi=va:{_RENDER_NODE}",
                "-hwaccel",
                "vaapi",
                "-hwaccel_device",
                "va",
                "-filter_hw_device",
                "va",
            ),
            upload="format=nv12,hwupload",
            # A forced I frame is an IDR frame in ffmpeg's VAAPI encoder.
            codec_args=("-rc_mode", "VBR", *_HW_RATE, "-profile:v", "high"),
        ),
        EncoderPreset(
            name="qsv",
            ffmpeg_encoder="h264_qsv",
            device=_RENDER_NODE,
            max_lines=1080,
            input_args=(
                "-init_hw_device",
                f"vaapi=va:{_RENDER_NODE}",
                "-init_hw_device",
                "qsv=qs@va",
                "-filter_hw_device",
                "qs",
            ),
            upload="format=nv12,hwupload=extra_hw_frames=64",
            codec_args=(
                "-preset",
                "veryfast",
                *_HW_RATE,
                "-profile:v",
                "high",
                "-forced_idr",
                "1",
            ),
        ),
        EncoderPreset(
            name="nvenc",
            ffmpeg_encoder="h264_nvenc",
            device=_NVIDIA_NODE,
            max_lines=1080,
            # NVENC takes frames from system memory: decoded on the GPU, downloaded, encoded.
            input_args=("-hwaccel", "cuda"),
            upload="",
            codec_args=(
                "-preset",
                "p4",
                "-rc",
                "vbr",
                *_HW_RATE,
                "-profile:v",
                "high",
                "-pix_fmt",
                "yuv420p",
                "-forced-idr",
                "1",
            ),
        ),
    )
}

AUTO_ORDER: tuple[str, ...] = ("nvenc", "vaapi", "qsv")
"""What `auto` tries, in order: an NVIDIA card when there is one, then Intel/AMD through VAAPI
(the widest support), then Quick Sync."""


def choose_encoder(
    choice: TranscodeChoice, *, works: Callable[[EncoderPreset], bool]
) -> EncoderPreset:
    """The preset for the `STATION_TRANSCODE` setting `choice`.

    `auto` is the first preset of `AUTO_ORDER` for which `works` is true, else software;
    `software` is software (never tested: it is the fallback of everything). An explicit
    hardware choice that does not work raises EncoderUnavailable saying what to set instead.
    `works` is `encoder_works` in production and a stand-in in tests.
    """
    if choice == "auto":
        return next(
            (PRESETS[name] for name in AUTO_ORDER if works(PRESETS[name])), PRESETS["software"]
        )
    preset = PRESETS.get(choice)
    if preset is None:
        names = ", ".join(["auto", *PRESETS])
        raise EncoderUnavailable(f"STATION_TRANSCODE={choice!r} is not one of: {names}")
    if preset.hardware and not works(preset):
        raise EncoderUnavailable(
            f"STATION_TRANSCODE={choice}: the {preset.ffmpeg_encoder} encoder does not work on"
            f" this machine (it needs {preset.device} and an ffmpeg built with it). Set"
            " STATION_TRANSCODE=auto to use whatever works, or software."
        )
    return preset


def encoder_works(preset: EncoderPreset) -> bool:
    """True when `preset` can encode here: its device node exists, ffmpeg lists the encoder,
    and one frame of a test picture encodes with the preset's own arguments (a few seconds at
    most). Never raises for a missing device, driver or encoder: that is a False."""
    if preset.device is not None and not Path(preset.device).exists():
        return False
    try:
        listed = run_tool(
            ["ffmpeg", "-hide_banner", "-encoders"], timeout_s=_PROBE_TIMEOUT_S, error=IngestError
        )
    except (IngestError, FfmpegTimeout):
        return False
    if not _lists_encoder(listed.stdout, preset.ffmpeg_encoder):
        return False
    with tempfile.TemporaryDirectory(prefix="encoder-check-") as tmp:
        out = Path(tmp) / "one-frame.mp4"
        try:
            run_tool(one_frame_argv(preset, out), timeout_s=_PROBE_TIMEOUT_S, error=IngestError)
        except (IngestError, FfmpegTimeout):
            return False
        return out.exists() and out.stat().st_size > 0


def one_frame_argv(preset: EncoderPreset, dst: Path) -> list[str]:
    """The ffmpeg command line `encoder_works` runs: one 1280x720 test frame through `preset`."""
    return [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        *preset.input_args,
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-frames:v",
        "1",
        *preset.output_args(),
        "-f",
        "mp4",
        "file:" + str(dst.absolute()),
    ]


def _lists_encoder(encoders_output: bytes, name: str) -> bool:
    """True when `ffmpeg -encoders` output has a line for the encoder `name`."""
    for line in encoders_output.decode("utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1] == name:
            return True
    return False
