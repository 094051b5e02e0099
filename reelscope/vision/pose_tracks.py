"""Person tracks from poses: the same person followed across the sampled frames of one shot, with
their keypoints, and linked to a face track where a detected face lies on the person's head.

``track_poses`` links the per-frame pose results (``vision.pose.PoseEstimator.estimate``) into
tracks with the shared linking loop (``vision.track_link`` through ``vision.object_tracks``:
box overlap with a constant-velocity prediction, Hungarian assignment, never across a shot
boundary) and gathers each track's keypoints.

``link_faces`` finds, for each person track, the face track whose boxes hold the person's head
keypoints (nose, eyes, ears) on the sampled frames both were seen: a face counts on a frame when
at least two of the person's visible head keypoints lie inside the face box grown by a quarter of
its size on every side. A person takes the face track with the most such frames when they are at
least half of the frames on which the person had a face to compare with; each face track goes to
at most one person per shot (most votes first). Face tracks are given as plain arrays (frame,
box, key), so the rule serves the in-memory faces pass and the archive rows alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Sequence

import numpy as np

from reelscope.vision.detections import Detections
from reelscope.vision.object_tracks import track_objects
from reelscope.vision.pose import HEAD, keypoint_scores
from reelscope.vision.track_link import TrackSpan


@dataclass
class PoseTrack(TrackSpan):
    """One person within one shot: per sample ``frames``, ``boxes`` (T, 4) xywh, ``scores`` (T,),
    ``keypoints`` (T, 17, 2) x, y and ``keypoint_scores`` (T, 17), ``det_indices`` (index in each
    frame's pose result). ``face_track`` / ``character``: the linked face track's key and its
    character (None when unlinked). ``actions``: ``vision.pose_actions.ActionSpan`` list."""
    id: int
    shot_index: int
    frames: list[int]
    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    det_indices: list[int]
    step: int = 1
    shot_end: int | None = None
    face_track: Hashable | None = None
    character: int | None = None
    face_votes: int = 0
    actions: list = field(default_factory=list)

    @property
    def score(self) -> float:
        return float(np.mean(self.scores)) if len(self.scores) else 0.0


def track_poses(frames: Sequence[Detections], shots: Sequence = (), *, sample_step: int | None = None,
                min_detections: int = 1, max_gap_frames: int | None = None) -> list[PoseTrack]:
    """Person tracks from pose results of sampled frames (``.frame`` set, landmarks (N, 17, 2)).
    ``shots`` duck-typed (index, start, end); empty: one shot over everything."""
    for d in frames:
        if len(d) and (d.landmarks is None or d.landmarks.shape[1:] != (17, 2)):
            raise ValueError(f"frame {d.frame}: pose results need (N, 17, 2) keypoints")
    people = [Detections(d.boxes, d.scores, np.zeros(len(d), np.int32), d.landmarks, data=d.data, frame=d.frame)
              for d in frames]
    tracks = track_objects(people, shots, sample_step=sample_step, min_detections=min_detections,
                           max_gap_frames=max_gap_frames)
    by_frame = {d.frame: (d, keypoint_scores(d)) for d in people}
    out = []
    for t in tracks:
        kp = np.stack([by_frame[f][0].landmarks[i] for f, i in zip(t.frames, t.det_indices)]).astype(np.float32)
        ks = np.stack([by_frame[f][1][i] for f, i in zip(t.frames, t.det_indices)]).astype(np.float32)
        out.append(PoseTrack(t.id, t.shot_index, list(t.frames), t.boxes, t.scores, kp, ks, list(t.det_indices),
                             t.step, t.shot_end))
    return out


def head_keypoints_in_box(xy: np.ndarray, scores: np.ndarray, box: np.ndarray, *, min_score: float = 0.3,
                          grow: float = 0.25) -> tuple[int, int]:
    """(inside, visible): how many of the visible head keypoints lie inside ``box`` (xywh) grown
    by ``grow`` of its size on every side, and how many are visible."""
    idx = [k for k in HEAD if scores[k] >= min_score]
    if not idx:
        return 0, 0
    x, y, w, h = (float(v) for v in box)
    x0, y0, x1, y1 = x - grow * w, y - grow * h, x + w * (1 + grow), y + h * (1 + grow)
    p = xy[idx]
    inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
    return int(inside.sum()), len(idx)


@dataclass(frozen=True)
class FaceLink:
    face_track: Hashable
    character: Hashable | None
    votes: int  # sampled frames on which the face lay on the person's head


def link_faces(tracks: Sequence[PoseTrack], face_frames: Sequence[int], face_boxes: np.ndarray,
               face_keys: Sequence[Hashable], *, face_shots: Sequence[int] | None = None,
               characters: dict | None = None, min_score: float = 0.3, max_frame_gap: int = 0,
               min_share: float = 0.5) -> dict[int, FaceLink]:
    """Track index -> FaceLink for the person tracks whose head holds a face track's boxes (see
    the module docstring); ``characters`` maps a face key to its character. Faces are compared on
    the person's own frames, or the nearest face frame at most ``max_frame_gap`` away (when faces
    were sampled on other frames). ``face_shots`` (the shot of each face) keeps links within a
    shot. The tracks are not changed (``apply_links`` sets ``face_track`` / ``character``)."""
    face_boxes = np.asarray(face_boxes, np.float32).reshape(-1, 4)
    by_frame: dict[int, list[int]] = {}
    for i, f in enumerate(face_frames):
        by_frame.setdefault(int(f), []).append(i)
    known = np.array(sorted(by_frame), np.int64)
    votes: dict[tuple[int, Hashable], int] = {}
    compared = [0] * len(tracks)
    for ti, t in enumerate(tracks):
        for k, f in enumerate(t.frames):
            cand = by_frame.get(int(f))
            if cand is None and max_frame_gap > 0 and len(known):
                j = int(np.argmin(np.abs(known - f)))
                if abs(int(known[j]) - f) <= max_frame_gap:
                    cand = by_frame[int(known[j])]
            if not cand:
                continue
            if face_shots is not None:
                cand = [i for i in cand if int(face_shots[i]) == t.shot_index]
                if not cand:
                    continue
            compared[ti] += 1
            best, best_n = None, 1
            for i in cand:
                n, vis = head_keypoints_in_box(t.keypoints[k], t.keypoint_scores[k], face_boxes[i], min_score=min_score)
                if n >= 2 and n > best_n:
                    best, best_n = i, n
            if best is not None:
                key = (ti, face_keys[best])
                votes[key] = votes.get(key, 0) + 1
    links: dict[int, FaceLink] = {}
    used_faces: set[tuple[int, Hashable]] = set()
    for (ti, fk), n in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1]))):
        t = tracks[ti]
        if ti in links or (t.shot_index, fk) in used_faces or n < min_share * max(compared[ti], 1):
            continue
        links[ti] = FaceLink(fk, (characters or {}).get(fk), n)
        used_faces.add((t.shot_index, fk))
    return links


def apply_links(tracks: Sequence[PoseTrack], links: dict[int, FaceLink]) -> None:
    """Set (or clear) each track's ``face_track``, ``character`` and ``face_votes`` from ``links``."""
    for i, t in enumerate(tracks):
        ln = links.get(i)
        t.face_track, t.character, t.face_votes = (ln.face_track, ln.character, ln.votes) if ln else (None, None, 0)


__all__ = ["PoseTrack", "FaceLink", "track_poses", "link_faces", "apply_links", "head_keypoints_in_box"]
