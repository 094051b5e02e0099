"""Highlight summaries of archived videos: plan from the stored importance, render into the media
store (``media/<fingerprint>/summaries/``), keep a Summary row; list, read, delete.

The summary's file is rendered to a temporary name and renamed before its row is committed,
so a row never points at nothing (a crash leaves at worst an unreferenced file).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from reelscope.archive import schema as db
from reelscope.errors import ReelscopeError

RENDER_DEFAULTS = {"crossfade": 0.3, "max_height": 720}


@dataclass
class Importance:
    per_shot: list[dict]
    curve: list[float]
    step: float


def stored_importance(archive, video: db.Video) -> Importance:
    """The importance stage's results for ``video``; a clear error if it has not run."""
    with archive.session() as s:
        row = s.scalars(select(db.Curve).where(db.Curve.video_id == video.id, db.Curve.name == "importance")).first()
    if row is None or not video.shots or any(sh.importance is None for sh in video.shots):
        raise ReelscopeError(f"{video.filename}: no importance stored; run `reelscope analyze {video.path} "
                             f"--stages importance` first")
    extra = {d["shot"]: d for d in (row.data or {}).get("shots", [])}
    per_shot = [{"shot": sh.idx, "start_time": sh.start_time, "end_time": sh.end_time, "score": sh.importance,
                 "scene": extra.get(sh.idx, {}).get("scene", -1), "start_frame": sh.start_frame}
                for sh in video.shots]
    return Importance(per_shot, [v if v is not None else 0.0 for v in row.values], row.step)


def _frame_mapper(video: db.Video) -> Callable[[float], int]:
    """Seconds -> frame index, anchored at each shot's exact first-frame time (VFR-safe enough)."""
    anchors = [(sh.start_time, sh.start_frame) for sh in video.shots]
    fps = video.fps

    def frame_of(t: float) -> int:
        base_t, base_f = anchors[0] if anchors else (0.0, 0)
        for at, af in anchors:
            if at <= t + 1e-6:
                base_t, base_f = at, af
            else:
                break
        return max(0, min(video.frame_count - 1, base_f + int(round((t - base_t) * fps))))

    return frame_of


def summary_dict(row: db.Summary) -> dict:
    return {"id": row.id, "video_id": row.video_id, "created_at": row.created_at.isoformat() if row.created_at else None,
            "target_seconds": round(row.target_seconds, 3), "seconds": round(row.seconds, 3),
            "segments": row.segments, "params": row.params, "media": row.media}


def create_summary(archive, ref: str | int, length: str | float = "15%", *, render: bool = True,
                   crossfade: float = RENDER_DEFAULTS["crossfade"], max_height: int = RENDER_DEFAULTS["max_height"],
                   options: dict | None = None, progress: Callable[[int, int], None] | None = None) -> db.Summary:
    """Plan (and by default render) a summary of ``length`` ("60s", "15%", seconds) and store it."""
    from reelscope.story.render import render_summary
    from reelscope.story.summary import parse_length, plan_summary

    video = archive.video(ref)
    imp = stored_importance(archive, video)
    try:
        target = min(parse_length(length, video.duration), max(video.duration, 0.04))  # at most the whole video
    except ValueError as e:
        raise ReelscopeError(str(e)) from None
    segs = plan_summary(imp.per_shot, imp.curve, imp.step, target, fps=video.fps,
                        crossfade=crossfade if render else 0.0, **(options or {}))
    if not segs:
        raise ReelscopeError(f"{video.filename}: no segment fits a summary of {target:.1f} s; ask for more time")
    frame_of = _frame_mapper(video)
    for sg in segs:
        sg["start_frame"] = frame_of(sg["start_time"])
        sg["end_frame"] = max(sg["start_frame"], frame_of(sg["end_time"]) - 1)
    params = {"length": str(length), "crossfade": crossfade, "max_height": max_height, **(options or {})}
    planned = round(sum(sg["end_time"] - sg["start_time"] for sg in segs), 3)
    seconds, media = planned, None
    if render:
        if not Path(video.path).is_file():
            raise ReelscopeError(f"{video.path}: the source file of {video.filename} is not available to render from")
        key = hashlib.sha1(json.dumps([segs, params], sort_keys=True).encode()).hexdigest()[:12]
        rel = f"{video.fingerprint}/summaries/summary_{key}.mp4"
        res = render_summary(video.path, [(sg["start_time"], sg["end_time"]) for sg in segs],
                             archive.media_root / rel, crossfade=crossfade, max_height=max_height, progress=progress)
        seconds, media = round(res.seconds, 3), rel
        params["rendered"] = {"width": res.width, "height": res.height, "fps": str(res.fps), "audio": res.has_audio,
                              "render_seconds": round(res.wall_seconds, 3)}
    params["planned_seconds"] = planned
    with archive.session() as s, s.begin():
        row = db.Summary(video_id=video.id, target_seconds=target, seconds=seconds, segments=segs, params=params,
                         media=media)
        s.add(row)
        s.flush()
        s.refresh(row)
        s.expunge(row)
    return row


def list_summaries(archive, video_id: int) -> list[db.Summary]:
    with archive.session() as s:
        return list(s.scalars(select(db.Summary).where(db.Summary.video_id == video_id).order_by(db.Summary.id)))


def get_summary(archive, summary_id: int) -> db.Summary:
    with archive.session() as s:
        row = s.get(db.Summary, summary_id)
    if row is None:
        raise ReelscopeError(f"no summary {summary_id} in the archive at {archive.location}")
    return row


def delete_summary(archive, summary_id: int) -> None:
    row = get_summary(archive, summary_id)
    with archive.session() as s, s.begin():
        s.delete(s.get(db.Summary, summary_id))
    if row.media:
        still = False
        with archive.session() as s:  # the same file may back an identical summary
            still = s.scalars(select(db.Summary.id).where(db.Summary.media == row.media)).first() is not None
        if not still:
            archive.media_path(row.media).unlink(missing_ok=True)


def copy_media(archive, row: db.Summary, out: str | Path) -> Path:
    """Copy a summary's rendered file to ``out`` (atomically)."""
    if not row.media:
        raise ReelscopeError(f"summary {row.id} has not been rendered")
    src = archive.media_path(row.media)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    shutil.copyfile(src, tmp)
    tmp.replace(out)
    return out
