"""The objects stage: COCO-80 objects with boxes on sampled frames, tracked within shots.

Parameters: ``detector`` (``nanodet``, the default, carried by the npm package; ``centernet``;
``yolox-nano``; or the path of a YOLOX-style ``.onnx``), ``sample_fps`` (frames analysed per
second), ``min_score``, ``max_width`` (frames are decoded at most this wide; the detectors
letterbox to 416-512 px anyway), ``classes`` (COCO names to keep; null = all 80),
``min_track_len`` (tracks with fewer detections are dropped, with their detections).

A frame stage of the engine's first pass; only the sampled frames are converted to RGB. Boxes
are stored in the video's display pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from reelscope.pipeline.consumers import WorkerConsumer, analysis_spec, frame_step
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.vision.detections import Detections


@dataclass
class ObjectPass:
    scale: float  # analysed-image pixels -> video pixels
    frames: list[Detections] = field(default_factory=list)  # sampled frames with objects (video px)
    times: dict[int, float] = field(default_factory=dict)  # frame -> presentation time, every sampled frame
    tracks: list = field(default_factory=list)  # vision.object_tracks.ObjectTrack
    sampled: int = 0
    step: int = 1


def finish_objects(out: ObjectPass, shots: Sequence, min_track_len: int = 1) -> ObjectPass:
    """Track the sampled detections within shots; drop tracks (and their detections) shorter than
    ``min_track_len``."""
    from reelscope.vision.object_tracks import track_objects
    from reelscope.vision.track_link import keep_tracked

    out.tracks = track_objects(out.frames, shots, sample_step=out.step, min_detections=min_track_len)
    if min_track_len > 1:  # keep only the detections that belong to a kept track
        out.frames = keep_tracked(out.frames, out.tracks)
    return out


def analyze_objects(path: str, info, shots: Sequence, detector, *, sample_fps: float = 2.0, max_width: int = 640,
                    min_track_len: int = 1, progress=None) -> ObjectPass:
    """The objects pass over a file on its own decode (tools, tests, benchmarks)."""
    from reelscope.media.decode import iter_frames

    spec = analysis_spec(info, max_width)
    step = frame_step(info, sample_fps)
    out = ObjectPass(scale=info.width / spec.width, step=step)
    total = max(info.frame_count_hint, 1)
    for frame in iter_frames(path, [spec], rotation=info.rotation,
                             select=lambda i, t: (spec,) if i % step == 0 else ()):
        out.sampled += 1
        out.times[frame.index] = frame.time
        if progress:
            progress(min(frame.index, total), total)
        dets = detector.detect(frame[spec], frame=frame.index)
        if len(dets):
            dets.boxes = dets.boxes * out.scale
            out.frames.append(dets)
    return finish_objects(out, shots, min_track_len)


class ObjectsConsumer(WorkerConsumer):
    """COCO objects on every ``step``-th frame (first pass: the shots are needed only to track)."""

    def __init__(self, ctx: Context, params: dict):
        from reelscope.vision.objects import make_object_detector

        self.det = make_object_detector(params["detector"], min_score=params["min_score"], classes=params["classes"])
        info = ctx.info
        self.spec = analysis_spec(info, params["max_width"])
        step = frame_step(info, params["sample_fps"])
        self.out = ObjectPass(scale=info.width / self.spec.width, step=step)
        self.min_track_len = params["min_track_len"]
        super().__init__((self.spec,), step=step)
        self.start_worker("objects")  # side by side with decoding and the other heavy stages

    def work(self, index: int, time: float, images: dict) -> None:
        out = self.out
        out.sampled += 1
        out.times[index] = time
        dets = self.det.detect(images[self.spec], frame=index)
        if len(dets):
            dets.boxes = dets.boxes * out.scale
            out.frames.append(dets)

    def done(self, ctx: Context, frame_count: int) -> dict:
        res = finish_objects(self.out, ctx.artifacts["shots"], self.min_track_len)
        return {"objects": res, "_run": {"params": {"detector_params": self.det.params(), "sampled_frames": res.sampled,
                                                    "sample_step": res.step},
                                         "models": self.det.models()}}


def _check(params: dict) -> None:
    from reelscope.vision.objects import object_detector_names
    name = str(params["detector"])
    if name not in object_detector_names() and name != "yolox-nano" and not name.lower().endswith(".onnx"):
        raise ValueError(f"unknown object detector {name!r}; choose one of {', '.join(object_detector_names())} "
                         "or give the path of a .onnx file")


register(Stage("objects", check=_check, requires=("shots",), provides=("objects",), cost=2.0,
               consumer=lambda ctx, params: ObjectsConsumer(ctx, params),
               defaults={"detector": "nanodet", "sample_fps": 2.0, "min_score": 0.4, "max_width": 640,
                         "classes": None, "min_track_len": 1},
               description="COCO-80 objects with boxes on sampled frames, tracked within shots"))
