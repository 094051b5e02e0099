"""Run boundary detectors over a video: one decode pass feeds every detector."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from reelscope.errors import MediaError
from reelscope.media.decode import DecodeStats, FrameSpec, iter_frames
from reelscope.media.info import VideoInfo
from reelscope.shots.types import Transition

Progress = Callable[[int, int], None]  # (frames done, frames expected)


@dataclass
class DetectionPass:
    frame_count: int
    frame_times: list[float]  # exact presentation time of every frame (VFR-safe)
    transitions: dict[str, list[Transition]] = field(default_factory=dict)
    decode_errors: int = 0


def _specs_of(det) -> tuple[FrameSpec, ...]:
    return tuple(getattr(det, "frame_specs", None) or (det.frame_spec,))


def detect(path: str | Path, info: VideoInfo, detectors: Sequence, progress: Progress | None = None,
           fast_decode: bool = True) -> DetectionPass:
    """Decode ``path`` once and feed every frame to each detector; validate completeness."""
    specs = tuple(dict.fromkeys(s for d in detectors for s in _specs_of(d)))
    stats = DecodeStats()
    times: list[float] = []
    expected = max(info.frame_count_hint, 1)
    for frame in iter_frames(path, specs, rotation=info.rotation, fast=fast_decode, stats=stats, fps=info.fps):
        times.append(frame.time)
        for d in detectors:
            if hasattr(d, "frame_specs"):
                d.process_frame(frame.index, frame)
            else:
                d.process(frame.index, frame[d.frame_spec])
        if progress and frame.index % 64 == 0:
            progress(frame.index + 1, expected)
    n = len(times)
    if n == 0:
        raise MediaError(path, "no decodable video frame")
    # a stream's own frame count is reliable; a count derived from a container duration
    # (which may include a longer audio track) only catches gross truncation
    share = 0.9 if info.frame_count_exact else 0.7
    if info.frame_count_hint > 30 and n < share * info.frame_count_hint:
        raise MediaError(path, f"truncated or corrupt: decoded {n} of {info.frame_count_hint} frames"
                               + (f" ({stats.errors} bad packets)" if stats.errors else ""))
    if progress:
        progress(n, n)
    return DetectionPass(n, times, {d.name: d.finish(n) for d in detectors}, stats.errors)
