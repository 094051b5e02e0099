"""Face tracks: the same face followed across the sampled frames of one shot.

``track_faces`` links the face detections of consecutive sampled frames (each a
``Detections`` with ``.frame`` set, usually with 128-d embeddings) into tracks. A track never
crosses a shot boundary: one track is one appearance of one face in one shot.

Association, frame by frame in presentation order, within a shot:

* candidates are the open tracks last seen at most ``max_gap_frames`` ago (default: two
  sample intervals and a half, so a face missed in one sample keeps its track);
* a (track, detection) pair is allowed when the boxes overlap (IoU >= ``iou_min``) **or** the
  embeddings agree closely (distance <= ``reid_dist``: fast motion, a face that moved while
  missed), and, whenever both sides have embeddings, the embedding distance is at most
  ``max_embed_dist``;
* the cost of an allowed pair is ``(1 - IoU) + distance / max_embed_dist`` (the embedding term
  is 0 without embeddings); the assignment minimising the total cost is taken (Hungarian,
  ``scipy.optimize.linear_sum_assignment``), so two faces crossing keep their identities when
  their boxes overlap;
* the distance of a track to a detection is the smaller of the distances to the track's last
  embedding and to its running mean embedding (robust to one blurred sample, follows slow
  changes of pose);
* unmatched detections start new tracks.

Embeddings are compared with the Euclidean distance between L2-normalised 128-d vectors
(dlib's raw 0.6 is about 0.44 on this scale; on MEDS-II 0.40 accepts 99.5% of same-person
pairs and 4.4% of different-person pairs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from reelscope.shots.types import Shot
from reelscope.vision.detections import Detections, iou
from reelscope.vision.track_link import FORBIDDEN, TrackSpan, infer_sample_step, link  # noqa: F401 (infer_sample_step re-exported)


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to unit L2 norm (returned unchanged when its norm is 0)."""
    v = np.asarray(v, np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


@dataclass
class FaceTrack(TrackSpan):
    """One appearance of one face within one shot.

    Per detection (aligned lists/arrays, in frame order): ``frames`` (frame indices),
    ``boxes`` (T, 4) xywh, ``scores`` (T,), ``embeddings`` (T, D) or None (rows of NaN where a
    frame had no embeddings), ``data`` (the detections' attribute dicts, e.g. ``"expression"``)
    and ``det_indices`` (the index of each detection in its frame's Detections).
    ``step`` is the sample interval in frames; ``shot_end`` the last frame of the shot.
    """
    id: int
    shot_index: int
    frames: list[int]
    boxes: np.ndarray
    scores: np.ndarray
    embeddings: np.ndarray | None
    data: list[dict]
    det_indices: list[int]
    step: int = 1
    shot_end: int | None = None

    @property
    def mean_embedding(self) -> np.ndarray | None:
        """L2-normalised mean of the detections' embeddings (None without embeddings)."""
        if self.embeddings is None:
            return None
        rows = self.embeddings[np.isfinite(self.embeddings).all(axis=1)]
        return unit(rows.mean(axis=0)) if len(rows) else None

    @property
    def best_index(self) -> int:
        """Index of the best detection for a thumbnail: largest box area x score."""
        areas = self.boxes[:, 2] * self.boxes[:, 3]
        return int(np.argmax(areas * self.scores))

    @property
    def expressions(self) -> list[dict | str | None]:
        """Per-detection expression attribute (``data[i].get("expression")``)."""
        return [d.get("expression") for d in self.data]


@dataclass
class _Open:
    """A track being built."""
    shot_index: int
    shot_end: int | None
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    embeds: list[np.ndarray | None] = field(default_factory=list)
    data: list[dict] = field(default_factory=list)
    det_indices: list[int] = field(default_factory=list)
    emb_sum: np.ndarray | None = None

    def add(self, dets: Detections, i: int) -> None:
        self.frames.append(int(dets.frame))
        self.boxes.append(dets.boxes[i])
        self.scores.append(float(dets.scores[i]))
        e = None if dets.embeddings is None else dets.embeddings[i]
        self.embeds.append(e)
        if e is not None:
            self.emb_sum = e.astype(np.float64) if self.emb_sum is None else self.emb_sum + e
        self.data.append(dets.data[i])
        self.det_indices.append(i)

    def last_embedding(self) -> np.ndarray | None:
        return next((e for e in reversed(self.embeds) if e is not None), None)

    def close(self, track_id: int, step: int, dim: int | None) -> FaceTrack:
        emb = None
        if dim is not None and self.emb_sum is not None:
            emb = np.stack([np.full(dim, np.nan, np.float32) if e is None else e for e in self.embeds])
        return FaceTrack(track_id, self.shot_index, self.frames, np.asarray(self.boxes, np.float32).reshape(-1, 4),
                         np.asarray(self.scores, np.float32), emb, self.data, self.det_indices, step,
                         self.shot_end)


def _embedding_distance(track: _Open, e: np.ndarray) -> float:
    last = track.last_embedding()
    d = float(np.linalg.norm(last - e))
    if track.emb_sum is not None:
        d = min(d, float(np.linalg.norm(unit(track.emb_sum) - e)))
    return d


def track_faces(frames: Sequence[Detections], shots: Sequence[Shot], *, fps: float, iou_min: float = 0.3,
                max_embed_dist: float = 0.5, reid_dist: float = 0.35, max_gap_frames: int | None = None,
                sample_step: int | None = None, min_detections: int = 1) -> list[FaceTrack]:
    """Link face detections of sampled frames into per-shot tracks (see the module docstring).

    ``frames``: one Detections per sampled frame (``.frame`` set; empty ones are fine), any order.
    ``shots``: the video's shots (an empty list means one shot covering everything; a frame
    outside every shot is an error). ``fps`` is accepted for symmetry with the other people
    functions and validated; tracks are kept in frame units. ``sample_step`` defaults to the
    median gap between sampled frames; ``max_gap_frames`` to ``2.5 * sample_step`` (one missed
    sample). Tracks with fewer than ``min_detections`` detections are dropped. Track ids are
    0, 1, ... in order of (shot, first frame, detection index).
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    dims = {d.embeddings.shape[1] for d in frames if d.embeddings is not None and len(d)}
    if len(dims) > 1:
        raise ValueError(f"embeddings of different sizes across frames: {sorted(dims)}")
    dim = dims.pop() if dims else None

    def cost(live: list[_Open], dets: Detections) -> np.ndarray:
        ious = iou(np.stack([t.boxes[-1] for t in live]), dets.boxes)
        c = np.full((len(live), len(dets)), FORBIDDEN)
        for a, t in enumerate(live):
            has_emb = t.emb_sum is not None and dets.embeddings is not None
            for b in range(len(dets)):
                dist = _embedding_distance(t, dets.embeddings[b]) if has_emb else None
                if dist is not None and dist > max_embed_dist:
                    continue
                if ious[a, b] < iou_min and not (dist is not None and dist <= reid_dist):
                    continue
                c[a, b] = (1.0 - ious[a, b]) + (dist / max_embed_dist if dist is not None else 0.0)
        return c

    def start(shot_index: int, shot_end: int | None, dets: Detections, b: int) -> _Open:
        t = _Open(shot_index, shot_end)
        t.add(dets, b)
        return t

    kept, step = link(frames, shots, cost=cost, start=start, max_gap_frames=max_gap_frames,
                      sample_step=sample_step, min_detections=min_detections, caller="track_faces")
    return [t.close(i, step, dim) for i, t in enumerate(kept)]


def cannot_link_pairs(tracks: Sequence[FaceTrack]) -> list[tuple[int, int]]:
    """Pairs of positions (into ``tracks``) of tracks that share a frame: two faces seen at the
    same time are two different people, so clustering must not join them."""
    by_frame: dict[int, list[int]] = {}
    for pos, t in enumerate(tracks):
        for f in set(t.frames):
            by_frame.setdefault(f, []).append(pos)
    pairs: set[tuple[int, int]] = set()
    for members in by_frame.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pairs.add((min(members[x], members[y]), max(members[x], members[y])))
    return sorted(pairs)
