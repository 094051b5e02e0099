"""The mood stage: each shot's keyframe mood on the 8-mood circle (reelscope.mood.circle).

Parameters: ``model`` ("" = the default colour + faces predictor of reelscope.mood.image_mood,
or the path of a model from ``reelscope train mood``), ``faces`` (use faces and expressions).
Stored by reelscope.archive.mood_io: Shot.mood / mood_confidence / mood_scores and one "mood"
tag per shot.
"""
from __future__ import annotations

from reelscope.pipeline.stage import Context, Stage, register


def run_mood(ctx: Context, params: dict) -> dict:
    from reelscope.mood.image_mood import ImageMoodPredictor

    predictor = ImageMoodPredictor(model=params["model"] or None, faces=bool(params["faces"]))
    keyframes = ctx.artifacts.get("keyframes") or []
    report = ctx.report("mood")
    moods = []
    seen: set[int] = set()
    for i, kf in enumerate(keyframes):
        if kf.shot_index in seen:  # one keyframe per shot (the first) decides its mood
            continue
        seen.add(kf.shot_index)
        p = predictor.predict(kf.image)
        moods.append({"shot_index": kf.shot_index, "frame": kf.frame, "mood": p.mood, "confidence": p.confidence,
                      "valence": p.valence, "arousal": p.arousal, "scores": p.scores})
        if report:
            report(i + 1, len(keyframes))
    models = {}
    fs = predictor.face_signals
    if fs is not None and fs._det is not None:
        for obj in (fs._det, fs._expr):
            get = getattr(obj, "models", None)
            if callable(get):
                models.update(get())
    return {"moods": moods, "_run": {"params": {**params, "predictor": predictor.name}, "models": models}}


register(Stage("mood", requires=("keyframes",), provides=("moods",), run=run_mood,
               defaults={"model": "", "faces": True},
               description="mood of each shot's keyframe (8 moods on a valence/arousal circle, with confidence)"))
