"""The shot_size stage: ECU / CU / MS / FS / LS per shot, voted over frames at 25/50/75%.

Parameters: ``model`` ("rules", the default classifier of reelscope.shots.shot_size, or the
path of a model file from ``reelscope train shot-size``), ``positions`` (fractions of each
shot), ``max_width`` (frames are analysed at most this wide), ``pose`` / ``segmentation``
(the rules' body evidence; without pose the stage is about twice as fast and about 2 points
less accurate on the labelled set, see bench/results/shot_size.md).

A frame stage of the engine's second pass (it samples inside shots): only the sampled frames
are converted to RGB (at most ``max_width`` wide). Each shot's frames are classified as soon as
its last sample is decoded. ``classify_shots`` does the same on its own decode, for tools.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.media.info import VideoInfo
from reelscope.pipeline.consumers import WorkerConsumer, analysis_spec
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.shots.types import Shot


def sample_frames(shots: Sequence[Shot], positions: Sequence[float]) -> dict[int, list[int]]:
    """Frame index -> shot indices that sample it: each shot at ``positions`` (fractions of its
    length, e.g. 0.25, 0.5, 0.75), distinct frames only (a 1-frame shot gives 1 frame)."""
    wanted: dict[int, list[int]] = {}
    for s in shots:
        frames = sorted({min(s.end, max(s.start, s.start + int(p * s.length))) for p in positions})
        for f in frames:
            wanted.setdefault(f, []).append(s.index)
    return wanted


def decode_selected(path: str, info: VideoInfo, wanted: set[int], width: int = 640) -> Iterator[tuple[int, np.ndarray]]:
    """(index, rgb) for the wanted frame indices, in order, at most ``width`` wide after rotation
    (``media.decode.iter_frames`` with ``only``: one pass, only these frames converted)."""
    if not wanted:
        return
    w = min(width, info.width)
    h = max(2, int(round(info.height * w / info.width / 2)) * 2)
    spec = FrameSpec("rgb", w, h)
    for frame in iter_frames(path, [spec], rotation=info.rotation, only=wanted):
        yield frame.index, frame[spec]


def classify_shots(path: str, info: VideoInfo, shots: Sequence[Shot], classifier, *,
                   positions: Sequence[float] = (0.25, 0.5, 0.75), max_width: int = 640,
                   progress: Callable[[int, int], None] | None = None) -> list:
    """A ShotSize (with ``shot_index``) for every shot that has a decodable sampled frame."""
    wanted = sample_frames(shots, positions)
    need = {s.index: sum(s.index in v for v in wanted.values()) for s in shots}
    got: dict[int, list[np.ndarray]] = {}
    out = {}
    done = 0
    for index, rgb in decode_selected(path, info, set(wanted), max_width):
        for si in wanted[index]:
            got.setdefault(si, []).append(rgb)
            if len(got[si]) == need[si]:
                size = classifier.classify_shot(got.pop(si))
                size.shot_index = si
                out[si] = size
                done += 1
                if progress:
                    progress(done, len(shots))
    for si, frames in got.items():  # shots whose later samples did not decode (truncated tail)
        size = classifier.classify_shot(frames)
        size.shot_index = si
        out[si] = size
    if progress:
        progress(len(shots), len(shots))
    return [out[k] for k in sorted(out)]


class ShotSizeConsumer(WorkerConsumer):
    """Classifies each shot as soon as its last sampled frame arrives (frames are not kept longer),
    on its own thread beside the decoding and the tags stage."""

    def __init__(self, ctx: Context, classifier, positions, max_width: int):
        shots = ctx.artifacts["shots"]
        self.clf = classifier
        self.wanted = sample_frames(shots, positions)
        self.need = {}
        for sis in self.wanted.values():
            for si in sis:
                self.need[si] = self.need.get(si, 0) + 1
        self.got: dict[int, list[np.ndarray]] = {}
        self.out: dict[int, object] = {}
        self.spec = analysis_spec(ctx.info, max_width, even=True)
        super().__init__((self.spec,), frames=self.wanted)
        self.start_worker("shot-size")

    def _classify(self, si: int, frames) -> None:
        size = self.clf.classify_shot(frames)
        size.shot_index = si
        self.out[si] = size

    def work(self, index: int, time: float, images: dict) -> None:
        for si in self.wanted[index]:
            self.got.setdefault(si, []).append(images[self.spec])
            if len(self.got[si]) == self.need[si]:
                self._classify(si, self.got.pop(si))

    def done(self, ctx: Context, frame_count: int) -> dict:
        for si, frames in list(self.got.items()):  # shots whose later samples did not decode
            self._classify(si, frames)
        self.got.clear()
        return {"shot_sizes": [self.out[k] for k in sorted(self.out)],
                "_run": {"params": {"classifier": self.clf.params()}, "models": self.clf.models()}}


def shot_size_consumer(ctx: Context, params: dict) -> ShotSizeConsumer:
    from reelscope.shots.shot_size import make_shot_size_classifier
    options = {} if params["model"] not in ("rules", "", None) else {
        "max_width": params["max_width"], "pose": params["pose"], "segmentation": params["segmentation"]}
    clf = make_shot_size_classifier(params["model"], **options)
    return ShotSizeConsumer(ctx, clf, params["positions"], params["max_width"])


register(Stage("shot_size", requires=("shots",), before=("shots",), provides=("shot_sizes",),
               consumer=shot_size_consumer, cost=0.4,
               defaults={"model": "rules", "positions": [0.25, 0.5, 0.75], "max_width": 640, "pose": True,
                         "segmentation": True},
               description="shot size per shot (ECU/CU/MS/FS/LS) from faces, body pose, person masks, saliency"))
