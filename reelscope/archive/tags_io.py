"""Writing the tags stage into the archive: Tag rows with source "imagenet".

Frame tags have ``frame`` (and its exact ``time``) set; shot tags have ``frame`` null, ``time``
the shot's start, and ``score`` the mean probability over the shot's sampled frames. Clearing
removes only this source's rows: tags that other stages store (COCO, mood, ...) stay.
"""
from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer

SOURCE = "imagenet"



def _write(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    result = artifacts.get("tags") or {}
    rows = []
    for f in result.get("frames") or []:
        for label, score in f["tags"]:
            rows.append({"video_id": video.id, "shot_idx": f["shot_index"], "frame": int(f["frame"]),
                         "time": float(f["time"]), "label": label, "source": SOURCE, "score": float(score)})
    for sh in result.get("shots") or []:
        row = shot_rows.get(sh["shot_index"])
        for label, score in sh["tags"]:
            rows.append({"video_id": video.id, "shot_idx": sh["shot_index"], "frame": None,
                         "time": row.start_time if row is not None else None, "label": label, "source": SOURCE,
                         "score": float(score)})
    if rows:
        s.execute(insert(db.Tag), rows)


def _read(s: Session, video: db.Video, media_root=None) -> dict:
    """Frame tags and shot tags in the stage's form ({"frames": [...], "shots": [...]}), best first."""
    from sqlalchemy import select

    rows = s.scalars(select(db.Tag).where(db.Tag.video_id == video.id, db.Tag.source == SOURCE)
                     .order_by(db.Tag.shot_idx, db.Tag.frame, db.Tag.score.desc())).all()
    frames: dict[int, dict] = {}
    shots: dict[int, dict] = {}
    for r in rows:
        if r.frame is None:
            shots.setdefault(r.shot_idx, {"shot_index": r.shot_idx, "tags": []})["tags"].append((r.label, r.score))
        else:
            frames.setdefault(r.frame, {"frame": r.frame, "time": r.time, "shot_index": r.shot_idx, "tags": []})[
                "tags"].append((r.label, r.score))
    return {"tags": {"frames": [frames[k] for k in sorted(frames)], "shots": [shots[k] for k in sorted(shots)]}}


register_writer(Writer("tags", write=_write, tag_source=SOURCE, read=_read))
