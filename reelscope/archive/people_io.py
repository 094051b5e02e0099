"""Writing a faces pass (faces, tracks, characters) into the archive, then recognising
characters against the identity gallery — inside the caller's transaction."""
from __future__ import annotations

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.gallery import Gallery, to_blob
from reelscope.archive.writers import Writer, register_writer


def write_faces(s: Session, video: db.Video, face_pass, thumbs: dict[int, str], media_prefix: str,
                archive=None) -> None:
    for model in (db.Face, db.FaceTrack, db.Character):
        s.execute(delete(model).where(model.video_id == video.id))
    s.flush()
    char_of_track: dict[int, db.Character] = {}
    for c in face_pass.characters:
        row = db.Character(video_id=video.id, idx=c.index, naming="unknown", screen_time=c.screen_time,
                           first_frame=c.first_frame, last_frame=c.last_frame, first_time=c.first_time,
                           last_time=c.last_time,
                           thumbnail=f"{media_prefix}/{thumbs[c.index]}" if c.index in thumbs else None,
                           expressions=c.expressions, embedding=to_blob(c.embedding))
        s.add(row)
        for tid in c.track_ids:
            char_of_track[tid] = row
    s.flush()
    fps = video.fps_num / video.fps_den
    for t in face_pass.tracks:
        c = char_of_track.get(t.id)
        tr = db.FaceTrack(video_id=video.id, character_id=c.id if c else None, shot_idx=t.shot_index,
                          first_frame=t.first_frame, last_frame=t.last_frame, seconds=t.duration_frames / fps,
                          embedding=to_blob(t.mean_embedding))
        s.add(tr)
        s.flush()
        for k, frame in enumerate(t.frames):
            x, y, w, h = (float(v) for v in t.boxes[k])
            e = t.embeddings[k] if t.embeddings is not None else None
            ex = t.data[k].get("expression") or {}
            s.add(db.Face(video_id=video.id, track_id=tr.id, frame=frame,
                          time=face_pass.times.get(frame, frame / fps), x=x, y=y, w=w, h=h,
                          score=float(t.scores[k]),
                          embedding=to_blob(e) if e is not None and np.isfinite(e).all() else None,
                          expression=ex.get("label") if isinstance(ex, dict) else ex,
                          expression_scores=ex.get("scores") if isinstance(ex, dict) else None))
    s.flush()
    Gallery(archive)._recognise(s, video.id)


def _prepare_face_thumbs(staging, artifacts: dict) -> dict:
    """Character index -> staged thumbnail file name (the crop of its best face)."""
    face_pass = artifacts.get("faces")
    if face_pass is None:
        return {}
    tracks = {t.id: t for t in face_pass.tracks}
    out = {}
    for c in face_pass.characters:
        th = c.thumbnail
        t = tracks.get(th.track_id)
        if t is None or th.frame not in t.frames:
            continue
        jpeg = face_pass.crops.get((th.frame, t.det_indices[t.frames.index(th.frame)]))
        if not jpeg:
            continue
        name = f"character_{c.index:03d}_{th.frame:07d}.jpg"
        (staging / name).write_bytes(jpeg)
        out[c.index] = name
    return out


def _write(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    write_faces(s, video, artifacts["faces"], artifacts.get("_media") or {}, f"{video.fingerprint}/faces")


def _read(s: Session, video: db.Video, media_root=None) -> dict:
    from reelscope.archive.people_read import read_faces
    return {"faces": read_faces(s, video)}


register_writer(Writer("faces", _write, tables=(db.Face, db.FaceTrack, db.Character), read=_read,
                       prepare=_prepare_face_thumbs, media_folder="faces"))
