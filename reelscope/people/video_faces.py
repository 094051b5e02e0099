"""The faces pass over a video: sample frames, detect, align+embed, classify expressions,
track within shots, cluster tracks into characters, and keep small crops for thumbnails."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.media.info import VideoInfo
from reelscope.people.characters import Character, build_characters
from reelscope.people.clustering import cluster
from reelscope.people.tracks import FaceTrack, cannot_link_pairs, track_faces
from reelscope.shots.types import Shot
from reelscope.vision.detections import Detections


@dataclass
class FacePass:
    scale: float  # multiply analysed-image pixels by this to get video pixels
    frames: list[Detections] = field(default_factory=list)  # sampled frames with faces (boxes in video px)
    times: dict[int, float] = field(default_factory=dict)  # frame -> presentation time
    tracks: list[FaceTrack] = field(default_factory=list)
    characters: list[Character] = field(default_factory=list)
    crops: dict[tuple[int, int], bytes] = field(default_factory=dict)  # (frame, det index) -> JPEG
    sampled: int = 0


def _crop(rgb: np.ndarray, box: np.ndarray, size: int = 128) -> bytes:
    x, y, w, h = box
    cx, cy, half = x + w / 2, y + h / 2, max(w, h) * 0.65
    x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
    x1, y1 = int(min(cx + half, rgb.shape[1])), int(min(cy + half, rgb.shape[0]))
    if x1 <= x0 or y1 <= y0:
        return b""
    img = cv2.resize(rgb[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    return buf.tobytes() if ok else b""


class FaceAnalyzer:
    """Faces frame by frame (detect, align+embed, expressions, thumbnail crops), then tracks within
    shots and characters per video at ``finish``. The engine's faces stage feeds it sampled frames
    of one decode pass; ``analyze_faces`` runs it over a file on its own."""

    def __init__(self, *, detector, embedder, expressions=None, scale: float = 1.0, step: int = 1,
                 cluster_method: str = "agglomerative", cluster_threshold: float | None = 0.35,
                 min_track_len: int = 2):
        self.detector, self.embedder, self.expressions = detector, embedder, expressions
        self.step = step
        self.cluster_method, self.cluster_threshold, self.min_track_len = cluster_method, cluster_threshold, min_track_len
        self.out = FacePass(scale=scale)

    def add(self, index: int, time: float, rgb: np.ndarray) -> None:
        out = self.out
        out.sampled += 1
        dets = self.detector.detect(rgb)
        if not len(dets):
            return
        dets = self.embedder.embed(rgb, dets)
        if self.expressions is not None:
            for d, e in zip(dets.data, self.expressions.predict(rgb, dets)):
                d["expression"] = e
        for i in range(len(dets)):
            out.crops[(index, i)] = _crop(rgb, dets.boxes[i])
        dets.frame = index
        dets.boxes = dets.boxes * out.scale  # store in video pixels
        if dets.landmarks is not None:
            dets.landmarks = dets.landmarks * out.scale
        out.frames.append(dets)
        out.times[index] = time

    def finish(self, shots: Sequence[Shot], fps: float) -> FacePass:
        out = self.out
        out.tracks = track_faces(out.frames, shots, fps=fps, sample_step=self.step)
        # a face seen on fewer than ``min_track_len`` samples (a passer-by, a false detection) keeps
        # its track but forms no character: single blurry samples embed unreliably
        kept = [t for t in out.tracks if len(t) >= self.min_track_len and t.mean_embedding is not None]
        if kept:
            emb = np.stack([t.mean_embedding for t in kept])
            labels = cluster(emb, self.cluster_method, self.cluster_threshold, cannot_link=cannot_link_pairs(kept))
            out.characters = build_characters(kept, labels, fps=fps, sample_step=self.step)
        return out


def face_frame_spec(info: VideoInfo, max_width: int) -> FrameSpec:
    w = min(info.width, max_width)
    return FrameSpec("rgb", w, max(2, int(round(info.height * w / info.width))))


def analyze_faces(path: str | Path, info: VideoInfo, shots: Sequence[Shot], *, detector, embedder,
                  expressions=None, sample_fps: float = 2.0, max_width: int = 960,
                  cluster_method: str = "agglomerative", cluster_threshold: float | None = 0.35,
                  min_track_len: int = 2,
                  progress: Callable[[int, int], None] | None = None) -> FacePass:
    """The faces pass over a file on its own decode (tools and tests; analysis uses the engine)."""
    fps = float(info.fps)
    step = max(1, int(round(fps / sample_fps))) if sample_fps > 0 else 1
    spec = face_frame_spec(info, max_width)
    fa = FaceAnalyzer(detector=detector, embedder=embedder, expressions=expressions, scale=info.width / spec.width,
                      step=step, cluster_method=cluster_method, cluster_threshold=cluster_threshold,
                      min_track_len=min_track_len)
    total = max(info.frame_count_hint, 1)
    for frame in iter_frames(path, [spec], rotation=info.rotation, select=lambda i, t: (spec,) if i % step == 0 else ()):
        if progress:
            progress(frame.index, total)
        fa.add(frame.index, frame.time, frame[spec])
    if progress:
        progress(total, total)
    return fa.finish(shots, fps)
