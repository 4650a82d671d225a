"""Generate camera-like footage with ffmpeg (lavfi test sources) for tests, the demo and the bench.

Every clip is synthetic (testsrc2 picture, sine tone) so nothing real is ever needed. Clips are
written straight to `dst` (they are not evidence). Generation raises TranscodeError when ffmpeg
fails and FfmpegTimeout when it overruns, like everything else that runs ffmpeg here.
"""

from __future__ import annotations

import os
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.ffmpeg_run import run_tool

_FFMPEG = ("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y")
_AAC_96K = ("-c:a", "aac", "-b:a", "96k")
_PCM_MONO = ("-c:a", "pcm_s16le", "-ac", "1")


@dataclass(frozen=True)
class Mp4Box:
    """One top-level box (atom) of an MP4/MOV file: its type, where it starts, its size."""

    type: str
    offset: int
    size: int


def h264_aac_mp4(
    dst: Path,
    seconds: float = 2,
    size: str = "320x240",
    rate: int = 25,
    creation_time: datetime | None = None,
) -> Path:
    """H.264 + AAC in MP4 with the index (moov) at the end, as cameras write it."""
    output = [*_x264(rate), *_AAC_96K, "-f", "mp4", *_creation_time_args(creation_time)]
    return _generate(dst, seconds, _picture(size, rate), _tone(48000), output)


def mjpeg_pcm_avi(dst: Path, seconds: float = 2, size: str = "320x240", rate: int = 25) -> Path:
    """MJPEG + 16-bit PCM (16 kHz mono) in AVI, as cheap cameras write it."""
    output = ["-c:v", "mjpeg", "-q:v", "6", "-pix_fmt", "yuvj420p", *_PCM_MONO, "-f", "avi"]
    return _generate(dst, seconds, _picture(size, rate), _tone(16000), output)


def hevc_mp4(
    dst: Path,
    seconds: float = 2,
    size: str = "320x240",
    rate: int = 25,
    creation_time: datetime | None = None,
) -> Path:
    """H.265 (hvc1) + AAC in MP4: browsers cannot play it, so the proxy must transcode."""
    x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
    output = [*x265, "-tag:v", "hvc1", "-pix_fmt", "yuv420p", *_AAC_96K, "-f", "mp4"]
    output += _creation_time_args(creation_time)
    return _generate(dst, seconds, _picture(size, rate), _tone(48000), output)


def h264_high10_mp4(dst: Path, seconds: float = 2, size: str = "320x240", rate: int = 25) -> Path:
    """10-bit H.264 (High 10) + AAC in MP4: H.264 that browsers do not decode."""
    output = [*_x264(rate, pix_fmt="yuv420p10le"), *_AAC_96K, "-f", "mp4"]
    return _generate(dst, seconds, _picture(size, rate), _tone(48000), output)


def aac_m4a(dst: Path, seconds: float = 2, sample_rate: int = 48000) -> Path:
    """An AAC tone in an M4A (MP4 audio), as phones' voice recorders write it."""
    return _generate(dst, seconds, [], _tone(sample_rate), [*_AAC_96K, "-f", "ipod"])


def wav(dst: Path, seconds: float = 2, sample_rate: int = 16000) -> Path:
    """A mono 16-bit PCM WAV tone, like a voice recorder's file."""
    return _generate(dst, seconds, [], _tone(sample_rate), [*_PCM_MONO, "-f", "wav"])


def jpeg(dst: Path, size: str = "640x480") -> Path:
    """A single JPEG photo."""
    output = ["-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2", "-update", "1"]
    return _generate(dst, None, _picture(size, 1), [], output)


def dv_pcm(dst: Path, seconds: float = 1, pal: bool = True) -> Path:
    """DV (as DV camcorders write it): 720x576 at 25 fps (PAL) or 720x480 at 30000/1001 (NTSC),
    with 48 kHz stereo PCM. DV has no lower resolutions, so keep clips short (3.6 MB/s)."""
    size, rate = ("720x576", "25") if pal else ("720x480", "30000/1001")
    video = ["-c:v", "dvvideo", "-pix_fmt", "yuv420p" if pal else "yuv411p"]
    output = [*video, "-c:a", "pcm_s16le", "-ac", "2", "-f", "dv"]
    return _generate(dst, seconds, _picture(size, rate), _tone(48000), output)


def h264_ac3_mts(dst: Path, seconds: float = 1, size: str = "320x240", rate: int = 25) -> Path:
    """H.264 + AC-3 in an MPEG transport stream with 4-byte timecodes (AVCHD .MTS/.M2TS)."""
    output = [*_x264(rate), "-c:a", "ac3", "-b:a", "128k", "-f", "mpegts", "-mpegts_m2ts_mode", "1"]
    return _generate(dst, seconds, _picture(size, rate), _tone(48000), output)


def h264_aac_3gp(dst: Path, seconds: float = 1, size: str = "176x144", rate: int = 15) -> Path:
    """H.264 + 8 kHz mono AAC in 3GP, as old phones write it."""
    output = [*_x264(rate), "-c:a", "aac", "-ac", "1", "-b:a", "24k", "-f", "3gp"]
    return _generate(dst, seconds, _picture(size, rate), _tone(8000), output)


def h264_aac_flv(dst: Path, seconds: float = 1, size: str = "320x240", rate: int = 25) -> Path:
    """H.264 + AAC in FLV, as some dash cams and streaming recorders write it."""
    output = [*_x264(rate), "-c:a", "aac", "-b:a", "64k", "-f", "flv"]
    return _generate(dst, seconds, _picture(size, rate), _tone(44100), output)


def h264_opus_mkv(dst: Path, seconds: float = 1, size: str = "320x240", rate: int = 25) -> Path:
    """H.264 + Opus in Matroska, as screen and phone recorders write it."""
    output = [*_x264(rate), "-c:a", "libopus", "-b:a", "32k", "-f", "matroska"]
    return _generate(dst, seconds, _picture(size, rate), _tone(48000), output)


def mpeg2_mp2_ps(dst: Path, seconds: float = 1, size: str = "320x240", rate: int = 25) -> Path:
    """MPEG-2 video + MP2 audio in an MPEG program stream (.mpg, .vob, .mod; also what some
    Hikvision recorders export under a .mp4 name)."""
    video = ["-c:v", "mpeg2video", "-g", str(rate), "-pix_fmt", "yuv420p"]
    output = [*video, "-c:a", "mp2", "-b:a", "128k", "-f", "mpeg"]
    return _generate(dst, seconds, _picture(size, rate), _tone(48000), output)


def raw_h264(dst: Path, seconds: float = 1, size: str = "320x240", rate: int = 25) -> Path:
    """A raw H.264 Annex B elementary stream, no container (DVR `.h264`/`.264` exports).

    Every access unit starts with an access unit delimiter and there are no B-frames, as
    recorders write it (and as `dhav` below needs to cut it into frames).
    """
    output = [*_x264(rate), "-bf", "0", "-x264-params", "aud=1", "-f", "h264"]
    return _generate(dst, seconds, _picture(size, rate), [], output)


_AUD = b"\x00\x00\x00\x01\x09"  # start code + access unit delimiter NAL (type 9)


def dhav(
    dst: Path, seconds: float = 1, width: int = 320, height: int = 240, rate: int = 25
) -> Path:
    """A Dahua DVR `.dav` file: H.264 frames in DHAV chunks, as ffmpeg's `dhav` demuxer reads them.

    Each chunk: "DHAV", type (0xFD key frame, 0xFC other frame), subtype, channel, sub-number,
    frame number, chunk length, packed date, 16-bit millisecond stamp, extension length,
    checksum, extensions (0x80 size in 8-pixel units, 0x81 codec 2 = H.264 and frame rate),
    the frame, then "dhav" and the chunk length again. Date: 8 March 2024 08:30:00 onwards.
    """
    stream = raw_h264(dst.with_name(dst.name + ".h264"), seconds, f"{width}x{height}", rate)
    data = stream.read_bytes()
    stream.unlink()
    starts = [i for i in range(len(data) - 4) if data.startswith(_AUD, i)]
    ext = bytes([0x80, 0, width // 8, height // 8, 0x81, 0, 0x02, rate])
    out = bytearray()
    for number, (begin, end) in enumerate(zip(starts, [*starts[1:], len(data)], strict=True)):
        frame = data[begin:end]
        key = b"\x00\x00\x01\x65" in frame or b"\x00\x00\x01\x25" in frame  # IDR slice
        ms = number * 1000 // rate
        second = ms // 1000
        date = (2024 - 2000) << 26 | 3 << 22 | 8 << 17 | 8 << 12 | (30 + second // 60) << 6
        date |= second % 60
        length = 24 + len(ext) + len(frame) + 8
        out += b"DHAV" + bytes([0xFD if key else 0xFC, 0, 0, 0])
        out += struct.pack("<IIIHBB", number, length, date, ms % 65536, len(ext), 0)
        out += ext + frame + b"dhav" + struct.pack("<I", length)
    dst.write_bytes(bytes(out))
    return dst


def mpeg_audio_frames(dst: Path, frames: int = 3) -> Path:
    """The first `frames` frames of an MP2 stream (64 kb/s, 48 kHz mono: 192 bytes each) and
    nothing else: enough for ffprobe to read as MPEG audio, too little to be sure of it (it
    scores the guess 1 of 100), like a fragment recovered from a damaged card."""
    audio = ["-ac", "1", "-c:a", "mp2", "-b:a", "64k", "-f", "mp2"]
    whole = _generate(dst.with_name(dst.name + ".mp2"), 1, [], _tone(48000), audio)
    dst.write_bytes(whole.read_bytes()[: 192 * frames])
    whole.unlink()
    return dst


def random_bytes(dst: Path, size: int = 64 * 1024, seed: int = 0) -> Path:
    """`size` pseudo-random bytes (the same for the same seed): a file no demuxer should claim,
    like a recorder's container that ffmpeg cannot read."""
    dst.write_bytes(random.Random(seed).randbytes(size))
    return dst


def truncated_mp4(dst: Path, seconds: float = 2) -> Path:
    """An MP4 cut just before its trailing moov: mdat but no index, as when a camera loses power.

    Raises ValueError if the encoder did not put moov after mdat (nothing to cut then).
    """
    h264_aac_mp4(dst, seconds=seconds)
    boxes = {box.type: box for box in mp4_top_level_boxes(dst)}
    if "moov" not in boxes or "mdat" not in boxes or boxes["moov"].offset < boxes["mdat"].offset:
        raise ValueError(f"{dst.name}: expected moov after mdat, got {list(boxes)}")
    os.truncate(dst, boxes["moov"].offset)
    return dst


def index_without_data_mp4(dst: Path, seconds: float = 2) -> Path:
    """An H.264 + AAC MP4 whose index (moov, at the front) lists every frame but whose media data
    is gone: the file ends right after moov, as stubs some devices leave behind do.

    ffprobe reads it without complaint (streams, duration, frame counts); no frame decodes.
    Raises ValueError if ffmpeg did not put moov before mdat (nothing to cut then).
    """
    output = [*_x264(25), *_AAC_96K, "-f", "mp4", "-movflags", "+faststart"]
    _generate(dst, seconds, _picture("320x240", 25), _tone(48000), output)
    boxes = {box.type: box for box in mp4_top_level_boxes(dst)}
    if "moov" not in boxes or "mdat" not in boxes or boxes["moov"].offset > boxes["mdat"].offset:
        raise ValueError(f"{dst.name}: expected moov before mdat, got {list(boxes)}")
    os.truncate(dst, boxes["moov"].offset + boxes["moov"].size)
    return dst


def claim_duration(mp4: Path, claimed_s: int) -> Path:
    """Rewrite the movie header (mvhd) of an ffmpeg-written MP4 so it claims `claimed_s` seconds.

    A corrupt or hostile header for the time-limit tests: ffprobe then reports the claim as the
    container's duration, while the samples and each stream's own duration stay true. The
    header's timescale is set to 1 so claims up to 2**32 - 1 s fit its 32-bit field.
    Raises ValueError when the claim does not fit or the file has no version-0 mvhd.
    """
    if not 0 < claimed_s < 2**32:
        raise ValueError(f"claimed_s must fit in 32 bits, got {claimed_s}")
    moov = next((box for box in mp4_top_level_boxes(mp4) if box.type == "moov"), None)
    if moov is None:
        raise ValueError(f"{mp4.name}: no moov box")
    with mp4.open("r+b") as f:
        f.seek(moov.offset + 8)
        children = f.read(moov.size - 8)
        offset = 0
        while offset + 9 <= len(children):
            size, raw_type = struct.unpack_from(">I4s", children, offset)
            if raw_type == b"mvhd" and children[offset + 8] == 0:
                # version(1) flags(3) creation(4) modification(4), then timescale and duration
                f.seek(moov.offset + 8 + offset + 20)
                f.write(struct.pack(">II", 1, claimed_s))
                return mp4
            if size < 8:
                break
            offset += size
    raise ValueError(f"{mp4.name}: no version-0 mvhd box in moov")


def mjpeg_avi_corrupt_from(
    dst: Path, corrupt_from_s: float, seconds: float = 2, rate: int = 25
) -> Path:
    """An MJPEG + PCM AVI whose pictures from `corrupt_from_s` on are zeroed, index intact.

    As a failing memory card leaves a recording: the first pictures decode, the later ones do
    not, so ffmpeg seeking there decodes nothing and exits with an error (status 69).
    """
    mjpeg_pcm_avi(dst, seconds=seconds, rate=rate)
    first_bad = round(corrupt_from_s * rate)
    data = bytearray(dst.read_bytes())
    movi = next(
        (off + 12, off + 8 + size)
        for tag, off, size in _riff_chunks(data, 12, len(data))
        if tag == b"LIST" and data[off + 8 : off + 12] == b"movi"
    )
    frame = 0
    for tag, off, size in _riff_chunks(data, *movi):
        if tag == b"00dc":
            if frame >= first_bad:
                data[off + 8 : off + 8 + size] = bytes(size)
            frame += 1
    dst.write_bytes(data)
    return dst


def _riff_chunks(data: bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(fourcc, offset, payload size) of the RIFF chunks between `start` and `end`."""
    offset = start
    while offset + 8 <= end:
        tag, size = struct.unpack_from("<4sI", data, offset)
        yield tag, offset, size
        offset += 8 + size + (size & 1)


def hls_disguised_as_mp4(dst: Path, secret_path: Path) -> Path:
    """An HLS playlist saved as .mp4 naming a local file (a hostile file for the security tests).

    Name `secret_path` with a media-like suffix (.ts, .mp4): the hls demuxer only opens those.
    """
    dst.write_text(
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:10\n"
        "#EXTINF:10.0,\n"
        f"{secret_path.absolute()}\n"
        "#EXT-X-ENDLIST\n"
    )
    return dst


def mp4_top_level_boxes(path: Path) -> list[Mp4Box]:
    """The top-level boxes of an MP4/MOV file in file order (reads only box headers).

    Stops at the first header that does not fit in the file (a truncated last box is listed
    with the size its header claims).
    """
    boxes: list[Mp4Box] = []
    end = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset + 8 <= end:
            f.seek(offset)
            size, raw_type = struct.unpack(">I4s", f.read(8))
            if size == 1:
                (size,) = struct.unpack(">Q", f.read(8))
            elif size == 0:
                size = end - offset
            boxes.append(Mp4Box(raw_type.decode("latin-1"), offset, size))
            if size < 8:
                break
            offset += size
    return boxes


def _picture(size: str, rate: int | str) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]


def _tone(sample_rate: int) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={sample_rate}"]


def _x264(rate: int, pix_fmt: str = "yuv420p") -> list[str]:
    """libx264 at its veryfast preset with a keyframe every second."""
    return ["-c:v", "libx264", "-preset", "veryfast", "-g", str(rate), "-pix_fmt", pix_fmt]


def _creation_time_args(creation_time: datetime | None) -> list[str]:
    """`-metadata creation_time=...` in UTC; a naive datetime is taken to be UTC already."""
    if creation_time is None:
        return []
    if creation_time.tzinfo is not None:
        creation_time = creation_time.astimezone(UTC).replace(tzinfo=None)
    return ["-metadata", f"creation_time={creation_time.isoformat(timespec='microseconds')}Z"]


def _generate(
    dst: Path, seconds: float | None, picture: list[str], tone: list[str], output: list[str]
) -> Path:
    """Run ffmpeg from the lavfi `picture` and/or `tone` input ([] for none) into `dst` with the
    `output` options (codecs, muxer), `seconds` long (None: as long as `output` says, e.g. one
    frame); returns `dst`. With both inputs, the picture is the video and the tone the audio."""
    maps = ["-map", "0:v", "-map", "1:a"] if picture and tone else []
    length = ["-t", f"{seconds:g}"] if seconds is not None else []
    argv = [*_FFMPEG, *picture, *tone, *maps, *length, *output, "file:" + str(dst.absolute())]
    # Generous: the benchmark encodes minutes of 1080p on two cores.
    run_tool(argv, timeout_s=max(60.0, 10.0 * (seconds or 0.0)), what=dst.name)
    return dst
