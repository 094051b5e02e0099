"""Object tracks: the same object (same COCO class) followed across the sampled frames of one shot.

``track_objects`` links the detections of consecutive sampled frames (each a ``Detections``
with ``.frame`` set) into tracks. A track never crosses a shot boundary, and never changes class.

Association, frame by frame in presentation order, within a shot:

* candidates are the open tracks last seen at most ``max_gap_frames`` ago (default two sample
  intervals and a half: an object missed in one sample keeps its track);
* each track's box is predicted at the new frame from its last two detections (its centre moved
  at constant velocity over the gap, its size kept), so objects that move a lot between samples
  (2 per second by default) still overlap the prediction; the overlap used is the larger of the
  IoU with the prediction and with the last box;
* a (track, detection) pair is allowed only for the same class, and when the boxes overlap
  (IoU >= ``iou_min``) or, failing that, when the centres lie within
  ``max_center_dist`` box sizes of each other and the areas differ by at most 2.5x;
* cost = 1 - IoU for overlapping pairs, 1 + centre distance otherwise; the assignment with the
  least total cost is taken (Hungarian, ``scipy.optimize.linear_sum_assignment``), so two people
  crossing keep their tracks while their boxes overlap;
* unmatched detections start new tracks.

Shots are duck-typed (``index``, ``start``, ``end`` attributes, e.g. ``reelscope.shots.types.Shot``)
so this module stays below the shots layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from reelscope.vision.coco import class_name
from reelscope.vision.detections import Detections, iou
from reelscope.vision.track_link import FORBIDDEN, TrackSpan, link


@dataclass
class ObjectTrack(TrackSpan):
    """One object of one class seen within one shot: aligned per-detection ``frames``,
    ``boxes`` (T, 4) xywh, ``scores`` (T,), ``det_indices`` (index in each frame's Detections)."""
    id: int
    shot_index: int
    class_id: int
    frames: list[int]
    boxes: np.ndarray
    scores: np.ndarray
    det_indices: list[int]
    step: int = 1
    shot_end: int | None = None

    @property
    def label(self) -> str:
        return class_name(self.class_id)

    @property
    def score(self) -> float:
        """Mean detection score."""
        return float(np.mean(self.scores)) if len(self.scores) else 0.0


@dataclass
class _Open:
    shot_index: int
    shot_end: int | None
    class_id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    det_indices: list[int] = field(default_factory=list)

    def add(self, dets: Detections, i: int) -> None:
        self.frames.append(int(dets.frame))
        self.boxes.append(np.asarray(dets.boxes[i], np.float64))
        self.scores.append(float(dets.scores[i]))
        self.det_indices.append(i)

    def predict(self, frame: int) -> np.ndarray:
        """The box expected at ``frame``: the last box, its centre moved on at the velocity of the
        last two centres (the size is kept: detected sizes jitter too much to extrapolate)."""
        last = self.boxes[-1]
        if len(self.frames) < 2 or self.frames[-1] == self.frames[-2]:
            return last
        prev = self.boxes[-2]
        v = ((last[:2] + last[2:] / 2) - (prev[:2] + prev[2:] / 2)) / (self.frames[-1] - self.frames[-2])
        pred = last.copy()
        pred[:2] += v * (frame - self.frames[-1])
        return pred


def _center_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between box centres in units of the boxes' mean size (sqrt of area)."""
    ca, cb = a[:2] + a[2:] / 2, b[:2] + b[2:] / 2
    size = (np.sqrt(max(a[2] * a[3], 1.0)) + np.sqrt(max(b[2] * b[3], 1.0))) / 2
    return float(np.linalg.norm(ca - cb) / size)


def track_objects(frames: Sequence[Detections], shots: Sequence = (), *, iou_min: float = 0.2,
                  max_center_dist: float = 1.0, max_gap_frames: int | None = None,
                  sample_step: int | None = None, min_detections: int = 1) -> list[ObjectTrack]:
    """Link object detections of sampled frames into per-shot, per-class tracks (see the module
    docstring). ``frames``: one Detections per sampled frame (``.frame`` set), any order.
    ``shots``: the video's shots (empty: one shot over everything; a frame outside every shot is
    an error). ``sample_step`` defaults to the median gap between sampled frames. Tracks with
    fewer than ``min_detections`` detections are dropped; ids are 0, 1, ... in order of (shot,
    first frame, detection index)."""
    def cost(live: list[_Open], dets: Detections) -> np.ndarray:
        preds = np.stack([t.predict(dets.frame) for t in live])
        ious = np.maximum(iou(preds, dets.boxes), iou(np.stack([t.boxes[-1] for t in live]), dets.boxes))
        c = np.full((len(live), len(dets)), FORBIDDEN)
        for a, t in enumerate(live):
            for b in range(len(dets)):
                if int(dets.class_ids[b]) != t.class_id:
                    continue
                if ious[a, b] >= iou_min:
                    c[a, b] = 1.0 - ious[a, b]
                    continue
                box = dets.boxes[b].astype(np.float64)
                ratio = max(box[2] * box[3], 1.0) / max(t.boxes[-1][2] * t.boxes[-1][3], 1.0)
                dist = _center_distance(preds[a], box)
                if dist <= max_center_dist and 1 / 2.5 <= ratio <= 2.5:
                    c[a, b] = 1.0 + dist
        return c

    def start(shot_index: int, shot_end: int | None, dets: Detections, b: int) -> _Open:
        t = _Open(shot_index, shot_end, int(dets.class_ids[b]))
        t.add(dets, b)
        return t

    kept, step = link(frames, shots, cost=cost, start=start, max_gap_frames=max_gap_frames,
                      sample_step=sample_step, min_detections=min_detections, caller="track_objects")
    return [ObjectTrack(i, t.shot_index, t.class_id, t.frames, np.asarray(t.boxes, np.float32).reshape(-1, 4),
                        np.asarray(t.scores, np.float32), t.det_indices, step, t.shot_end)
            for i, t in enumerate(kept)]


__all__ = ["ObjectTrack", "track_objects"]
