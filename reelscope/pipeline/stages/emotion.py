"""The emotion stage: valence/arousal and dominant emotion per second and per shot, fusing the
expressions of on-screen faces (faces stage) with the audio's arousal (audio stage); see
reelscope.story.emotion for the table, the weights and the smoothing. Works with faces only
(silent video), audio only (no faces found), or neither (a flat neutral curve, confidence 0).
"""
from __future__ import annotations

from reelscope.pipeline.stage import Context, Stage, register


def run_emotion(ctx: Context, params: dict) -> dict:
    from reelscope.story.emotion import face_samples, fuse, shot_spans

    info = ctx.info
    fps = float(info.fps)
    frame_count = int(ctx.artifacts.get("frame_count") or info.frame_count_hint)
    times = ctx.artifacts.get("frame_times") or []
    duration = max(info.duration, (times[-1] + 1 / fps) if times else 0.0, frame_count / fps)
    faces = ctx.artifacts.get("faces")
    samples = face_samples(faces, info.height, fps) if faces is not None else []
    sampled = getattr(faces, "sampled", 0) if faces is not None else 0
    sample_step = max(1, round(frame_count / sampled)) if sampled else max(1, round(fps / 2.0))
    audio = ctx.artifacts.get("audio")
    arousal = audio.curves.get("arousal") if audio is not None and audio.available else None
    res = fuse(duration, shot_spans(ctx.artifacts["shots"], times, fps, frame_count), samples, arousal,
               audio_step=audio.step if audio is not None and audio.available else 1.0, step=params["step"],
               sigma=params["sigma"], sample_fps=fps / sample_step, audio_weight=params["audio_weight"],
               face_weight_=1.0 - params["audio_weight"])
    return {"emotion": res, "_run": {"params": {**params, "sources": {k: v for k, v in res.sources.items()
                                                                       if k != "circumplex"}}}}


register(Stage("emotion", requires=("shots", "faces", "audio"), provides=("emotion",), run=run_emotion,
               defaults={"step": 1.0, "sigma": 1.5, "audio_weight": 0.7},
               description="emotion curve (valence, arousal, dominant emotion) from faces and audio"))
