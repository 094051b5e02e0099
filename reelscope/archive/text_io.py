"""Reading and writing the text stage: TextSpan rows (one line of on-screen text over time) and
TextLine rows (the line as read on each sampled frame, linked to its span; ``carried`` when the
picture had not changed and the previous reading was kept). Boxes are x, y, w, h in the video's
display pixels. Sampled frames without any text leave no row.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer

STAGE = "text"


def _r(v: float, n: int = 2) -> float:
    return round(float(v), n)


def write_text(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    res = artifacts.get("text")
    if res is None:
        return
    rows = {}
    for i, sp in enumerate(res.spans):
        x, y, w, h = sp.box
        rows[i] = db.TextSpan(video_id=video.id, shot_idx=sp.shot_index, text=sp.text, x=_r(x), y=_r(y), w=_r(w),
                              h=_r(h), score=_r(sp.score, 4), first_frame=int(sp.first_frame),
                              last_frame=int(sp.last_frame), start_time=float(sp.start_time),
                              end_time=float(sp.end_time), samples=int(sp.samples),
                              readings={k: _r(v, 4) for k, v in sp.readings.items()})
    s.add_all(rows.values())
    s.flush()
    owner = {m: rows[i].id for i, sp in enumerate(res.spans) for m in sp.members}
    lines = []
    for smp in res.samples:
        for li, (text, box, score) in enumerate(smp.lines):
            x, y, w, h = box
            lines.append({"video_id": video.id, "span_id": owner.get((smp.frame, li)), "frame": int(smp.frame),
                          "time": float(smp.time), "text": text, "x": _r(x), "y": _r(y), "w": _r(w), "h": _r(h),
                          "score": _r(score, 4), "carried": not smp.read})
    if lines:
        s.execute(insert(db.TextLine), lines)


def read_text(s: Session, video: db.Video, media_root: Path | None = None) -> dict:
    """The text stage's artifact back: ``{"text": TextResult}`` with its spans and the samples that
    had text (samples without text are not stored; ``step`` comes from the stored run)."""
    from reelscope.vision.text_spans import SampleText, TextResult, TextSpan

    rows = s.scalars(select(db.TextSpan).where(db.TextSpan.video_id == video.id)
                     .order_by(db.TextSpan.start_time, db.TextSpan.y, db.TextSpan.x, db.TextSpan.id)).all()
    lines = s.scalars(select(db.TextLine).where(db.TextLine.video_id == video.id)
                      .order_by(db.TextLine.frame, db.TextLine.id)).all()
    members: dict[int, list[tuple[int, int]]] = {}
    samples: dict[int, SampleText] = {}
    for ln in lines:
        smp = samples.setdefault(ln.frame, SampleText(ln.frame, ln.time, [], not ln.carried))
        if ln.span_id is not None:
            members.setdefault(ln.span_id, []).append((ln.frame, len(smp.lines)))
        smp.lines.append((ln.text, (ln.x, ln.y, ln.w, ln.h), ln.score))
    spans = [TextSpan(text=r.text, box=(r.x, r.y, r.w, r.h), score=r.score, first_frame=r.first_frame,
                      last_frame=r.last_frame, start_time=r.start_time, end_time=r.end_time, samples=r.samples,
                      readings=dict(r.readings or {}), shot_index=r.shot_idx, members=members.get(r.id, []))
             for r in rows]
    run = s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video.id,
                                                 db.AnalysisRun.stage == STAGE)).first()
    params = (run.params or {}) if run is not None else {}
    return {"text": TextResult(spans=spans, samples=[samples[f] for f in sorted(samples)],
                               step=int(params.get("sample_step") or 1), read=int(params.get("read_frames") or 0))}


def text_export(s: Session, video_id: int) -> dict | None:
    """The text stage's section of the archive JSON (null when the stage has not run): the spans,
    each with the line as read on each sampled frame (docs/export-schema.md)."""
    ran = s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video_id,
                                                 db.AnalysisRun.stage == STAGE)).first()
    if ran is None:
        return None
    if (ran.params or {}).get("text") == "disabled":
        return {"disabled": True, "spans": []}
    spans = s.scalars(select(db.TextSpan).where(db.TextSpan.video_id == video_id)
                      .order_by(db.TextSpan.start_time, db.TextSpan.y, db.TextSpan.x, db.TextSpan.id)).all()
    lines: dict[int, list[db.TextLine]] = {}
    for ln in s.scalars(select(db.TextLine).where(db.TextLine.video_id == video_id)
                        .order_by(db.TextLine.frame, db.TextLine.id)):
        lines.setdefault(ln.span_id, []).append(ln)
    return {"spans": [{
        "id": t.id, "shot_index": t.shot_idx, "text": t.text, "box": [_r(t.x, 1), _r(t.y, 1), _r(t.w, 1), _r(t.h, 1)],
        "score": _r(t.score, 4), "first_frame": t.first_frame, "last_frame": t.last_frame,
        "start_time": _r(t.start_time, 6), "end_time": _r(t.end_time, 6), "samples": t.samples,
        "readings": t.readings or {},
        "lines": [{"frame": ln.frame, "time": _r(ln.time, 6), "text": ln.text,
                   "box": [_r(ln.x, 1), _r(ln.y, 1), _r(ln.w, 1), _r(ln.h, 1)], "score": _r(ln.score, 4),
                   "carried": ln.carried} for ln in lines.get(t.id, [])],
    } for t in spans]}


register_writer(Writer(STAGE, write_text, tables=(db.TextLine, db.TextSpan), read=read_text, export=text_export))
