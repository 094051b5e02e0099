"""The boundary-detector interface: frames in, transitions out.

The orchestrator (reelscope.shots.run) owns decoding; a detector declares the frame
representation it wants (``frame_spec``) and receives one downscaled array per frame.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from reelscope.media.decode import FrameSpec
from reelscope.shots.types import Transition


@runtime_checkable
class BoundaryDetector(Protocol):
    name: str
    frame_spec: FrameSpec  # e.g. FrameSpec("rgb", 48, 27)

    def params(self) -> dict:
        """Parameters and model versions, recorded with each analysis run."""

    def process(self, index: int, image: np.ndarray, time: float | None = None) -> None:
        """Feed frame ``index`` (consecutive from 0) as the array ``frame_spec`` describes, with its
        exact presentation time in seconds (frames may be unevenly spaced: variable frame rate,
        lost frames)."""

    def finish(self, frame_count: int) -> list[Transition]:
        """Called once after the last frame; returns transitions sorted by boundary."""
