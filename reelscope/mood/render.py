"""Render a slideshow :class:`~reelscope.mood.plan.Timeline` to an mp4 (H.264 + AAC, PyAV).

Frames are streamed: only the current slot's picture is held, prepared once (fitted to the
output, converted to YUV 4:2:0), and each frame is that picture times the envelope (a lookup
table on the Y and chroma planes, or a sub-pixel affine zoom for the gentle Ken Burns move).
The music is decoded one group at a time, looped with an equal-power crossfade where a track
is shorter than its group, levelled to a common loudness, and multiplied by
``Timeline.audio_gain`` - the same curve as the picture, evaluated per sample. The file is
written next to the target under a temporary name and renamed when complete.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np

from reelscope.errors import MediaError, ReelscopeError
from reelscope.mood.plan import Timeline

SIZES = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080),
         "16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080), "4:5": (1080, 1350),
         "4:3": (1440, 1080), "3:4": (1080, 1440)}


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720', '720p', '1080p', '9:16' (1080x1920), '9:16@720' (720x1280), '1:1', ...
    Sizes are rounded to even numbers (4:2:0 video)."""
    t = str(text).strip().lower()
    m = re.fullmatch(r"(\d+)\s*[x×]\s*(\d+)", t)
    if m:
        w, h = int(m[1]), int(m[2])
    elif t in SIZES:
        w, h = SIZES[t]
    else:
        m = re.fullmatch(r"(\d+):(\d+)@(\d+)p?", t)
        if not m:
            raise ReelscopeError(f"unknown size {text!r}: use WxH, 720p, 1080p, 16:9, 9:16, 1:1, 4:5 or 9:16@720")
        a, b, short = int(m[1]), int(m[2]), int(m[3])
        if not a or not b:
            raise ReelscopeError(f"size {text!r}: an aspect ratio needs two positive numbers, e.g. 9:16")
        w, h = (short * a / b, short) if a >= b else (short, short * b / a)
    w, h = int(round(w / 2) * 2), int(round(h / 2) * 2)
    if not (16 <= w <= 7680 and 16 <= h <= 7680):
        raise ReelscopeError(f"size {w}x{h} out of range (16..7680 pixels a side)")
    return w, h


@dataclass
class RenderOptions:
    width: int = 1280
    height: int = 720
    fps: int = 25
    fit: str = "cover"  # cover (fill, crop around the focus) | contain (letterbox)
    ken_burns: float = 0.05  # zoom over one slot (0: still pictures)
    crf: int = 21
    preset: str = "veryfast"
    threads: int = 0  # x264 threads; 0 = automatic
    audio_rate: int = 48000
    audio_bitrate: int = 160_000
    loudness: float = 0.12  # target RMS of the music's loud parts (about -18 dBFS)


@dataclass
class RenderResult:
    path: str
    width: int
    height: int
    fps: int
    frames: int
    duration: float
    audio_samples: int
    seconds: float  # wall time


Loader = Callable[[int], np.ndarray]  # image index -> RGB uint8
Progress = Callable[[int, int], None]  # (frames done, frames total); may raise to cancel


# ---- pictures --------------------------------------------------------------------------------
def fit_image(rgb: np.ndarray, width: int, height: int, fit: str = "cover",
              focus: tuple[float, float] | None = None) -> np.ndarray:
    """``rgb`` scaled to exactly width x height: ``cover`` fills the frame, cropping around
    ``focus`` (x, y in 0..1; centre by default); ``contain`` shows all of it with black bars."""
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    h, w = rgb.shape[:2]
    if fit == "contain":
        s = min(width / w, height / h)
    elif fit == "cover":
        s = max(width / w, height / h)
    else:
        raise ReelscopeError(f"unknown fit {fit!r}: use cover or contain")
    sw, sh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(rgb, (sw, sh), interpolation=interp)
    if fit == "contain":
        out = np.zeros((height, width, 3), np.uint8)
        x0, y0 = (width - sw) // 2, (height - sh) // 2
        out[y0:y0 + sh, x0:x0 + sw] = scaled
        return out
    fx, fy = focus or (0.5, 0.5)
    x0 = int(round(min(max(fx * sw - width / 2, 0), sw - width)))
    y0 = int(round(min(max(fy * sh - height / 2, 0), sh - height)))
    return np.ascontiguousarray(scaled[y0:y0 + height, x0:x0 + width])


def _to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.709 limited-range Y, U, V planes (swscale; the stream is tagged BT.709)."""
    f = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    f = f.reformat(format="yuv420p", src_colorspace="ITU709", dst_colorspace="ITU709")
    flat = f.to_ndarray().reshape(-1)
    h, w = rgb.shape[:2]
    y = flat[:w * h].reshape(h, w)
    u = flat[w * h:w * h * 5 // 4].reshape(h // 2, w // 2)
    v = flat[w * h * 5 // 4:].reshape(h // 2, w // 2)
    return y.copy(), u.copy(), v.copy()


class _Picture:
    """One slot's picture, fitted once (larger by the Ken Burns zoom), in YUV planes."""

    def __init__(self, rgb: np.ndarray, opts: RenderOptions, focus, zoom_in: bool):
        self.w, self.h = opts.width, opts.height
        self.kb = max(0.0, float(opts.ken_burns))
        self.zoom_in = zoom_in
        Z = 1.0 + self.kb
        cw, ch = (self.w, self.h) if not self.kb else \
            (int(math.ceil(self.w * Z / 2) * 2), int(math.ceil(self.h * Z / 2) * 2))
        canvas = fit_image(rgb, cw, ch, opts.fit, focus)
        self.planes = _to_yuv420(canvas)
        self.cw, self.ch = cw, ch
        fx, fy = focus or (0.5, 0.5)
        self.fx, self.fy = fx * cw, fy * ch  # where the zoom heads, canvas pixels
        self.flat = None if self.kb else np.concatenate([p.reshape(-1) for p in self.planes])

    def frame(self, progress: float, out: np.ndarray) -> np.ndarray:
        """The picture at ``progress`` 0..1 through its slot, into ``out`` (flat I420)."""
        if self.flat is not None:
            return self.flat
        p = progress if self.zoom_in else 1.0 - progress
        p = 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, p)))  # eased: no jolt at either end
        z = 1.0 + self.kb * p  # 1 (whole canvas) .. 1 + kb
        ww, wh = self.cw / z, self.ch / z  # window on the canvas
        # centre moves from the canvas centre toward the focus as it zooms, kept inside
        cx = self.cw / 2 + (self.fx - self.cw / 2) * p
        cy = self.ch / 2 + (self.fy - self.ch / 2) * p
        x0 = min(max(cx - ww / 2, 0.0), self.cw - ww)
        y0 = min(max(cy - wh / 2, 0.0), self.ch - wh)
        s = ww / self.w
        w, h = self.w, self.h
        views = (out[:w * h].reshape(h, w), out[w * h:w * h * 5 // 4].reshape(h // 2, w // 2),
                 out[w * h * 5 // 4:].reshape(h // 2, w // 2))
        for k, (src, dst) in enumerate(zip(self.planes, views)):
            f = 1.0 if k == 0 else 0.5
            m = np.array([[s, 0, x0 * f + 0.5 * s - 0.5], [0, s, y0 * f + 0.5 * s - 0.5]], np.float64)
            cv2.warpAffine(src, m, (dst.shape[1], dst.shape[0]), dst=dst,
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        return out


def _gain_luts(g: float) -> tuple[np.ndarray, np.ndarray]:
    v = np.arange(256, dtype=np.float64)
    y = np.clip(np.round(16 + (v - 16) * g), 0, 255).astype(np.uint8)
    c = np.clip(np.round(128 + (v - 128) * g), 0, 255).astype(np.uint8)
    return y, c


# ---- music -----------------------------------------------------------------------------------
def decode_track(path: str | Path, rate: int, limit: int | None = None) -> np.ndarray:
    """A music file as stereo float32 (2, n) at ``rate`` Hz (MediaError naming the file);
    ``limit``: stop once that many samples are decoded (the whole file if it is shorter)."""
    from reelscope.media.info import open_container

    container = open_container(path)
    try:
        if not container.streams.audio:
            raise MediaError(path, "has no audio stream")
        res = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        chunks, got = [], 0
        for packet in container.demux(container.streams.audio[0]):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for fr in frames:
                fr.pts = None
                for r in res.resample(fr):
                    chunks.append(r.to_ndarray())
                    got += chunks[-1].shape[1]
            if limit is not None and got >= limit:
                break
        else:
            chunks.extend(r.to_ndarray() for r in res.resample(None))
    finally:
        container.close()
    if not chunks:
        raise MediaError(path, "no decodable audio")
    out = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return np.nan_to_num(out)


def level_gain(samples: np.ndarray, rate: int, target: float, peak: float = 0.89) -> float:
    """The factor that brings ``samples`` to ``target`` RMS over their loud 50 ms windows
    (quiet gaps do not count), never letting a peak pass ``peak`` (about -1 dBFS)."""
    mono = samples.mean(axis=0)
    n = max(1, rate // 20)
    k = len(mono) // n
    if k == 0:
        return 1.0
    rms = np.sqrt((mono[:k * n].reshape(k, n) ** 2).mean(axis=1))
    loud = rms[rms > max(1e-4, 0.1 * rms.max())]
    cur = float(np.sqrt((loud ** 2).mean())) if len(loud) else 0.0
    top = float(np.abs(samples).max()) if samples.size else 0.0
    if cur <= 1e-6 or top <= 1e-6:
        return 1.0
    return float(min(target / cur, peak / top))


def looped(track: np.ndarray, start: int, n: int, overlap: int) -> np.ndarray:
    """Samples [start, start + n) of ``track`` repeated forever, each repeat overlapping the
    previous by ``overlap`` samples with an equal-power crossfade (no seam, no click)."""
    length = track.shape[1]
    overlap = min(overlap, length // 2)
    period = length - overlap
    out = np.zeros((track.shape[0], n), np.float32)
    pos = np.arange(start, start + n)
    k0 = max(0, (start - length) // period)
    k1 = (start + n) // period + 1
    fade = np.linspace(0.0, 1.0, overlap, endpoint=False) + 0.5 / max(1, overlap) if overlap else None
    for k in range(k0, k1 + 1):
        idx = pos - k * period
        ok = (idx >= 0) & (idx < length)
        if not ok.any():
            continue
        w = np.ones(int(ok.sum()), np.float32)
        j = idx[ok]
        if overlap:
            if k > 0:
                head = j < overlap
                w[head] *= np.sin(0.5 * np.pi * fade[j[head]])
            tail = j >= length - overlap
            w[tail] *= np.cos(0.5 * np.pi * fade[j[tail] - (length - overlap)])
        out[:, ok] += track[:, j] * w
    return out


class Music:
    """The soundtrack, one group at a time: decode its track, level it, loop it."""

    def __init__(self, tl: Timeline, opts: RenderOptions):
        self.tl, self.rate, self.opts = tl, opts.audio_rate, opts
        self.bounds = [(int(round(g.start * self.rate)), int(round(g.end * self.rate))) for g in tl.groups]
        self.bounds[-1] = (self.bounds[-1][0], int(round(tl.duration * self.rate)))
        self._track_idx: int | None = None
        self._track: np.ndarray | None = None
        self._gain: dict[int, float] = {}  # per track: set once, so a track that plays on keeps its level

    def _samples_of(self, gi: int) -> np.ndarray:
        """The samples of group gi's track that it needs (all of it when it loops)."""
        g = self.tl.groups[gi]
        a, b = self.bounds[gi]
        need = int(round(g.track_offset * self.rate)) + (b - a) + self.rate
        track = self.tl.tracks[g.track]
        have = self._track if self._track_idx == g.track else None
        if have is None or (have.shape[1] < need and have.shape[1] < int(track.duration * self.rate) - self.rate):
            raw = decode_track(track.path, self.rate, limit=need)
            if g.track not in self._gain:
                self._gain[g.track] = level_gain(raw, self.rate, self.opts.loudness)
            self._track, self._track_idx = raw * np.float32(self._gain[g.track]), g.track
        return self._track

    def block(self, s0: int, n: int, with_gain: bool = True) -> np.ndarray:
        out = np.zeros((2, n), np.float32)
        for gi, (a, b) in enumerate(self.bounds):
            lo, hi = max(a, s0), min(b, s0 + n)
            if lo >= hi:
                continue
            g = self.tl.groups[gi]
            track = self._samples_of(gi)
            off = int(round(g.track_offset * self.rate)) + (lo - a)
            out[:, lo - s0:hi - s0] = looped(track, off, hi - lo, int(self.tl.loop_crossfade * self.rate))
        if not with_gain:
            return out
        t = (s0 + np.arange(n)) / self.rate
        return out * self.tl.audio_gain(t).astype(np.float32)


# ---- the render loop ---------------------------------------------------------------------------
def render(tl: Timeline, output: str | Path, loader: Loader, options: RenderOptions | None = None,
           progress: Progress | None = None) -> RenderResult:
    """Write ``tl`` as an mp4 to ``output``; ``loader(i)`` gives image i's RGB pixels."""
    import time

    opts = options or RenderOptions()
    if opts.width % 2 or opts.height % 2:
        raise ReelscopeError(f"output size {opts.width}x{opts.height} must be even")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".partial.mp4", dir=output.parent)
    os.close(fd)
    t0 = time.perf_counter()
    try:
        frames, samples = _encode(tl, tmp, loader, opts, progress)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return RenderResult(str(output), opts.width, opts.height, opts.fps, frames, frames / opts.fps, samples,
                        time.perf_counter() - t0)


def _encode(tl: Timeline, path: str, loader: Loader, opts: RenderOptions, progress: Progress | None):
    w, h, fps, rate = opts.width, opts.height, int(opts.fps), opts.audio_rate
    n_frames = max(1, int(round(tl.duration * fps)))
    n_samples = int(round(tl.duration * rate))
    music = Music(tl, opts)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelscope-slide")

    def prepare(k: int) -> _Picture:
        s = tl.slots[k]
        im = tl.images[s.image]
        return _Picture(loader(s.image), opts, im.focus, zoom_in=k % 2 == 0)

    try:
        with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.options = {"crf": str(opts.crf), "preset": opts.preset}
            vs.codec_context.thread_count = int(opts.threads)
            vs.codec_context.colorspace = vs.codec_context.color_primaries = vs.codec_context.color_trc = 1  # BT.709
            vs.codec_context.color_range = 1  # limited ("tv")
            aus = out.add_stream("aac", rate=rate)
            aus.layout = "stereo"
            aus.bit_rate = opts.audio_bitrate
            buf = np.empty(w * h * 3 // 2, np.uint8)
            black = np.concatenate([np.full(w * h, 16, np.uint8), np.full(w * h // 2, 128, np.uint8)])
            slot_k, pic, nxt = -1, None, None
            s_done = 0
            frame_size = 1024
            for i in range(n_frames):
                t = (i + 0.5) / fps  # the frame's middle: its audio is the samples around it
                k = int(tl._slot_index(np.array([t]))[0])
                if k != slot_k:
                    pic = nxt.result() if nxt is not None and slot_k == k - 1 else prepare(k)
                    nxt = pool.submit(prepare, k + 1) if k + 1 < len(tl.slots) else None
                    slot_k = k
                s = tl.slots[k]
                g = float(tl.picture_gain(np.array([t]))[0])
                if g <= 1e-3:
                    arr = black
                else:
                    arr = pic.frame((t - s.start) / max(1e-6, s.duration), buf)
                    if g < 0.999:
                        ly, lc = _gain_luts(g)
                        dst = buf
                        cv2.LUT(arr[:w * h], ly, dst=dst[:w * h])
                        cv2.LUT(arr[w * h:], lc, dst=dst[w * h:])
                        arr = dst
                vf = av.VideoFrame.from_ndarray(arr.reshape(h * 3 // 2, w), format="yuv420p")
                vf.colorspace, vf.color_range = 1, 1
                vf.pts = i
                for p in vs.encode(vf):
                    out.mux(p)
                # the music up to the end of this frame
                s_need = min(n_samples, int(round((i + 1) / fps * rate)))
                while s_done < s_need:
                    n = min(frame_size, n_samples - s_done)
                    blk = music.block(s_done, n)
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(blk), format="fltp", layout="stereo")
                    af.sample_rate, af.pts = rate, s_done
                    for p in aus.encode(af):
                        out.mux(p)
                    s_done += n
                if progress and (i % 10 == 0 or i == n_frames - 1):
                    progress(i + 1, n_frames)
            for p in vs.encode():
                out.mux(p)
            for p in aus.encode():
                out.mux(p)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return n_frames, n_samples
