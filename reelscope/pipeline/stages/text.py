"""The text stage: on-screen text (OCR) on sampled frames, merged into time spans.

Frames sampled: every ``1 / sample_fps`` seconds, plus the middle frame of every shot that holds
no such sample (short shots get read too). A sampled frame whose picture did not change since the
last frame read (``vision.text_spans.PictureChange`` on a 320-pixel-wide luma copy; threshold
``change_threshold``) is not read again: it keeps the previous reading. Lines are read with
PP-OCRv5 (``vision.ocr.TextReader``) on an RGB copy at most ``max_width`` wide and merged across
samples into spans (same text at about the same place; ``min_iou``, ``max_distance``,
``max_gap``). Boxes are stored in the video's display pixels.

Parameters: ``enabled`` (false: no frame is read and an empty result marked "disabled" is
stored, as if the stage were left out of the default analysis), ``sample_fps``, ``max_width``, ``det_max_side`` (the detector's long side),
``min_score`` (least recognition confidence), ``orientation`` (0/180 degree line classifier),
``change_threshold`` (0 reads every sample), ``min_iou``, ``max_distance``, ``max_gap``.
"""
from __future__ import annotations

from reelscope.pipeline.consumers import Consumer, analysis_spec, frame_step
from reelscope.pipeline.stage import Context, Stage, register


def shot_middles(shots, step: int) -> set[int]:
    """The middle frame of every shot that holds no regular sample (a multiple of ``step``)."""
    out = set()
    for sh in shots:
        first_sample = -(-sh.start // step) * step
        if first_sample > sh.end:
            out.add((sh.start + sh.end) // 2)
    return out


def shot_of_frame(shots, frame: int) -> int | None:
    for sh in shots:
        if sh.start <= frame <= sh.end:
            return sh.index
    return None


class DisabledText(Consumer):
    """``enabled: false``: wants no frame, loads no model, stores an empty result marked disabled."""

    def __init__(self, ctx: Context, params: dict):
        super().__init__((analysis_spec(ctx.info, 320, "luma"),), frames=set())

    def feed(self, frame) -> None:  # never called: it wants no frame
        pass

    def finish(self, ctx: Context, frame_count: int) -> dict:
        from reelscope.vision.text_spans import TextResult

        return {"text": TextResult(), "_run": {"params": {"text": "disabled", "sampled_frames": 0, "read_frames": 0,
                                                          "spans": 0}}}


def text_consumer(ctx: Context, params: dict) -> Consumer:
    return TextConsumer(ctx, params) if params["enabled"] else DisabledText(ctx, params)


class TextConsumer(Consumer):
    def __init__(self, ctx: Context, params: dict):
        from reelscope.vision.ocr import TextReader
        from reelscope.vision.text_spans import PictureChange, TextResult

        info = ctx.info
        self.reader = TextReader(det_max_side=int(params["det_max_side"]), min_score=float(params["min_score"]),
                                 orientation=bool(params["orientation"]))
        self.spec = analysis_spec(info, params["max_width"])
        self.luma = analysis_spec(info, 320, "luma")
        self.scale = info.width / self.spec.width
        self.change = PictureChange(float(params["change_threshold"]))
        self.params = params
        self.sample_step = frame_step(info, params["sample_fps"])
        self.extra = shot_middles(ctx.artifacts["shots"], self.sample_step)
        self.out = TextResult(step=self.sample_step)
        self._last_lines: list = []
        super().__init__((self.spec, self.luma))

    def wants(self, index: int, time: float) -> bool:
        return index % self.sample_step == 0 or index in self.extra

    def feed(self, frame) -> None:
        from reelscope.vision.text_spans import SampleText

        if self.change.threshold <= 0 or self.change.changed(frame[self.luma]):
            lines = [ln.scaled(self.scale) for ln in self.reader.read(frame[self.spec])]
            self._last_lines = [(ln.text, ln.rect, ln.score) for ln in lines]
            self.out.read += 1
            self.out.samples.append(SampleText(frame.index, frame.time, list(self._last_lines), True))
        else:
            self.out.samples.append(SampleText(frame.index, frame.time, list(self._last_lines), False))

    def finish(self, ctx: Context, frame_count: int) -> dict:
        from reelscope.vision.text_spans import merge_lines

        shots = ctx.artifacts.get("shots") or []
        times = ctx.artifacts.get("frame_times") or []
        end = times[-1] + 1 / float(ctx.info.fps) if times else float(ctx.info.duration)
        out = self.out
        out.spans = merge_lines(out.samples, end_time=end, min_iou=float(self.params["min_iou"]),
                                max_distance=float(self.params["max_distance"]), max_gap=int(self.params["max_gap"]))
        for sp in out.spans:
            sp.shot_index = shot_of_frame(shots, sp.first_frame)
        return {"text": out, "_run": {"params": {"reader": self.reader.params(), "sampled_frames": out.sampled,
                                                 "read_frames": out.read, "sample_step": out.step,
                                                 "spans": len(out.spans)},
                                      "models": self.reader.models()}}


def _check(params: dict) -> None:
    """Bad parameters are a clear error before any file is opened."""
    def number(key, lo, hi=None, integer=False):
        v = params[key]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)
        if not ok or (integer and int(v) != v):
            kind = "an integer" if integer else "a number"
            raise ValueError(f"text.{key} must be {kind} >= {lo}" + (f" and <= {hi}" if hi is not None else "")
                             + f", got {v!r}")

    if not (isinstance(params["sample_fps"], (int, float)) and params["sample_fps"] > 0):
        raise ValueError(f"text.sample_fps must be a number > 0, got {params['sample_fps']!r}")
    number("max_width", 32, integer=True)
    number("det_max_side", 32, integer=True)
    number("min_score", 0, 1)
    number("change_threshold", 0, 255)
    number("min_iou", 0, 1)
    number("max_distance", 0, 1)
    number("max_gap", 0, integer=True)
    for key in ("orientation", "enabled"):
        if not isinstance(params[key], bool):
            raise ValueError(f"text.{key} must be true or false, got {params[key]!r}")


register(Stage("text", check=_check, requires=("shots",), before=("shots",), provides=("text",), cost=0.5,
               consumer=text_consumer,
               defaults={"enabled": True, "sample_fps": 1.0, "max_width": 1280, "det_max_side": 960, "min_score": 0.5,
                         "orientation": True, "change_threshold": 8.0,
                         "min_iou": 0.3, "max_distance": 0.34, "max_gap": 1},
               description="on-screen text (PP-OCRv5) on sampled frames, merged into time spans"))
