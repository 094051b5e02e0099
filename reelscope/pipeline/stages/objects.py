"""The objects stage: COCO-80 objects with boxes on sampled frames, tracked within shots.

Parameters: ``detector`` (``nanodet``, the default, carried by the npm package; ``centernet``;
``yolox-nano``; or the path of a YOLOX-style ``.onnx``), ``sample_fps`` (frames analysed per
second), ``min_score``, ``max_width`` (frames are decoded at most this wide; the detectors
letterbox to 416-512 px anyway), ``classes`` (COCO names to keep; null = all 80),
``min_track_len`` (tracks with fewer detections are dropped, with their detections).

One decoding pass; only the sampled frames are converted to RGB. Boxes are stored in the
video's display pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.media.info import VideoInfo
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


def analyze_objects(path: str, info: VideoInfo, shots: Sequence, detector, *, sample_fps: float = 2.0,
                    max_width: int = 640, min_track_len: int = 1,
                    progress: Callable[[int, int], None] | None = None) -> ObjectPass:
    from reelscope.vision.object_tracks import track_objects

    fps = float(info.fps)
    step = max(1, int(round(fps / sample_fps))) if sample_fps > 0 else 1
    w = min(info.width, max_width)
    h = max(2, int(round(info.height * w / info.width)))
    spec = FrameSpec("rgb", w, h)
    out = ObjectPass(scale=info.width / w, step=step)
    total = max(info.frame_count_hint, 1)
    wanted = range(0, 2 * total + 100 * step, step)  # generous: a short frame-count hint must not cut the pass
    for frame in iter_frames(path, [spec], rotation=info.rotation, only=wanted):
        out.sampled += 1
        out.times[frame.index] = frame.time
        if progress:
            progress(min(frame.index, total), total)
        dets = detector.detect(frame[spec], frame=frame.index)
        if not len(dets):
            continue
        dets.boxes = dets.boxes * out.scale
        out.frames.append(dets)
    if progress:
        progress(total, total)
    out.tracks = track_objects(out.frames, shots, sample_step=step, min_detections=min_track_len)
    if min_track_len > 1:  # keep only the detections that belong to a kept track
        kept: dict[int, set[int]] = {}
        for t in out.tracks:
            for f, i in zip(t.frames, t.det_indices):
                kept.setdefault(f, set()).add(i)
        frames, remap = [], {}
        for d in out.frames:
            idx = sorted(kept.get(d.frame, ()))
            if idx:
                frames.append(d.select(idx))
                remap.update({(d.frame, old): new for new, old in enumerate(idx)})
        for t in out.tracks:
            t.det_indices = [remap[(f, i)] for f, i in zip(t.frames, t.det_indices)]
        out.frames = frames
    return out


def run_objects(ctx: Context, params: dict) -> dict:
    from reelscope.vision.objects import make_object_detector

    det = make_object_detector(params["detector"], min_score=params["min_score"], classes=params["classes"])
    res = analyze_objects(ctx.path, ctx.info, ctx.artifacts["shots"], det, sample_fps=params["sample_fps"],
                          max_width=params["max_width"], min_track_len=params["min_track_len"],
                          progress=ctx.report("objects"))
    return {"objects": res, "_run": {"params": {**params, "detector_params": det.params(), "sampled_frames": res.sampled,
                                                "sample_step": res.step},
                                     "models": det.models()}}


register(Stage("objects", requires=("shots",), provides=("objects",), run=run_objects,
               defaults={"detector": "nanodet", "sample_fps": 2.0, "min_score": 0.4, "max_width": 640,
                         "classes": None, "min_track_len": 1},
               description="COCO-80 objects with boxes on sampled frames, tracked within shots"))
