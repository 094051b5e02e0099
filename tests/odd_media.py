"""Odd media made with PyAV's real encoders for the tests and bench/bench_odd_media.py: a film
clip resampled to low or variable frame rates, files with garbage written into the middle, audio
with cover art. Ground truth comes from the verified cut list of the clip, mapped by time."""
from __future__ import annotations

import base64
import json
import struct
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import cv2
import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shots"


def decode_rgb(path: str | Path) -> tuple[list[np.ndarray], list[float]]:
    frames, times = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.pts * f.time_base))
    return frames, times


def write_video(path: str | Path, frames: Sequence[np.ndarray], times: Sequence[float], *,
                time_base: Fraction = Fraction(1, 1000), rate: int = 24, options: dict | None = None,
                container_format: str | None = None) -> Path:
    """H.264 with each frame at its own time (exact pts on ``time_base``): constant or variable rate."""
    with av.open(str(path), "w", format=container_format) as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.time_base = time_base
        s.codec_context.time_base = time_base
        s.options = {"preset": "veryfast", **(options or {})}
        for f, t in zip(frames, times):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = int(round(t / time_base))
            vf.time_base = time_base
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return Path(path)


def resample(frames, times, rate: float) -> tuple[list[np.ndarray], list[float]]:
    """The clip at a constant lower ``rate``: the source frame shown at each output time."""
    times = np.asarray(times)
    n = int(np.floor((times[-1] - times[0] + (times[1] - times[0])) * rate + 1e-6))
    pick = np.clip(np.searchsorted(times, times[0] + np.arange(n) / rate + 1e-6, side="right") - 1, 0, len(frames) - 1)
    return [frames[i] for i in pick], [i / rate for i in range(n)]


def variable_rate(frames, times, full_seconds: float = 4.0, every: int = 3):
    """Every frame for ``full_seconds``, then every ``every``-th frame: each at its own pts."""
    split = _first_at(times, full_seconds)
    keep = list(range(split)) + list(range(split, len(frames), every))
    return [frames[i] for i in keep], [times[i] for i in keep]


def _first_at(times, t: float) -> int:
    return int(np.searchsorted(np.asarray(times), t - 1e-6))


def overwrite_middle(src: str | Path, dst: str | Path, size: int = 65536, seed: int = 1) -> Path:
    """``size`` bytes of random garbage written over the middle of the file (length unchanged)."""
    raw = Path(src).read_bytes()
    mid = len(raw) // 2
    junk = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(raw[:mid] + junk + raw[mid + size:])
    return Path(dst)


def cut_times(fixture: str) -> list[float]:
    """Times (s) of the hard cuts of a verified fixture."""
    d = json.loads((FIXTURES / f"{fixture}.json").read_text())
    fps = float(Fraction(d["fps"]))
    return [t["frame"] / fps for t in d["transitions"] if t["type"] == "cut"]


def cuts_found(boundaries: Sequence[int], frame_times: Sequence[float], truths: Sequence[float],
               tolerance: int = 2) -> tuple[int, int]:
    """(true cuts found, boundaries matching no cut): a cut at time T is the first frame shown at or
    after T; a boundary within ``tolerance`` frames of it (in this file's own frames) finds it."""
    times = np.asarray(frame_times)
    wanted = sorted({_first_at(times, t) for t in truths if 0 < _first_at(times, t) < len(times)})
    free = sorted(boundaries)
    found = 0
    for w in wanted:
        near = [b for b in free if abs(b - w) <= tolerance]
        if near:
            free.remove(min(near, key=lambda b: abs(b - w)))
            found += 1
    return found, len(free)


def _tone(stream, container, rate: int, seconds: float = 2.0) -> None:
    t = np.arange(int(rate * seconds)) / rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    size = stream.codec_context.frame_size or 1024
    for i in range(0, len(x), size):
        fr = av.AudioFrame.from_ndarray(x[None, i:i + size], format="fltp", layout="mono")
        fr.sample_rate = rate
        for p in stream.encode(fr):
            container.mux(p)
    for p in stream.encode():
        container.mux(p)


def _cover_jpeg() -> bytes:
    img = np.full((200, 200, 3), 40, np.uint8)
    cv2.circle(img, (100, 100), 70, (0, 180, 250), -1)
    return cv2.imencode(".jpg", img)[1].tobytes()


def audio_with_cover(path: str | Path) -> Path:
    """A 2 s tone with cover art, by the file's extension: .ogg (Opus, the picture in a
    METADATA_BLOCK_PICTURE comment), .mp3 (ID3 APIC) or .m4a (MP4 covr atom)."""
    path = Path(path)
    jpg = _cover_jpeg()
    if path.suffix == ".ogg":
        block = (struct.pack(">II", 3, 10) + b"image/jpeg" + struct.pack(">I", 0)
                 + struct.pack(">IIIII", 200, 200, 24, 0, len(jpg)) + jpg)
        with av.open(str(path), "w") as c:
            s = c.add_stream("libopus", rate=48000)
            s.layout = "mono"
            s.metadata["METADATA_BLOCK_PICTURE"] = base64.b64encode(block).decode()
            _tone(s, c, 48000)
        return path
    codec, fmt = {".mp3": ("libmp3lame", "mp3"), ".m4a": ("aac", "mp4")}[path.suffix]
    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=44100)
        s.layout = "mono"
        pic = c.add_stream("mjpeg")
        pic.width = pic.height = 200
        pic.pix_fmt = "yuvj420p"
        pic.disposition = av.stream.Disposition.attached_pic
        packet = av.Packet(jpg)
        packet.stream = pic
        packet.pts = packet.dts = 0
        c.mux(packet)
        _tone(s, c, 44100)
    return path


def video_with_cover(path: str | Path, frames: Sequence[np.ndarray], rate: int = 25) -> Path:
    """An MP4 video that also carries cover art (an attached picture stream)."""
    with av.open(str(path), "w", format="mp4") as c:
        pic = c.add_stream("mjpeg")
        pic.width = pic.height = 200
        pic.pix_fmt = "yuvj420p"
        pic.disposition = av.stream.Disposition.attached_pic
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        packet = av.Packet(_cover_jpeg())
        packet.stream = pic
        packet.pts = packet.dts = 0
        c.mux(packet)
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return Path(path)
