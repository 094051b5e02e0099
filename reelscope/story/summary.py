"""Highlight summaries: from per-shot importance to the segments of a summary.

A candidate is a shot (at least ``min_segment`` seconds long); a shot longer than
``max_segment`` is represented by its most important window of that length (by the importance
curve), so one long take cannot swallow the budget. ``reelscope.story.select.select_keyshots``
chooses candidates (0/1 knapsack on importance x duration, diversity across scenes) whose total
duration fits the target; they play in their original order.

``plan_video_summary`` turns a video's importance into a stored summary's content (its target,
segments with frame numbers, parameters) and ``render_video_summary`` renders it; the video's
facts and importance are passed in (``reelscope.summaries`` reads them from the archive).
"""
from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from reelscope.errors import ReelscopeError
from reelscope.story.select import Candidate, select_keyshots

DEFAULTS = {"min_segment": 1.0, "max_segment": 8.0, "decay": 0.5, "max_scene_share": 0.4, "value": "mass"}
RENDER_DEFAULTS = {"crossfade": 0.3, "max_height": 720}


def parse_length(text: str | float | int, duration: float) -> float:
    """Seconds of summary for "60s", "60", "1m30s", "2m", "15%" (of ``duration``) or a number.

    Raises ValueError with the accepted forms on anything else."""
    if isinstance(text, (int, float)):
        secs = float(text)
    else:
        t = str(text).strip().lower().replace(" ", "")
        if m := re.fullmatch(r"(\d+(?:\.\d+)?)%", t):
            secs = float(m.group(1)) / 100 * duration
        elif m := re.fullmatch(r"(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", t):
            if not (m.group(1) or m.group(2)):
                raise ValueError(f"bad summary length {text!r}: use e.g. 60s, 1m30s or 15%")
            secs = float(m.group(1) or 0) * 60 + float(m.group(2) or 0)
        else:
            raise ValueError(f"bad summary length {text!r}: use e.g. 60s, 1m30s or 15%")
    if not np.isfinite(secs) or secs <= 0:
        raise ValueError(f"summary length must be positive, got {text!r}")
    return secs


def best_window(curve: Sequence[float], step: float, start: float, end: float, length: float) -> tuple[float, float]:
    """The window of ``length`` seconds inside [start, end] whose mean curve value is highest."""
    if end - start <= length:
        return start, end
    c = np.asarray(curve, np.float64)
    if not len(c):
        mid = (start + end) / 2
        return mid - length / 2, mid + length / 2
    best, best_t = -1.0, start
    t = start
    while t + length <= end + 1e-9:
        a, b = int(t / step), max(int(t / step) + 1, int(np.ceil((t + length) / step)))
        v = float(c[min(a, len(c) - 1):min(b, len(c))].mean()) if a < len(c) else 0.0
        if v > best + 1e-12:
            best, best_t = v, t
        t += step / 2
    return best_t, best_t + length


def candidates(per_shot: list[dict], curve: Sequence[float], step: float, *, min_segment: float = 1.0,
               max_segment: float = 8.0) -> list[Candidate]:
    shots = [p for p in per_shot if p["end_time"] - p["start_time"] >= min_segment] or list(per_shot)
    out = []
    for p in shots:
        a, b = best_window(curve, step, p["start_time"], p["end_time"], max_segment)
        out.append(Candidate(a, b, float(p["score"]), int(p.get("scene", -1)), int(p["shot"])))
    return out


def plan_summary(per_shot: list[dict], curve: Sequence[float], step: float, target: float, *,
                 frame_times: Sequence[float] | None = None, fps: float = 25.0, crossfade: float = 0.0,
                 **options) -> list[dict]:
    """The summary's segments in playing order: {shot, start_time, end_time, start_frame,
    end_frame, score, scene}.

    Without ``crossfade`` their durations add up to at most ``target`` seconds. With it, the
    render overlaps neighbours by ``crossfade`` at each joint, so the segments may add up to
    more: the budget grows by the overlaps of the k joints a first plan needs, and shrinks
    joint by joint until the rendered length (``reelscope.story.render.output_seconds``) fits."""
    from reelscope.story.render import output_seconds

    opts = {**DEFAULTS, **options}
    unknown = set(opts) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown summary options {sorted(unknown)} (known: {', '.join(DEFAULTS)})")
    # a summary shorter than a segment: the best window of the summary's length
    cands = candidates(per_shot, curve, step, min_segment=min(opts["min_segment"], target),
                       max_segment=min(opts["max_segment"], target))

    def pick(budget: float) -> list[int]:
        chosen = select_keyshots(cands, budget, decay=opts["decay"], max_scene_share=opts["max_scene_share"],
                                 value=opts["value"])
        return sorted(chosen, key=lambda j: cands[j].start)

    chosen = pick(target)
    if crossfade > 0 and len(chosen) > 1:
        joints = len(chosen) - 1
        while joints > 0:
            wider = pick(target + joints * crossfade)
            if output_seconds([(cands[j].start, cands[j].end) for j in wider], fps, crossfade) <= target + 1e-9:
                chosen = wider
                break
            joints -= max(1, joints // 4)
    times = list(frame_times or [])

    def frame_at(t: float) -> int:
        if times:
            return max(0, bisect.bisect_left(times, t - 1e-6))
        return int(round(t * fps))

    segs = []
    for i in chosen:
        c = cands[i]
        f0 = frame_at(c.start)
        f1 = max(f0, frame_at(c.end) - 1)
        segs.append({"shot": c.shot, "start_time": round(c.start, 6), "end_time": round(c.end, 6),
                     "start_frame": f0, "end_frame": f1, "score": round(c.score, 4), "scene": c.scene})
    return segs


# ---- a video's summary: plan, frames, render ---------------------------------------------------

@dataclass
class Importance:
    """The importance stage's results: per shot {shot, start_time, end_time, score, scene,
    start_frame} and the curve (``step`` seconds apart)."""
    per_shot: list[dict]
    curve: list[float]
    step: float


@dataclass
class SummarySource:
    """What a summary needs of its video."""
    filename: str
    path: str
    duration: float
    fps: float
    frame_count: int
    anchors: list[tuple[float, int]]  # (start time, first frame) of every shot, in order


@dataclass
class VideoSummary:
    """A summary's content: ``params`` (what it was asked for) decide ``key``; ``seconds`` is the
    planned length until it is rendered."""
    target: float
    segments: list[dict]
    params: dict
    planned: float
    seconds: float
    rendered: dict | None = field(default=None)

    @property
    def key(self) -> str:
        """Names the rendered file: the same segments and parameters give the same file."""
        return hashlib.sha1(json.dumps([self.segments, self.params], sort_keys=True).encode()).hexdigest()[:12]

    def stored_params(self) -> dict:
        return {**self.params, **({"rendered": self.rendered} if self.rendered else {}),
                "planned_seconds": self.planned}


def frame_mapper(anchors: Sequence[tuple[float, int]], fps: float, frame_count: int) -> Callable[[float], int]:
    """Seconds -> frame index, anchored at each shot's exact first-frame time (VFR-safe enough)."""
    anchors = list(anchors)

    def frame_of(t: float) -> int:
        base_t, base_f = anchors[0] if anchors else (0.0, 0)
        for at, af in anchors:
            if at <= t + 1e-6:
                base_t, base_f = at, af
            else:
                break
        return max(0, min(frame_count - 1, base_f + int(round((t - base_t) * fps))))

    return frame_of


def plan_video_summary(video: SummarySource, imp: Importance, length: str | float = "15%", *, render: bool = True,
                       crossfade: float = RENDER_DEFAULTS["crossfade"], max_height: int = RENDER_DEFAULTS["max_height"],
                       options: dict | None = None) -> VideoSummary:
    """The summary of ``length`` ("60s", "15%", seconds) of ``video``: segments with frames."""
    try:
        target = min(parse_length(length, video.duration), max(video.duration, 0.04))  # at most the whole video
    except ValueError as e:
        raise ReelscopeError(str(e)) from None
    segs = plan_summary(imp.per_shot, imp.curve, imp.step, target, fps=video.fps,
                        crossfade=crossfade if render else 0.0, **(options or {}))
    if not segs:
        raise ReelscopeError(f"{video.filename}: no segment fits a summary of {target:.1f} s; ask for more time")
    frame_of = frame_mapper(video.anchors, video.fps, video.frame_count)
    for sg in segs:
        sg["start_frame"] = frame_of(sg["start_time"])
        sg["end_frame"] = max(sg["start_frame"], frame_of(sg["end_time"]) - 1)
    params = {"length": str(length), "crossfade": crossfade, "max_height": max_height, **(options or {})}
    planned = round(sum(sg["end_time"] - sg["start_time"] for sg in segs), 3)
    return VideoSummary(target, segs, params, planned, planned)


def render_video_summary(summary: VideoSummary, video: SummarySource, out_path: str | Path,
                         progress: Callable[[int, int], None] | None = None) -> None:
    """Render ``summary`` of ``video`` to ``out_path``; sets its ``seconds`` and ``rendered``."""
    from reelscope.story.render import render_summary

    if not Path(video.path).is_file():
        raise ReelscopeError(f"{video.path}: the source file of {video.filename} is not available to render from")
    res = render_summary(video.path, [(sg["start_time"], sg["end_time"]) for sg in summary.segments], out_path,
                         crossfade=summary.params["crossfade"], max_height=summary.params["max_height"],
                         progress=progress)
    summary.seconds = round(res.seconds, 3)
    summary.rendered = {"width": res.width, "height": res.height, "fps": str(res.fps), "audio": res.has_audio,
                        "render_seconds": round(res.wall_seconds, 3)}
