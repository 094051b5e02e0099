"""The faces stage: faces on sampled frames, tracks within shots, characters per video.

A frame stage of the engine's first pass: it samples ``sample_fps`` frames per second (the
shots are only needed at the end, to track within shots), so it shares the decode with the shot
detector. Parameters: ``detector`` (blazeface, hog, mmod, mtcnn), ``min_score``,
``sample_fps``, ``max_width`` (frames are analysed at most this wide), ``expressions``,
``cluster`` / ``cluster_threshold`` (characters), ``min_track_len`` (samples a track needs to
form a character).
"""
from __future__ import annotations

from reelscope.pipeline.consumers import WorkerConsumer, frame_step
from reelscope.pipeline.stage import Context, Stage, register


class FacesConsumer(WorkerConsumer):
    def __init__(self, ctx: Context, params: dict):
        from reelscope.people.video_faces import FaceAnalyzer, face_frame_spec
        from reelscope.vision.expression import ExpressionClassifier
        from reelscope.vision.face_detect import make_face_detector
        from reelscope.vision.face_embed import FaceEmbedder

        self.models_used = [make_face_detector(params["detector"], min_score=params["min_score"]), FaceEmbedder(),
                            ExpressionClassifier() if params["expressions"] else None]
        det, emb, expr = self.models_used
        self.spec = face_frame_spec(ctx.info, params["max_width"])
        step = frame_step(ctx.info, params["sample_fps"])
        self.fa = FaceAnalyzer(detector=det, embedder=emb, expressions=expr, scale=ctx.info.width / self.spec.width,
                               step=step, cluster_method=params["cluster"],
                               cluster_threshold=params["cluster_threshold"], min_track_len=params["min_track_len"])
        super().__init__((self.spec,), step=step)
        self.start_worker("faces")  # side by side with decoding and the other heavy stages

    def work(self, index: int, time: float, images: dict) -> None:
        self.fa.add(index, time, images[self.spec])

    def done(self, ctx: Context, frame_count: int) -> dict:
        res = self.fa.finish(ctx.artifacts["shots"], float(ctx.info.fps))
        models = {}
        for m in self.models_used:
            if m is not None and hasattr(m, "models"):
                models.update(m.models())
        return {"faces": res, "_run": {"params": {"sampled_frames": res.sampled, "sample_step": self.fa.step}, "models": models}}


def _check(params: dict) -> None:
    from reelscope.vision.face_detect import face_detector_names
    if params["detector"] not in face_detector_names():
        raise ValueError(f"unknown face detector {params['detector']!r}; choose one of {', '.join(face_detector_names())}")


register(Stage("faces", check=_check, requires=("shots",), provides=("faces",), cost=2.0,
               consumer=lambda ctx, params: FacesConsumer(ctx, params),
               defaults={"detector": "blazeface", "min_score": 0.5, "sample_fps": 2.0, "max_width": 960,
                         "expressions": True, "cluster": "agglomerative", "cluster_threshold": 0.35,
                         "min_track_len": 2},
               description="faces, expressions, tracks and characters"))
