"""Highlight summaries in the archive: the stored importance they are made from, and their Summary
rows (add, list, read, delete) with the rendered file in the media store
(``media/<fingerprint>/summaries/``). Making a summary is ``reelscope.summaries.create_summary``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from reelscope.archive import schema as db
from reelscope.errors import ReelscopeError
from reelscope.story.summary import Importance, SummarySource


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


def summary_source(video: db.Video) -> SummarySource:
    """What making a summary needs of an archived video (with its shots)."""
    return SummarySource(video.filename, video.path, video.duration, video.fps, video.frame_count,
                         [(sh.start_time, sh.start_frame) for sh in video.shots])


def summary_dict(row: db.Summary) -> dict:
    return {"id": row.id, "video_id": row.video_id, "created_at": row.created_at.isoformat() if row.created_at else None,
            "target_seconds": round(row.target_seconds, 3), "seconds": round(row.seconds, 3),
            "segments": row.segments, "params": row.params, "media": row.media}


def add_summary(archive, video: db.Video, target: float, seconds: float, segments: list[dict], params: dict,
                media: str | None) -> db.Summary:
    """Store a summary's row (its file, if any, already in the media store at ``media``)."""
    with archive.session() as s, s.begin():
        row = db.Summary(video_id=video.id, target_seconds=target, seconds=seconds, segments=segments, params=params,
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
