"""Faces in still images (identity photos, single-image labeling), with robust image loading."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reelscope.errors import MediaError
from reelscope.vision.detections import Detections


def load_image(path: str | Path) -> np.ndarray:
    """RGB uint8 from any image OpenCV reads (greyscale, CMYK JPEG, PNG with alpha, ...)."""
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a directory, not an image")
    raw = p.read_bytes()
    if not raw:
        raise MediaError(p, "file is empty (0 bytes)")
    img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(p, "not an image OpenCV can decode (corrupt or unsupported)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class PhotoFaces:
    """Detect, embed and classify the faces of still images with one set of loaded models."""

    def __init__(self, detector: str = "blazeface", expressions: bool = True):
        from reelscope.vision.expression import ExpressionClassifier
        from reelscope.vision.face_detect import make_face_detector
        from reelscope.vision.face_embed import FaceEmbedder

        self.detector = make_face_detector(detector)
        self.embedder = FaceEmbedder()
        self.expressions = ExpressionClassifier() if expressions else None

    def __call__(self, rgb: np.ndarray) -> Detections:
        dets = self.detector.detect(rgb)
        if not len(dets):
            return dets
        dets = self.embedder.embed(rgb, dets)
        if self.expressions is not None:
            for d, e in zip(dets.data, self.expressions.predict(rgb, dets)):
                d["expression"] = e
        return dets

    def from_file(self, path: str | Path) -> Detections:
        return self(load_image(path))
