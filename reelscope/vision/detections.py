"""Detections: the one columnar type passed between detectors, trackers, clustering and the archive.

One instance holds the N detections of one image (or one video frame):

    boxes       (N, 4) float32   x, y, width, height in pixels of the analysed image
    scores      (N,)   float32   detector confidence, 0..1
    class_ids   (N,)   int32     class per detection (0 = face for face detectors; COCO ids for objects)
    landmarks   (N, K, 2) float32 or None   keypoints in pixels (faces: 5 points: right eye,
                                left eye, nose tip, right mouth corner, left mouth corner, from the
                                viewer's point of view: 'right eye' is the subject's right eye,
                                on the left of the image)
    embeddings  (N, D) float32 or None      e.g. 128-d face descriptors
    data        list of N dicts             free attributes, e.g. {"expression": {...}}
    frame       int or None                 frame index when the image is a video frame

Shapes are validated on construction; ``select`` / ``concat`` keep every column aligned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np


@dataclass
class Detections:
    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    data: list[dict] = field(default_factory=list)
    frame: int | None = None

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        n = len(self.boxes)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        if len(self.scores) != n:
            raise ValueError(f"scores has {len(self.scores)} entries for {n} boxes")
        self.class_ids = (np.zeros(n, np.int32) if self.class_ids is None
                          else np.asarray(self.class_ids, np.int32).reshape(-1))
        if len(self.class_ids) != n:
            raise ValueError(f"class_ids has {len(self.class_ids)} entries for {n} boxes")
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, np.float32)
            if self.landmarks.ndim != 3 or self.landmarks.shape[0] != n or self.landmarks.shape[2] != 2:
                raise ValueError(f"landmarks must be (N, K, 2) with N={n}, got {self.landmarks.shape}")
        if self.embeddings is not None:
            self.embeddings = np.asarray(self.embeddings, np.float32)
            if self.embeddings.ndim != 2 or self.embeddings.shape[0] != n:
                raise ValueError(f"embeddings must be (N, D) with N={n}, got {self.embeddings.shape}")
        if not self.data:
            self.data = [{} for _ in range(n)]
        if len(self.data) != n:
            raise ValueError(f"data has {len(self.data)} entries for {n} boxes")
        if n and (self.boxes[:, 2:] < 0).any():
            raise ValueError("box width and height must be >= 0")

    @classmethod
    def empty(cls, frame: int | None = None) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), frame=frame)

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def areas(self) -> np.ndarray:
        return self.boxes[:, 2] * self.boxes[:, 3]

    @property
    def xyxy(self) -> np.ndarray:
        b = self.boxes
        return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], axis=1)

    def select(self, index) -> "Detections":
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        return Detections(self.boxes[idx], self.scores[idx], self.class_ids[idx],
                          None if self.landmarks is None else self.landmarks[idx],
                          None if self.embeddings is None else self.embeddings[idx],
                          [self.data[i] for i in idx], self.frame)

    def with_embeddings(self, embeddings: np.ndarray) -> "Detections":
        return Detections(self.boxes, self.scores, self.class_ids, self.landmarks, embeddings, self.data,
                          self.frame)

    @staticmethod
    def concat(items: Iterable["Detections"]) -> "Detections":
        items = [d for d in items if len(d)]
        if not items:
            return Detections.empty()
        def cat(name):
            cols = [getattr(d, name) for d in items]
            return None if any(c is None for c in cols) else np.concatenate(cols)
        return Detections(cat("boxes"), cat("scores"), cat("class_ids"), cat("landmarks"), cat("embeddings"),
                          [x for d in items for x in d.data], items[0].frame)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xywh boxes: (N, 4) x (M, 4) -> (N, M)."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0, None], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1, None], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (xywh boxes), best first."""
    order = np.argsort(-np.asarray(scores))
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        if len(order) == 1:
            break
        o = iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][o <= threshold]
    return np.asarray(keep, dtype=np.int64)
