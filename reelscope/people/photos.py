"""Faces in still images (identity photos, single-image labeling), with robust image loading."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reelscope.media.image import read_image
from reelscope.vision.detections import Detections


def load_image(path: str | Path) -> np.ndarray:
    """RGB uint8 from any image OpenCV reads (greyscale, CMYK JPEG, PNG with alpha, ...)."""
    return read_image(path)


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
