"""Face detection: one entry point over several backends, each returning Detections.

    det = make_face_detector("blazeface")          # or "hog", "mmod", "mtcnn"
    faces = det.detect(rgb)                        # rgb: HxWx3 uint8 (grey / RGBA accepted)
    faces.boxes       (N, 4) x, y, w, h in pixels of ``rgb``, clipped to the image
    faces.scores      (N,)   0..1
    faces.landmarks   (N, 5, 2): subject's right eye, left eye, nose, right mouth corner,
                      left mouth corner (image-left eye first; see detections.py)
    faces.data[i]     {"landmarks_estimated": [...]} names the points a backend did not
                      measure but derived from the others (see each backend's docstring);
                      dlib backends add {"nose": "base"} (nose base, not tip); blazeface adds
                      {"keypoints6": [[x, y] * 6]} (eyes, nose tip, mouth centre, ear tragions)

Backends (lazy: a model file is loaded, verified, on the first ``detect`` and kept in the
process's model cache, ``models.cache.MODELS``, shared by every detector that uses it):

- `blazeface` (default): MediaPipe BlazeFace short + full range .tflite (carrier: mediapipe).
  Eyes and nose tip measured; mouth corners estimated from the measured mouth centre.
- `hog`: dlib's HOG frontal face detector + dlib's 5-point shape predictor
  (face-recognition-models). Eyes and nose base measured; mouth corners from eyes + nose.
- `mmod`: dlib's CNN MMOD face detector + the 5-point predictor. Landmarks as `hog`.
- `mtcnn`: MTCNN P/R/O-Net weights (carrier: facenet-pytorch) in our own torch modules.
  All 5 landmarks measured.

Every backend shares the input handling here: greyscale, single-channel and RGBA images
are converted to RGB; float images in 0..1 are scaled; an image smaller than ``min_side``
(20 px) on either side yields no faces; an image larger than ``max_side`` (1280 px) is
downscaled for detection and the results mapped back to its pixels.

Which to use (bench/results/face_detect.md): `blazeface` by default, ~9 ms per 640x360 frame,
every MEDS mugshot (profiles too), faces from ~24 px; `mtcnn` for the smallest faces and
measured mouth corners (~4-8x slower); `hog` (frontal only) and `mmod` (~1 s per frame) where
dlib's behaviour is wanted.
"""
from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from reelscope.models.registry import ModelSpec
from reelscope.vision.detections import Detections

MIN_SIDE = 20  # pixels: nothing smaller can hold a detectable face

# Mean 5-point face (the ArcFace/InsightFace 112x112 alignment template): right eye, left eye,
# nose tip, right mouth corner, left mouth corner. Used to estimate points a model lacks.
FACE_TEMPLATE_5 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                            [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An HxWx3 uint8 contiguous RGB view of ``image`` (HxW, HxWx1, HxWx3 or HxWx4; uint8,
    uint16, bool or float in 0..1)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {img.shape}")
    if img.size == 0:
        return np.zeros(img.shape[:2] + (3,), np.uint8)
    if img.dtype != np.uint8:
        if img.dtype == np.bool_:
            img = img.astype(np.uint8) * 255
        elif img.dtype == np.uint16:
            img = (img >> 8).astype(np.uint8)
        elif np.issubdtype(img.dtype, np.floating):
            finite = np.nan_to_num(img.astype(np.float32))
            scale = 255.0 if finite.size and float(finite.max()) <= 1.0 else 1.0
            img = np.clip(finite * scale + 0.5, 0, 255).astype(np.uint8)
        else:
            img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGBA2RGB)
    return np.ascontiguousarray(img)


def mouth_corners_from_centre(eyes: np.ndarray, mouth: np.ndarray) -> np.ndarray:
    """Right and left mouth corners (N, 2, 2) from the two eyes (N, 2, 2; image-left first)
    and the mouth centre (N, 2): the corners lie on the line through the mouth centre
    parallel to the eye line, as far apart as in the mean face (0.83 x the eye distance)."""
    t = FACE_TEMPLATE_5
    half = 0.5 * (t[4, 0] - t[3, 0]) / (t[1, 0] - t[0, 0])  # half mouth width / eye distance
    e = eyes[:, 1] - eyes[:, 0]
    return np.stack([mouth - half * e, mouth + half * e], axis=1)


def mouth_corners_from_nose(eyes: np.ndarray, nose: np.ndarray, *, nose_depth: float) -> np.ndarray:
    """Right and left mouth corners (N, 2, 2) from the eyes (N, 2, 2; image-left first) and a
    nose point (N, 2), in the face frame the eyes span: x along the eye line, y perpendicular.
    The mouth centre lies ``nose_depth`` eye distances below the eye midpoint along the
    direction from it to the nose (so head roll and nodding move the mouth with the nose),
    and the corners 0.83 eye distances apart along the eye line (the mean face)."""
    mid = eyes.mean(axis=1)
    e = eyes[:, 1] - eyes[:, 0]
    d = np.linalg.norm(e, axis=1, keepdims=True)
    down = nose - mid
    n = np.linalg.norm(down, axis=1, keepdims=True)
    perp = np.stack([-e[:, 1], e[:, 0]], axis=1)  # eye line turned 90 degrees: points down the face
    down = np.where(n > 1e-3 * np.maximum(d, 1), down / np.maximum(n, 1e-9), perp / np.maximum(d, 1e-9))
    mouth = mid + nose_depth * d * down
    return mouth_corners_from_centre(eyes, mouth)


def suppress_nested(boxes: np.ndarray, scores: np.ndarray, *, cover: float = 0.7,
                    margin: float = 0.1) -> np.ndarray:
    """Indices kept after removing faces nested in other faces (xywh boxes).

    When at least ``cover`` of one box's area lies inside a larger box, one of the two is a
    false detection (a face cannot hold a face): typically a part of an extreme close-up
    mistaken for a smaller face. The larger box is kept unless the smaller one scores more
    than ``margin`` higher."""
    n = len(boxes)
    alive = np.ones(n, bool)
    area = boxes[:, 2] * boxes[:, 3]
    order = np.argsort(-area, kind="stable")
    for a in order:
        if not alive[a]:
            continue
        for b in order:
            if b == a or not alive[b] or area[b] > area[a]:
                continue
            iw = min(boxes[a, 0] + boxes[a, 2], boxes[b, 0] + boxes[b, 2]) - max(boxes[a, 0], boxes[b, 0])
            ih = min(boxes[a, 1] + boxes[a, 3], boxes[b, 1] + boxes[b, 3]) - max(boxes[a, 1], boxes[b, 1])
            if iw <= 0 or ih <= 0 or iw * ih < cover * max(area[b], 1e-9):
                continue
            if scores[b] > scores[a] + margin:
                alive[a] = False
                break
            alive[b] = False
    return np.flatnonzero(alive)


def model_info(spec: ModelSpec) -> dict[str, dict[str, str]]:
    """``models()`` entries for a registry spec: file name -> licence, sha256, version."""
    return {f"{spec.name}/{name}": {"licence": spec.licence, "sha256": sha, "version": spec.version}
            for name, sha in spec.files.items()}


def no_faces(frame: int | None = None) -> Detections:
    """Empty face Detections, with (0, 5, 2) landmarks so every result has the same columns."""
    return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), None,
                      np.zeros((0, 5, 2), np.float32), frame=frame)


class FaceDetector:
    """Base class: input normalisation, downscaling, mapping back and clipping.

    Subclasses set ``name`` and ``specs`` and implement ``_detect(rgb) -> Detections`` on an
    RGB uint8 image whose sides are within [min_side, max_side].

    Common options: ``min_score`` (0..1; faces scoring lower are dropped), ``max_side`` (images
    larger than this are downscaled for detection), ``min_side`` (smaller images have no
    faces), ``threads`` (intra-op threads of BlazeFace's TFLite interpreter; default the
    process's count, ``models.cache.threads()``; MTCNN runs on torch's process-wide count, dlib
    single-threaded).
    """

    name = "base"
    specs: tuple[ModelSpec, ...] = ()

    def __init__(self, *, min_score: float = 0.5, max_side: int = 1280, min_side: int = MIN_SIDE,
                 threads: int | None = None):
        if max_side < min_side:
            raise ValueError(f"max_side ({max_side}) must be >= min_side ({min_side})")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in 0..1, got {min_score}")
        self.min_score = float(min_score)
        self.max_side = int(max_side)
        self.min_side = int(min_side)
        self.threads = int(threads) if threads else None

    def params(self) -> dict[str, Any]:
        return {"min_score": self.min_score, "max_side": self.max_side, "min_side": self.min_side,
                **self._params()}

    def _params(self) -> dict[str, Any]:
        return {}

    def models(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for spec in self.specs:
            out.update(model_info(spec))
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"make_face_detector({self.name!r}, {args})"

    def detect(self, rgb: np.ndarray, frame: int | None = None) -> Detections:
        img = as_rgb(rgb)
        h, w = img.shape[:2]
        if min(h, w) < self.min_side:
            return no_faces(frame)
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            sx, sy = w / size[0], h / size[1]
        else:
            small, sx, sy = img, 1.0, 1.0
        det = self._detect(small)
        if not len(det):
            return no_faces(frame)
        boxes = det.boxes.astype(np.float32) * np.array([sx, sy, sx, sy], np.float32)
        lm = None if det.landmarks is None else det.landmarks * np.array([sx, sy], np.float32)
        x1 = np.clip(boxes[:, 0], 0, w)
        y1 = np.clip(boxes[:, 1], 0, h)
        x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, w)
        y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, h)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        keep = (boxes[:, 2] >= 1) & (boxes[:, 3] >= 1) & (det.scores >= self.min_score)
        out = Detections(boxes, np.clip(det.scores, 0, 1), np.zeros(len(boxes), np.int32), lm,
                         data=det.data, frame=frame).select(keep)
        return out.select(np.argsort(-out.scores, kind="stable"))

    def _detect(self, rgb: np.ndarray) -> Detections:  # pragma: no cover - abstract
        raise NotImplementedError


_BACKENDS: dict[str, Callable[..., FaceDetector]] = {}


def _backends() -> dict[str, Callable[..., FaceDetector]]:
    if not _BACKENDS:  # imported here: each backend module imports its runtime lazily too
        from reelscope.vision.face_detect_blazeface import BlazeFaceDetector
        from reelscope.vision.face_detect_dlib import HogFaceDetector, MmodFaceDetector
        from reelscope.vision.face_detect_mtcnn import MtcnnFaceDetector
        _BACKENDS.update({"blazeface": BlazeFaceDetector, "hog": HogFaceDetector,
                          "mmod": MmodFaceDetector, "mtcnn": MtcnnFaceDetector})
    return _BACKENDS


def face_detector_names() -> list[str]:
    return list(_backends())


def make_face_detector(name: str = "blazeface", **params) -> FaceDetector:
    """A face detector by backend name; ``params`` are the backend's keyword options
    (common: ``min_score``, ``max_side``, ``min_side``, ``threads``)."""
    backends = _backends()
    if name not in backends:
        raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(backends)}")
    return backends[name](**params)


__all__ = ["FaceDetector", "make_face_detector", "face_detector_names", "as_rgb", "model_info", "no_faces",
           "FACE_TEMPLATE_5", "mouth_corners_from_centre", "mouth_corners_from_nose", "suppress_nested"]
