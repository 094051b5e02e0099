"""The shots and keyframes stages."""
from __future__ import annotations

from reelscope.pipeline.stage import Context, Stage, register
from reelscope.shots.backends import make_detector
from reelscope.shots.keyframes import extract_keyframes
from reelscope.shots.run import detect
from reelscope.shots.types import shots_from_transitions


def run_shots(ctx: Context, params: dict) -> dict:
    det = make_detector(params["detector"], **(params.get("detector_params") or {}))
    result = detect(ctx.path, ctx.info, [det], progress=ctx.report("shots"))
    transitions = result.transitions[det.name]
    return {
        "frame_count": result.frame_count,
        "frame_times": result.frame_times,
        "transitions": transitions,
        "shots": shots_from_transitions(transitions, result.frame_count),
        "_run": {"params": det.params(), "models": getattr(det, "models", lambda: {})()},
    }


def run_keyframes(ctx: Context, params: dict) -> dict:
    kfs = extract_keyframes(ctx.path, ctx.info, ctx.artifacts["shots"], method=params["method"],
                            width=params["width"], progress=ctx.report("keyframes"))
    return {"keyframes": kfs}


register(Stage("shots", requires=("video",), provides=("frame_count", "frame_times", "transitions", "shots"),
               run=run_shots, defaults={"detector": "fast", "detector_params": {}},
               description="shot boundaries and transitions"))
register(Stage("keyframes", requires=("shots",), provides=("keyframes",), run=run_keyframes,
               defaults={"method": "middle", "width": 320},
               description="one keyframe per shot, stored as a thumbnail"))
