"""Search the whole archive: structured filters plus free text with semantic matching.

    from reelscope.search import SearchQuery, search
    search(archive, "close-up of Anna smiling")            # text parsed into filters
    search(archive, "piano", limit=20)                     # shots tagged grand/upright piano, ranked
    search(archive, SearchQuery(sizes=["CU"], objects=["car"], start=60, end=120))

Filters (all must hold, per shot): ``sizes`` (any of), ``characters`` (each: an id, or part of
an identity's name), ``expression`` (on a face in the shot; on the character's own face when
one character is asked for), ``tags`` / ``objects`` (each label present in the shot: ImageNet
tags of the tags stage, COCO object tracks), ``video``, and a time range (``start``/``end``,
seconds: the shot overlaps it).

Free text (``text``) is parsed (``reelscope.search.parse``): shot sizes, identity names and expression
words become filters; other words become *concepts* matched to stored labels through
all-MiniLM-L6-v2 embeddings. A shot then needs at least one piece of text evidence — a
concept's label (tag, object or expression), the text inside its file name, or the text inside
the name of someone seen in it (and, with a CLIP index, an image similar to the text) —
unless the text was wholly filters. The score of a shot is the sum over concepts of
similarity x evidence (tag probability x 2 capped at 1, object score, 1 for an expression),
plus 0.5 for the file name, 1 for a person's name and the CLIP similarity; filters alone score
their shot-size confidence (or 1). Hits are ranked by score, then by video and shot.

Quoted phrases ("close-up of Anna saying 'see you tomorrow'") must be said or written in the shot
(word for word, in order: ``archive.search_text`` asks every registered text source, the transcript and
on-screen text); the other words are looked up there too. Each adds to the score (a phrase 1, a
word 0.5), so hits from labels, speech and on-screen text rank on one scale. Mood words (or
``mood``) filter on the shot's mood.

Every hit is a shot with the frame that best shows why it matched (a frame tag, an object
detection, a face), its time, a link for the web app and the evidence (``matched``,
``labels``, ``frames``). When the query names people, one ``character`` hit per matching
character comes first (the first frame it is seen under the filters).

Everything is SQL over indexed columns (labels, video ids) returning only matching rows: no
table is loaded whole into Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy import false, func, or_, select, tuple_

from reelscope.archive import schema as db
from reelscope.search.evidence import collect_evidence, face_query, like
from reelscope.search.parse import Parsed, parse
from reelscope.search.vocab import SIZES, vocabulary_for

MAX_LIMIT = 1000


@dataclass
class SearchQuery:
    text: str | None = None
    tags: Sequence[str] = ()
    objects: Sequence[str] = ()
    characters: Sequence[str | int] = ()
    sizes: Sequence[str] = ()
    expression: str | None = None
    mood: str | None = None  # the shot's mood (reelscope.mood.MOODS)
    video: int | None = None
    start: float | None = None
    end: float | None = None
    semantic: bool = True  # map free text to labels by text embeddings (else exact names only)
    min_similarity: float = 0.6
    clip_model: str | None = None  # a CLIP-like model folder (else $REELSCOPE_CLIP_MODEL); see models.clip_index


@dataclass
class SearchResult:
    total: int
    offset: int
    limit: int
    items: list[dict]
    parsed: dict | None = None
    semantic: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"total": self.total, "offset": self.offset, "limit": self.limit, "items": self.items,
                "parsed": self.parsed, "semantic": self.semantic, "notes": self.notes}


def link(video_id: int, t: float) -> str:
    """The web app's link that opens a video at ``t`` seconds."""
    return f"/videos/{video_id}?t={t:.3f}"


def _as_query(query) -> SearchQuery:
    if isinstance(query, SearchQuery):
        return query
    return SearchQuery(text=str(query) if query is not None else None)


def _character_cond(s, ref: str | int):
    """A Character condition: its id, or its identity's name containing ``ref`` (identities are
    looked up first, so faces are then reached through indexed ids)."""
    ref = str(ref).strip()
    if ref.isdigit() and int(ref) < 2**31:
        return db.Character.id == int(ref)
    return _identity_cond(s, db.Identity.name.ilike(like(ref), escape="\\"))


def _identity_cond(s, cond):
    return db.Character.identity_id.in_([i for (i,) in s.execute(select(db.Identity.id).where(cond))])


def search(archive, query: str | SearchQuery, limit: int = 50, offset: int = 0) -> SearchResult:
    """Ranked hits for ``query`` (see the module docstring); ``limit``/``offset`` page them."""
    q = _as_query(query)
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    text = (q.text or "").strip() or None
    sizes = [s for s in q.sizes if s]
    bad = [s for s in sizes if s not in SIZES]
    if bad:
        raise ValueError(f"unknown shot size {bad[0]!r} (use {', '.join(SIZES)})")
    if q.mood:
        from reelscope.mood.circle import MOODS
        if q.mood not in MOODS:
            raise ValueError(f"unknown mood {q.mood!r} (use {', '.join(MOODS)})")
    vocab = vocabulary_for(archive, q.semantic) if (text or q.tags or q.objects) else None
    notes: list[str] = []
    with archive.session() as s:
        parsed = parse(text, vocab, s, q.min_similarity) if text else Parsed()
        sizes = sizes or parsed.sizes
        moods = [q.mood] if q.mood else parsed.moods
        expression = q.expression or (parsed.expressions[0] if parsed.expressions else None)
        # people: explicit characters (id or part of a name), names found in the text
        people = [("character", _character_cond(s, c)) for c in q.characters if str(c).strip()]
        people += [("name", _identity_cond(s, db.Identity.name == n)) for n in parsed.characters]
        face_common = []
        if q.video:
            face_common.append(db.Face.video_id == q.video)
        if q.start is not None:
            face_common.append(db.Face.time >= q.start)
        if q.end is not None:
            face_common.append(db.Face.time <= q.end)
        expr_cond = [db.Face.expression == expression] if expression else []
        # hard filters on shots
        key = tuple_(db.Shot.video_id, db.Shot.idx)
        conds = []
        if q.video:
            conds.append(db.Shot.video_id == q.video)
        if sizes:
            conds.append(db.Shot.size.in_(sizes))
        if moods:
            conds.append(db.Shot.mood.in_(moods))
        if q.start is not None:
            conds.append(db.Shot.end_time > q.start)
        if q.end is not None:
            conds.append(db.Shot.start_time <= q.end)
        face_filters = []  # lists of Face-level conditions, each met by one face of the shot
        if len(people) == 1:
            face_filters.append([people[0][1]] + expr_cond)
        else:
            face_filters += [[c] for _, c in people] + ([expr_cond] if expr_cond else [])
        for fc in face_filters:
            conds.append(key.in_(face_query(select(db.FaceTrack.video_id, db.FaceTrack.shot_idx), fc + face_common)))
        tag_filter = _labels(vocab, "tag", q.tags)
        obj_filter = _labels(vocab, "object", q.objects)
        for labels in tag_filter:
            conds.append(key.in_(select(db.Tag.video_id, db.Tag.shot_idx).where(db.Tag.label.in_(labels))))
        for labels in obj_filter:
            conds.append(key.in_(select(db.ObjectTrack.video_id, db.ObjectTrack.shot_idx)
                                 .where(db.ObjectTrack.label.in_(labels))))
        # text evidence
        ev = collect_evidence(s, archive, q, text, parsed, key, notes)
        for shots in ev.phrase_shots:  # a quoted phrase must be said or written in the shot
            conds.append(key.in_(sorted(shots)) if shots else false())
        unfound = parsed.ignored = [w for w in parsed.ignored if w not in ev.found_words]
        if unfound:
            notes.insert(0, f"no label close to: {', '.join(unfound)}")
        # text evidence is needed unless the text was all filters (words matching nothing are then
        # dropped, except where they are in a file name or a person's name)
        need_text = bool(text) and bool(parsed.concepts or not parsed.has_filters or ev.file_videos or ev.name_keys
                                        or ev.texts)
        # people hits: when the query is about people (not about shot sizes or things), each character
        # seen in a shot that meets the shot filters
        char_hits = []
        if (people or (need_text and ev.name_keys)) and not sizes and not parsed.concepts and not ev.texts \
                and not parsed.phrases:
            pc = [c for _, c in people] if people else [ev.name_cond]
            in_shots = [tuple_(db.Face.video_id, db.FaceTrack.shot_idx).in_(select(db.Shot.video_id, db.Shot.idx)
                                                                          .where(*conds))] if conds else []
            char_hits = _character_hits(s, pc, face_common + expr_cond + in_shots,
                                        ["name"] if not q.characters else ["character"],
                                        expression)
        n_char = len(char_hits)
        items = char_hits[offset:offset + limit]
        shot_offset, shot_limit = max(0, offset - n_char), limit - len(items)
        reasons = [r for r, on in (("size", sizes), ("character", q.characters), ("name", parsed.characters),
                                   ("expression", expression), ("mood", moods),
                                   ("time", q.start is not None or q.end is not None)) if on]
        reasons += [f"tag:{ls[0]}" for ls in tag_filter] + [f"object:{ls[0]}" for ls in obj_filter]
        if need_text or ev.clip:
            rows = ev.candidates(s, conds)
            scored = sorted(((ev.score(r, need_text) + (0.1 * (r.size_confidence or 1.0) if sizes else 0.0), r)
                             for r in rows), key=lambda x: (-x[0], x[1].video_id, x[1].idx))
            total_shots = len(scored)
            page = scored[shot_offset:shot_offset + shot_limit] if shot_limit > 0 else []
        else:
            base = select(db.Shot.id, db.Shot.video_id, db.Shot.idx, db.Shot.start_frame, db.Shot.end_frame,
                          db.Shot.start_time, db.Shot.end_time, db.Shot.size, db.Shot.size_confidence).where(*conds)
            total_shots = s.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            order = [db.Shot.video_id, db.Shot.idx]
            if sizes:
                order.insert(0, func.coalesce(db.Shot.size_confidence, 1.0).desc())
            page = [((r.size_confidence or 1.0) if sizes else 1.0, r) for r in
                    s.execute(base.order_by(*order).offset(shot_offset).limit(shot_limit))] if shot_limit > 0 else []
        items += ev.describe(s, page, reasons, people, face_common + expr_cond if (people or expr_cond) else None,
                             q.start)
    return SearchResult(total=n_char + total_shots, offset=offset, limit=limit, items=items,
                        parsed=parsed.as_dict() if text else None, semantic=bool(vocab and vocab.semantic),
                        notes=notes)


def _labels(vocab, kind: str, names: Sequence[str]) -> list[list[str]]:
    """For each asked label, its stored spellings (case-insensitive), or itself."""
    out = []
    for n in names:
        n = str(n).strip()
        if not n:
            continue
        found = [m.label for m in vocab.exact(n) if m.kind == kind] if vocab is not None else []
        out.append(found or [n])
    return out


def _character_hits(s, people_conds: list, conds: list, matched: list[str], expression) -> list[dict]:
    """One hit per character meeting any of ``people_conds`` and all ``conds``: its first face."""
    q = (select(db.Face.video_id, db.FaceTrack.shot_idx, db.Face.frame, db.Face.time, db.Character.id,
                db.Identity.name, db.Face.expression, db.Character.thumbnail, db.Video.filename)
         .join(db.FaceTrack, db.Face.track_id == db.FaceTrack.id)
         .join(db.Character, db.FaceTrack.character_id == db.Character.id)
         .outerjoin(db.Identity, db.Character.identity_id == db.Identity.id)
         .join(db.Video, db.Video.id == db.Face.video_id)
         .where(or_(*people_conds), *conds).order_by(db.Face.video_id, db.Face.frame))
    seen: dict[int, dict] = {}
    for vid, shot, frame, t, cid, name, expr, thumb, filename in s.execute(q):
        if cid in seen:
            continue
        seen[cid] = {"kind": "character", "video_id": vid, "filename": filename, "frame": frame,
                     "time": round(t, 6), "url": link(vid, t), "shot_index": shot, "character_id": cid,
                     "name": name, "expression": expr, "image": thumb, "score": None,
                     "matched": matched + (["expression"] if expression else []), "labels": [], "frames": [],
                     "evidence": [{"kind": "face", "text": name or f"character {cid}", "match": None,
                                   "time": round(t, 3), "end_time": None, "frame": frame, "score": None}]}
    return list(seen.values())


__all__ = ["SearchQuery", "SearchResult", "search", "link"]
