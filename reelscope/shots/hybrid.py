"""Hybrid detector: the fast detector's transitions, completed by confident TransNetV2 cuts.

The fast detector decides first (it sees flashes, flicker and blank frames explicitly).
A TransNetV2 event is added where the fast detector has nothing within ``radius`` frames,
if the network is confident (peak probability >= ``add_threshold``) and the fast signals
do not call it a flash/occlusion (content returning within a few frames).
One decode pass feeds both detectors.
"""
from __future__ import annotations

import numpy as np

from reelscope.shots.fast import FastDetector
from reelscope.shots.transnet import TransNetV2Detector
from reelscope.shots.types import Transition


class HybridDetector:
    name = "hybrid"
    version = "1"

    def __init__(self, add_threshold: float = 0.9, radius: int = 4, **transnet_params):
        self.fast = FastDetector()
        self.net = TransNetV2Detector(**transnet_params)
        self.add_threshold = add_threshold
        self.radius = radius
        self.frame_specs = (self.fast.frame_spec, self.net.frame_spec)

    def params(self) -> dict:
        return {"detector": self.name, "version": self.version, "add_threshold": self.add_threshold,
                "radius": self.radius, "fast": self.fast.params(), "transnetv2": self.net.params()}

    def models(self) -> dict:
        return self.net.models() if hasattr(self.net, "models") else {}

    def process_frame(self, index: int, frame) -> None:
        self.fast.process(index, frame[self.fast.frame_spec], frame.time)
        self.net.process(index, frame[self.net.frame_spec], frame.time)

    def finish(self, frame_count: int) -> list[Transition]:
        mine = self.fast.finish(frame_count)
        theirs = self.net.finish(frame_count)
        prob = self.net.probabilities
        ret = self.fast.signals.arrays()["ret"]
        taken = np.array([t.boundary for t in mine], dtype=int)
        out = list(mine)
        for t in theirs:
            if taken.size and np.abs(taken - t.boundary).min() <= self.radius:
                continue
            if not self.fast.head < t.boundary <= self.fast.tail:
                continue  # inside a blank leader/trailer: no shot on one side
            peak = float(prob[max(t.start, 0):t.end + 1].max()) if len(prob) else 0.0
            if peak < self.add_threshold:
                continue
            if 0 <= t.boundary < len(ret) and ret[t.boundary] < self.fast.p.flash_return:
                continue
            out.append(Transition(t.start, t.end, t.boundary, t.type, peak, self.name))
        return sorted(out, key=lambda t: t.boundary)
