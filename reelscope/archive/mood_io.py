"""Mood in the archive: the music-track cache (table ``music_tracks``, keyed by content
fingerprint) and the writer of the ``mood`` stage (each shot's keyframe mood).

The mood stage fills ``Shot.mood`` / ``mood_confidence`` / ``mood_scores`` and adds one shot
Tag per shot with source "mood" (label = the mood, score = its confidence), so moods are
searchable like other tags. Clearing resets those columns and removes only "mood" tags.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from reelscope.archive import schema as db
from reelscope.archive.writers import Writer, register_writer

TAG_SOURCE = "mood"

# MusicAnalysis fields kept in MusicTrack.data (the rest have columns of their own)
_COLUMNS = ("fingerprint", "path", "duration", "tempo", "beat_strength", "energy", "brightness", "mode", "valence",
            "arousal", "mood", "confidence")


# ---- music tracks ---------------------------------------------------------------------------

def _to_analysis(row: db.MusicTrack):
    from reelscope.mood.music import MusicAnalysis
    d = dict(row.data or {})
    known = {f.name for f in fields(MusicAnalysis)}
    values = {k: v for k, v in d.items() if k in known}
    values.update(fingerprint=row.fingerprint, path=row.path, duration=row.duration, tempo=row.tempo,
                  beat_strength=row.beat_strength or 0.0, energy=row.energy or 0.0, brightness=row.brightness or 0.0,
                  mode=row.mode, valence=row.valence or 0.0, arousal=row.arousal or 0.0, mood=row.mood,
                  confidence=row.mood_confidence or 0.0)
    values.setdefault("beat_times", d.get("beats") or [])
    missing = known - set(values) - {"cached", "scores", "version"}
    for k in missing:  # an older analyser version without the field: neutral default
        values[k] = None if k in ("key", "tempo_alternative") else 0.0
    values.setdefault("version", d.get("version", ""))
    return MusicAnalysis(**values)


def load_music(s: Session, fingerprint: str):
    row = s.scalars(select(db.MusicTrack).where(db.MusicTrack.fingerprint == fingerprint)).first()
    return _to_analysis(row) if row is not None else None


def save_music(s: Session, analysis) -> db.MusicTrack:
    """Insert or replace the row of ``analysis.fingerprint`` (caller commits)."""
    row = s.scalars(select(db.MusicTrack).where(db.MusicTrack.fingerprint == analysis.fingerprint)).first()
    if row is None:
        row = db.MusicTrack(fingerprint=analysis.fingerprint)
        s.add(row)
    d = analysis.to_dict()
    row.path, row.filename, row.duration = analysis.path, Path(analysis.path).name, analysis.duration
    row.tempo, row.beat_strength, row.energy = analysis.tempo, analysis.beat_strength, analysis.energy
    row.brightness, row.mode, row.valence, row.arousal = analysis.brightness, analysis.mode, analysis.valence, \
        analysis.arousal
    row.mood, row.mood_confidence = analysis.mood, analysis.confidence
    row.data = {k: v for k, v in d.items() if k not in _COLUMNS and k not in ("cached", "filename")}
    return row


class ArchiveMusicCache:
    """The MusicCache protocol of :func:`reelscope.mood.music.analyze_folder` over an archive;
    each ``put`` is its own short transaction (an interrupted folder keeps what is done)."""

    def __init__(self, archive):
        self.archive = archive

    def get(self, fingerprint: str):
        with self.archive.session() as s:
            return load_music(s, fingerprint)

    def put(self, analysis) -> None:
        with self.archive.session() as s, s.begin():
            save_music(s, analysis)


def music_tracks(archive) -> list:
    """Every cached track's MusicAnalysis, by filename."""
    with archive.session() as s:
        rows = s.scalars(select(db.MusicTrack).order_by(db.MusicTrack.filename, db.MusicTrack.id)).all()
        return [_to_analysis(r) for r in rows]


# ---- the mood stage -------------------------------------------------------------------------


def _write(s: Session, video: db.Video, artifacts: dict, shot_rows: dict) -> None:
    tags = []
    for m in artifacts.get("moods") or []:
        row = shot_rows.get(m["shot_index"])
        if row is None:
            continue
        row.mood, row.mood_confidence = m["mood"], float(m["confidence"])
        row.mood_scores = {k: round(float(v), 4) for k, v in m["scores"].items()}  # the 8 moods only
        tags.append({"video_id": video.id, "shot_idx": m["shot_index"], "frame": None, "time": row.start_time,
                     "label": m["mood"], "source": TAG_SOURCE, "score": float(m["confidence"])})
    if tags:
        s.execute(insert(db.Tag), tags)


def _read(s: Session, video: db.Video, media_root=None) -> dict:
    rows = s.scalars(select(db.Shot).where(db.Shot.video_id == video.id, db.Shot.mood.is_not(None))
                     .order_by(db.Shot.idx)).all()
    kf = {}
    for k in s.scalars(select(db.Keyframe).join(db.Shot, db.Keyframe.shot_id == db.Shot.id)
                       .where(db.Shot.video_id == video.id).order_by(db.Keyframe.frame)):
        kf.setdefault(k.shot_id, k.frame)
    return {"moods": [{"shot_index": r.idx, "frame": kf.get(r.id), "mood": r.mood,
                       "confidence": float(r.mood_confidence or 0.0), "scores": dict(r.mood_scores or {})}
                      for r in rows]}


register_writer(Writer("mood", write=_write, shot_columns=("mood", "mood_confidence", "mood_scores"),
                       tag_source=TAG_SOURCE, read=_read))
