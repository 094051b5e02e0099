"""Odd media for tests and bench/bench_odd_media.py, made with PyAV's real encoders: a clip
resampled to a low or variable frame rate, garbage written over the middle of a file, audio with
cover art, a video that also carries cover art. Ground truth for the resampled clips is a verified
cut list mapped by time (``cut_times``, ``cuts_found``)."""
from __future__ import annotations

import base64
import json
import struct
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import av
import cv2
import numpy as np

def rewrite_video(src: str | Path, dst: str | Path, pick: Callable[[float, float], Sequence[float]], *,
                  time_base: Fraction = Fraction(1, 1000), options: dict | None = None,
                  container_format: str | None = None) -> tuple[list[float], list[float]]:
    """Re-encode the first video stream of ``src`` as H.264 into ``dst``, frame by frame (memory does
    not grow with the clip). ``pick(t, t_next)``: the output times (s, exact pts on ``time_base``)
    at which the source frame shown from ``t`` to ``t_next`` appears; none drops it. Times count
    from the first frame. Returns (source frame times, output frame times)."""
    src_times: list[float] = []
    out_times: list[float] = []
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=container_format) as out:
        s = None
        held = None  # (time, rgb): a frame waits for the next one to know how long it is shown

        def emit(t0: float, t1: float, image: np.ndarray) -> None:
            nonlocal s
            for t in pick(t0, t1):
                if s is None:
                    s = out.add_stream("libx264", rate=24)
                    s.width, s.height, s.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
                    s.time_base = time_base
                    s.codec_context.time_base = time_base
                    s.options = {"preset": "veryfast", **(options or {})}
                vf = av.VideoFrame.from_ndarray(image, format="rgb24")
                vf.pts = int(round(t / time_base))
                vf.time_base = time_base
                out_times.append(float(vf.pts * time_base))
                for p in s.encode(vf):
                    out.mux(p)

        first = None
        for f in inp.decode(video=0):
            t = float(f.pts * f.time_base)
            first = t if first is None else first
            t -= first
            src_times.append(t)
            if held is not None:
                emit(held[0], t, held[1])
            held = (t, f.to_ndarray(format="rgb24"))
        if held is not None:
            step = src_times[-1] - src_times[-2] if len(src_times) > 1 else 1 / 25
            emit(held[0], held[0] + step, held[1])
        if s is not None:
            for p in s.encode():
                out.mux(p)
    return src_times, out_times


def frame_times(path: str | Path) -> list[float]:
    """Every frame's time (s) from the first frame, in presentation order."""
    with av.open(str(path)) as c:
        times = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    return [t - times[0] for t in times] if times else []


def at_rate(rate: float) -> Callable[[float, float], list[float]]:
    """``pick`` for a constant ``rate``: each output frame shows the source frame of its time."""
    def pick(t0: float, t1: float) -> list[float]:
        first = int(np.ceil(t0 * rate - 1e-6))
        return [i / rate for i in range(first, int(np.ceil(t1 * rate - 1e-6)))]
    return pick


def thinned(full_seconds: float = 4.0, every: int = 3) -> Callable[[float, float], list[float]]:
    """``pick`` for a variable frame rate: every frame for ``full_seconds``, then every
    ``every``-th frame, each kept at its own time (24 fps becomes 8 fps after 4 s)."""
    count = {"after": 0}

    def pick(t0: float, t1: float) -> list[float]:
        if t0 < full_seconds - 1e-6:
            return [t0]
        keep = count["after"] % every == 0
        count["after"] += 1
        return [t0] if keep else []
    return pick


def every_frame(t0: float, t1: float) -> list[float]:
    return [t0]


def _first_at(times, t: float) -> int:
    return int(np.searchsorted(np.asarray(times), t - 1e-6))


def overwrite_middle(src: str | Path, dst: str | Path, size: int = 65536, seed: int = 1) -> Path:
    """``size`` bytes of random garbage written over the middle of the file (length unchanged)."""
    raw = Path(src).read_bytes()
    mid = len(raw) // 2
    junk = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(raw[:mid] + junk + raw[mid + size:])
    return Path(dst)


def cut_times(fixture: str | Path) -> list[float]:
    """Times (s) of the hard cuts of a verified cut list (``tests/fixtures/shots/*.json``)."""
    d = json.loads(Path(fixture).read_text())
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
