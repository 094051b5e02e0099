"""Cheap visual signals for importance, from one decoding pass over tiny frames.

- motion: mean absolute luma difference between consecutive frames (0..255 grey levels) at
  64x36, per frame; the first frame of each shot (a cut) has none;
- appearance: a colour histogram per shot (8 Y x 4 U x 4 V bins, frames sampled about every
  0.5 s), L1-normalised, for novelty and scene grouping (histogram intersection similarity).

The decode uses ``fast`` (no deblocking filter) and the decoder's own planes (no RGB).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Callable, Sequence

import cv2
import numpy as np

from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.media.info import VideoInfo
from reelscope.shots.types import Shot

SPEC = FrameSpec("yuv", 64, 36)
HIST_BINS = (8, 4, 4)


@dataclass
class VisualSignals:
    motion: np.ndarray  # per frame, NaN where undefined (first frame of a shot)
    times: np.ndarray  # per frame presentation time (s)
    histograms: np.ndarray  # (shots, 128) float32, L1-normalised (zeros if no sample)
    shot_motion: list[float] = field(default_factory=list)  # mean motion per shot (NaN for 1-frame shots)


def _hist(yuv: np.ndarray) -> np.ndarray:
    h = cv2.calcHist([yuv], [0, 1, 2], None, list(HIST_BINS), [0, 256, 0, 256, 0, 256])
    return h.ravel()


class VisualMeter:
    """Motion per frame (mean absolute luma difference to the previous frame) and a colour histogram
    per frame (uint16 counts: 22 MB for an hour at 24 fps), frame by frame; per shot at ``finish``,
    from the shot's frames every ``hist_every`` seconds. Fed every frame, before the shots are known."""

    def __init__(self, fps: float, hist_every: float = 0.5):
        self.every = max(1, int(round(fps * hist_every)))
        self.motion: list[float] = []
        self.times: list[float] = []
        self.hists: list[np.ndarray] = []
        self.prev = None

    def add(self, index: int, time: float, yuv: np.ndarray) -> None:
        y = yuv[:, :, 0]
        self.motion.append(float("nan") if self.prev is None else float(cv2.mean(cv2.absdiff(y, self.prev))[0]))
        self.times.append(time)
        self.prev = y
        self.hists.append(_hist(yuv).astype(np.uint16))

    def finish(self, shots: Sequence[Shot]) -> VisualSignals:
        m = np.asarray(self.motion, np.float64)
        n = len(m)
        hists = np.zeros((len(shots), int(np.prod(HIST_BINS))), np.float64)
        for k, s in enumerate(shots):
            if s.start < n:
                m[s.start] = np.nan  # the first frame of a shot has no motion (the cut is not motion)
            for f in range(s.start, min(s.end + 1, n), self.every):
                hists[k] += self.hists[f]
        sums = hists.sum(1, keepdims=True)
        hists = np.divide(hists, sums, out=np.zeros_like(hists), where=sums > 0).astype(np.float32)
        shot_motion = []
        for s in shots:
            seg = m[s.start:min(s.end + 1, n)]
            seg = seg[np.isfinite(seg)]
            shot_motion.append(float(seg.mean()) if len(seg) else float("nan"))
        self.hists = []
        return VisualSignals(m, np.asarray(self.times, np.float64), hists, shot_motion)


def measure_visual(path: str, info: VideoInfo, shots: Sequence[Shot], *, hist_every: float = 0.5,
                   progress: Callable[[int, int], None] | None = None) -> VisualSignals:
    """Motion per frame and a colour histogram per shot, in one pass over 64x36 YUV frames."""
    meter = VisualMeter(float(info.fps), hist_every)
    total = max(info.frame_count_hint, 1)
    for frame in iter_frames(path, [SPEC], rotation=info.rotation, fast=True, fps=info.fps):
        meter.add(frame.index, frame.time, frame[SPEC])
        if progress and frame.index % 256 == 0:
            progress(frame.index, total)
    if progress:
        progress(total, total)
    return meter.finish(shots)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Histogram intersection of two L1-normalised histograms: 1 = same colours, 0 = disjoint."""
    return float(np.minimum(a, b).sum())
