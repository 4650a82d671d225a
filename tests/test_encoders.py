"""H.264 encoder presets: a table, argv that is exactly what each encoder needs, honest choice."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from ingest.encoders import (
    AUTO_ORDER,
    PRESETS,
    EncoderPreset,
    TranscodeChoice,
    choose_encoder,
    encoder_works,
    one_frame_argv,
)
from ingest.errors import EncoderUnavailable, IngestError

# --- the table and its argv ------------------------------------------------------------------


def test_the_table_holds_one_software_and_three_hardware_presets() -> None:
    assert {name: (p.ffmpeg_encoder, p.device) for name, p in PRESETS.items()} == {
        "software": ("libx264", None),
        "vaapi": ("h264_vaapi", "/dev/dri/renderD128"),
        "qsv": ("h264_qsv", "/dev/dri/renderD128"),
        "nvenc": ("h264_nvenc", "/dev/nvidia0"),
    }
    assert all(name == preset.name for name, preset in PRESETS.items())
    assert [p.hardware for p in PRESETS.values()] == [False, True, True, True]


def test_software_preset_is_the_measured_libx264_setting_scaled_to_720_lines() -> None:
    preset = PRESETS["software"]
    assert preset.input_args == ()
    assert preset.output_args() == [
        "-vf",
        "scale=w=-2:h='trunc(min(ih,720)/2)*2'",
        "-c:v",
        "libx264",
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
        "-force_key_frames",
        "expr:gte(t,n_forced*2)",
    ]


def test_vaapi_opens_the_render_node_decodes_on_it_and_uploads_after_a_software_scale() -> None:
    preset = PRESETS["vaapi"]
    assert preset.input_args == (
        "-init_hw_device",
        "vaapi=va:/dev/dri/renderD128",
        "-hwaccel",
        "vaapi",
        "-hwaccel_device",
        "va",
        "-filter_hw_device",
        "va",
    )
    assert preset.video_filter() == "scale=w=-2:h='trunc(min(ih,1080)/2)*2',format=nv12,hwupload"
    out = preset.output_args()
    assert out[out.index("-c:v") + 1] == "h264_vaapi"
    assert " ".join(out).count("-rc_mode VBR -b:v 4M -maxrate 5M -bufsize 10M") == 1


def test_qsv_derives_its_device_from_vaapi_and_forces_idr_keyframes() -> None:
    preset = PRESETS["qsv"]
    assert preset.input_args == (
        "-init_hw_device",
        "vaapi=va:/dev/dri/renderD128",
        "-init_hw_device",
        "qsv=qs@va",
        "-filter_hw_device",
        "qs",
    )
    assert preset.video_filter().endswith(",format=nv12,hwupload=extra_hw_frames=64")
    joined = " ".join(preset.output_args())
    assert "-c:v h264_qsv -preset veryfast -b:v 4M -maxrate 5M -bufsize 10M" in joined
    assert "-forced_idr 1" in joined


def test_nvenc_takes_frames_from_memory_without_an_upload_filter() -> None:
    preset = PRESETS["nvenc"]
    assert preset.input_args == ("-hwaccel", "cuda")
    assert preset.video_filter() == "scale=w=-2:h='trunc(min(ih,1080)/2)*2'"
    joined = " ".join(preset.output_args())
    assert "-c:v h264_nvenc -preset p4 -rc vbr -b:v 4M -maxrate 5M -bufsize 10M" in joined
    assert "-pix_fmt yuv420p -forced-idr 1" in joined


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_caps_its_rate_and_puts_a_keyframe_every_two_seconds(name: str) -> None:
    out = PRESETS[name].output_args()
    assert out[-2:] == ["-force_key_frames", "expr:gte(t,n_forced*2)"]
    assert out[out.index("-maxrate") + 1] == "5M" and "-bufsize" in out
    assert out[:2] == ["-vf", PRESETS[name].video_filter()]
    assert "-profile:v" in out


def test_the_one_frame_check_runs_the_presets_own_arguments_on_a_test_picture() -> None:
    preset = PRESETS["vaapi"]
    argv = one_frame_argv(preset, Path("/tmp/x/one.mp4"))
    lavfi = argv.index("-f")
    assert argv[6:lavfi] == list(preset.input_args)  # before the input
    assert argv[lavfi : lavfi + 4] == ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"]
    assert argv[argv.index("-frames:v") + 1] == "1"
    assert preset.output_args() == argv[argv.index("-frames:v") + 2 : -3]
    assert argv[-1] == "file:/tmp/x/one.mp4"


# --- choosing ---------------------------------------------------------------------------------


def _works_for(*names: str) -> tuple[list[str], Callable[[EncoderPreset], bool]]:
    asked: list[str] = []

    def works(preset: EncoderPreset) -> bool:
        asked.append(preset.name)
        return preset.name in names

    return asked, works


def test_auto_takes_software_when_no_hardware_works_after_trying_each_in_order() -> None:
    asked, works = _works_for()
    assert choose_encoder("auto", works=works) is PRESETS["software"]
    assert asked == list(AUTO_ORDER) == ["nvenc", "vaapi", "qsv"]


@pytest.mark.parametrize(
    ("working", "expected"),
    [(("vaapi", "qsv"), "vaapi"), (("qsv",), "qsv"), (("nvenc", "vaapi", "qsv"), "nvenc")],
)
def test_auto_takes_the_first_hardware_preset_that_works(
    working: tuple[str, ...], expected: str
) -> None:
    _, works = _works_for(*working)
    assert choose_encoder("auto", works=works).name == expected


def test_software_is_taken_as_asked_without_testing_it() -> None:
    asked, works = _works_for()
    assert choose_encoder("software", works=works) is PRESETS["software"]
    assert asked == []


@pytest.mark.parametrize("choice", ["vaapi", "qsv", "nvenc"])
def test_an_explicit_hardware_choice_that_works_is_taken(choice: str) -> None:
    _, works = _works_for(choice)
    assert choose_encoder(cast(TranscodeChoice, choice), works=works) is PRESETS[choice]


@pytest.mark.parametrize("choice", ["vaapi", "qsv", "nvenc"])
def test_an_explicit_hardware_choice_that_does_not_work_says_what_to_set_instead(
    choice: str,
) -> None:
    _, works = _works_for("software", *(n for n in AUTO_ORDER if n != choice))
    with pytest.raises(EncoderUnavailable) as caught:
        choose_encoder(cast(TranscodeChoice, choice), works=works)
    message = str(caught.value)
    assert f"STATION_TRANSCODE={choice}" in message
    assert PRESETS[choice].ffmpeg_encoder in message and str(PRESETS[choice].device) in message
    assert "STATION_TRANSCODE=auto" in message and "software" in message
    assert isinstance(caught.value, IngestError)


def test_an_unknown_choice_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(EncoderUnavailable, match="auto, software, vaapi, qsv, nvenc"):
        choose_encoder(cast(TranscodeChoice, "cuda"), works=lambda preset: True)


# --- on this machine (no GPU: only software works) --------------------------------------------


def test_software_works_here_and_auto_picks_it() -> None:
    assert encoder_works(PRESETS["software"])
    assert choose_encoder("auto", works=encoder_works) is PRESETS["software"]


@pytest.mark.parametrize("name", ["vaapi", "qsv", "nvenc"])
def test_hardware_presets_do_not_work_here_and_asking_for_one_is_an_error(name: str) -> None:
    assert not Path(str(PRESETS[name].device)).exists()  # the machine has no GPU
    assert not encoder_works(PRESETS[name])
    with pytest.raises(EncoderUnavailable):
        choose_encoder(cast(TranscodeChoice, name), works=encoder_works)


def test_a_missing_device_node_is_enough_to_fail_even_a_working_encoder() -> None:
    assert not encoder_works(dataclasses.replace(PRESETS["software"], device="/dev/no-such-node"))


def test_an_encoder_ffmpeg_does_not_list_does_not_work() -> None:
    assert not encoder_works(dataclasses.replace(PRESETS["software"], ffmpeg_encoder="h264_nope"))


def test_a_listed_encoder_whose_one_frame_encode_fails_does_not_work() -> None:
    """h264_nvenc is listed by this ffmpeg but has no CUDA here: only the encode can tell."""
    listed = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, check=True
    ).stdout
    assert b" h264_nvenc " in listed
    assert not encoder_works(dataclasses.replace(PRESETS["nvenc"], device=None))


def test_the_software_preset_encodes_a_real_picture_with_its_own_argv(tmp_path: Path) -> None:
    """What `encoder_works` runs, run here by hand: an MP4 with one 720-line H.264 frame."""
    out = tmp_path / "one.mp4"
    subprocess.run(one_frame_argv(PRESETS["software"], out), check=True, capture_output=True)
    shown = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,height,nb_frames",
            "-of",
            "csv=p=0",
            str(out),
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    assert shown == "h264,720,1"
