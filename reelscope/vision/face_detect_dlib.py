"""dlib face detectors: HOG + linear SVM ("hog") and the CNN max-margin detector ("mmod").

Both take landmarks from dlib's 5-point shape predictor (shape_predictor_5_face_landmarks.dat,
carried by face-recognition-models, whose ``__init__`` needs pkg_resources: the files are
located with ``find_spec``, never imported). Its points are the outer and inner corners of
each eye and the base of the nose (subnasale). Our 5 landmarks: each eye is the midpoint of
its two corners (measured), the nose is the nose base (measured; it sits ~0.15 eye distances
below the nose tip other backends report), the mouth corners are estimated: the mouth centre
1.08 eye distances below the eye midpoint along the eye-midpoint-to-nose direction, the corners
0.83 eye distances apart along the eye line. 1.08 is the mean measured on the 109 MEDS-II
mugshots HOG finds (sd 0.07), against dlib's 68-point predictor's mouth corners.

Scores: HOG's SVM margin ``m`` and MMOD's confidence ``c`` (both > 0 for a detection at
dlib's default threshold) are squashed with the logistic ``1 / (1 + exp(-2 m))``: dlib's
threshold maps to 0.5, a typical frontal face (m ~ 1.8, c ~ 1.05) to 0.97 / 0.89. For HOG,
``min_score`` is passed to dlib as the equivalent margin threshold, so values below 0.5
find more (weaker) faces. MMOD's threshold is fixed inside dlib: ``min_score`` below 0.5
changes nothing there, above it drops weaker faces.

Speed on a 2-core CPU (this dlib build has no BLAS): HOG ~70 ms per 640x360 frame with
``upsample=1`` (faces down to ~40 px); MMOD ~1.6 s with ``upsample=0`` (faces down to ~80 px),
~5.5 s with ``upsample=1``.
"""
from __future__ import annotations

import math

import numpy as np

from reelscope.models.dlib_models import dlib_model, dlib_module
from reelscope.models.registry import DLIB_LANDMARKS_5, DLIB_MMOD_FACE
from reelscope.vision.detections import Detections, nms
from reelscope.vision.face_detect import FaceDetector, mouth_corners_from_nose

NOSE_DEPTH = 1.08  # mouth centre below the eye midpoint, in eye distances (see module doc)


def squash(margin: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-2.0 * np.clip(np.asarray(margin, np.float64), -50, 50)))).astype(np.float32)


def unsquash(score: float) -> float:
    score = min(max(score, 1e-6), 1 - 1e-6)
    return 0.5 * math.log(score / (1 - score))


def landmarks5(rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Our 5 landmarks (N, 5, 2) for xywh ``boxes`` from dlib's 5-point predictor."""
    dlib = dlib_module()
    pred = dlib_model("shape5")
    out = np.zeros((len(boxes), 5, 2), np.float32)
    raw = np.zeros((len(boxes), 5, 2), np.float32)
    with pred.lock:
        for i, (x, y, w, h) in enumerate(boxes):
            rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)) - 1, int(round(y + h)) - 1)
            shape = pred.model(rgb, rect)
            raw[i] = [(p.x, p.y) for p in shape.parts()]
    if not len(boxes):
        return out
    # points 0, 1: the eye on the image's right (subject's left); 2, 3: image-left eye; 4: nose base
    eyes = np.stack([raw[:, 2:4].mean(1), raw[:, 0:2].mean(1)], axis=1)
    swap = eyes[:, 0, 0] > eyes[:, 1, 0]  # a face upside down or mirrored: keep image-left first
    eyes[swap] = eyes[swap][:, ::-1]
    out[:, 0:2] = eyes
    out[:, 2] = raw[:, 4]
    out[:, 3:5] = mouth_corners_from_nose(eyes, raw[:, 4], nose_depth=NOSE_DEPTH)
    return out


class _DlibFaceDetector(FaceDetector):
    def __init__(self, *, upsample: int, min_score: float, max_side: int, min_side: int, threads: int | None):
        super().__init__(min_score=min_score, max_side=max_side, min_side=min_side, threads=threads)
        if not 0 <= int(upsample) <= 3:
            raise ValueError(f"upsample must be 0..3, got {upsample}")
        self.upsample = int(upsample)

    def _params(self):
        return {"upsample": self.upsample}

    def _faces(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _detect(self, rgb: np.ndarray) -> Detections:
        boxes, margins = self._faces(rgb)
        if not len(boxes):
            return Detections.empty()
        scores = squash(margins)
        keep = nms(boxes, scores, 0.3)  # dlib already suppresses overlaps; this is a safety net
        boxes, scores = boxes[keep], scores[keep]
        lm = landmarks5(rgb, boxes)
        data = [{"landmarks_estimated": ["right_mouth_corner", "left_mouth_corner"], "nose": "base"}
                for _ in range(len(boxes))]
        return Detections(boxes, scores, None, lm, data=data)


def _rect_xywh(r) -> list[float]:
    return [r.left(), r.top(), r.right() - r.left() + 1, r.bottom() - r.top() + 1]


class HogFaceDetector(_DlibFaceDetector):
    """dlib's HOG frontal face detector (5 HOG filters: front, left, right, front rotated left
    and right). Frontal and near-frontal faces of about 80 px (40 px with ``upsample=1``) and up."""

    name = "hog"
    specs = (DLIB_LANDMARKS_5,)

    def __init__(self, *, upsample: int = 1, min_score: float = 0.5, max_side: int = 1280, min_side: int = 20,
                 threads: int | None = None):
        super().__init__(upsample=upsample, min_score=min_score, max_side=max_side, min_side=min_side,
                         threads=threads)

    def _faces(self, rgb):
        det = dlib_model("hog")
        with det.lock:
            rects, margins, _ = det.model.run(rgb, self.upsample, unsquash(self.min_score))
        boxes = np.array([_rect_xywh(r) for r in rects], np.float32).reshape(-1, 4)
        return boxes, np.asarray(margins, np.float32)


class MmodFaceDetector(_DlibFaceDetector):
    """dlib's CNN max-margin object detector trained on faces (more pose-tolerant than HOG;
    slow on CPU: see the module doc). Faces of about 80 px (40 px with ``upsample=1``) and up."""

    name = "mmod"
    specs = (DLIB_MMOD_FACE, DLIB_LANDMARKS_5)

    def __init__(self, *, upsample: int = 0, min_score: float = 0.5, max_side: int = 1280, min_side: int = 20,
                 threads: int | None = None):
        super().__init__(upsample=upsample, min_score=min_score, max_side=max_side, min_side=min_side,
                         threads=threads)

    def _faces(self, rgb):
        det = dlib_model("mmod")
        with det.lock:
            found = det.model(rgb, self.upsample)
        boxes = np.array([_rect_xywh(d.rect) for d in found], np.float32).reshape(-1, 4)
        return boxes, np.array([d.confidence for d in found], np.float32)
