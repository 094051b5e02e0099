"""The importance stage: a 0..1 score per shot and an importance curve over time, from emotion,
motion, faces and characters, shot size and novelty (see reelscope.story.importance for the
signals and their weights).

Motion and colour come from the ``visual`` frame stage (64x36 frames, in the engine's first
pass with the shot detector; not stored: only importance uses it). Everything else comes from
the stages it requires. Parameters: ``weights`` (signal -> weight; {} = the defaults; a weight
of 0 leaves a signal out), ``step`` (seconds per curve sample), ``scene_threshold`` (colour
similarity that joins shots into one scene, for the diversity of summaries).
"""
from __future__ import annotations

from reelscope.pipeline.consumers import Consumer
from reelscope.pipeline.stage import Context, Stage, register


class VisualConsumer(Consumer):
    def __init__(self, ctx: Context, params: dict):
        from reelscope.story.visual import SPEC, VisualMeter

        self.meter = VisualMeter(float(ctx.info.fps), hist_every=params["hist_every"])
        self.spec = SPEC
        super().__init__((SPEC,))

    def feed(self, frame) -> None:
        self.meter.add(frame.index, frame.time, frame[self.spec])

    def finish(self, ctx: Context, frame_count: int) -> dict:
        return {"visual": self.meter.finish(ctx.artifacts["shots"])}


def run_importance(ctx: Context, params: dict) -> dict:
    from reelscope.story.importance import DEFAULT_WEIGHTS, compute_importance

    info = ctx.info
    shots = ctx.artifacts["shots"]
    fps = float(info.fps)
    times = ctx.artifacts.get("frame_times") or []
    frame_count = int(ctx.artifacts.get("frame_count") or len(times) or info.frame_count_hint)
    duration = max(info.duration, (times[-1] + 1 / fps) if times else 0.0, frame_count / fps)
    sizes = {s.shot_index: s.label for s in ctx.artifacts.get("shot_sizes") or [] if getattr(s, "label", None)}
    weights = {**DEFAULT_WEIGHTS, **(params.get("weights") or {})}
    res = compute_importance(shots, times, duration=duration, fps=fps, height=info.height, sizes=sizes,
                             faces=ctx.artifacts.get("faces"), emotion=ctx.artifacts.get("emotion"),
                             visual=ctx.artifacts["visual"], weights=weights, step=params["step"],
                             scene_threshold=params["scene_threshold"])
    return {"importance": res,
            "_run": {"params": {"weights_used": {k: round(v, 4) for k, v in res.weights.items()},
                                "signals": res.sources.get("signals", []),
                                "dropped": res.sources.get("dropped", {})}}}


register(Stage("visual", requires=("shots",), provides=("visual",), stored=False, cost=0.05,
               consumer=lambda ctx, params: VisualConsumer(ctx, params), defaults={"hist_every": 0.5},
               description="motion and colour on 64x36 frames (for importance; not stored)"))
register(Stage("importance", requires=("shots", "shot_sizes", "faces", "emotion", "visual"), provides=("importance",),
               run=run_importance, defaults={"weights": {}, "step": 1.0, "scene_threshold": 0.55}, cost=0.02,
               description="importance per shot and over time (emotion, motion, faces, shot size, novelty), "
                           "for summaries"))
