"""The shots and keyframes stages (frame stages of the engine).

shots: every frame at the detector's small size goes to the boundary detector (``fast`` by
default, ``transnetv2`` or ``hybrid``); the exact time of every frame is kept (VFR-safe).
keyframes: the middle frame of each shot (or the sharpest of up to 12 samples in its central
80%), converted to a thumbnail only for those frames, from full-quality decoding.
"""
from __future__ import annotations

from reelscope.media.decode import FrameSpec
from reelscope.pipeline.consumers import Consumer
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.shots.backends import make_detector
from reelscope.shots.keyframes import KeyframeImage, keyframe_candidates, sharpness, thumbnail_size
from reelscope.shots.types import drop_recovery_cuts, shots_from_transitions


class ShotsConsumer(Consumer):
    def __init__(self, detector):
        self.det = detector
        self.multi = hasattr(detector, "frame_specs")
        super().__init__(tuple(getattr(detector, "frame_specs", None) or (detector.frame_spec,)))
        self.times: list[float] = []
        self.damaged: list[bool] = []

    def feed(self, frame) -> None:
        self.times.append(frame.time)
        self.damaged.append(frame.damaged)
        if self.multi:
            self.det.process_frame(frame.index, frame)
        else:
            self.det.process(frame.index, frame[self.det.frame_spec], frame.time)

    def finish(self, ctx: Context, frame_count: int) -> dict:
        n = len(self.times)
        transitions = drop_recovery_cuts(self.det.finish(n), self.damaged)
        return {"frame_count": n, "frame_times": self.times, "transitions": transitions,
                "shots": shots_from_transitions(transitions, n),
                "_run": {"params": self.det.params(), "models": getattr(self.det, "models", lambda: {})()}}


def shots_consumer(ctx: Context, params: dict) -> ShotsConsumer:
    return ShotsConsumer(make_detector(params["detector"], **(params.get("detector_params") or {})))


class KeyframesConsumer(Consumer):
    quality = True

    def __init__(self, ctx: Context, method: str, width: int):
        if method not in ("middle", "sharpest"):
            raise ValueError(f"unknown keyframe method {method!r} (use 'middle' or 'sharpest')")
        info = ctx.info
        tw, th = thumbnail_size(info, width)
        self.thumb = FrameSpec("rgb", tw, th)
        self.luma = FrameSpec("luma", 320, max(2, int(round(320 * info.height / info.width))))
        self.method = method
        self.shot_of = keyframe_candidates(ctx.artifacts["shots"], method)
        super().__init__((self.thumb, self.luma) if method == "sharpest" else (self.thumb,), frames=self.shot_of)
        self.best: dict[int, KeyframeImage] = {}

    def feed(self, frame) -> None:
        si = self.shot_of[frame.index]
        sh = sharpness(frame[self.luma]) if self.method == "sharpest" else None
        if si not in self.best or (sh is not None and sh > (self.best[si].sharpness or -1)):
            self.best[si] = KeyframeImage(si, frame.index, frame.time, self.method, frame[self.thumb], sh)

    def finish(self, ctx: Context, frame_count: int) -> dict:
        return {"keyframes": [self.best[k] for k in sorted(self.best)]}


def keyframes_consumer(ctx: Context, params: dict) -> KeyframesConsumer:
    return KeyframesConsumer(ctx, params["method"], params["width"])


def _check_shots(params: dict) -> None:
    from reelscope.shots.backends import BACKENDS
    if params["detector"] not in BACKENDS:
        raise ValueError(f"unknown shot detector {params['detector']!r}; choose one of {', '.join(BACKENDS)}")


def _check_keyframes(params: dict) -> None:
    if params["method"] not in ("middle", "sharpest"):
        raise ValueError(f"unknown keyframe method {params['method']!r} (use 'middle' or 'sharpest')")


register(Stage("shots", check=_check_shots, requires=("video",), provides=("frame_count", "frame_times", "transitions", "shots"),
               consumer=shots_consumer, defaults={"detector": "fast", "detector_params": {}}, cost=0.3,
               description="shot boundaries and transitions"))
register(Stage("keyframes", check=_check_keyframes, requires=("shots",), before=("shots",), provides=("keyframes",),
               consumer=keyframes_consumer, defaults={"method": "middle", "width": 320}, cost=0.05,
               description="one keyframe per shot, stored as a thumbnail"))
