"""Writing the objects stage: ObjectTrack rows (one object of one COCO class within a shot) and
ObjectDetection rows (its box on each sampled frame, video pixels, exact presentation time).

A track's ``score`` is its mean detection score, ``detections`` its number of detections,
``label`` the COCO class name. Reading helpers for exports and the API live here too.
"""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer

STAGE = "objects"


def write_objects(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    res = artifacts.get("objects")
    if res is None:
        return
    fps = video.fps_num / video.fps_den
    by_frame = {d.frame: d for d in res.frames}
    track_of: dict[tuple[int, int], db.ObjectTrack] = {}
    rows = []
    for t in res.tracks:
        row = db.ObjectTrack(video_id=video.id, shot_idx=t.shot_index, label=t.label, class_id=t.class_id,
                             first_frame=t.first_frame, last_frame=t.last_frame, score=round(t.score, 4),
                             detections=len(t))
        rows.append(row)
        for f, i in zip(t.frames, t.det_indices):
            track_of[(f, i)] = row
    s.add_all(rows)
    s.flush()
    dets = []
    for frame, d in sorted(by_frame.items()):
        for i in range(len(d)):
            x, y, w, h = (round(float(v), 2) for v in d.boxes[i])
            tr = track_of.get((frame, i))
            dets.append({"video_id": video.id, "track_id": tr.id if tr is not None else None, "frame": int(frame),
                         "time": float(res.times.get(frame, frame / fps)),
                         "label": d.data[i].get("label") or (tr.label if tr is not None else str(int(d.class_ids[i]))),
                         "class_id": int(d.class_ids[i]), "x": x, "y": y, "w": w, "h": h,
                         "score": round(float(d.scores[i]), 4)})
    if dets:
        s.execute(insert(db.ObjectDetection), dets)


def read_objects(s: Session, video: db.Video, media_root=None) -> dict:
    """The stored objects stage as an ObjectPass: per-frame Detections (video pixels) and tracks."""
    from collections import defaultdict

    import numpy as np

    from reelscope.pipeline.stages.objects import ObjectPass
    from reelscope.vision.detections import Detections
    from reelscope.vision.object_tracks import ObjectTrack

    run = s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video.id,
                                                 db.AnalysisRun.stage == STAGE)).first()
    params = (run.params if run else None) or {}
    step = int(params.get("sample_step") or 1)
    out = ObjectPass(scale=1.0, step=step, sampled=int(params.get("sampled_frames") or 0))
    dets = s.scalars(select(db.ObjectDetection).where(db.ObjectDetection.video_id == video.id)
                     .order_by(db.ObjectDetection.frame, db.ObjectDetection.id)).all()
    by_frame = defaultdict(list)
    for d in dets:
        by_frame[d.frame].append(d)
    where = {}
    for frame, rows in sorted(by_frame.items()):
        out.frames.append(Detections(np.array([[r.x, r.y, r.w, r.h] for r in rows], np.float32),
                                     np.array([r.score for r in rows], np.float32),
                                     class_ids=np.array([r.class_id for r in rows], np.int32),
                                     data=[{"label": r.label} for r in rows], frame=frame))
        out.times[frame] = rows[0].time
        for i, r in enumerate(rows):
            where[r.id] = i
    shot_end = {sh.idx: sh.end_frame for sh in s.scalars(select(db.Shot).where(db.Shot.video_id == video.id))}
    of_track = defaultdict(list)
    for d in dets:
        if d.track_id is not None:
            of_track[d.track_id].append(d)
    tracks = s.scalars(select(db.ObjectTrack).where(db.ObjectTrack.video_id == video.id)
                       .order_by(db.ObjectTrack.id)).all()
    for k, t in enumerate(tracks):
        rows = of_track.get(t.id, [])
        out.tracks.append(ObjectTrack(
            frames=[r.frame for r in rows], step=step, shot_end=shot_end.get(t.shot_idx), id=k,
            shot_index=t.shot_idx, class_id=t.class_id,
            boxes=np.array([[r.x, r.y, r.w, r.h] for r in rows], np.float32).reshape(-1, 4),
            scores=np.array([r.score for r in rows], np.float32), det_indices=[where[r.id] for r in rows]))
    return {"objects": out}


register_writer(Writer(STAGE, write_objects, tables=(db.ObjectDetection, db.ObjectTrack), read=read_objects))


def objects_dict(v: db.Video) -> dict | None:
    """The objects stage's results for the archive JSON (null when not analysed): per track its
    class, shot, frame range, mean score and boxes frame by frame."""
    from sqlalchemy import inspect

    if "object_tracks" in inspect(v).unloaded:
        return None
    ran = any(r.stage == STAGE for r in v.runs) if "runs" not in inspect(v).unloaded else bool(v.object_tracks)
    if not ran:
        return None
    return {"tracks": [{
        "id": t.id, "shot_index": t.shot_idx, "label": t.label, "class_id": t.class_id,
        "first_frame": t.first_frame, "last_frame": t.last_frame, "score": round(t.score, 4),
        "detections": [{"frame": d.frame, "time": round(d.time, 6), "box": [round(d.x, 1), round(d.y, 1),
                                                                            round(d.w, 1), round(d.h, 1)],
                        "score": round(d.score, 4)} for d in t.detection_rows],
    } for t in v.object_tracks]}


def seed_frames(s: Session, video_id: int, *, faces: bool = True) -> list[dict]:
    """The seed system's per-frame form for one video: ``[{frameIdx, time, objects: [{ObjectID,
    Bb: [x, y, w, h], score, ...}]}]`` over every sampled frame with an object or a face.

    COCO objects have ``ObjectID`` = their class name (``class`` repeats it, ``track`` is the
    object track id); faces have ``ObjectID`` = the character's name when it has one, else
    "face" (``class`` "face", ``character`` its index). The seed's rule holds: a person box whose
    face has a name takes that name as ``ObjectID`` (reelscope.people.rules.merge_person_labels).
    Boxes are in video pixels."""
    import numpy as np

    from reelscope.people.rules import merge_person_labels
    from reelscope.vision.coco import PERSON
    from reelscope.vision.detections import Detections

    frames: dict[int, dict] = {}
    objs: dict[int, list[db.ObjectDetection]] = {}
    for d in object_detections(s, video_id):
        objs.setdefault(d.frame, []).append(d)
        frames.setdefault(d.frame, {"frameIdx": d.frame, "time": round(d.time, 6), "objects": []})
    face_rows: dict[int, list[tuple]] = {}
    if faces:
        q = (select(db.Face, db.Character.idx, db.Identity.name)
             .join(db.FaceTrack, db.Face.track_id == db.FaceTrack.id, isouter=True)
             .join(db.Character, db.FaceTrack.character_id == db.Character.id, isouter=True)
             .join(db.Identity, db.Character.identity_id == db.Identity.id, isouter=True)
             .where(db.Face.video_id == video_id).order_by(db.Face.frame, db.Face.id))
        for f, char_idx, name in s.execute(q):
            face_rows.setdefault(f.frame, []).append((f, char_idx, name))
            frames.setdefault(f.frame, {"frameIdx": f.frame, "time": round(f.time, 6), "objects": []})
    for frame, entry in sorted(frames.items()):
        os_ = objs.get(frame, [])
        fs = face_rows.get(frame, [])
        names = [None] * len(os_)
        if os_ and fs:
            od = Detections(np.array([[o.x, o.y, o.w, o.h] for o in os_]), np.array([o.score for o in os_]),
                            np.array([o.class_id for o in os_]))
            fd = Detections(np.array([[f.x, f.y, f.w, f.h] for f, _, _ in fs]), np.array([f.score for f, _, _ in fs]),
                            data=[{"identity": name} for _, _, name in fs])
            names = [m["label"] if m["source"] == "face" else None
                     for m in merge_person_labels(od, fd, person_class_id=PERSON)]
        for o, name in zip(os_, names):
            entry["objects"].append({"ObjectID": name or o.label, "Bb": [round(o.x, 1), round(o.y, 1), round(o.w, 1),
                                                                          round(o.h, 1)],
                                     "score": round(o.score, 4), "class": o.label, "track": o.track_id})
        for f, char_idx, name in fs:
            entry["objects"].append({"ObjectID": name or "face", "Bb": [round(f.x, 1), round(f.y, 1), round(f.w, 1),
                                                                         round(f.h, 1)],
                                     "score": round(f.score, 4), "class": "face", "character": char_idx})
    return [frames[k] for k in sorted(frames)]


def object_tracks(s: Session, video_id: int) -> list[db.ObjectTrack]:
    return list(s.scalars(select(db.ObjectTrack).where(db.ObjectTrack.video_id == video_id)
                          .order_by(db.ObjectTrack.shot_idx, db.ObjectTrack.first_frame, db.ObjectTrack.id)))


def object_detections(s: Session, video_id: int) -> list[db.ObjectDetection]:
    return list(s.scalars(select(db.ObjectDetection).where(db.ObjectDetection.video_id == video_id)
                          .order_by(db.ObjectDetection.frame, db.ObjectDetection.score.desc(), db.ObjectDetection.id)))
