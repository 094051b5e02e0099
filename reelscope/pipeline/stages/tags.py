"""The tags stage: ImageNet-1k tags (EfficientNet-Lite0) on frames sampled in every shot, and
per shot the mean probability over its frames (top-k with confidence).

Parameters: ``positions`` (fractions of each shot's length sampled, as the shot_size stage),
``top`` (tags kept per frame and per shot), ``min_score`` (a frame tag's least probability),
``shot_min_score`` (a shot tag's least mean probability), ``max_width`` (frames are decoded
at most this wide; the network sees 224x224).
"""
from __future__ import annotations

from reelscope.pipeline.consumers import WorkerConsumer, analysis_spec
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.pipeline.stages.shot_size import sample_frames


class TagsConsumer(WorkerConsumer):
    def __init__(self, ctx: Context, params: dict):
        from reelscope.vision.tags import ImageNetTagger, ShotTagger

        self.tagger = ImageNetTagger()
        self.collect = ShotTagger(self.tagger, top=params["top"], min_score=params["min_score"],
                                  shot_min_score=params["shot_min_score"])
        self.wanted = sample_frames(ctx.artifacts["shots"], params["positions"])
        self.spec = analysis_spec(ctx.info, params["max_width"], even=True)
        self.params = params
        super().__init__((self.spec,), frames=self.wanted)
        self.start_worker("tags")  # beside the decoding and the shot_size stage

    def work(self, index: int, time: float, images: dict) -> None:
        for si in self.wanted[index]:
            self.collect.add(index, time, si, images[self.spec])

    def done(self, ctx: Context, frame_count: int) -> dict:
        result = self.collect.result()
        return {"tags": result, "_run": {"params": {"sampled_frames": len(result["frames"])},
                                         "models": self.tagger.models()}}


register(Stage("tags", requires=("shots",), before=("shots",), provides=("tags",),
               consumer=lambda ctx, params: TagsConsumer(ctx, params), cost=0.1,
               defaults={"positions": [0.25, 0.5, 0.75], "top": 5, "min_score": 0.1, "shot_min_score": 0.05,
                         "max_width": 448},
               description="ImageNet-1k tags per sampled frame and per shot (EfficientNet-Lite0)"))
