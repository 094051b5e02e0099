"""The tags stage: ImageNet-1k tags (EfficientNet-Lite0) on frames sampled in every shot, and
per shot the mean probability over its frames (top-k with confidence).

Parameters: ``positions`` (fractions of each shot's length sampled, as the shot_size stage),
``top`` (tags kept per frame and per shot), ``min_score`` (a frame tag's least probability),
``shot_min_score`` (a shot tag's least mean probability), ``max_width`` (frames are decoded
at most this wide; the network sees 224x224).
"""
from __future__ import annotations

from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.pipeline.stages.shot_size import sample_frames


def run_tags(ctx: Context, params: dict) -> dict:
    from reelscope.vision.tags import ImageNetTagger, ShotTagger

    tagger = ImageNetTagger()
    collect = ShotTagger(tagger, top=params["top"], min_score=params["min_score"],
                         shot_min_score=params["shot_min_score"])
    shots = ctx.artifacts["shots"]
    wanted = sample_frames(shots, params["positions"])
    info = ctx.info
    w = min(int(params["max_width"]), info.width)
    h = max(2, int(round(info.height * w / info.width / 2)) * 2)
    spec = FrameSpec("rgb", w, h)
    report = ctx.report("tags")
    done = 0
    if wanted:
        for fr in iter_frames(ctx.path, [spec], rotation=info.rotation, only=set(wanted)):
            for si in wanted[fr.index]:
                collect.add(fr.index, fr.time, si, fr[spec])
            done += 1
            if report:
                report(done, len(wanted))
    result = collect.result()
    if report:
        report(len(wanted), len(wanted))
    return {"tags": result, "_run": {"params": {**params, "sampled_frames": len(result["frames"])},
                                     "models": tagger.models()}}


register(Stage("tags", requires=("shots",), provides=("tags",), run=run_tags,
               defaults={"positions": [0.25, 0.5, 0.75], "top": 5, "min_score": 0.1, "shot_min_score": 0.05,
                         "max_width": 448},
               description="ImageNet-1k tags per sampled frame and per shot (EfficientNet-Lite0)"))
