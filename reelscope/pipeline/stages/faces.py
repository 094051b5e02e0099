"""The faces stage: faces on sampled frames, tracks within shots, characters per video."""
from __future__ import annotations

from reelscope.pipeline.stage import Context, Stage, register


def run_faces(ctx: Context, params: dict) -> dict:
    from reelscope.people.video_faces import analyze_faces
    from reelscope.vision.expression import ExpressionClassifier
    from reelscope.vision.face_detect import make_face_detector
    from reelscope.vision.face_embed import FaceEmbedder

    det = make_face_detector(params["detector"], min_score=params["min_score"])
    emb = FaceEmbedder()
    expr = ExpressionClassifier() if params["expressions"] else None
    res = analyze_faces(ctx.path, ctx.info, ctx.artifacts["shots"], detector=det, embedder=emb, expressions=expr,
                        sample_fps=params["sample_fps"], max_width=params["max_width"],
                        cluster_method=params["cluster"], cluster_threshold=params["cluster_threshold"],
                        min_track_len=params["min_track_len"],
                        progress=ctx.report("faces"))
    models = {}
    for m in (det, emb, expr):
        if m is not None and hasattr(m, "models"):
            models.update(m.models())
    return {"faces": res, "_run": {"params": {**params, "sampled_frames": res.sampled}, "models": models}}


register(Stage("faces", requires=("shots",), provides=("faces",), run=run_faces,
               defaults={"detector": "blazeface", "min_score": 0.5, "sample_fps": 2.0, "max_width": 960, "expressions": True,
                         "cluster": "agglomerative", "cluster_threshold": 0.35, "min_track_len": 2},
               description="faces, expressions, tracks and characters"))
