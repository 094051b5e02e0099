"""The pose stage: people's keypoints on sampled frames, person tracks within shots, action tags.

Parameters: ``sample_fps`` (frames analysed per second, 2 by default; 0 = every frame),
``max_width`` (frames are decoded at most this wide; the model works at ``input_size`` on the
longer side anyway, so small frames such as 160x90 are upscaled for it), ``input_size`` (256,
MoveNet MultiPose's design size; 384 costs ~2x and was no better on the labelled frames), ``min_score``
(person score), ``min_track_len`` (tracks with fewer samples are dropped, with their poses),
``actions`` (derive action tags: vision/pose_actions.py), ``link_faces`` (link person tracks to
face tracks when the faces stage's results are at hand: here when the faces stage finished
earlier in the same pass, and again by the archive writer against the stored faces).

A frame stage of the engine's first pass (the shots are needed only to track). Boxes and
keypoints are stored in the video's display pixels.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

from reelscope.pipeline.consumers import Consumer, Worker, analysis_spec, frame_step
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.vision.detections import Detections


@dataclass
class PosePass:
    scale: float  # analysed-image pixels -> video pixels
    frames: list[Detections] = field(default_factory=list)  # sampled frames with people (video px, keypoints)
    times: dict[int, float] = field(default_factory=dict)  # frame -> presentation time, every sampled frame
    tracks: list = field(default_factory=list)  # vision.pose_tracks.PoseTrack (with .actions)
    sampled: int = 0
    step: int = 1


def finish_poses(out: PosePass, shots: Sequence, fps: float, *, min_track_len: int = 1, actions: bool = True,
                 faces=None, rules=None) -> PosePass:
    """Track the sampled poses within shots (dropping tracks shorter than ``min_track_len`` with
    their poses), derive each track's action spans, and link tracks to ``faces`` (a faces pass:
    ``.tracks`` with frames / boxes / shot_index, ``.characters`` with track_ids) when given."""
    from reelscope.vision.pose_actions import Rules, track_actions
    from reelscope.vision.pose_tracks import track_poses
    from reelscope.vision.track_link import keep_tracked

    out.tracks = track_poses(out.frames, shots, sample_step=out.step, min_detections=min_track_len)
    if min_track_len > 1:  # keep only the detections that belong to a kept track
        out.frames = keep_tracked(out.frames, out.tracks)
    if actions:
        for t in out.tracks:
            track_actions(t, fps, rules or Rules())
    if faces is not None:
        link_face_pass(out, faces)
    return out


def link_face_pass(out: PosePass, faces) -> int:
    """Link ``out``'s tracks to the face tracks of an in-memory faces pass (keys: face track ids,
    characters: character indices); returns how many were linked."""
    import numpy as np

    from reelscope.vision.pose_tracks import apply_links, link_faces

    frames, boxes, keys, shots = [], [], [], []
    for ft in faces.tracks:
        for f, b in zip(ft.frames, ft.boxes):
            frames.append(int(f))
            boxes.append(np.asarray(b, np.float32))
            keys.append(ft.id)
            shots.append(ft.shot_index)
    chars = {tid: c.index for c in getattr(faces, "characters", []) for tid in c.track_ids}
    links = link_faces(out.tracks, frames, np.array(boxes, np.float32).reshape(-1, 4), keys, face_shots=shots,
                       characters=chars, max_frame_gap=out.step // 2)
    apply_links(out.tracks, links)
    return len(links)


def analyze_poses(path: str, info, shots: Sequence, estimator, *, sample_fps: float = 2.0, max_width: int = 640,
                  min_track_len: int = 1, actions: bool = True, frames: set[int] | None = None,
                  progress=None) -> PosePass:
    """The pose pass over a file on its own decode (tools, tests, benchmarks); ``frames``: analyse
    exactly these frames instead of every ``sample_fps``-th."""
    from reelscope.media.decode import iter_frames

    spec = analysis_spec(info, max_width)
    step = frame_step(info, sample_fps)
    out = PosePass(scale=info.width / spec.width, step=step)
    total = max(info.frame_count_hint, 1)
    want = (lambda i: i in frames) if frames is not None else (lambda i: i % step == 0)
    for frame in iter_frames(path, [spec], rotation=info.rotation, select=lambda i, t: (spec,) if want(i) else ()):
        _add(out, estimator, frame.index, frame.time, frame[spec])
        if progress:
            progress(min(frame.index, total), total)
    return finish_poses(out, shots, float(info.fps), min_track_len=min_track_len, actions=actions)


def _add(out: PosePass, estimator, index: int, time: float, rgb) -> None:
    out.sampled += 1
    out.times[index] = time
    people = estimator.estimate(rgb, frame=index)
    if len(people):
        people.boxes = people.boxes * out.scale
        people.landmarks = people.landmarks * out.scale
        out.frames.append(people)


class PoseConsumer(Consumer):
    """People's poses on every ``step``-th frame (first pass: the shots are needed only to track)."""

    def __init__(self, ctx: Context, params: dict):
        from reelscope.vision.pose import PoseEstimator

        self.est = PoseEstimator(input_size=params["input_size"], min_score=params["min_score"])
        info = ctx.info
        self.spec = analysis_spec(info, params["max_width"])
        step = frame_step(info, params["sample_fps"])
        self.out = PosePass(scale=info.width / self.spec.width, step=step)
        self.params = params
        super().__init__((self.spec,), step=step)
        # the model runs on a thread of its own, side by side with decoding and the other stages
        self.worker = Worker(lambda i, t, rgb: _add(self.out, self.est, i, t, rgb), name="reelscope-pose")

    @property
    def busy_seconds(self) -> float:
        return self.worker.busy

    def feed(self, frame) -> None:
        self.worker.submit(frame.index, frame.time, frame[self.spec])

    def close(self) -> None:
        self.worker.close()

    def finish(self, ctx: Context, frame_count: int) -> dict:
        from reelscope.vision.pose_actions import Rules

        self.worker.join()
        t0 = time.perf_counter()
        faces = ctx.artifacts.get("faces") if self.params["link_faces"] else None
        res = finish_poses(self.out, ctx.artifacts["shots"], float(ctx.info.fps),
                           min_track_len=self.params["min_track_len"], actions=self.params["actions"], faces=faces)
        self.worker.busy += time.perf_counter() - t0
        return {"poses": res, "_run": {"params": {"estimator": self.est.params(), "sampled_frames": res.sampled,
                                                  "sample_step": res.step,
                                                  "rules": Rules().params() if self.params["actions"] else None},
                                       "models": self.est.models()}}


def _check(params: dict) -> None:
    size = params["input_size"]
    if not isinstance(size, int) or size % 32 or not 128 <= size <= 1024:
        raise ValueError(f"pose.input_size must be a multiple of 32 in 128..1024, got {size!r}")
    if not 0.0 <= float(params["min_score"]) <= 1.0:
        raise ValueError(f"pose.min_score must be in 0..1, got {params['min_score']!r}")
    if float(params["sample_fps"]) < 0:
        raise ValueError(f"pose.sample_fps must be >= 0 (0 = every frame), got {params['sample_fps']!r}")


register(Stage("pose", check=_check, requires=("shots",), provides=("poses",), cost=1.5,
               consumer=lambda ctx, params: PoseConsumer(ctx, params),
               defaults={"sample_fps": 2.0, "max_width": 640, "input_size": 256, "min_score": 0.2,
                         "min_track_len": 1, "actions": True, "link_faces": True},
               description="people's keypoints (MoveNet MultiPose) on sampled frames, person tracks, action tags"))
