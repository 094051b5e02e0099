"""MediaPipe BlazeFace (short range 128x128, full range 192x192) run with ai-edge-litert.

The .tflite files come from the mediapipe wheel, which is carried, never imported (it pins
numpy<2). The graph around the model is MediaPipe's face detection graph, rewritten here
because it lives in C++ calculators (SsdAnchorsCalculator, TensorsToDetectionsCalculator,
NonMaxSuppressionCalculator) that are not usable without the package:

- input: the image letterboxed (aspect kept, zero border) into the square input, floats in
  [-1, 1];
- anchors: SSD anchors with fixed size 1 at cell centres; short range: strides 8, 16, 16, 16
  (16x16 cells x 2 anchors + 8x8 cells x 6 anchors = 896), full range: stride 4 with one
  anchor a cell (48x48 = 2304);
- outputs: per anchor 16 regressors (box centre x, y, width, height, then 6 keypoints x, y,
  all in input pixels relative to the anchor) and one logit (clipped to +-100, sigmoid);
- weighted non-maximum suppression (IoU 0.3): each kept face is the score-weighted mean of
  the boxes and keypoints it suppresses, with the best score; then a face nested inside
  another (70% of its area) is dropped unless it scores 0.1 higher (``suppress_nested``):
  on extreme close-ups the full-range model reports parts of the face as smaller faces.

Keypoints: right eye, left eye (image-left first), nose tip, mouth centre, right and left
ear tragion. Our 5 landmarks take the eyes and nose tip as measured; the mouth corners are
estimated on the line through the measured mouth centre parallel to the eye line, 0.83 eye
distances apart (the mean face), so they are approximate (marked in ``data``). The 6 raw
keypoints are kept in ``data[i]["keypoints6"]``.

``model``: "short" (close faces: larger than ~1/5 of the image's long side), "full" (faces
from ~1/20 of the long side up to ~1/3; misses bigger ones), or "both" (default: both run,
merged by weighted NMS; see bench/results/face_detect.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reelscope.models.cache import MODELS, threads
from reelscope.models.registry import BLAZEFACE_FULL, BLAZEFACE_SHORT, ModelSpec, resolve
from reelscope.models.session import tflite_session
from reelscope.vision.detections import Detections, iou
from reelscope.vision.face_detect import FaceDetector, mouth_corners_from_centre, suppress_nested


@dataclass(frozen=True)
class _Variant:
    spec: ModelSpec
    size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float


VARIANTS = {
    "short": _Variant(BLAZEFACE_SHORT, 128, (8, 16, 16, 16), 1.0),
    "full": _Variant(BLAZEFACE_FULL, 192, (4,), 0.0),
}


def ssd_anchors(size: int, strides: tuple[int, ...], interpolated_scale_aspect_ratio: float = 1.0,
                aspect_ratios: tuple[float, ...] = (1.0,), offset: float = 0.5) -> np.ndarray:
    """Anchor centres (A, 2) in 0..1, in the model's output order (MediaPipe's
    SsdAnchorsCalculator with fixed_anchor_size: every anchor is 1x1, so only centres matter).
    Consecutive layers with the same stride share one grid, their anchors interleaved per cell."""
    out = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += len(aspect_ratios) + (1 if interpolated_scale_aspect_ratio > 0 else 0)
            last += 1
        cells = int(np.ceil(size / strides[layer]))
        ys, xs = np.meshgrid((np.arange(cells) + offset) / cells, (np.arange(cells) + offset) / cells,
                             indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, threshold: float = 0.3):
    """MediaPipe's WEIGHTED non-maximum suppression over xywh boxes: the best box and every
    box overlapping it by more than ``threshold`` IoU become one detection whose box and
    keypoints are their score-weighted mean and whose score is the best score."""
    order = np.argsort(-scores, kind="stable")
    out_b, out_s, out_p = [], [], []
    while len(order):
        o = iou(boxes[order[0]], boxes[order])[0]
        group = order[o > threshold]
        if not len(group):  # degenerate (zero-area) box: keep it alone
            group = order[:1]
        w = scores[group][:, None]
        out_b.append((boxes[group] * w).sum(0) / w.sum())
        out_p.append((points[group] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[order[0]])
        order = order[~np.isin(order, group)]
    if not out_b:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0,) + points.shape[1:], np.float32)
    return np.array(out_b, np.float32), np.array(out_s, np.float32), np.array(out_p, np.float32)


class _Model:
    """One loaded BlazeFace variant: its TFLite session, anchors, tensor names (the session
    serialises calls: TFLite interpreters are not thread-safe)."""

    def __init__(self, variant: _Variant, threads: int | None):
        self.variant = variant
        self.sess = tflite_session(resolve(variant.spec), threads, "BlazeFace")
        inp = self.sess.inputs[0]
        if tuple(inp.shape) != (1, variant.size, variant.size, 3):
            raise ValueError(f"{variant.spec.name}: unexpected input shape {tuple(inp.shape)}")
        self.input_name = inp.name
        outs = sorted(self.sess.outputs, key=lambda o: -int(o.shape[-1]))
        self.out_names = [outs[0].name, outs[1].name]  # regressors, logits
        self.anchors = ssd_anchors(variant.size, variant.strides, variant.interpolated_scale_aspect_ratio)
        n = int(outs[0].shape[1])
        if n != len(self.anchors) or int(outs[0].shape[2]) != 16:
            raise ValueError(f"{variant.spec.name}: {tuple(outs[0].shape)} outputs for {len(self.anchors)} anchors")

    def run(self, rgb: np.ndarray, min_score: float):
        """Raw decoded detections on ``rgb``: boxes (N, 4) xywh and keypoints (N, 6, 2) in
        pixels of ``rgb``, scores (N,), before NMS."""
        size = self.variant.size
        h, w = rgb.shape[:2]
        s = size / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        px, py = (size - nw) // 2, (size - nh) // 2
        tensor = np.full((size, size, 3), -1.0, np.float32)  # zero border, in [-1, 1]
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        small = cv2.resize(rgb, (nw, nh), interpolation=interp)
        tensor[py:py + nh, px:px + nw] = small.astype(np.float32) * (2.0 / 255.0) - 1.0
        reg, logits = self.sess.run({self.input_name: tensor[None]}, self.out_names)
        reg, logits = reg[0], logits[0, :, 0]
        scores = 0.5 + 0.5 * np.tanh(0.5 * np.clip(logits, -100.0, 100.0))  # sigmoid, no overflow
        keep = np.flatnonzero(scores >= min_score)
        reg, scores, anchors = reg[keep], scores[keep].astype(np.float32), self.anchors[keep]
        centre = reg[:, 0:2] / size + anchors
        wh = reg[:, 2:4] / size
        pts = reg[:, 4:16].reshape(-1, 6, 2) / size + anchors[:, None, :]
        # from input-normalised coordinates (letterboxed square) to pixels of rgb
        to_px = np.array([size / s, size / s], np.float32)
        pad = np.array([px / size, py / size], np.float32)
        boxes = np.concatenate([(centre - wh / 2 - pad) * to_px, wh * to_px], axis=1)
        pts = (pts - pad) * to_px
        return boxes.astype(np.float32), scores, pts.astype(np.float32)


def square_tiles(w: int, h: int, min_aspect: float = 1.25) -> list[tuple[int, int, int]]:
    """(x, y, side) squares of the short side, evenly spread (overlapping) along the long side,
    for images more elongated than ``min_aspect``; none otherwise."""
    side, long = min(w, h), max(w, h)
    if side <= 0 or long / side <= min_aspect:
        return []
    n = int(np.ceil(long / side))
    starts = np.linspace(0, long - side, n).round().astype(int)
    return [(int(a), 0, side) if w >= h else (0, int(a), side) for a in starts]


class BlazeFaceDetector(FaceDetector):
    """BlazeFace. ``model``: "short", "full" or "both" (default). ``tiles``: also run the
    full-range model on square tiles of the short side when the image is wider (or taller)
    than 5:4, so letterboxing does not waste the 192x192 input: on a 16:9 frame small faces
    get 1.8x the resolution, for 2 more runs of the model. ``short_min_size``: with "both",
    short-range faces smaller than this fraction of the image's long side are dropped (the
    full-range model covers them, and the short-range model's small boxes are mostly false)."""

    name = "blazeface"

    def __init__(self, *, model: str = "both", tiles: bool = True, short_min_size: float = 0.2,
                 min_score: float = 0.5, nms_threshold: float = 0.3, max_side: int = 1280, min_side: int = 20,
                 threads: int | None = None):
        super().__init__(min_score=min_score, max_side=max_side, min_side=min_side, threads=threads)
        if model not in ("short", "full", "both"):
            raise ValueError(f"blazeface model must be 'short', 'full' or 'both', got {model!r}")
        if not 0.0 <= short_min_size < 1.0:
            raise ValueError(f"short_min_size must be in [0, 1), got {short_min_size}")
        self.model = model
        self.tiles = bool(tiles)
        self.short_min_size = float(short_min_size)
        self.nms_threshold = float(nms_threshold)
        self.variants = [VARIANTS[v] for v in (("short", "full") if model == "both" else (model,))]
        self.specs = tuple(v.spec for v in self.variants)

    def _params(self):
        return {"model": self.model, "tiles": self.tiles, "short_min_size": self.short_min_size,
                "nms_threshold": self.nms_threshold}

    def _model(self, v: _Variant) -> _Model:
        n = self.threads or threads()
        return MODELS.get("blazeface", v.spec.name, {"threads": n}, lambda: _Model(v, n))

    def raw(self, rgb: np.ndarray):
        """Decoded candidates (boxes, scores, 6 keypoints) of every run, before NMS."""
        h, w = rgb.shape[:2]
        parts = []
        for v in self.variants:
            m = self._model(v)
            b, s, p = m.run(rgb, self.min_score)
            if v is VARIANTS["short"] and self.model == "both":
                ok = np.maximum(b[:, 2], b[:, 3]) >= self.short_min_size * max(h, w)
                b, s, p = b[ok], s[ok], p[ok]
            parts.append((b, s, p))
            if v is VARIANTS["full"] and self.tiles:
                for x, y, side in square_tiles(w, h):
                    b, s, p = m.run(rgb[y:y + side, x:x + side], self.min_score)
                    parts.append((b + np.array([x, y, 0, 0], np.float32), s, p + np.array([x, y], np.float32)))
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]))

    def _detect(self, rgb: np.ndarray) -> Detections:
        boxes, scores, pts = self.raw(rgb)
        if not len(boxes):
            return Detections.empty()
        boxes, scores, pts = weighted_nms(boxes, scores, pts, self.nms_threshold)
        keep = suppress_nested(boxes, scores)
        boxes, scores, pts = boxes[keep], scores[keep], pts[keep]
        eyes = pts[:, 0:2]
        corners = mouth_corners_from_centre(eyes, pts[:, 3])
        landmarks = np.concatenate([eyes, pts[:, 2:3], corners], axis=1)
        data = [{"landmarks_estimated": ["right_mouth_corner", "left_mouth_corner"],
                 "keypoints6": p.round(2).tolist()} for p in pts]
        return Detections(boxes, scores, None, landmarks, data=data)
