"""Reading and writing the core stages: shots (with transitions and every frame's time), keyframes
(thumbnails in the media store) and shot sizes (columns of Shot)."""
from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer
from reelscope.errors import ReelscopeError


def pack_times(times) -> bytes | None:
    if times is None or len(times) == 0:
        return None
    return zlib.compress(np.asarray(times, "<f8").tobytes(), 6)


def unpack_times(blob: bytes | None) -> list[float]:
    if not blob:
        return []
    return np.frombuffer(zlib.decompress(blob), "<f8").tolist()


def is_vfr(times, fps) -> bool:
    if times is None or len(times) < 3:
        return False
    d = np.diff(np.asarray(times, dtype=np.float64))
    return bool(np.abs(d - 1 / float(fps)).max() > 0.5 / float(fps))


# ---- shots ------------------------------------------------------------------------------------
def _write_shots(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    times = artifacts.get("frame_times") or []
    n = artifacts.get("frame_count") or len(times)
    video.frame_count = int(n) or video.frame_count
    video.frame_times = pack_times(times)
    fps = video.fps_num / video.fps_den
    video.variable_frame_rate = is_vfr(times, fps)

    def at(frame: int) -> float:
        if frame < len(times):
            return times[frame]
        return (times[-1] + (frame - len(times) + 1) / fps) if times else frame / fps

    for t in artifacts.get("transitions") or []:
        s.add(db.Transition(video_id=video.id, type=t.type.value, start_frame=t.start, end_frame=t.end,
                            boundary_frame=t.boundary, score=t.score, detector=t.detector))
    for sh in artifacts.get("shots") or []:
        row = db.Shot(video_id=video.id, idx=sh.index, start_frame=sh.start, end_frame=sh.end,
                      start_time=at(sh.start), end_time=at(min(sh.end + 1, n)),
                      transition_in=sh.transition_in.value if sh.transition_in else None,
                      transition_out=sh.transition_out.value if sh.transition_out else None)
        s.add(row)
        shot_rows[sh.index] = row
    s.flush()


def _clear_shots(s: Session, video: db.Video) -> None:
    # shots cascade to keyframes; a shots rerun replaces every stage built on them (the engine
    # reruns those), so the shot rows themselves go
    s.execute(delete(db.Transition).where(db.Transition.video_id == video.id))
    for sh in list(video.shots):
        s.delete(sh)
    s.flush()


def read_shots(s: Session, video: db.Video, media_root: Path | None = None) -> dict:
    from reelscope.shots.types import Shot, Transition, TransitionType

    rows = s.scalars(select(db.Shot).where(db.Shot.video_id == video.id).order_by(db.Shot.idx)).all()
    trs = s.scalars(select(db.Transition).where(db.Transition.video_id == video.id)
                    .order_by(db.Transition.boundary_frame)).all()
    blob = s.scalars(select(db.Video.frame_times).where(db.Video.id == video.id)).first()
    times = unpack_times(blob)
    n = int(video.frame_count)
    if not times:  # stored before migration 0005: constant frame rate times
        fps = video.fps_num / video.fps_den
        times = [i / fps for i in range(n)]
    shots = [Shot(r.idx, r.start_frame, r.end_frame, TransitionType(r.transition_in) if r.transition_in else None,
                  TransitionType(r.transition_out) if r.transition_out else None) for r in rows]
    transitions = [Transition(t.start_frame, t.end_frame, t.boundary_frame, TransitionType(t.type), t.score,
                              t.detector) for t in trs]
    return {"frame_count": n, "frame_times": times, "transitions": transitions, "shots": shots}


register_writer(Writer("shots", _write_shots, extra_clear=_clear_shots, read=read_shots))


# ---- keyframes --------------------------------------------------------------------------------
def _prepare_keyframes(staging: Path, artifacts: dict) -> dict:
    staged = {}
    for kf in artifacts.get("keyframes") or []:
        h, w = kf.image.shape[:2]
        name = f"{kf.frame:07d}_{w}x{h}.jpg"
        ok = cv2.imwrite(str(staging / name), cv2.cvtColor(kf.image, cv2.COLOR_RGB2BGR),
                         [cv2.IMWRITE_JPEG_QUALITY, 88])
        if not ok:
            raise ReelscopeError(f"cannot write thumbnail {staging / name}")
        staged[(kf.shot_index, kf.frame)] = name
    return staged


def _write_keyframes(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    staged = artifacts.get("_media") or {}
    for kf in artifacts.get("keyframes") or []:
        row = shot_rows.get(kf.shot_index)
        if row is None:
            continue
        name, (h, w) = staged[(kf.shot_index, kf.frame)], kf.image.shape[:2]
        s.add(db.Keyframe(shot_id=row.id, frame=kf.frame, time=kf.time, method=kf.method,
                          image=f"{video.fingerprint}/keyframes/{name}", width=w, height=h,
                          sharpness=kf.sharpness))


def _clear_keyframes(s: Session, video: db.Video) -> None:
    ids = select(db.Shot.id).where(db.Shot.video_id == video.id)
    s.execute(delete(db.Keyframe).where(db.Keyframe.shot_id.in_(ids)))


def read_keyframes(s: Session, video: db.Video, media_root: Path | None = None) -> dict:
    """Keyframes with their thumbnails read back from the media store (RGB)."""
    from reelscope.shots.keyframes import KeyframeImage

    rows = s.execute(select(db.Keyframe, db.Shot.idx).join(db.Shot, db.Keyframe.shot_id == db.Shot.id)
                     .where(db.Shot.video_id == video.id).order_by(db.Shot.idx, db.Keyframe.frame)).all()
    out = []
    for kf, idx in rows:
        img = None
        if media_root is not None:
            bgr = cv2.imread(str(Path(media_root) / kf.image), cv2.IMREAD_COLOR)
            img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr is not None else None
        if img is None:
            img = np.zeros((kf.height, kf.width, 3), np.uint8)
        out.append(KeyframeImage(idx, kf.frame, kf.time, kf.method, img, kf.sharpness))
    return {"keyframes": out}


register_writer(Writer("keyframes", _write_keyframes, extra_clear=_clear_keyframes, read=read_keyframes,
                       prepare=_prepare_keyframes, media_folder="keyframes"))


# ---- shot sizes -------------------------------------------------------------------------------
def _write_shot_sizes(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    for ss in artifacts.get("shot_sizes") or []:
        row = shot_rows.get(ss.shot_index)
        if row is not None:
            row.size, row.size_confidence, row.size_evidence = ss.label, ss.confidence, ss.evidence


def read_shot_sizes(s: Session, video: db.Video, media_root: Path | None = None) -> dict:
    from reelscope.shots.shot_size import ShotSize

    rows = s.scalars(select(db.Shot).where(db.Shot.video_id == video.id, db.Shot.size.is_not(None))
                     .order_by(db.Shot.idx)).all()
    return {"shot_sizes": [ShotSize(r.size, float(r.size_confidence or 0.0), dict(r.size_evidence or {}), r.idx)
                           for r in rows]}


register_writer(Writer("shot_size", _write_shot_sizes, shot_columns=("size", "size_confidence", "size_evidence"),
                       read=read_shot_sizes))
