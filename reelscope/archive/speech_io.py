"""Reading and writing the speech stage: TranscriptSegment rows (text, language, times) and
TranscriptWord rows (each word with its time and a search key); the transcript's summary
(language, languages, regions, model) is the stage's run parameters. Also the export form.

A video without audio, or with the stage switched off, stores no rows: its run row says why.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer

STAGE = "speech"
_EDGE = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)


def word_key(word: str) -> str:
    """The search form of a word: NFKC, case-folded, without leading/trailing punctuation
    ("Allen," -> "allen", "¿Qué" -> "qué"); inner apostrophes and hyphens stay ("don't")."""
    return _EDGE.sub("", unicodedata.normalize("NFKC", word).casefold())[:128]


def write_speech(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    tr = artifacts.get("speech")
    if tr is None or not tr.available:
        return
    n = 0
    for i, seg in enumerate(tr.segments):
        row = db.TranscriptSegment(video_id=video.id, idx=i, start_time=float(seg.start), end_time=float(seg.end),
                                   text=seg.text, language=seg.language, language_probability=seg.language_probability,
                                   avg_logprob=seg.avg_logprob, no_speech_prob=seg.no_speech_prob)
        s.add(row)
        s.flush()
        rows = []
        for w in seg.words:
            rows.append({"video_id": video.id, "segment_id": row.id, "idx": n, "word": w.text[:128],
                         "norm": word_key(w.text), "start_time": float(w.start), "end_time": float(w.end),
                         "probability": w.probability})
            n += 1
        if rows:
            s.execute(insert(db.TranscriptWord), rows)


def _run_params(s: Session, video: db.Video) -> dict:
    run = s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video.id, db.AnalysisRun.stage == STAGE)
                    .order_by(db.AnalysisRun.id.desc())).first()
    return dict(run.params or {}) if run is not None else {}


def read_speech(s: Session, video: db.Video, media_root: Path | None = None) -> dict:
    """The stored transcript as a reelscope.audio.transcribe.Transcript (unavailable, with the
    stored reason, when nothing was transcribed)."""
    from reelscope.audio.transcribe import Transcript, TranscriptSegment, Word

    params = _run_params(s, video)
    summary = params.get("summary") or {}
    if not summary.get("available", False):
        return {"speech": Transcript(available=False, reason=summary.get("reason") or params.get("speech") or "")}
    segs = s.scalars(select(db.TranscriptSegment).where(db.TranscriptSegment.video_id == video.id)
                     .order_by(db.TranscriptSegment.idx)).all()
    words: dict[int, list] = {}
    for w in s.scalars(select(db.TranscriptWord).where(db.TranscriptWord.video_id == video.id)
                       .order_by(db.TranscriptWord.idx)):
        words.setdefault(w.segment_id, []).append(Word(w.start_time, w.end_time, w.word, w.probability))
    segments = [TranscriptSegment(g.start_time, g.end_time, g.text, g.language, g.language_probability,
                                  g.avg_logprob, g.no_speech_prob, words.get(g.id, [])) for g in segs]
    return {"speech": Transcript(
        available=True, model=summary.get("model") or "", language=summary.get("language"),
        language_probability=summary.get("language_probability"), languages=dict(summary.get("languages") or {}),
        segments=segments, regions=[tuple(r) for r in params.get("regions") or []],
        region_source=summary.get("region_source") or "", audio_seconds=float(summary.get("audio_seconds") or 0.0),
        reason=summary.get("reason") or "")}


def speech_export(s: Session, video_id: int) -> dict | None:
    """The speech stage's section of the archive JSON (null when the stage has not run): the
    language summary and the segments with their words."""
    run = s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video_id, db.AnalysisRun.stage == STAGE)
                    .order_by(db.AnalysisRun.id.desc())).first()
    if run is None:
        return None
    summary = (run.params or {}).get("summary") or {}
    segs = s.scalars(select(db.TranscriptSegment).where(db.TranscriptSegment.video_id == video_id)
                     .order_by(db.TranscriptSegment.idx)).all()
    words: dict[int, list[dict]] = {}
    for w in s.scalars(select(db.TranscriptWord).where(db.TranscriptWord.video_id == video_id)
                       .order_by(db.TranscriptWord.idx)):
        words.setdefault(w.segment_id, []).append({"word": w.word, "start_time": round(w.start_time, 3),
                                                   "end_time": round(w.end_time, 3), "probability": w.probability})
    return {
        "available": bool(summary.get("available")),
        "reason": summary.get("reason") or "",
        "model": summary.get("model"),
        "language": summary.get("language"),
        "language_probability": summary.get("language_probability"),
        "languages": summary.get("languages") or {},
        "speech_seconds": summary.get("speech_seconds"),
        "segments": [{
            "index": g.idx, "start_time": round(g.start_time, 3), "end_time": round(g.end_time, 3), "text": g.text,
            "language": g.language, "language_probability": g.language_probability, "avg_logprob": g.avg_logprob,
            "words": words.get(g.id, []),
        } for g in segs],
    }


register_writer(Writer(STAGE, write_speech, tables=(db.TranscriptWord, db.TranscriptSegment), read=read_speech,
                       export=speech_export, export_key="speech"))
