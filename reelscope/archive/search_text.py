"""Words and phrases in what is said and written: the *text sources* search asks.

A text source is a modality that stores words with times (the speech stage's transcript, the
text stage's on-screen lines). Each registers a ``TextSource`` here (``register_text_source``);
search asks every registered source for a phrase (a list of search keys, ``word_key``) and gets
back ``TextHit``s: where (video, time, frame, shot) and the line it was found in, which become
the hit's evidence. A source whose tables are not in the schema is skipped, so a modality plugs
in by registering, without edits to the search core.

    find_phrase(s, ["see", "you", "tomorrow"])   # consecutive words, in order, in any source

It reads stored rows only and imports nothing from the search modules (which use it), so it can
stay in the archive layer whichever package search lives in.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from reelscope.archive import schema as db
from reelscope.archive.speech_io import word_key

MAX_PHRASE_WORDS = 12  # longer quoted phrases are matched on their first 12 words


@dataclass
class TextHit:
    kind: str  # transcript | text
    video_id: int
    start: float
    end: float
    text: str  # the line the phrase was found in
    phrase: str  # the phrase asked for
    frame: int | None = None
    shot_idx: int | None = None
    score: float = 1.0  # confidence of the reading (0..1)


@dataclass
class TextSource:
    kind: str
    find: Callable  # (session, keys: list[str], video: int | None) -> list[TextHit]
    available: Callable = lambda: True  # the source's tables exist in this schema


_SOURCES: dict[str, TextSource] = {}


def register_text_source(src: TextSource) -> TextSource:
    _SOURCES[src.kind] = src
    return src


def text_sources() -> list[TextSource]:
    return [src for src in _SOURCES.values() if src.available()]


def line_keys(text: str) -> list[str]:
    """The search keys of a line's words ("See you, tomorrow!" -> see, you, tomorrow)."""
    return [k for k in (word_key(w) for w in text.split()) if k]


def phrase_keys(phrase: str) -> list[str]:
    """``line_keys`` of a phrase asked for, at most MAX_PHRASE_WORDS."""
    return line_keys(phrase)[:MAX_PHRASE_WORDS]


def find_phrase(s, keys: list[str], video: int | None = None) -> list[TextHit]:
    """Hits of the consecutive words ``keys`` in every available source, each placed in its shot."""
    if not keys:
        return []
    hits = [h for src in text_sources() for h in src.find(s, keys, video)]
    _place(s, hits)
    return hits


# ---- placing hits in shots -------------------------------------------------------------------
def _place(s, hits: list[TextHit]) -> None:
    """Shot index and frame for hits that lack them: the shot holding the hit's start time."""
    todo = [h for h in hits if h.shot_idx is None or h.frame is None]
    if not todo:
        return
    vids = sorted({h.video_id for h in todo})
    shots: dict[int, list] = {}
    for v, idx, st, et, sf, ef in s.execute(select(db.Shot.video_id, db.Shot.idx, db.Shot.start_time, db.Shot.end_time,
                                                   db.Shot.start_frame, db.Shot.end_frame)
                                            .where(db.Shot.video_id.in_(vids)).order_by(db.Shot.video_id, db.Shot.start_time)):
        shots.setdefault(v, []).append((st, et, idx, sf, ef))
    fps = {v: (n / d if d else 0.0) for v, n, d in s.execute(select(db.Video.id, db.Video.fps_num, db.Video.fps_den)
                                                            .where(db.Video.id.in_(vids)))}
    for h in todo:
        rows = shots.get(h.video_id) or []
        t = h.start + 1e-6
        i = bisect.bisect_right([r[0] for r in rows], t) - 1
        if i < 0 and rows:
            i = 0
        if h.frame is None:
            h.frame = int(h.start * fps.get(h.video_id, 0.0) + 1e-6)
        if i >= 0:
            st, et, idx, sf, ef = rows[i]
            if h.shot_idx is None:
                h.shot_idx = idx
            h.frame = max(sf, min(ef, h.frame))


# ---- the transcript (speech stage) -----------------------------------------------------------
def _transcript_find(s, keys: list[str], video: int | None) -> list[TextHit]:
    ws = [aliased(db.TranscriptWord) for _ in keys]
    q = select(ws[0].video_id, ws[0].segment_id, ws[0].start_time, ws[-1].end_time, ws[0].probability).where(
        ws[0].norm == keys[0])
    for i in range(1, len(keys)):
        q = q.join(ws[i], and_(ws[i].video_id == ws[0].video_id, ws[i].idx == ws[0].idx + i)).where(ws[i].norm == keys[i])
    if video is not None:
        q = q.where(ws[0].video_id == video)
    rows = list(s.execute(q.order_by(ws[0].video_id, ws[0].start_time)))
    if not rows:
        return []
    lines = {i: t for i, t in s.execute(select(db.TranscriptSegment.id, db.TranscriptSegment.text)
                                        .where(db.TranscriptSegment.id.in_({r[1] for r in rows})))}
    phrase = " ".join(keys)
    return [TextHit("transcript", v, float(st), float(et), (lines.get(seg) or "").strip(), phrase,
                    score=float(p) if p is not None else 1.0) for v, seg, st, et, p in rows]


register_text_source(TextSource("transcript", _transcript_find))


# ---- on-screen text (text stage: TextSpan rows, when the schema has them) -------------------
def _contains(line_keys: list[str], keys: list[str]) -> bool:
    n = len(keys)
    return any(line_keys[i:i + n] == keys for i in range(len(line_keys) - n + 1))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _screen_find(s, keys: list[str], video: int | None) -> list[TextHit]:
    span = db.TextSpan
    q = select(span.video_id, span.shot_idx, span.text, span.first_frame, span.start_time, span.end_time, span.score)
    for k in keys:  # a cheap prefilter; words are then checked exactly
        q = q.where(span.text.ilike(_like(k), escape="\\"))
    if video is not None:
        q = q.where(span.video_id == video)
    out = []
    phrase = " ".join(keys)
    for v, si, text, frame, st, et, sc in s.execute(q.order_by(span.video_id, span.start_time)):
        if _contains(line_keys(text), keys):
            out.append(TextHit("text", v, float(st), float(et), text, phrase, frame=frame, shot_idx=si,
                               score=float(sc)))
    return out


register_text_source(TextSource("text", _screen_find, available=lambda: hasattr(db, "TextSpan")))


__all__ = ["TextHit", "TextSource", "register_text_source", "text_sources", "line_keys", "phrase_keys", "find_phrase"]
