"""Keyframes: the middle frame of each shot (the seed method) or the sharpest frame.

A second, full-quality decode pass converts only the frames it needs. The sharpest frame
is the one with the highest variance of the Laplacian on a 320-pixel-wide luma copy,
among frames sampled through the shot's central 80% (transition frames are avoided).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.media.info import VideoInfo
from reelscope.shots.types import Shot


@dataclass
class KeyframeImage:
    shot_index: int
    frame: int
    time: float
    method: str
    image: np.ndarray  # RGB, thumbnail size
    sharpness: float | None = None


def thumbnail_size(info: VideoInfo, width: int) -> tuple[int, int]:
    w = min(width, info.width)
    h = max(2, int(round(info.height * w / info.width / 2)) * 2)
    return w, h


def sharpness(luma: np.ndarray) -> float:
    return float(cv2.Laplacian(luma, cv2.CV_32F).var())


def keyframe_candidates(shots: Sequence[Shot], method: str = "middle", samples: int = 12) -> dict[int, int]:
    """Frame -> shot index of the frames to look at: each shot's middle frame, or for ``sharpest``
    up to ``samples`` frames through its central 80%."""
    wanted: dict[int, int] = {}
    for s in shots:
        if method == "middle" or s.length <= 3:
            wanted[s.middle] = s.index
        else:
            lo, hi = s.start + s.length // 10, s.end - s.length // 10
            for f in np.unique(np.linspace(lo, hi, min(samples, hi - lo + 1)).round().astype(int)):
                wanted[int(f)] = s.index
    return wanted


def extract_keyframes(path: str | Path, info: VideoInfo, shots: Sequence[Shot], method: str = "middle",
                      width: int = 320, samples: int = 12,
                      progress: Callable[[int, int], None] | None = None) -> list[KeyframeImage]:
    if method not in ("middle", "sharpest"):
        raise ValueError(f"unknown keyframe method {method!r} (use 'middle' or 'sharpest')")
    if not shots:
        return []
    tw, th = thumbnail_size(info, width)
    thumb = FrameSpec("rgb", tw, th)
    luma = FrameSpec("luma", 320, max(2, int(round(320 * info.height / info.width))))
    wanted = keyframe_candidates(shots, method, samples)  # frame -> shot index
    best: dict[int, KeyframeImage] = {}
    last = max(wanted)
    specs = (thumb, luma) if method == "sharpest" else (thumb,)
    for frame in iter_frames(path, specs, rotation=info.rotation, only=wanted):  # converts only these
        i = frame.index
        if progress:
            progress(i, last + 1)
        si = wanted[i]
        sh = sharpness(frame[luma]) if method == "sharpest" else None
        if si not in best or (sh is not None and sh > (best[si].sharpness or -1)):
            best[si] = KeyframeImage(si, i, frame.time, method, frame[thumb], sh)
    if progress:
        progress(last + 1, last + 1)
    return [best[k] for k in sorted(best)]
