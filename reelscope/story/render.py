"""Render a summary: the chosen spans of a video, joined into one MP4 (H.264 + AAC), with PyAV.

Joints: a short video cross-dissolve (``crossfade`` seconds, default 0.3; 0 for hard cuts) and,
on the soundtrack, an equal-power crossfade of the same length (cos/sin gains: constant
loudness for unrelated material), so no joint clicks. With hard cuts the audio still gets
``audio_fade`` (20 ms) linear fades out and in at every joint; the whole soundtrack fades in
and out by the same amount.

A span that starts where the previous one ends in the source (consecutive shots) simply continues
it: no dissolve, no fades.

Time: each span is resampled onto the output's constant frame grid (the source's average frame
rate): output frame i of a span shows the last source frame whose time is <= span start +
i / fps, so variable-frame-rate sources keep their timing. Audio is cut on the same grid
(48 kHz), so picture and sound stay in sync across any number of joints. Rotation metadata is
applied. Each span is reached by seeking, so rendering cost follows the summary's length, not
the source's. The file is written to a temporary name and renamed when complete.
"""
from __future__ import annotations

import math
import os
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import av
import numpy as np

from reelscope.errors import MediaError
from reelscope.media.info import open_container, probe, video_stream

AUDIO_RATE = 48000
AUDIO_CHUNK = 1024


@dataclass
class RenderResult:
    path: Path
    seconds: float  # duration of the output
    frames: int
    segments: int
    has_audio: bool
    wall_seconds: float
    width: int
    height: int
    fps: Fraction


def span_frames(seconds: float, fps: float) -> int:
    """Output frames of a span: rounded down (never longer than planned), at least one."""
    return max(1, int(math.floor(seconds * fps + 1e-6)))


@dataclass
class Layout:
    """Where each span lands: its (possibly adjusted) source start, its frame count, and per joint
    the frames of overlap and whether the joint is continuous (the next span starts where this
    one ends in the source: played straight through, no dissolve, no fades)."""
    starts: list[float]
    counts: list[int]
    overlaps: list[int]
    continuous: list[bool]

    @property
    def frames(self) -> int:
        return sum(self.counts) - sum(self.overlaps)


def layout(spans: Sequence[tuple[float, float]], fps: float, crossfade: float) -> Layout:
    """Frame counts are rounded down (never longer than planned); a span starting within 1.5
    frames of where the previous one really ended (after rounding) continues it exactly; an
    overlap is the crossfade, at most half of either neighbour."""
    starts, counts, cont = [], [], []
    for k, (a, b) in enumerate(spans):
        if k:
            prev_end = starts[-1] + counts[-1] / fps
            cont.append(abs(a - prev_end) <= 1.5 / fps)
            if cont[-1]:
                a = prev_end
        starts.append(a)
        counts.append(span_frames(b - a, fps))
    overlaps = [0 if cont[j] else min(int(round(crossfade * fps)), counts[j] // 2, counts[j + 1] // 2)
                for j in range(len(counts) - 1)]
    return Layout(starts, counts, overlaps, cont)


def output_seconds(spans: Sequence[tuple[float, float]], fps: float, crossfade: float) -> float:
    """The duration a render of ``spans`` will have (the joints overlap)."""
    return layout(spans, fps, crossfade).frames / fps if spans else 0.0


def _out_size(w: int, h: int, max_height: int) -> tuple[int, int]:
    if max_height and h > max_height:
        w, h = w * max_height / h, max_height
    return max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)


# ---- video ---------------------------------------------------------------------------------------
def _decode_span(container, stream, start: float, count: int, fps: Fraction, size: tuple[int, int],
                 rotation: int) -> Iterator[np.ndarray]:
    """``count`` yuv420p frames (as (H*3/2, W) uint8 arrays) on the grid start + i / fps."""
    tb = stream.time_base
    container.seek(max(0, int(math.floor(start / tb))) if start > 0 else 0, stream=stream, backward=True)
    w, h = size
    k = (rotation // 90) % 4

    def convert(fr) -> np.ndarray:
        if not k:
            return fr.reformat(width=w, height=h, format="yuv420p").to_ndarray()
        sw, sh = (h, w) if k % 2 else (w, h)  # stored orientation
        rgb = np.ascontiguousarray(np.rot90(fr.reformat(width=sw, height=sh, format="rgb24").to_ndarray(), k))
        return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()

    half = 0.5 / float(fps)
    current = None  # (time, decoded frame)
    pending = None
    decoded = container.decode(stream)
    exhausted = False
    cache_for = None
    cached = None
    for i in range(count):
        target = start + i / float(fps) + half
        while not exhausted:
            if pending is None:
                try:
                    pending = next(decoded)
                except StopIteration:
                    exhausted = True
                    break
                except av.error.FFmpegError:
                    continue
            t = float(pending.pts * tb) if pending.pts is not None else (current[0] + 1 / float(fps) if current else start)
            if t <= target or current is None:
                current, pending = (t, pending), None
            else:
                break
        if current is None:
            raise MediaError(container.name, f"no decodable video frame at {start:.3f}s")
        if cache_for is not current[1]:
            cache_for, cached = current[1], convert(current[1])
        yield cached


# ---- audio ---------------------------------------------------------------------------------------
def _span_audio(container, stream, start: float, n: int, layout: str) -> np.ndarray:
    """(channels, n) float32 samples at 48 kHz from ``start`` seconds (zeros past the end)."""
    channels = 2 if layout == "stereo" else 1
    if n <= 0:
        return np.zeros((channels, 0), np.float32)
    tb = stream.time_base
    container.seek(max(0, int(math.floor(max(0.0, start - 0.5) / tb))), stream=stream, backward=True)
    rs = av.AudioResampler(format="fltp", layout=layout, rate=AUDIO_RATE)
    chunks, t_first, got = [], None, 0
    end = start + n / AUDIO_RATE
    try:
        for fr in container.decode(stream):
            if t_first is None:
                t_first = float(fr.pts * tb) if fr.pts is not None else start
            fr.pts = None
            for o in rs.resample(fr):
                a = o.to_ndarray()
                chunks.append(a)
                got += a.shape[1]
            if t_first + got / AUDIO_RATE > end + 0.05:
                break
    except av.error.FFmpegError:
        pass
    for o in rs.resample(None):
        chunks.append(o.to_ndarray())
    out = np.zeros((channels, n), np.float32)
    if not chunks or t_first is None:
        return out
    data = np.concatenate(chunks, axis=1).astype(np.float32)
    off = int(round((start - t_first) * AUDIO_RATE))
    src0, dst0 = max(0, off), max(0, -off)
    m = max(0, min(n - dst0, data.shape[1] - src0))
    out[:, dst0:dst0 + m] = data[:, src0:src0 + m]
    return out


def _ramp(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.float32) + 0.5) / max(n, 1)


class _AudioOut:
    def __init__(self, container, stream, channels: int):
        self.c, self.s, self.layout = container, stream, "stereo" if channels == 2 else "mono"
        self.buf = np.zeros((channels, 0), np.float32)
        self.pts = 0

    def write(self, a: np.ndarray, final: bool = False) -> None:
        self.buf = np.concatenate([self.buf, a], axis=1)
        while self.buf.shape[1] >= AUDIO_CHUNK or (final and self.buf.shape[1]):
            chunk, self.buf = self.buf[:, :AUDIO_CHUNK], self.buf[:, AUDIO_CHUNK:]
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=self.layout)
            fr.sample_rate, fr.pts = AUDIO_RATE, self.pts
            self.pts += chunk.shape[1]
            for p in self.s.encode(fr):
                self.c.mux(p)
        if final:
            for p in self.s.encode(None):
                self.c.mux(p)


# ---- the whole render ----------------------------------------------------------------------------
def render_summary(source: str | Path, spans: Sequence[tuple[float, float]], out_path: str | Path, *,
                   crossfade: float = 0.3, audio_fade: float = 0.02, max_height: int = 720, crf: int = 21,
                   preset: str = "veryfast", audio: bool = True,
                   progress: Callable[[int, int], None] | None = None) -> RenderResult:
    """Join ``spans`` ([(start, end)] seconds, in playing order) of ``source`` into ``out_path``."""
    t0 = time.perf_counter()
    info = probe(source)
    spans = [(float(a), float(b)) for a, b in spans if b > a]
    if not spans:
        raise ValueError("nothing to render: no spans")
    fps = Fraction(info.fps).limit_denominator(1001 * 1000)
    f = float(fps)
    lay = layout(spans, f, crossfade)
    counts, xf = lay.counts, lay.overlaps
    total_frames = lay.frames
    w, h = _out_size(info.width, info.height, max_height)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.part.mp4")
    src = open_container(source)
    asrc = open_container(source) if audio and info.has_audio else None
    try:
        vs = video_stream(src)  # never the cover art
        vs.thread_type = "AUTO"
        astream = asrc.streams.audio[0] if asrc is not None else None
        channels = 2 if astream is not None and (astream.codec_context.channels or 1) >= 2 else 1
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
            ov = dst.add_stream("libx264", rate=fps)
            ov.width, ov.height, ov.pix_fmt = w, h, "yuv420p"
            ov.options = {"crf": str(crf), "preset": preset}
            aout = None
            if astream is not None:
                oa = dst.add_stream("aac", rate=AUDIO_RATE)
                oa.layout = "stereo" if channels == 2 else "mono"
                aout = _AudioOut(dst, oa, channels)
            vtb = Fraction(1) / fps
            n_out = 0

            def emit(arr: np.ndarray) -> None:
                nonlocal n_out
                vf = av.VideoFrame.from_ndarray(arr, format="yuv420p")
                vf.pts, vf.time_base = n_out, vtb
                for p in ov.encode(vf):
                    dst.mux(p)
                n_out += 1
                if progress and n_out % 25 == 0:
                    progress(n_out, total_frames)

            tail: list[np.ndarray] = []
            atail = None
            fade = max(1, int(round(audio_fade * AUDIO_RATE)))
            for k, (a, n) in enumerate(zip(lay.starts, counts)):
                x_in = xf[k - 1] if k else 0
                x_out = xf[k] if k < len(xf) else 0
                keep: deque = deque()
                for i, fr in enumerate(_decode_span(src, vs, a, n, fps, (w, h), info.rotation)):
                    if i < x_in:  # dissolve from the previous span's tail
                        alpha = (i + 1) / (x_in + 1)
                        fr = (tail[i].astype(np.float32) * (1 - alpha) + fr.astype(np.float32) * alpha + 0.5).astype(np.uint8)
                    keep.append(fr)
                    if len(keep) > x_out:
                        emit(keep.popleft())
                tail = list(keep)
                if aout is not None:
                    start_smp = round(sum(counts[:k]) * AUDIO_RATE / f)
                    length = round((sum(counts[:k]) + n) * AUDIO_RATE / f) - start_smp
                    seg = _span_audio(asrc, astream, a, length, aout.layout)
                    o_in = round(x_in * AUDIO_RATE / f) if x_in else 0
                    o_out = round(x_out * AUDIO_RATE / f) if x_out else 0
                    if k == 0:
                        seg[:, :fade] *= _ramp(min(fade, seg.shape[1]))[: seg[:, :fade].shape[1]]
                    if o_in and atail is not None:
                        o = min(o_in, atail.shape[1], seg.shape[1])
                        theta = _ramp(o) * (np.pi / 2)
                        seg[:, :o] = atail[:, :o] * np.cos(theta) + seg[:, :o] * np.sin(theta)
                    elif k and atail is not None:
                        if not lay.continuous[k - 1]:  # hard cut: short linear fades both sides
                            m = min(fade, atail.shape[1], seg.shape[1])
                            atail[:, -m:] *= _ramp(m)[::-1]
                            seg[:, :m] *= _ramp(m)
                        aout.write(atail)
                    if k == len(spans) - 1:
                        m = min(fade, seg.shape[1])
                        seg[:, seg.shape[1] - m:] *= _ramp(m)[::-1]
                        aout.write(seg, final=False)
                        atail = None
                    else:
                        hold = o_out if o_out else min(fade, seg.shape[1])
                        aout.write(seg[:, :seg.shape[1] - hold])
                        atail = seg[:, seg.shape[1] - hold:].copy()
            for fr in tail:
                emit(fr)
            for p in ov.encode(None):
                dst.mux(p)
            if aout is not None:
                aout.write(np.zeros((channels, 0), np.float32), final=True)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()
        if asrc is not None:
            asrc.close()
    if progress:
        progress(total_frames, total_frames)
    return RenderResult(out, n_out / f, n_out, len(spans), astream is not None, time.perf_counter() - t0, w, h, fps)
