"""The clip stage's rows (FrameEmbedding: one L2-normalised float32 vector per sampled frame,
tagged with the model's name) and text-to-image search over them (``search_frames``)."""
from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer
from reelscope.errors import ReelscopeError

MAX_SHOTS = 500  # at most this many shots per query come from the index


def _write(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    res = artifacts.get("frame_embeddings") or {}
    rows = [{"video_id": video.id, "shot_idx": f["shot_index"], "frame": int(f["frame"]), "time": float(f["time"]),
             "model": res["model"], "vector": np.asarray(f["vector"], "<f4").tobytes()}
            for f in res.get("frames") or []]
    if rows:
        s.execute(insert(db.FrameEmbedding), rows)


def _read(s: Session, video: db.Video, media_root=None) -> dict:
    rows = s.scalars(select(db.FrameEmbedding).where(db.FrameEmbedding.video_id == video.id)
                     .order_by(db.FrameEmbedding.frame)).all()
    return {"frame_embeddings": {"model": rows[0].model if rows else "",
                                 "frames": [{"frame": r.frame, "time": r.time, "shot_index": r.shot_idx,
                                             "vector": np.frombuffer(r.vector, "<f4")} for r in rows]}}


register_writer(Writer("clip", write=_write, tables=(db.FrameEmbedding,), read=_read))


_INDEX: dict[tuple[str, str], tuple[tuple, dict]] = {}
_INDEX_LOCK = threading.Lock()


def _frame_index(archive, session, model: str) -> dict:
    """The stored vectors of ``model`` as one matrix (reloaded when rows were added or removed)."""
    stamp = tuple(session.execute(select(func.count(), func.max(db.FrameEmbedding.id))
                                  .where(db.FrameEmbedding.model == model)).one())
    key = (archive.url, model)
    with _INDEX_LOCK:
        hit = _INDEX.get(key)
        if hit and hit[0] == stamp:
            return hit[1]
    rows = session.execute(select(db.FrameEmbedding.video_id, db.FrameEmbedding.shot_idx, db.FrameEmbedding.frame,
                                  db.FrameEmbedding.time, db.FrameEmbedding.vector)
                           .where(db.FrameEmbedding.model == model)).all()
    meta = np.array([(r[0], -1 if r[1] is None else r[1], r[2]) for r in rows], np.int64).reshape(-1, 3)
    times = np.array([r[3] for r in rows], np.float64)
    mat = np.stack([np.frombuffer(r[4], "<f4") for r in rows]) if rows else np.zeros((0, 1), np.float32)
    index = {"meta": meta, "times": times, "matrix": mat}
    with _INDEX_LOCK:
        _INDEX[key] = (stamp, index)
    return index


def search_frames(archive, session, folder: str, text: str, video: int | None = None,
                  min_similarity: float | None = None) -> dict[tuple[int, int], tuple[float, int, float]]:
    """(video id, shot index) -> (cosine, frame, time) of the shot's frame most similar to
    ``text``, for shots whose best frame reaches ``min_similarity`` (the model's default)."""
    from reelscope.models.clip_index import load_clip

    model = load_clip(str(folder))
    index = _frame_index(archive, session, model.name)
    if not len(index["meta"]):
        return {}
    t = model.encode_text([text])[0]
    if index["matrix"].shape[1] != t.shape[0]:
        raise ReelscopeError(f"stored vectors of {model.name!r} have {index['matrix'].shape[1]} dimensions, "
                             f"the text encoder gives {t.shape[0]}")
    sims = index["matrix"] @ t
    floor = model.min_similarity if min_similarity is None else min_similarity
    keep = np.flatnonzero(sims >= floor)
    if video:
        keep = keep[index["meta"][keep, 0] == video]
    out: dict[tuple[int, int], tuple[float, int, float]] = {}
    for i in keep[np.argsort(-sims[keep])]:
        v, si, frame = (int(x) for x in index["meta"][i])
        if si >= 0 and (v, si) not in out:
            out[(v, si)] = (float(sims[i]), frame, float(index["times"][i]))
            if len(out) >= MAX_SHOTS:
                break
    return out
