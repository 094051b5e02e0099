"""Writing the story stages (emotion, importance, summaries) and reading their curves back.

Each stage's writer lives in its own section and clears only the rows of its own stage.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer


# ---- reading curves (any stage) ----------------------------------------------------------------
def load_curves(s: Session, video_id: int, prefix: str | None = None) -> dict[str, tuple[float, float, list, dict]]:
    """Curve name -> (t0, step, values, data) for a video; ``prefix`` (e.g. "emotion.") filters."""
    q = select(db.Curve).where(db.Curve.video_id == video_id).order_by(db.Curve.name)
    if prefix:
        q = q.where(db.Curve.name.startswith(prefix))
    return {c.name: (c.t0, c.step, list(c.values), dict(c.data or {})) for c in s.scalars(q)}


# ---- emotion (stage "emotion") -----------------------------------------------------------------
# Curve rows emotion.valence (-1..1; data {"dominant": [...per step], "sources": {...}}),
# emotion.arousal (0..1) and emotion.confidence (0..1); Shot.emotion = the per-shot dict
# (valence, arousal, dominant, face_share, audio_arousal) without its "shot" key.
EMOTION_STAGE = "emotion"



def write_emotion(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    from reelscope.archive.audio_io import curve_values

    res = artifacts.get("emotion")
    if res is None:
        return
    sources = {k: v for k, v in res.sources.items()}
    rows = [("emotion.valence", res.valence, {"dominant": list(res.dominant), "sources": sources}),
            ("emotion.arousal", res.arousal, {})]
    if res.confidence is not None:
        rows.append(("emotion.confidence", res.confidence, {}))
    for name, values, data in rows:
        s.add(db.Curve(video_id=video.id, stage=EMOTION_STAGE, name=name, t0=0.0, step=res.step,
                       values=curve_values(values), unit="", data=data))
    for entry in res.per_shot:
        row = shot_rows.get(entry["shot"])
        if row is not None:
            row.emotion = {k: v for k, v in entry.items() if k != "shot"}


def read_emotion(s: Session, video: db.Video, media_root=None) -> dict:
    import numpy as np

    from reelscope.story.emotion import EmotionResult

    curves = {c.name: c for c in s.scalars(select(db.Curve).where(db.Curve.video_id == video.id,
                                                                 db.Curve.stage == EMOTION_STAGE))}
    val = curves.get("emotion.valence")
    if val is None:
        return {"emotion": None}
    arr = lambda c: np.array([np.nan if v is None else v for v in c.values], np.float64)  # noqa: E731
    shots = s.scalars(select(db.Shot).where(db.Shot.video_id == video.id).order_by(db.Shot.idx)).all()
    per_shot = [{"shot": sh.idx, **(sh.emotion or {})} for sh in shots if sh.emotion is not None]
    data = dict(val.data or {})
    conf = curves.get("emotion.confidence")
    return {"emotion": EmotionResult(step=float(val.step), valence=arr(val), arousal=arr(curves["emotion.arousal"]),
                                     dominant=list(data.get("dominant") or []), per_shot=per_shot,
                                     sources=dict(data.get("sources") or {}),
                                     confidence=arr(conf) if conf is not None else None)}


register_writer(Writer(EMOTION_STAGE, write_emotion, shot_columns=("emotion",), curves=True, read=read_emotion))
# ---- end of emotion ----------------------------------------------------------------------------


# ---- importance (stage "importance") -----------------------------------------------------------
# Shot.importance = the shot's 0..1 score; Curve "importance" (0..1 per step) with data
# {"weights": {...}, "sources": {...}, "shots": [{shot, score, scene, signals}]}: the signals
# behind every score and the scene groups that summaries use for diversity.
IMPORTANCE_STAGE = "importance"



def write_importance(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    import json

    res = artifacts.get("importance")
    if res is None:
        return
    shots = []
    for entry in res.per_shot:
        row = shot_rows.get(entry["shot"])
        if row is not None:
            row.importance = float(entry["score"])
        shots.append({k: entry[k] for k in ("shot", "score", "scene", "signals")})
    s.add(db.Curve(video_id=video.id, stage=IMPORTANCE_STAGE, name="importance", t0=0.0, step=float(res.step),
                   values=[round(float(v), 4) for v in res.curve], unit="",
                   data={"weights": {k: round(v, 4) for k, v in res.weights.items()},
                         "sources": json.loads(json.dumps(res.sources, default=_plain)), "shots": shots}))


def _plain(x):
    """JSON for numpy scalars and arrays in a stage's ``sources`` (anything else: its text)."""
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def read_importance(s: Session, video: db.Video, media_root=None) -> dict:
    import numpy as np

    from reelscope.story.importance import ImportanceResult

    c = s.scalars(select(db.Curve).where(db.Curve.video_id == video.id, db.Curve.stage == IMPORTANCE_STAGE,
                                         db.Curve.name == "importance")).first()
    if c is None:
        return {"importance": None}
    data = dict(c.data or {})
    shots = {sh.idx: sh for sh in s.scalars(select(db.Shot).where(db.Shot.video_id == video.id))}
    per_shot = []
    for e in data.get("shots") or []:
        sh = shots.get(e["shot"])
        per_shot.append({**e, "start_time": sh.start_time if sh else None, "end_time": sh.end_time if sh else None})
    return {"importance": ImportanceResult(step=float(c.step), curve=np.array([0.0 if v is None else v for v in c.values]),
                                           per_shot=per_shot, weights=dict(data.get("weights") or {}),
                                           sources=dict(data.get("sources") or {}))}


register_writer(Writer(IMPORTANCE_STAGE, write_importance, shot_columns=("importance",), curves=True,
                       read=read_importance))
# ---- end of importance -------------------------------------------------------------------------
