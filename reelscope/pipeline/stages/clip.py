"""The clip stage (optional): image vectors of frames sampled in every shot, from a user's
CLIP-like ONNX model (``reelscope.models.clip_index``), for text-to-image search.

Parameters: ``model`` (the model folder; default ``$REELSCOPE_CLIP_MODEL``), ``positions``
(fractions of each shot sampled), ``max_width`` (decode width; the model resizes anyway).
"""
from __future__ import annotations

from reelscope.errors import ReelscopeError
from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.pipeline.stage import Context, Stage, register
from reelscope.pipeline.stages.shot_size import sample_frames


def run_clip(ctx: Context, params: dict) -> dict:
    from reelscope.models.clip_index import ENV, default_model_dir, load_clip

    folder = params["model"] or default_model_dir()
    if not folder:
        raise ReelscopeError(f"the clip stage needs a CLIP-like model folder: --clip-model DIR or ${ENV}")
    model = load_clip(str(folder))
    wanted = sample_frames(ctx.artifacts["shots"], params["positions"])
    info = ctx.info
    w = min(int(params["max_width"]), info.width)
    h = max(2, int(round(info.height * w / info.width / 2)) * 2)
    spec = FrameSpec("rgb", w, h)
    report = ctx.report("clip")
    frames, images = [], []
    if wanted:
        for fr in iter_frames(ctx.path, [spec], rotation=info.rotation, only=set(wanted)):
            for si in wanted[fr.index]:
                frames.append({"frame": fr.index, "time": fr.time, "shot_index": si})
                images.append(fr[spec])
            if report:
                report(len(frames), len(wanted))
    vectors = model.encode_images(images) if images else []
    for f, v in zip(frames, vectors):
        f["vector"] = v
    return {"frame_embeddings": {"model": model.name, "frames": frames},
            "_run": {"params": {**params, "model": str(folder), "name": model.name, "frames": len(frames)},
                     "models": model.models()}}


register(Stage("clip", requires=("shots",), provides=("frame_embeddings",), run=run_clip,
               defaults={"model": "", "positions": [0.5], "max_width": 448},
               description="optional: CLIP-like image vectors of sampled frames (user-provided ONNX model)"))
