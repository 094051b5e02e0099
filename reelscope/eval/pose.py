"""Evaluating poses and action tags against labels made by eye.

Keypoints (tests/fixtures/pose/keypoints.json): per labelled person, the COCO keypoints that are
visible (``null`` otherwise) and a head box. A predicted keypoint is correct when it lies within
``alpha`` x the person's reference size of the label:

- **PCK@0.2 (torso)**: reference = the torso length, mid-shoulder to mid-hip (people with at
  least one shoulder and one hip labelled);
- **PCKh@0.5 (head)**: reference = the head box's larger side (every labelled person).

Predicted people are matched one-to-one to labelled people (Hungarian assignment on the share
of correct keypoints under the head reference; a pair with no correct keypoint is no match). A
labelled person with no match counts all its keypoints as wrong; predicted people that match no
label are not counted (people nobody labelled, e.g. half-hidden ones). Every labelled keypoint
counts whatever the predicted keypoint's score (``min_kp_score`` > 0: a predicted keypoint below
it counts as missing, i.e. wrong).

Actions (tests/fixtures/pose/actions.json): per clip and label, the frame spans during which at
least one visible person clearly does it, plus spans to ignore. Evaluated on the pose stage's
sampled frames: a (frame, label) is predicted when some person track's action span with that
label covers the frame; precision and recall over (frame, label) pairs outside ignored spans.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reelscope.vision.pose import KEYPOINTS, KP

GROUPS = {"head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
          "shoulders": ("left_shoulder", "right_shoulder"),
          "arms": ("left_elbow", "right_elbow", "left_wrist", "right_wrist"),
          "hips": ("left_hip", "right_hip"),
          "legs": ("left_knee", "right_knee", "left_ankle", "right_ankle")}


def load_keypoint_labels(path: str | Path) -> list[dict]:
    """The labelled frames; each person gets ``xy`` (17, 2) with NaN where not labelled."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        frames = doc["frames"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a keypoint label file ({e})") from None
    for f in frames:
        for i, p in enumerate(f["people"]):
            bad = set(p["keypoints"]) - set(KEYPOINTS)
            if bad:
                raise ValueError(f"{path}: {f['video']} frame {f['frame']} person {i}: unknown keypoints {sorted(bad)}")
            if len(p.get("head") or []) != 4:
                raise ValueError(f"{path}: {f['video']} frame {f['frame']} person {i}: head must be [x, y, w, h]")
            xy = np.full((len(KEYPOINTS), 2), np.nan)
            for k, v in p["keypoints"].items():
                if v is not None:
                    xy[KP[k]] = v
            p["xy"] = xy
    return frames


def torso_size(xy: np.ndarray) -> float | None:
    """Mid-shoulder to mid-hip distance of labelled keypoints (None when not measurable)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sh = np.nanmean(xy[[KP["left_shoulder"], KP["right_shoulder"]]], axis=0)
        hp = np.nanmean(xy[[KP["left_hip"], KP["right_hip"]]], axis=0)
    d = float(np.linalg.norm(sh - hp))
    return d if np.isfinite(d) and d > 0 else None


def head_size(head: list) -> float:
    return float(max(head[2], head[3]))


def _correct(label_xy: np.ndarray, pred_xy: np.ndarray, pred_scores: np.ndarray, ref: float, alpha: float,
             min_kp_score: float) -> np.ndarray:
    """(17,) bool over labelled keypoints (False where not labelled)."""
    lab = np.isfinite(label_xy).all(1)
    d = np.linalg.norm(pred_xy - np.nan_to_num(label_xy), axis=1)
    ok = lab & (d <= alpha * ref)
    if min_kp_score > 0:
        ok &= pred_scores >= min_kp_score
    return ok


def match_people(people: list[dict], pred_xy: np.ndarray, pred_scores: np.ndarray) -> dict[int, int]:
    """Labelled person index -> predicted person index (see the module docstring)."""
    from scipy.optimize import linear_sum_assignment

    if not len(people) or not len(pred_xy):
        return {}
    share = np.zeros((len(people), len(pred_xy)))
    for i, p in enumerate(people):
        n = max(int(np.isfinite(p["xy"]).all(1).sum()), 1)
        for j in range(len(pred_xy)):
            share[i, j] = _correct(p["xy"], pred_xy[j], pred_scores[j], head_size(p["head"]), 0.5, 0.0).sum() / n
    rows, cols = linear_sum_assignment(-share)
    return {int(r): int(c) for r, c in zip(rows, cols) if share[r, c] > 0}


def keypoint_accuracy(results: list[tuple[dict, np.ndarray, np.ndarray]], *, min_kp_score: float = 0.0) -> dict:
    """``results``: (labelled frame, predicted xy (N, 17, 2), predicted keypoint scores (N, 17)).
    Returns PCK@0.2 (torso), PCKh@0.5 (head) overall and per keypoint group, people found."""
    tot = {"torso": [0, 0], "head": [0, 0]}
    groups = {g: {"torso": [0, 0], "head": [0, 0]} for g in GROUPS}
    people = found = 0
    per_frame = []
    for frame, pxy, pks in results:
        m = match_people(frame["people"], pxy, pks)
        fr = {"video": frame["video"], "frame": frame["frame"], "people": len(frame["people"]), "found": len(m),
              "head": [0, 0], "torso": [0, 0]}
        for i, p in enumerate(frame["people"]):
            people += 1
            lab = np.isfinite(p["xy"]).all(1)
            refs = {"head": (head_size(p["head"]), 0.5), "torso": (torso_size(p["xy"]), 0.2)}
            for kind, (ref, alpha) in refs.items():
                if ref is None:
                    continue
                if i in m:
                    ok = _correct(p["xy"], pxy[m[i]], pks[m[i]], ref, alpha, min_kp_score)
                else:
                    ok = np.zeros(len(KEYPOINTS), bool)
                tot[kind][0] += int(ok[lab].sum())
                tot[kind][1] += int(lab.sum())
                fr[kind][0] += int(ok[lab].sum())
                fr[kind][1] += int(lab.sum())
                for g, names in GROUPS.items():
                    idx = [KP[n] for n in names if lab[KP[n]]]
                    groups[g][kind][0] += int(ok[idx].sum())
                    groups[g][kind][1] += len(idx)
            found += int(i in m)
        per_frame.append(fr)

    def rate(c):
        return round(c[0] / c[1], 4) if c[1] else None

    return {"pck_torso@0.2": rate(tot["torso"]), "pckh@0.5": rate(tot["head"]),
            "keypoints_torso": tot["torso"][1], "keypoints_head": tot["head"][1],
            "people": people, "people_found": found,
            "groups": {g: {"pck_torso@0.2": rate(v["torso"]), "pckh@0.5": rate(v["head"])} for g, v in groups.items()},
            "per_frame": [{**f, "head": rate(f["head"]), "torso": rate(f["torso"])} for f in per_frame]}


# ---- actions --------------------------------------------------------------------------------------
def load_action_labels(path: str | Path) -> list[dict]:
    """Clips with ``spans``: {label: [[first, last], ...]} and ``ignore``: {label: [[first, last]]}
    (``"*"`` ignores every label there), frames inclusive."""
    from reelscope.vision.pose_actions import LABELS

    path = Path(path)
    try:
        clips = json.loads(path.read_text())["clips"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not an action label file ({e})") from None
    for c in clips:
        for key in ("spans", "ignore"):
            bad = set(c.get(key) or {}) - set(LABELS) - {"*"}
            if bad:
                raise ValueError(f"{path}: {c['video']}: unknown labels {sorted(bad)} in {key}")
    return clips


def _covered(spans, frame: int) -> bool:
    return any(a <= frame <= b for a, b in spans)


def action_accuracy(clips: list[dict], predicted: dict[str, dict[str, list]], sampled: dict[str, list[int]]) -> dict:
    """``predicted``: video -> label -> [[first, last], ...] predicted spans; ``sampled``: video ->
    the frames the stage analysed. Precision / recall per label and overall (micro) over
    (sampled frame, label) pairs, ignoring the labelled ignore spans."""
    from reelscope.vision.pose_actions import LABELS

    counts = {lab: {"tp": 0, "fp": 0, "fn": 0} for lab in LABELS}
    for c in clips:
        v = c["video"]
        truth, ign, pred = c.get("spans") or {}, c.get("ignore") or {}, predicted.get(v, {})
        for f in sampled.get(v, []):
            if "first" in c and f < c["first"] or "last" in c and f > c["last"]:
                continue
            for lab in LABELS:
                if _covered(ign.get(lab, []), f) or _covered(ign.get("*", []), f):
                    continue
                t, p = _covered(truth.get(lab, []), f), _covered(pred.get(lab, []), f)
                if t and p:
                    counts[lab]["tp"] += 1
                elif p:
                    counts[lab]["fp"] += 1
                elif t:
                    counts[lab]["fn"] += 1

    def pr(c):
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None
        return {**c, "precision": None if p is None else round(p, 3), "recall": None if r is None else round(r, 3)}

    total = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn")}
    return {"labels": {lab: pr(c) for lab, c in counts.items()}, "micro": pr(total)}


__all__ = ["load_keypoint_labels", "keypoint_accuracy", "match_people", "torso_size", "head_size",
           "load_action_labels", "action_accuracy", "GROUPS"]
