"""Linking detections of sampled frames into tracks within shots: the loop shared by face tracks
(``reelscope.people.tracks``) and object tracks (``reelscope.vision.object_tracks``).

Frame by frame in presentation order, within a shot: tracks last seen more than
``max_gap_frames`` ago are closed; the caller's ``cost(live, dets)`` prices every (open track,
detection) pair (``FORBIDDEN`` for a pair that may not link); the assignment with the least
total cost is taken (Hungarian, ``scipy.optimize.linear_sum_assignment``); unmatched detections
start new tracks. A track never crosses a shot boundary.

Shots are duck-typed (``index``, ``start``, ``end``) so this module stays below the shots layer.
"""
from __future__ import annotations

import bisect
from typing import Callable, Protocol, Sequence

import numpy as np

from reelscope.vision.detections import Detections

FORBIDDEN = 1e6  # cost of a disallowed pair in the assignment problem


class TrackSpan:
    """Frame span of a finished track (a dataclass with ``frames``, ``step``, ``shot_end``)."""
    frames: list[int]
    step: int
    shot_end: int | None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def first_frame(self) -> int:
        return self.frames[0]

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    @property
    def duration_frames(self) -> int:
        """Frames covered: first..last plus one sample interval, clipped to the shot's end."""
        end = self.last_frame + self.step
        if self.shot_end is not None:
            end = min(end, self.shot_end + 1)
        return max(end - self.first_frame, 1)


class OpenTrack(Protocol):
    """A track being built: what ``link`` needs of it."""
    shot_index: int
    frames: list[int]
    det_indices: list[int]

    def add(self, dets: Detections, i: int) -> None: ...


def infer_sample_step(frame_indices: Sequence[int]) -> int:
    """The sample interval in frames: the median gap between distinct sampled frames (1 if unknown)."""
    f = np.unique(np.asarray(frame_indices, np.int64))
    if len(f) < 2:
        return 1
    return max(int(round(float(np.median(np.diff(f))))), 1)


def link(frames: Sequence[Detections], shots: Sequence, *,
         cost: Callable[[list, Detections], np.ndarray], start: Callable[[int, int | None, Detections, int], OpenTrack],
         max_gap_frames: int | None = None, sample_step: int | None = None, min_detections: int = 1,
         caller: str = "link") -> tuple[list, int]:
    """The open tracks built from ``frames`` (one Detections per sampled frame, ``.frame`` set, any
    order) and the sample step used. ``cost(live, dets)`` returns a (len(live), len(dets)) array;
    ``start(shot_index, shot_end, dets, i)`` makes a new open track holding detection ``i``.
    ``sample_step`` defaults to the median gap between sampled frames, ``max_gap_frames`` to 2.5
    sample steps (one missed sample keeps a track). An empty ``shots`` means one shot over
    everything; a frame outside every shot is an error. Tracks with fewer than ``min_detections``
    detections are dropped; the rest are ordered by (shot, first frame, detection index)."""
    from scipy.optimize import linear_sum_assignment

    for d in frames:
        if d.frame is None:
            raise ValueError(f"every Detections passed to {caller} needs its .frame index")
    ordered = sorted(frames, key=lambda d: d.frame)
    step = sample_step or infer_sample_step([d.frame for d in ordered])
    max_gap = max_gap_frames if max_gap_frames is not None else 2 * step + step // 2
    shot_list = sorted(shots, key=lambda s: s.start)
    starts = [s.start for s in shot_list]

    def shot_of(frame: int):
        if not shot_list:
            return None
        k = bisect.bisect_right(starts, frame) - 1
        if k < 0 or frame > shot_list[k].end:
            raise ValueError(f"frame {frame} lies outside every shot")
        return shot_list[k]

    closed: list = []
    open_: list = []
    current = None
    for dets in ordered:
        shot = shot_of(dets.frame)
        shot_idx = shot.index if shot is not None else 0
        if shot_idx != current:  # a track never crosses a shot boundary
            closed += open_
            open_, current = [], shot_idx
        live = [t for t in open_ if dets.frame - t.frames[-1] <= max_gap]
        closed += [t for t in open_ if dets.frame - t.frames[-1] > max_gap]
        open_ = live
        if not len(dets):
            continue
        matched: set[int] = set()
        if live:
            c = cost(live, dets)
            rows, cols = linear_sum_assignment(c)
            for a, b in zip(rows, cols):
                if c[a, b] < FORBIDDEN:
                    live[a].add(dets, int(b))
                    matched.add(int(b))
        for b in range(len(dets)):
            if b not in matched:
                open_.append(start(shot_idx, shot.end if shot is not None else None, dets, b))
    closed += open_
    closed.sort(key=lambda t: (t.shot_index, t.frames[0], t.det_indices[0]))
    return [t for t in closed if len(t.frames) >= min_detections], step


def keep_tracked(frames: list, tracks: list) -> list:
    """The per-frame Detections reduced to the detections some track in ``tracks`` uses (after short
    tracks were dropped); each track's ``det_indices`` are renumbered to match. Shared by the
    object and pose stages."""
    kept: dict[int, set[int]] = {}
    for t in tracks:
        for f, i in zip(t.frames, t.det_indices):
            kept.setdefault(f, set()).add(i)
    out, remap = [], {}
    for d in frames:
        idx = sorted(kept.get(d.frame, ()))
        if idx:
            out.append(d.select(idx))
            remap.update({(d.frame, old): new for new, old in enumerate(idx)})
    for t in tracks:
        t.det_indices = [remap[(f, i)] for f, i in zip(t.frames, t.det_indices)]
    return out
