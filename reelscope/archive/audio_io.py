"""Writing the audio stage: AudioSegment rows and Curve rows ``audio.<name>`` (stage "audio").

``audio.loudness`` carries the summary in its ``data``: integrated loudness (LUFS), loudness
range (LU), sample peak (dBFS), channels, codec. A video without audio stores nothing.
"""
from __future__ import annotations

import math

import numpy as np
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer

STAGE = "audio"


def curve_values(values, digits: int = 4) -> list:
    """JSON-safe list: finite floats rounded, NaN/inf as None."""
    return [round(float(v), digits) if math.isfinite(float(v)) else None for v in np.asarray(values, np.float64)]



def write_audio(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    from reelscope.audio.analyze import CURVES

    res = artifacts.get("audio")
    if res is None or not res.available:
        return
    for seg in res.segments:
        s.add(db.AudioSegment(video_id=video.id, kind=seg.kind, start_time=seg.start, end_time=seg.end,
                              loudness=seg.loudness, arousal=seg.arousal, confidence=seg.confidence, data=seg.data))
    summary = {k: v for k, v in res.summary().items() if k != "reason"}
    for name, values in res.curves.items():
        s.add(db.Curve(video_id=video.id, stage=STAGE, name=f"audio.{name}", t0=res.t0, step=res.step,
                       values=curve_values(values, 2 if name in ("loudness", "rms", "pitch", "tempo", "centroid")
                                           else 4),
                       unit=CURVES.get(name, ""), data=summary if name == "loudness" else {}))




def read_audio(s: Session, video: db.Video, media_root=None) -> dict:
    """The stored audio stage as an AudioResult (segments, curves, summary); unavailable when the
    video has no audio (nothing was stored)."""
    from sqlalchemy import select

    from reelscope.audio.analyze import AudioResult, no_audio
    from reelscope.audio.segments import Segment

    curves = s.scalars(select(db.Curve).where(db.Curve.video_id == video.id, db.Curve.stage == STAGE)).all()
    if not curves:
        return {"audio": no_audio()}
    segs = s.scalars(select(db.AudioSegment).where(db.AudioSegment.video_id == video.id)
                     .order_by(db.AudioSegment.start_time)).all()
    summary = next((dict(c.data or {}) for c in curves if c.name == "audio.loudness"), {})
    step = float(curves[0].step)
    arrays = {c.name.split(".", 1)[1]: np.array([np.nan if v is None else v for v in c.values], np.float32)
              for c in curves}
    return {"audio": AudioResult(
        available=True, step=step, duration=float(summary.get("duration") or 0.0),
        start=float(summary.get("start") or 0.0), channels=int(summary.get("channels") or 0),
        codec=summary.get("codec") or "", integrated_lufs=summary.get("integrated_lufs"),
        loudness_range=summary.get("loudness_range"), sample_peak=summary.get("sample_peak"),
        segments=[Segment(g.kind, g.start_time, g.end_time, g.loudness, g.arousal, g.confidence, dict(g.data or {}))
                  for g in segs], curves=arrays)}


register_writer(Writer(STAGE, write_audio, tables=(db.AudioSegment,), curves=True, read=read_audio))
