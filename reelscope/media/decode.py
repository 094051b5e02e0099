"""Frame decoding with PyAV: exact indices and timestamps, downscaled representations.

Analysis stages rarely need full-resolution RGB. ``FrameSpec`` names what a consumer wants
(``luma``/``yuv`` straight from the decoder's planes with an area resize, ``rgb`` via
swscale, or full-size ``rgb``); the decode loop computes each requested representation
once per frame in a background thread, so decoding and analysis overlap.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Collection, Iterator, Sequence

import av
import cv2
import numpy as np

from reelscope.errors import MediaError
from reelscope.media.info import open_container

_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
               "yuv411p", "yuv410p"}
_LOOP_FILTER_CODECS = {"h264", "hevc", "vp8", "vp9", "av1"}


@dataclass(frozen=True)
class FrameSpec:
    """A frame representation: kind is 'luma' (HxW), 'yuv' (HxWx3) or 'rgb' (HxWx3).

    width/height are display-oriented (after rotation); 0 means the full display size.
    """
    kind: str
    width: int = 0
    height: int = 0

    def __post_init__(self):
        if self.kind not in ("luma", "yuv", "rgb"):
            raise ValueError(f"unknown frame kind {self.kind!r}")


@dataclass
class Frame:
    index: int  # 0-based, presentation order
    time: float  # seconds from the stream's pts (exact for variable frame rate)
    pts: int | None
    images: dict[FrameSpec, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, spec: FrameSpec) -> np.ndarray:
        return self.images[spec]


@dataclass
class DecodeStats:
    frames: int = 0
    errors: int = 0
    last_error: str = ""


def _plane(frame, k: int, w: int, h: int) -> np.ndarray:
    p = frame.planes[k]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:h, :w]


def _resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """Area-average downscale. For large factors (a 720p plane to 64x36) a bilinear step to
    4x the target first makes it ~3.5x cheaper and differs from the exact area mean by
    well under one grey level on average."""
    if img.shape[1] == w and img.shape[0] == h:
        return np.ascontiguousarray(img)
    if img.shape[1] >= 8 * w and img.shape[0] >= 8 * h:
        img = cv2.resize(img, (4 * w, 4 * h), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


class _Converter:
    """Turns decoded av.VideoFrames into the requested representations."""

    def __init__(self, specs: Sequence[FrameSpec], rotation: int):
        self.specs = list(specs)
        self.rot_k = (rotation // 90) % 4

    def _stored_size(self, spec: FrameSpec, fw: int, fh: int) -> tuple[int, int]:
        if spec.width and spec.height:
            return (spec.height, spec.width) if self.rot_k % 2 else (spec.width, spec.height)
        return fw, fh

    def __call__(self, frame, specs: Sequence[FrameSpec] | None = None) -> dict[FrameSpec, np.ndarray]:
        out: dict[FrameSpec, np.ndarray] = {}
        fw, fh = frame.width, frame.height
        planar = frame.format.name in _PLANAR_YUV
        rgb_full = None
        for spec in (self.specs if specs is None else specs):
            w, h = self._stored_size(spec, fw, fh)
            if spec.kind == "rgb":
                if (w, h) == (fw, fh):
                    img = frame.to_ndarray(format="rgb24")
                else:
                    img = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
            elif planar:
                y = _resize(_plane(frame, 0, fw, fh), w, h)
                if spec.kind == "luma":
                    img = y
                else:
                    cw, ch = frame.planes[1].width, frame.planes[1].height
                    u = _resize(_plane(frame, 1, cw, ch), w, h)
                    v = _resize(_plane(frame, 2, cw, ch), w, h)
                    img = np.dstack([y, u, v])
            else:
                if rgb_full is None:
                    rgb_full = frame.to_ndarray(format="rgb24")
                small = _resize(rgb_full, w, h)
                yuv = cv2.cvtColor(small, cv2.COLOR_RGB2YUV)
                img = yuv[:, :, 0].copy() if spec.kind == "luma" else yuv
            if self.rot_k:
                img = np.ascontiguousarray(np.rot90(img, self.rot_k))
            out[spec] = img
        return out


def iter_frames(path: str | Path, specs: Sequence[FrameSpec] = (FrameSpec("rgb"),), *,
                rotation: int | None = None, fast: bool = False, prefetch: int = 32,
                stats: DecodeStats | None = None, fps: Fraction | None = None,
                only: Collection[int] | None = None,
                select: Callable[[int, float], Sequence[FrameSpec]] | None = None,
                stop_after: int | None = None) -> Iterator[Frame]:
    """Decode every frame of the first video stream, in presentation order.

    ``fast`` skips the in-loop deblocking filter for codecs that have one: about 20% faster
    decoding, invisible at analysis resolutions, wrong for thumbnails. Corrupt packets are
    skipped and counted in ``stats``; the caller decides whether the result is usable.
    ``only``: yield just these frame indices (every frame is still decoded and counted, but only
    these are converted), and stop after the last of them.
    ``select(index, time)``: the specs (a subset of ``specs``) to convert for this frame; a frame
    for which it returns nothing is decoded and counted but not converted nor yielded. This is
    how the analysis engine feeds several consumers with different sampling rules from one pass.
    ``stop_after``: stop decoding after this frame index.
    """
    last_wanted = max(only) if only else None
    if stop_after is not None:
        last_wanted = stop_after if last_wanted is None else min(last_wanted, stop_after)
    if only is not None and not only:
        return
    stats = stats if stats is not None else DecodeStats()
    q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()
    _END = object()

    def produce():
        container = None
        try:
            container = open_container(path)
            if not container.streams.video:
                raise MediaError(path, "has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if fast and stream.codec_context.name in _LOOP_FILTER_CODECS:
                stream.codec_context.options = {"skip_loop_filter": "all"}
            rate = fps or stream.average_rate or stream.guessed_rate or Fraction(25)
            conv = None
            index = 0
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                if last_wanted is not None and index > last_wanted:
                    break
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as e:
                    stats.errors += 1
                    stats.last_error = str(e)
                    continue
                for frame in frames:
                    if last_wanted is not None and index > last_wanted:
                        break
                    if only is not None and index not in only:
                        index += 1
                        stats.frames = index
                        continue
                    if conv is None:
                        rot = rotation if rotation is not None else int(round(frame.rotation or 0)) % 360
                        conv = _Converter(specs, rot)
                    if frame.pts is not None and frame.time_base is not None:
                        t = float(frame.pts * frame.time_base)
                    else:
                        t = float(index / Fraction(rate))
                    if select is not None:
                        chosen = select(index, t)
                        if not chosen:
                            index += 1
                            stats.frames = index
                            continue
                        item = Frame(index, t, frame.pts, conv(frame, chosen))
                    else:
                        item = Frame(index, t, frame.pts, conv(frame))
                    index += 1
                    stats.frames = index
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            pass
                    if stop.is_set():
                        return
            q.put(_END)
        except BaseException as e:  # handed to the consumer
            q.put(e)
        finally:
            if container is not None:
                container.close()

    thread = threading.Thread(target=produce, name="reelscope-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
