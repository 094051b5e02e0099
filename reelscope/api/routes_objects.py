"""Browsing a video's COCO objects: tracks (filterable, paged) and the seed's per-frame form."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from reelscope.api import schemas as m
from reelscope.api.routes_browse import Limit, Offset, State, VideoId, load_video
from reelscope.api.security import require_read
from reelscope.archive import schema as db

router = APIRouter(prefix="/api", tags=["objects"], dependencies=[Depends(require_read)])
Label = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z ]+$", description="COCO class name, e.g. person")]


class ObjectBox(BaseModel):
    frame: int
    time: float = Field(description="presentation time of the frame, seconds")
    box: list[float] = Field(description="x, y, width, height in video pixels")
    score: float


class ObjectTrackOut(BaseModel):
    id: int
    shot_index: int
    label: str = Field(description="COCO class name")
    class_id: int = Field(description="COCO-80 class index (0 = person)")
    first_frame: int
    last_frame: int
    first_time: float
    last_time: float
    score: float = Field(description="mean detection score")
    detections: int
    boxes: list[ObjectBox] | None = Field(None, description="per-frame boxes (with ?boxes=true)")


class ObjectPage(m.Page[ObjectTrackOut]):
    labels: dict[str, int] = Field(description="tracks per label over the whole video (before filters)")


class SeedObject(BaseModel):
    ObjectID: str = Field(description="class name, or the name of the person / face")
    Bb: list[float] = Field(description="x, y, width, height in video pixels")
    score: float
    model_config = {"extra": "allow"}


class SeedFrame(BaseModel):
    frameIdx: int
    time: float
    objects: list[SeedObject]


@router.get("/videos/{video_id}/objects", response_model=ObjectPage,
            summary="Object tracks of a video (objects stage), filterable by class, shot and score")
def list_objects(st: State, video_id: VideoId, offset: Offset = 0, limit: Limit = 100, label: Label = None,
                 shot: Annotated[int | None, Query(ge=0, le=10**7)] = None,
                 min_score: Annotated[float, Query(ge=0, le=1, allow_inf_nan=False)] = 0.0,
                 boxes: Annotated[bool, Query(description="include every track's per-frame boxes")] = False) -> dict:
    load_video(st, video_id)  # 404 for an unknown video
    with st.archive.session() as s:
        labels = dict(s.execute(select(db.ObjectTrack.label, func.count(db.ObjectTrack.id))
                                .where(db.ObjectTrack.video_id == video_id).group_by(db.ObjectTrack.label)).all())
        q = select(db.ObjectTrack).where(db.ObjectTrack.video_id == video_id, db.ObjectTrack.score >= min_score)
        if label:
            q = q.where(db.ObjectTrack.label == label)
        if shot is not None:
            q = q.where(db.ObjectTrack.shot_idx == shot)
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = list(s.scalars(q.order_by(db.ObjectTrack.shot_idx, db.ObjectTrack.first_frame, db.ObjectTrack.id)
                              .offset(offset).limit(limit)))
        ids = [t.id for t in rows]
        dets: dict[int, list[db.ObjectDetection]] = {}
        for d in s.scalars(select(db.ObjectDetection).where(db.ObjectDetection.track_id.in_(ids))
                           .order_by(db.ObjectDetection.frame)):
            dets.setdefault(d.track_id, []).append(d)
    items = []
    for t in rows:
        ds = dets.get(t.id, [])
        items.append({"id": t.id, "shot_index": t.shot_idx, "label": t.label, "class_id": t.class_id,
                      "first_frame": t.first_frame, "last_frame": t.last_frame,
                      "first_time": round(ds[0].time, 6) if ds else 0.0, "last_time": round(ds[-1].time, 6) if ds else 0.0,
                      "score": round(t.score, 4), "detections": t.detections,
                      "boxes": [{"frame": d.frame, "time": round(d.time, 6), "box": [round(d.x, 1), round(d.y, 1),
                                                                                     round(d.w, 1), round(d.h, 1)],
                                 "score": round(d.score, 4)} for d in ds] if boxes else None})
    return {"total": total, "offset": offset, "limit": limit, "items": items, "labels": labels}


@router.get("/videos/{video_id}/objects/frames", response_model=m.Page[SeedFrame],
            summary="The seed system's per-frame form: {frameIdx, objects: [{ObjectID, Bb, score}]}")
def object_frames(st: State, video_id: VideoId, offset: Offset = 0, limit: Limit = 100,
                  faces: Annotated[bool, Query(description="include faces (ObjectID = name or 'face')")] = True) -> dict:
    from reelscope.archive.objects_io import seed_frames

    load_video(st, video_id)
    with st.archive.session() as s:
        frames = seed_frames(s, video_id, faces=faces)
    return {"total": len(frames), "offset": offset, "limit": limit, "items": frames[offset:offset + limit]}
