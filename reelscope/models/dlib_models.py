"""dlib's models (face detectors, the 5-point shape predictor, the face ResNet), loaded once per
process through the model cache. dlib objects are not documented as thread-safe and its networks
keep per-call buffers, so each model is used under its own lock (threads share the models, not
the calls)."""
from __future__ import annotations

import threading
from typing import Any

from reelscope.errors import MissingDependency
from reelscope.models.cache import MODELS


class LockedModel:
    """A dlib model and the lock its calls run under."""

    def __init__(self, model: Any):
        self.model = model
        self.lock = threading.Lock()

    def __call__(self, *args):
        with self.lock:
            return self.model(*args)


def dlib_module():
    try:
        import dlib
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependency("dlib (face detection, alignment and embeddings)", "pip install dlib-bin") from e
    return dlib


def dlib_model(kind: str) -> LockedModel:
    """``kind``: "shape5" (5-point shape predictor), "facerec" (the ResNet face descriptor, as
    dlib runs it), "hog" (frontal face detector), "mmod" (CNN face detector)."""
    from reelscope.models.registry import DLIB_FACE_RECOGNITION, DLIB_LANDMARKS_5, DLIB_MMOD_FACE, resolve

    def load():
        dlib = dlib_module()
        if kind == "shape5":
            return LockedModel(dlib.shape_predictor(str(resolve(DLIB_LANDMARKS_5))))
        if kind == "facerec":
            return LockedModel(dlib.face_recognition_model_v1(str(resolve(DLIB_FACE_RECOGNITION))))
        if kind == "hog":
            return LockedModel(dlib.get_frontal_face_detector())
        if kind == "mmod":
            return LockedModel(dlib.cnn_face_detection_model_v1(str(resolve(DLIB_MMOD_FACE))))
        raise KeyError(f"unknown dlib model {kind!r}")

    return MODELS.get("dlib", kind, None, load)


__all__ = ["LockedModel", "dlib_model", "dlib_module"]
