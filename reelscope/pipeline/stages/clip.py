"""The clip stage (optional): image vectors of frames sampled in every shot, from a user's
CLIP-like ONNX model (``reelscope.models.clip_index``), for text-to-image search.

Parameters: ``model`` (the model folder; default ``$REELSCOPE_CLIP_MODEL``), ``positions``
(fractions of each shot sampled), ``max_width`` (decode width; the model resizes anyway).
Not part of the default analysis (it needs a user-supplied model).
"""
from __future__ import annotations

from reelscope.errors import ReelscopeError
from reelscope.pipeline.consumers import Consumer, analysis_spec
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.pipeline.stages.shot_size import sample_frames


class ClipConsumer(Consumer):
    def __init__(self, ctx: Context, params: dict):
        from reelscope.models.clip_index import ENV, default_model_dir, load_clip

        self.folder = params["model"] or default_model_dir()
        if not self.folder:
            raise ReelscopeError(f"the clip stage needs a CLIP-like model folder: --clip-model DIR or ${ENV}")
        self.model = load_clip(str(self.folder))
        self.wanted = sample_frames(ctx.artifacts["shots"], params["positions"])
        self.spec = analysis_spec(ctx.info, params["max_width"], even=True)
        self.found, self.images = [], []  # not self.frames: that is the sampling set of Consumer
        super().__init__((self.spec,), frames=self.wanted)

    def feed(self, frame) -> None:
        for si in self.wanted[frame.index]:
            self.found.append({"frame": frame.index, "time": frame.time, "shot_index": si})
            self.images.append(frame[self.spec])

    def finish(self, ctx: Context, frame_count: int) -> dict:
        vectors = self.model.encode_images(self.images) if self.images else []
        for f, v in zip(self.found, vectors):
            f["vector"] = v
        self.images = []
        return {"frame_embeddings": {"model": self.model.name, "frames": self.found},
                "_run": {"params": {"model": str(self.folder), "name": self.model.name, "frames": len(self.found)},
                         "models": self.model.models()}}


register(Stage("clip", requires=("shots",), before=("shots",), provides=("frame_embeddings",),
               consumer=lambda ctx, params: ClipConsumer(ctx, params), default=False, cost=0.3,
               defaults={"model": "", "positions": [0.5], "max_width": 448},
               description="optional: CLIP-like image vectors of sampled frames (user-provided ONNX model)"))
