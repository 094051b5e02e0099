"""Run boundary detectors over a video: one decode pass feeds every detector."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from reelscope.media.decode import DecodeStats, FrameSpec, iter_frames
from reelscope.media.info import VideoInfo
from reelscope.media.integrity import check_complete
from reelscope.shots.types import Transition, drop_recovery_cuts

Progress = Callable[[int, int], None]  # (frames done, frames expected)


@dataclass
class DetectionPass:
    frame_count: int
    frame_times: list[float]  # exact presentation time of every frame (VFR-safe)
    transitions: dict[str, list[Transition]] = field(default_factory=dict)
    decode_errors: int = 0
    warning: str | None = None  # damage in the middle of the file (media.integrity.check_complete)


def _specs_of(det) -> tuple[FrameSpec, ...]:
    return tuple(getattr(det, "frame_specs", None) or (det.frame_spec,))


def detect(path: str | Path, info: VideoInfo, detectors: Sequence, progress: Progress | None = None,
           fast_decode: bool = True) -> DetectionPass:
    """Decode ``path`` once and feed every frame to each detector; validate completeness."""
    specs = tuple(dict.fromkeys(s for d in detectors for s in _specs_of(d)))
    stats = DecodeStats()
    times: list[float] = []
    damaged: list[bool] = []
    expected = max(info.frame_count_hint, 1)
    for frame in iter_frames(path, specs, rotation=info.rotation, fast=fast_decode, stats=stats, fps=info.fps):
        times.append(frame.time)
        damaged.append(frame.damaged)
        for d in detectors:
            if hasattr(d, "frame_specs"):
                d.process_frame(frame.index, frame)
            else:
                d.process(frame.index, frame[d.frame_spec], frame.time)
        if progress and frame.index % 64 == 0:
            progress(frame.index + 1, expected)
    n = len(times)
    warning = check_complete(path, info, stats)
    if progress:
        progress(n, n)
    found = {d.name: drop_recovery_cuts(d.finish(n), damaged) for d in detectors}
    return DetectionPass(n, times, found, stats.errors, warning)
