"""Reading and writing the pose stage: PoseTrack rows (one person within a shot, with its face
track and character when linked), Pose rows (a person's box and 17 keypoints on one sampled
frame, video pixels, exact presentation time), PoseAction rows (an action of a track over a
frame span) and Tag rows of source "action" so search finds the actions: one per shot and label
(``frame`` null, score the best span's) and one per sampled frame inside a span (score the
span's).

Face links are made here against the faces stored for the video at the time of writing (rows of
the faces stage: in the default analysis it finishes before the pose stage), with the rule of
``vision.pose_tracks.link_faces``; when the faces are analysed again later, the links become
null (foreign keys ``ON DELETE SET NULL``) until the poses are.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer

STAGE = "pose"
TAG_SOURCE = "action"


def _stored_face_links(s: Session, video: db.Video, res) -> dict:
    """Track index -> FaceLink (keys: FaceTrack ids, characters: Character ids) against the faces
    stored for ``video``; {} when it has none."""
    from reelscope.vision.pose_tracks import link_faces

    rows = s.execute(select(db.Face.frame, db.Face.x, db.Face.y, db.Face.w, db.Face.h, db.Face.track_id,
                            db.FaceTrack.shot_idx, db.FaceTrack.character_id)
                     .join(db.FaceTrack, db.Face.track_id == db.FaceTrack.id)
                     .where(db.Face.video_id == video.id)).all()
    if not rows or not res.tracks:
        return {}
    boxes = np.array([[r.x, r.y, r.w, r.h] for r in rows], np.float32)
    chars = {r.track_id: r.character_id for r in rows if r.character_id is not None}
    return link_faces(res.tracks, [r.frame for r in rows], boxes, [r.track_id for r in rows],
                      face_shots=[r.shot_idx for r in rows], characters=chars, max_frame_gap=res.step // 2)


def _keypoints(xy: np.ndarray, scores: np.ndarray) -> list[float]:
    return [round(float(v), 4 if k % 3 == 2 else 2) for k, v in
            enumerate(np.concatenate([xy, scores[:, None]], axis=1).reshape(-1))]


def write_poses(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    from reelscope.vision.pose import keypoint_scores

    res = artifacts.get("poses")
    if res is None:
        return
    fps = video.fps_num / video.fps_den
    links = _stored_face_links(s, video, res)

    def at(frame: int) -> float:
        return float(res.times.get(frame, frame / fps))

    track_rows, track_of = [], {}
    for k, t in enumerate(res.tracks):
        ln = links.get(k)
        row = db.PoseTrack(video_id=video.id, shot_idx=t.shot_index, first_frame=t.first_frame,
                           last_frame=t.last_frame, score=round(t.score, 4), samples=len(t),
                           face_track_id=ln.face_track if ln else None, character_id=ln.character if ln else None)
        track_rows.append(row)
        for f, i in zip(t.frames, t.det_indices):
            track_of[(f, i)] = row
    s.add_all(track_rows)
    s.flush()
    poses = []
    for d in sorted(res.frames, key=lambda d: d.frame):
        ks = keypoint_scores(d)
        for i in range(len(d)):
            x, y, w, h = (round(float(v), 2) for v in d.boxes[i])
            tr = track_of.get((d.frame, i))
            poses.append({"video_id": video.id, "track_id": tr.id if tr is not None else None, "frame": int(d.frame),
                          "time": at(d.frame), "x": x, "y": y, "w": w, "h": h, "score": round(float(d.scores[i]), 4),
                          "keypoints": _keypoints(d.landmarks[i], ks[i])})
    if poses:
        s.execute(insert(db.Pose), poses)
    actions, shot_tags, frame_tags = [], {}, {}
    for t, row in zip(res.tracks, track_rows):
        for a in t.actions:
            actions.append({"video_id": video.id, "track_id": row.id, "shot_idx": t.shot_index, "label": a.label,
                            "start_frame": a.start_frame, "end_frame": a.end_frame, "start_time": at(a.start_frame),
                            "end_time": _end_time(a.end_frame, res, fps, shot_rows.get(t.shot_index)),
                            "score": a.score, "samples": len(a.frames)})
            key = (t.shot_index, a.label)
            shot_tags[key] = max(shot_tags.get(key, 0.0), a.score)
            for f in a.frames:
                fk = (t.shot_index, f, a.label)
                frame_tags[fk] = max(frame_tags.get(fk, 0.0), a.score)
    if actions:
        s.execute(insert(db.PoseAction), actions)
    tags = []
    for (shot, label), score in sorted(shot_tags.items()):
        row = shot_rows.get(shot)
        tags.append({"video_id": video.id, "shot_idx": shot, "frame": None,
                     "time": row.start_time if row is not None else None, "label": label, "source": TAG_SOURCE,
                     "score": float(score)})
    for (shot, frame, label), score in sorted(frame_tags.items()):
        tags.append({"video_id": video.id, "shot_idx": shot, "frame": int(frame), "time": at(frame), "label": label,
                     "source": TAG_SOURCE, "score": float(score)})
    if tags:
        s.execute(insert(db.Tag), tags)


def _end_time(end_frame: int, res, fps: float, shot_row) -> float:
    """Time at which the span ends: the start of the frame after its last one."""
    t = (end_frame + 1) / fps
    if shot_row is not None and end_frame >= shot_row.end_frame:
        t = shot_row.end_time
    return float(t)


def read_poses(s: Session, video: db.Video, media_root=None) -> dict:
    """The stored pose stage as a PosePass: per-frame pose Detections (video pixels, keypoints),
    tracks with keypoints, face links (FaceTrack / Character ids) and action spans."""
    from reelscope.pipeline.stages.pose import PosePass
    from reelscope.vision.detections import Detections
    from reelscope.vision.pose_actions import ActionSpan
    from reelscope.vision.pose_tracks import PoseTrack

    run = s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video.id, db.AnalysisRun.stage == STAGE)
                    .order_by(db.AnalysisRun.id.desc())).first()
    params = (run.params if run else None) or {}
    step = int(params.get("sample_step") or 1)
    out = PosePass(scale=1.0, step=step, sampled=int(params.get("sampled_frames") or 0))
    rows = s.scalars(select(db.Pose).where(db.Pose.video_id == video.id).order_by(db.Pose.frame, db.Pose.id)).all()
    by_frame = defaultdict(list)
    for r in rows:
        by_frame[r.frame].append(r)
    where = {}
    for frame, rs in sorted(by_frame.items()):
        kp = np.array([r.keypoints for r in rs], np.float32).reshape(len(rs), 17, 3)
        out.frames.append(Detections(np.array([[r.x, r.y, r.w, r.h] for r in rs], np.float32),
                                     np.array([r.score for r in rs], np.float32), np.zeros(len(rs), np.int32),
                                     kp[:, :, :2], data=[{"label": "person", "keypoint_scores": kp[i, :, 2]}
                                                         for i in range(len(rs))], frame=frame))
        out.times[frame] = rs[0].time
        for i, r in enumerate(rs):
            where[r.id] = (i, kp[i])
    shot_end = {sh.idx: sh.end_frame for sh in s.scalars(select(db.Shot).where(db.Shot.video_id == video.id))}
    of_track = defaultdict(list)
    for r in rows:
        if r.track_id is not None:
            of_track[r.track_id].append(r)
    acts = defaultdict(list)
    for a in s.scalars(select(db.PoseAction).where(db.PoseAction.video_id == video.id)
                       .order_by(db.PoseAction.start_frame, db.PoseAction.id)):
        acts[a.track_id].append(a)
    tracks = s.scalars(select(db.PoseTrack).where(db.PoseTrack.video_id == video.id).order_by(db.PoseTrack.id)).all()
    for k, t in enumerate(tracks):
        rs = of_track.get(t.id, [])
        kp = np.stack([where[r.id][1] for r in rs]) if rs else np.zeros((0, 17, 3), np.float32)
        frames = [r.frame for r in rs]
        spans = [ActionSpan(a.label, a.start_frame, a.end_frame,
                            [f for f in frames if a.start_frame <= f <= a.end_frame][:a.samples], a.score)
                 for a in acts.get(t.id, [])]
        out.tracks.append(PoseTrack(
            id=k, shot_index=t.shot_idx, frames=frames,
            boxes=np.array([[r.x, r.y, r.w, r.h] for r in rs], np.float32).reshape(-1, 4),
            scores=np.array([r.score for r in rs], np.float32), keypoints=kp[:, :, :2], keypoint_scores=kp[:, :, 2],
            det_indices=[where[r.id][0] for r in rs], step=step, shot_end=shot_end.get(t.shot_idx),
            face_track=t.face_track_id, character=t.character_id, actions=spans))
    return {"poses": out}


def export_poses(s: Session, video_id: int) -> dict | None:
    """The pose stage's section of the archive JSON (null when not analysed): per person track
    its shot, frame range, face track / character, actions, and poses frame by frame
    (``keypoints``: ``[x, y, score] * 17`` in reelscope.vision.pose.KEYPOINTS order)."""
    from reelscope.vision.pose import KEYPOINTS

    ran = s.scalars(select(db.AnalysisRun.id).where(db.AnalysisRun.video_id == video_id,
                                                    db.AnalysisRun.stage == STAGE)).first()
    if ran is None:
        return None
    poses, acts = defaultdict(list), defaultdict(list)
    for p in s.scalars(select(db.Pose).where(db.Pose.video_id == video_id).order_by(db.Pose.frame, db.Pose.id)):
        poses[p.track_id].append(p)
    for a in s.scalars(select(db.PoseAction).where(db.PoseAction.video_id == video_id)
                       .order_by(db.PoseAction.start_frame, db.PoseAction.id)):
        acts[a.track_id].append(a)
    tracks = s.scalars(select(db.PoseTrack).where(db.PoseTrack.video_id == video_id)
                       .order_by(db.PoseTrack.shot_idx, db.PoseTrack.first_frame, db.PoseTrack.id)).all()
    return {"keypoint_names": list(KEYPOINTS), "tracks": [{
        "id": t.id, "shot_index": t.shot_idx, "first_frame": t.first_frame, "last_frame": t.last_frame,
        "score": round(t.score, 4), "samples": t.samples, "face_track_id": t.face_track_id,
        "character_id": t.character_id,
        "actions": [{"label": a.label, "start_frame": a.start_frame, "end_frame": a.end_frame,
                     "start_time": round(a.start_time, 6), "end_time": round(a.end_time, 6), "score": round(a.score, 4),
                     "samples": a.samples} for a in acts.get(t.id, [])],
        "poses": [{"frame": p.frame, "time": round(p.time, 6),
                   "box": [round(p.x, 1), round(p.y, 1), round(p.w, 1), round(p.h, 1)],
                   "score": round(p.score, 4), "keypoints": p.keypoints} for p in poses.get(t.id, [])],
    } for t in tracks]}


register_writer(Writer(STAGE, write_poses, tables=(db.Pose, db.PoseAction, db.PoseTrack), tag_source=TAG_SOURCE,
                       read=read_poses, export=export_poses, export_key="poses"))
