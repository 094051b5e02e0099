"""Building blocks for frame stages: sampling rules and frame sizes (see ``pipeline.stage.FrameConsumer``)."""
from __future__ import annotations

from typing import Collection, Sequence

from reelscope.media.decode import FrameSpec
from reelscope.media.info import VideoInfo


def analysis_spec(info: VideoInfo, max_width: int, kind: str = "rgb", even: bool = False) -> FrameSpec:
    """A frame size at most ``max_width`` wide (display orientation), keeping the aspect ratio."""
    w = min(int(max_width), info.width)
    h = info.height * w / info.width
    h = max(2, int(round(h / 2)) * 2) if even else max(2, int(round(h)))
    return FrameSpec(kind, w, h)


def frame_step(info: VideoInfo, sample_fps: float) -> int:
    """Frames between samples for ``sample_fps`` samples per second (1 = every frame)."""
    fps = float(info.fps)
    return max(1, int(round(fps / sample_fps))) if sample_fps > 0 else 1


class Consumer:
    """A frame consumer with one of three sampling rules: every frame (default), every ``step``-th
    frame, or the frames in ``frames``. Subclasses implement ``feed`` and ``finish``."""
    quality = False  # True: needs full-quality decoding (thumbnails), not the fast deblock-free one

    def __init__(self, specs: Sequence[FrameSpec], *, step: int | None = None,
                 frames: Collection[int] | None = None):
        self.specs = tuple(specs)
        self.step = step
        self.frames = frames
        self.last = (max(frames) if frames else -1) if frames is not None else None

    def wants(self, index: int, time: float) -> bool:
        if self.frames is not None:
            return index in self.frames
        if self.step:
            return index % self.step == 0
        return True
