"""Reading a stored faces stage back into the form the stage produced (``people.video_faces.FacePass``):
per-frame Detections with embeddings and expressions, face tracks, characters. Stages built on
faces (emotion, importance, summaries) then use stored faces instead of recomputing them.
Also: a video's face rows by frame (optionally of some characters) and its characters by reference."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.gallery import from_blob
from reelscope.errors import ReelscopeError


def faces_by_frame(archive, video_id: int, character_ids: list[int] | None = None) -> dict[int, list[db.Face]]:
    """The face rows of a video (of these characters only, if given), by frame."""
    q = select(db.Face).where(db.Face.video_id == video_id)
    if character_ids is not None:
        q = q.join(db.FaceTrack, db.Face.track_id == db.FaceTrack.id) \
             .where(db.FaceTrack.character_id.in_(character_ids))
    out: dict[int, list[db.Face]] = {}
    with archive.session() as s:
        for f in s.scalars(q):
            out.setdefault(f.frame, []).append(f)
    return out


def find_characters(archive, video: db.Video, character: str | int) -> list[db.Character]:
    """Characters of ``video`` named by id, by index within the video (``#2``) or by name."""
    ref = str(character).strip()
    with archive.session() as s:
        chars = list(s.scalars(select(db.Character).where(db.Character.video_id == video.id)))
        if ref.isdigit():
            hit = [c for c in chars if c.id == int(ref)]
        elif ref.startswith("#") and ref[1:].isdigit():
            hit = [c for c in chars if c.idx == int(ref[1:])]
        else:
            hit = [c for c in chars if c.identity is not None and c.identity.name.lower() == ref.lower()]
    if not hit:
        raise ReelscopeError(f"no character {ref!r} in {video.filename} (a character id, #index or a name; "
                             f"see `reelscope people list`)")
    return hit


def read_faces(s: Session, video: db.Video):
    from reelscope.people.characters import Character, Thumbnail
    from reelscope.people.tracks import FaceTrack
    from reelscope.people.video_faces import FacePass
    from reelscope.vision.detections import Detections

    run = s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video.id,
                                                 db.AnalysisRun.stage == "faces")).first()
    params = (run.params if run else None) or {}
    step = int(params.get("sample_step") or 0)
    if not step:
        fps = video.fps_num / video.fps_den
        step = max(1, int(round(fps / float(params.get("sample_fps") or 2.0))))
    faces = s.scalars(select(db.Face).where(db.Face.video_id == video.id).order_by(db.Face.frame, db.Face.id)).all()
    by_frame: dict[int, list[db.Face]] = defaultdict(list)
    for f in faces:
        by_frame[f.frame].append(f)
    out = FacePass(scale=1.0, sampled=int(params.get("sampled_frames") or 0))
    where: dict[int, tuple[int, int]] = {}  # face row id -> (frame, index in its Detections)
    for frame, rows in sorted(by_frame.items()):
        emb = [from_blob(r.embedding) if r.embedding else None for r in rows]
        dim = next((len(e) for e in emb if e is not None), 0)
        embeddings = np.stack([e if e is not None else np.full(dim, np.nan, np.float32) for e in emb]) if dim else None
        data = [{"expression": {"label": r.expression, "scores": r.expression_scores or {}}} if r.expression else {}
                for r in rows]
        d = Detections(np.array([[r.x, r.y, r.w, r.h] for r in rows], np.float32),
                       np.array([r.score for r in rows], np.float32), embeddings=embeddings, data=data, frame=frame)
        out.frames.append(d)
        out.times[frame] = rows[0].time
        for i, r in enumerate(rows):
            where[r.id] = (frame, i)
    shot_end = {sh.idx: sh.end_frame for sh in s.scalars(select(db.Shot).where(db.Shot.video_id == video.id))}
    track_rows = s.scalars(select(db.FaceTrack).where(db.FaceTrack.video_id == video.id).order_by(db.FaceTrack.id)).all()
    faces_of: dict[int, list[db.Face]] = defaultdict(list)
    for f in faces:
        if f.track_id is not None:
            faces_of[f.track_id].append(f)
    track_index: dict[int, int] = {}
    for k, tr in enumerate(track_rows):
        rows = faces_of.get(tr.id, [])
        if not rows:
            continue
        dets = [where[r.id] for r in rows]
        emb = [from_blob(r.embedding) if r.embedding else None for r in rows]
        dim = next((len(e) for e in emb if e is not None), 0)
        out.tracks.append(FaceTrack(
            frames=[r.frame for r in rows], step=step, shot_end=shot_end.get(tr.shot_idx), id=k,
            shot_index=tr.shot_idx, boxes=np.array([[r.x, r.y, r.w, r.h] for r in rows], np.float32),
            scores=np.array([r.score for r in rows], np.float32),
            embeddings=np.stack([e if e is not None else np.full(dim, np.nan, np.float32) for e in emb]) if dim else None,
            data=[{"expression": {"label": r.expression, "scores": r.expression_scores or {}}} if r.expression else {}
                  for r in rows],
            det_indices=[i for _, i in dets]))
        track_index[tr.id] = k
    chars = s.scalars(select(db.Character).where(db.Character.video_id == video.id).order_by(db.Character.idx)).all()
    tracks_of: dict[int, list[int]] = defaultdict(list)
    for tr in track_rows:
        if tr.character_id is not None and tr.id in track_index:
            tracks_of[tr.character_id].append(track_index[tr.id])
    by_id = {t.id: t for t in out.tracks}
    for c in chars:
        tids = tracks_of.get(c.id, [])
        best = None
        for tid in tids:
            t = by_id[tid]
            j = t.best_index
            cand = (float(t.boxes[j, 2] * t.boxes[j, 3] * t.scores[j]), t, j)
            if best is None or cand[0] > best[0]:
                best = cand
        thumb = Thumbnail(best[1].frames[best[2]], tuple(float(v) for v in best[1].boxes[best[2]]), best[1].id,
                          float(best[1].scores[best[2]])) if best else Thumbnail(c.first_frame, (0, 0, 0, 0), -1, 0.0)
        fps = video.fps_num / video.fps_den
        out.characters.append(Character(
            index=c.idx, label=c.idx, track_ids=tids, screen_frames=int(round(c.screen_time * fps)),
            screen_time=c.screen_time, first_frame=c.first_frame, last_frame=c.last_frame, first_time=c.first_time,
            last_time=c.last_time, thumbnail=thumb, expressions=dict(c.expressions or {}),
            embedding=from_blob(c.embedding) if c.embedding else None))
    return out
