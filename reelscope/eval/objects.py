"""Object detection metrics: AP at an IoU threshold, precision and recall, with ignore regions.

Ground truth per image is a list of ``{"label", "box": [x, y, w, h], "ignore": bool}``;
detections a list of ``{"label", "box", "score"}``. Per image and class, detections are taken
best score first and matched to the unmatched ground-truth box they overlap most (IoU >=
``iou``): a true positive. A detection that matches no ground truth but overlaps an *ignore*
box of its class (IoU >= ``iou``, or at least half of the detection inside it: a crowd region)
is not counted at all; any other detection is a false positive. Ignore boxes are never missed.

AP is the area under the precision/recall curve with precision made monotone (the all-point
interpolation of PASCAL VOC 2010+ and of COCO's per-threshold AP before COCO averages over
IoUs 0.5:0.95); mAP averages AP over the classes that have ground truth. Precision and recall
are also given at a fixed score threshold (the detector's operating point).

Written here rather than taken from pycocotools because the labels are a small JSON of our
own with per-box ignore flags and no COCO image/category tables.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from reelscope.vision.detections import iou as iou_matrix


def _inside(det: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Share of each detection's area (N, 4 xywh) inside each region (M, 4): (N, M)."""
    d, r = det.astype(np.float64), region.astype(np.float64)
    iw = np.clip(np.minimum(d[:, None, 0] + d[:, None, 2], r[None, :, 0] + r[None, :, 2])
                 - np.maximum(d[:, None, 0], r[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(d[:, None, 1] + d[:, None, 3], r[None, :, 1] + r[None, :, 3])
                 - np.maximum(d[:, None, 1], r[None, :, 1]), 0, None)
    return iw * ih / np.maximum(d[:, 2] * d[:, 3], 1e-9)[:, None]


def match_image(gt: Sequence[dict], dets: Sequence[dict], iou: float = 0.5) -> tuple[list[tuple], dict[str, int]]:
    """Match one image's detections: returns ([(label, score, outcome)], ground-truth count per
    label), outcome 'tp', 'fp' or 'ignored'."""
    out: list[tuple] = []
    n_gt: dict[str, int] = {}
    for g in gt:
        if not g.get("ignore"):
            n_gt[g["label"]] = n_gt.get(g["label"], 0) + 1
    for label in sorted({d["label"] for d in dets}):
        ds = sorted((d for d in dets if d["label"] == label), key=lambda d: -float(d["score"]))
        real = [g for g in gt if g["label"] == label and not g.get("ignore")]
        ign = [g for g in gt if g["label"] == label and g.get("ignore")]
        db = np.array([d["box"] for d in ds], np.float64).reshape(-1, 4)
        ov = iou_matrix(db, np.array([g["box"] for g in real], np.float64).reshape(-1, 4)) if real else None
        if ign:
            ib = np.array([g["box"] for g in ign], np.float64).reshape(-1, 4)
            ign_hit = ((iou_matrix(db, ib) >= iou) | (_inside(db, ib) >= 0.5)).any(axis=1)
        else:
            ign_hit = np.zeros(len(ds), bool)
        taken = np.zeros(len(real), bool)
        for k, d in enumerate(ds):
            if ov is not None and len(real):
                cand = np.where(taken, -1.0, ov[k])
                j = int(np.argmax(cand))
                if cand[j] >= iou:
                    taken[j] = True
                    out.append((label, float(d["score"]), "tp"))
                    continue
            out.append((label, float(d["score"]), "ignored" if ign_hit[k] else "fp"))
    return out, n_gt


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP of detections (scores, tp flags) against ``n_gt`` objects."""
    if n_gt == 0:
        return float("nan")
    if not len(scores):
        return 0.0
    order = np.argsort(-scores, kind="stable")
    hits = tp[order].astype(np.float64)
    ctp, cfp = np.cumsum(hits), np.cumsum(1 - hits)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-9)
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


@dataclass
class ClassResult:
    label: str
    n_gt: int
    ap: float
    tp: int  # at the score threshold
    fp: int
    precision: float
    recall: float


@dataclass
class ObjectEval:
    iou: float
    score_threshold: float
    classes: dict[str, ClassResult] = field(default_factory=dict)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    fp_unlabelled_classes: int = 0  # false positives of classes no ground truth has
    images: int = 0

    @property
    def map(self) -> float:
        aps = [c.ap for c in self.classes.values() if c.n_gt > 0]
        return float(np.mean(aps)) if aps else float("nan")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    def as_dict(self) -> dict:
        r = lambda x: None if x != x else round(x, 4)  # noqa: E731 - NaN -> None for JSON
        return {"iou": self.iou, "score_threshold": self.score_threshold, "images": self.images,
                "map": r(self.map), "precision": r(self.precision), "recall": r(self.recall),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "fp_unlabelled_classes": self.fp_unlabelled_classes,
                "classes": {k: {"n_gt": c.n_gt, "ap": r(c.ap), "tp": c.tp, "fp": c.fp,
                                "precision": r(c.precision), "recall": r(c.recall)}
                            for k, c in sorted(self.classes.items())}}


def evaluate(images: Sequence[tuple[Sequence[dict], Sequence[dict]]], *, iou: float = 0.5,
             score_threshold: float = 0.35) -> ObjectEval:
    """AP per class and precision/recall at ``score_threshold`` over (ground truth, detections)
    pairs, one per image. Detections below the threshold still count for AP."""
    rows: list[tuple] = []
    n_gt: dict[str, int] = {}
    for gt, dets in images:
        m, n = match_image(gt, dets, iou)
        rows += m
        for k, v in n.items():
            n_gt[k] = n_gt.get(k, 0) + v
    res = ObjectEval(iou=iou, score_threshold=score_threshold, images=len(images))
    for label in sorted(set(n_gt) | {r[0] for r in rows}):
        counted = [(s, o == "tp") for lab, s, o in rows if lab == label and o != "ignored"]
        scores = np.array([s for s, _ in counted], np.float64)
        tps = np.array([t for _, t in counted], bool)
        at = scores >= score_threshold
        tp, fp = int((tps & at).sum()), int((~tps & at).sum())
        n = n_gt.get(label, 0)
        if n == 0:
            res.fp_unlabelled_classes += fp
            res.fp += fp
            continue
        res.classes[label] = ClassResult(label, n, average_precision(scores, tps, n), tp, fp,
                                         tp / (tp + fp) if tp + fp else float("nan"), tp / n)
        res.tp += tp
        res.fp += fp
        res.fn += n - tp
    return res


def load_labels(path: str | Path) -> list[dict]:
    """The frames of a labels file (tests/fixtures/objects/labels.json), validated."""
    doc = json.loads(Path(path).read_text())
    frames = doc["frames"] if isinstance(doc, dict) else doc
    for f in frames:
        for key in ("video", "frame", "objects"):
            if key not in f:
                raise ValueError(f"{path}: a labelled frame has no {key!r}")
        for o in f["objects"]:
            if len(o.get("box", ())) != 4 or o["box"][2] <= 0 or o["box"][3] <= 0:
                raise ValueError(f"{path}: {f['video']} frame {f['frame']}: bad box {o.get('box')}")
    return frames
