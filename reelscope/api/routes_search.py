"""Search across the archive: text (file names, character names), shot size, character,
expression and a time range. Every hit links to an exact frame and time of a video.

Hits are characters (when the text or ``character`` names someone) followed by shots. A shot hit
found through faces (a character, an expression, a name) points at the first matching face in
that shot; otherwise at the shot's first frame (or the start of the requested time range).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from reelscope.api import schemas as m
from reelscope.api.routes_browse import Offset, State, Text, like, shot_link
from reelscope.api.security import require_read
from reelscope.archive import schema as db

router = APIRouter(prefix="/api", tags=["search"], dependencies=[Depends(require_read)])
Seconds = Annotated[float | None, Query(ge=0, le=1e9, allow_inf_nan=False)]


def _face_rows(s: Session, conds: list) -> list:
    """Faces meeting ``conds`` (first per video/frame order) with their shot, character and name."""
    q = (select(db.Face.video_id, db.FaceTrack.shot_idx, db.Face.frame, db.Face.time, db.Character.id,
                db.Identity.name, db.Face.expression, db.Character.thumbnail)
         .join(db.FaceTrack, db.Face.track_id == db.FaceTrack.id)
         .outerjoin(db.Character, db.FaceTrack.character_id == db.Character.id)
         .outerjoin(db.Identity, db.Character.identity_id == db.Identity.id)
         .where(*conds).order_by(db.Face.video_id, db.Face.frame))
    return list(s.execute(q).all())


def _first(rows: list, key) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault(key(r), r)
    return out


@router.get("/search", response_model=m.Page[m.SearchHit])
def search(st: State, offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
           q: Annotated[Text, Query(description="text in file names or character names")] = None,
           size: Annotated[m.ShotSize | None, Query(description="shot size")] = None,
           character: Annotated[Text, Query(description="character name (part of it) or character id")] = None,
           expression: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$",
                                                   description="facial expression, e.g. happy")] = None,
           video: Annotated[int | None, Query(ge=1, le=m.MAX_ID)] = None,
           start: Annotated[Seconds, Query(description="from this time (seconds)")] = None,
           end: Annotated[Seconds, Query(description="up to this time (seconds)")] = None) -> dict:
    common = []  # face-level conditions every face hit must meet
    if video:
        common.append(db.Face.video_id == video)
    if expression:
        common.append(db.Face.expression == expression)
    if start is not None:
        common.append(db.Face.time >= start)
    if end is not None:
        common.append(db.Face.time <= end)
    if character:
        common.append(db.Character.id == int(character) if character.isdigit() and int(character) <= m.MAX_ID
                      else db.Identity.name.ilike(like(character), escape="\\"))
    name_q = db.Identity.name.ilike(like(q), escape="\\") if q else None
    by_faces = bool(character or expression)
    hits: list[dict] = []
    with st.archive.session() as s:
        rows = _face_rows(s, common) if by_faces else []
        face_hits = _first(rows, lambda r: (r[0], r[1]))
        named = _face_rows(s, common + [name_q]) if q else []
        name_hits = _first(named, lambda r: (r[0], r[1]))
        if (q or character) and not size:
            people = _first(named if q else rows, lambda r: r[4])
            files = dict(s.execute(select(db.Video.id, db.Video.filename)
                                   .where(db.Video.id.in_({r[0] for r in people.values()}))).all())
            for cid, r in people.items():
                if cid is None:
                    continue
                hits.append({"kind": "character", "video_id": r[0], "filename": files[r[0]], "frame": r[2],
                             "time": round(r[3], 6), "url": shot_link(r[0], r[3]), "shot_index": r[1],
                             "character_id": cid, "name": r[5], "expression": r[6], "image": r[7],
                             "matched": [x for x, on in (("name", q), ("character", character),
                                                         ("expression", expression)) if on]})
        shots = (select(db.Shot, db.Video.filename, db.Video.fps_num, db.Video.fps_den).join(db.Video)
                 .options(selectinload(db.Shot.keyframes)).order_by(db.Shot.video_id, db.Shot.idx))
        if video:
            shots = shots.where(db.Shot.video_id == video)
        if size:
            shots = shots.where(db.Shot.size == size)
        if start is not None:
            shots = shots.where(db.Shot.end_time > start)
        if end is not None:
            shots = shots.where(db.Shot.start_time <= end)
        if q:
            shots = shots.where(or_(db.Video.filename.ilike(like(q), escape="\\"),
                                    db.Shot.video_id.in_({k[0] for k in name_hits})))
        elif by_faces:
            shots = shots.where(db.Shot.video_id.in_({k[0] for k in face_hits}))
        for sh, filename, num, den in s.execute(shots):
            key = (sh.video_id, sh.idx)
            by_name = key in name_hits
            by_file = bool(q) and q.lower() in filename.lower()
            if (by_faces and key not in face_hits and not by_name) or (q and not (by_file or by_name)):
                continue
            face = name_hits.get(key) if by_name else face_hits.get(key)
            frame, t = sh.start_frame, sh.start_time
            if face is not None:
                frame, t = face[2], face[3]
            elif start is not None and start > sh.start_time:
                frame = min(sh.end_frame, sh.start_frame + int((start - sh.start_time) * num / den))
                t = start
            matched = [x for x, on in (("filename", by_file), ("name", by_name), ("size", size),
                                       ("character", character), ("expression", expression),
                                       ("time", start is not None or end is not None)) if on]
            hits.append({"kind": "shot", "video_id": sh.video_id, "filename": filename, "frame": frame,
                         "time": round(t, 6), "url": shot_link(sh.video_id, t), "shot_index": sh.idx,
                         "end_time": round(sh.end_time, 6), "size": sh.size,
                         "character_id": face[4] if face is not None else None,
                         "name": face[5] if face is not None else None,
                         "expression": face[6] if face is not None else None,
                         "image": sh.keyframes[0].image if sh.keyframes else None, "matched": matched})
    return {"total": len(hits), "offset": offset, "limit": limit, "items": hits[offset:offset + limit]}
