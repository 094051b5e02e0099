"""What a search found for each shot: the rows behind the text's concepts (tags, object
tracks, expressions), file-name and person-name matches, CLIP similarities; their score; and
the hit a shot becomes (best frame, reasons, labels, frames). Used by ``reelscope.search.query``.

Tags count per shot from the stage's shot aggregate where there is one, else from the best frame
that carries the label (a label stored only on frames still makes a hit). Mood tags are not
content (the mood filter reads them). Quoted phrases and the query's words are looked up in
every text source (``reelscope.archive.search_text``: transcript, on-screen text); each hit's
``evidence`` lists what was found, kind transcript | text | tag | object | pose | expression |
face, with its text, time and frame."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select, tuple_

from reelscope.archive import schema as db
from reelscope.search.vocab import MOOD_SOURCE

NAME_WEIGHT, FILE_WEIGHT = 1.0, 0.5
PHRASE_WEIGHT, WORD_WEIGHT = 1.0, 0.5  # a quoted phrase said/written in the shot; one of the query's words
TAG_KINDS = {"action": "pose"}  # Tag.source -> evidence kind (else "tag")
MAX_EVIDENCE = 6
MAX_FRAMES = 3  # evidence frames listed per hit


def like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own wildcards escaped (with backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def face_query(cols, conds: list):
    """``cols`` over faces joined to their track, character and identity, meeting ``conds``."""
    return (cols.select_from(db.Face).join(db.FaceTrack, db.Face.track_id == db.FaceTrack.id)
            .outerjoin(db.Character, db.FaceTrack.character_id == db.Character.id)
            .outerjoin(db.Identity, db.Character.identity_id == db.Identity.id).where(*conds))


def tag_strength(p: float) -> float:
    """A tag's evidence from its probability: 0.5 and above is certain (1000 classes spread it)."""
    return min(1.0, 2.0 * float(p))


@dataclass
class Evidence:
    concepts: list = field(default_factory=list)  # parsed Concepts
    strength: dict = field(default_factory=dict)  # key -> {(kind, label): evidence 0..1} for the concepts' labels
    objects: dict = field(default_factory=dict)  # key -> {label: (score, track id)}
    expressions: dict = field(default_factory=dict)  # key -> {expression: (frame, time)}
    name_keys: dict = field(default_factory=dict)  # key -> first face row whose identity name has the text
    file_videos: set = field(default_factory=set)
    clip: dict = field(default_factory=dict)  # key -> (similarity, frame, time)
    alternatives: list = field(default_factory=list)  # SQL conditions: a shot has some text evidence
    name_cond: object = None  # SQL condition on Identity.name: holds the text (or an unmatched word)
    texts: dict = field(default_factory=dict)  # key -> [TextHit] of quoted phrases and words
    phrase_keys: list = field(default_factory=list)  # per quoted phrase: its search keys
    phrase_shots: list = field(default_factory=list)  # per quoted phrase: the shot keys it is in
    found_words: set = field(default_factory=set)  # the query's words found said or written
    tag_sources: dict = field(default_factory=dict)  # tag label -> its Tag.source

    def __post_init__(self):
        self._sims = [{(m.kind, m.label): m.similarity for m in c.matches} for c in self.concepts]

    def _add(self, k, kind: str, label: str, strength: float) -> None:
        cur = self.strength.setdefault(k, {})
        cur[(kind, label)] = max(strength, cur.get((kind, label), 0.0))

    # ---- per shot ----------------------------------------------------------------------------
    def _best(self, k):
        """Per concept: (score, (kind, label), similarity, evidence) of its best label in shot ``k``."""
        e = self.strength.get(k)
        if not e:
            return []
        out = []
        for c, sims in zip(self.concepts, self._sims):
            best = None
            for kl, st in e.items():
                sim = sims.get(kl)
                if sim is not None and (best is None or sim * st > best[0]):
                    best = (sim * st, kl, sim, st)
            if best:
                out.append((c.text, best))
        return out

    def matched_labels(self, k) -> list[dict]:
        return [{"concept": text, "kind": kl[0], "label": kl[1], "similarity": sim, "evidence": round(st, 4),
                 "score": round(sc, 4)} for text, (sc, kl, sim, st) in self._best(k)]

    def score(self, row, need_text: bool) -> float:
        if not (need_text or self.clip):
            return 1.0
        k = (row.video_id, row.idx)
        total = sum(b[0] for _, b in self._best(k))
        total += NAME_WEIGHT * (k in self.name_keys) + FILE_WEIGHT * (row.video_id in self.file_videos)
        total += self.clip.get(k, (0.0,))[0]
        said = {(h.phrase, h.phrase in self._phrases) for h in self.texts.get(k, ())}
        total += sum(PHRASE_WEIGHT if quoted else WORD_WEIGHT for _, quoted in said)
        return round(total, 4)

    @property
    def _phrases(self) -> set:
        return {" ".join(p) for p in self.phrase_keys}

    # ---- candidates --------------------------------------------------------------------------
    def candidates(self, s, conds: list) -> list:
        q = select(db.Shot.id, db.Shot.video_id, db.Shot.idx, db.Shot.start_frame, db.Shot.end_frame,
                   db.Shot.start_time, db.Shot.end_time, db.Shot.size, db.Shot.size_confidence).where(*conds)
        if not self.alternatives:
            return []
        return list(s.execute(q.where(or_(*self.alternatives))))

    # ---- hits --------------------------------------------------------------------------------
    def describe(self, s, page: list, reasons: list[str], people: list, face_conds: list | None,
                 start) -> list[dict]:
        """Hit dicts for ``page`` [(score, shot row)]; ``face_conds``: Face conditions when the query
        names people or an expression (the hit then points at the first such face), else None."""
        if not page:
            return []
        rows = [r for _, r in page]
        keys = [(r.video_id, r.idx) for r in rows]
        files = {v: f for v, f in s.execute(select(db.Video.id, db.Video.filename)
                                            .where(db.Video.id.in_({r.video_id for r in rows})))}
        images: dict[int, str] = {}
        for sid, image in s.execute(select(db.Keyframe.shot_id, db.Keyframe.image)
                                    .where(db.Keyframe.shot_id.in_([r.id for r in rows])).order_by(db.Keyframe.frame)):
            images.setdefault(sid, image)
        faces: dict = {}
        if face_conds is not None:  # the query is about faces: point at the first matching one
            pc = [or_(*[c for _, c in people])] if people else []
            fq = face_query(select(db.Face.video_id, db.FaceTrack.shot_idx, db.Face.frame, db.Face.time,
                                   db.Character.id, db.Identity.name, db.Face.expression),
                            pc + face_conds + [tuple_(db.Face.video_id, db.FaceTrack.shot_idx).in_(keys)])
            for r in s.execute(fq.order_by(db.Face.video_id, db.Face.frame)):
                faces.setdefault((r[0], r[1]), r)
        tag_labels = {kl[1] for k in keys for kl in self.strength.get(k, {}) if kl[0] == "tag"}
        tag_frames: dict = {}
        if tag_labels:
            for v, si, frame, t, label, sc in s.execute(
                    select(db.Tag.video_id, db.Tag.shot_idx, db.Tag.frame, db.Tag.time, db.Tag.label, db.Tag.score)
                    .where(tuple_(db.Tag.video_id, db.Tag.shot_idx).in_(keys), db.Tag.label.in_(sorted(tag_labels)),
                           db.Tag.frame.is_not(None))):
                tag_frames.setdefault((v, si), []).append((sc, frame, t if t is not None else 0.0, label))
        track_ids = {tid for k in keys for _, tid in self.objects.get(k, {}).values()}
        detections: dict[int, tuple] = {}
        if track_ids:
            for tid, frame, t, sc in s.execute(select(db.ObjectDetection.track_id, db.ObjectDetection.frame,
                                                      db.ObjectDetection.time, db.ObjectDetection.score)
                                               .where(db.ObjectDetection.track_id.in_(track_ids))
                                               .order_by(db.ObjectDetection.score.desc())):
                detections.setdefault(tid, (frame, t, sc))
        out = []
        for score, r in page:
            k = (r.video_id, r.idx)
            labels = self.matched_labels(k)
            frames = self._frames(k, labels, detections, tag_frames.get(k, ()))
            face = faces.get(k) or self.name_keys.get(k)
            said = sorted(self.texts.get(k, ()), key=lambda h: (h.phrase not in self._phrases, h.start))
            frame, t = r.start_frame, r.start_time
            if face is not None:
                frame, t = face[2], face[3]
            elif said:
                frame, t = said[0].frame, said[0].start
            elif frames:
                frame, t = frames[0]["frame"], frames[0]["time"]
            elif start is not None and start > r.start_time:
                fps = (r.end_frame - r.start_frame + 1) / max(r.end_time - r.start_time, 1e-9)
                frame, t = min(r.end_frame, r.start_frame + int((start - r.start_time) * fps + 1e-6)), start
            why = ([x for x in ("filename",) if r.video_id in self.file_videos]
                   + (["name"] if k in self.name_keys and "name" not in reasons else []) + reasons
                   + [f"{h.kind}:'{h.phrase}'" for h in said]
                   + [f"{x['kind']}:{x['label']}" for x in labels] + (["clip"] if k in self.clip else []))
            out.append({"kind": "shot", "video_id": r.video_id, "filename": files.get(r.video_id, ""),
                        "frame": int(frame), "time": round(t, 6), "url": _link(r.video_id, t), "shot_index": r.idx,
                        "end_time": round(r.end_time, 6), "size": r.size,
                        "character_id": face[4] if face is not None else None,
                        "name": face[5] if face is not None else None,
                        "expression": face[6] if face is not None else None,
                        "image": images.get(r.id), "score": score, "matched": list(dict.fromkeys(why)),
                        "labels": labels, "frames": frames,
                        "evidence": self._evidence(said, frames, labels, face, r)})
        return out

    def _evidence(self, said: list, frames: list[dict], labels: list[dict], face, shot) -> list[dict]:
        """What was found in the shot, strongest first: lines said or written, then labels (on
        the frame that shows them, or the shot's first frame for a label known per shot only)."""
        out, seen = [], set()
        for h in said:
            if (h.kind, h.text, round(h.start, 2)) in seen:
                continue
            seen.add((h.kind, h.text, round(h.start, 2)))
            out.append({"kind": h.kind, "text": h.text, "match": h.phrase, "time": round(h.start, 3),
                        "end_time": round(h.end, 3), "frame": h.frame, "score": round(h.score, 4)})
        kinds = {x["label"]: x["kind"] for x in labels}
        for f in frames:
            kind = kinds.get(f["label"], "clip" if f["label"] == "clip" else "tag")
            if kind == "tag":
                kind = TAG_KINDS.get(self.tag_sources.get(f["label"]), "tag")
            out.append({"kind": kind, "text": f["label"], "match": None, "time": f["time"], "end_time": None,
                        "frame": f["frame"], "score": f["score"]})
        shown = {f["label"] for f in frames}
        for x in labels:
            if x["label"] in shown or x["kind"] == "expression":
                continue
            kind = TAG_KINDS.get(self.tag_sources.get(x["label"]), "tag") if x["kind"] == "tag" else x["kind"]
            out.append({"kind": kind, "text": x["label"], "match": None, "time": round(shot.start_time, 3),
                        "end_time": round(shot.end_time, 3), "frame": int(shot.start_frame), "score": x["score"]})
        if face is not None and face[5]:
            out.append({"kind": "face", "text": face[5], "match": None, "time": round(face[3], 3), "end_time": None,
                        "frame": int(face[2]), "score": None})
        return out[:MAX_EVIDENCE]

    def _frames(self, k, labels: list[dict], detections: dict, tag_frames) -> list[dict]:
        """The shot's frames that show the matched labels (or the CLIP match), best first."""
        found = []
        sims = {(x["kind"], x["label"]): x["similarity"] for x in labels}
        for sc, frame, t, label in tag_frames:
            if ("tag", label) in sims:
                found.append((sims[("tag", label)] * tag_strength(sc), frame, t, label))
        for label, (sc, tid) in self.objects.get(k, {}).items():
            if ("object", label) in sims and tid in detections:
                frame, t, dsc = detections[tid]
                found.append((sims[("object", label)] * dsc, frame, t, label))
        for label, (frame, t) in self.expressions.get(k, {}).items():
            if ("expression", label) in sims:
                found.append((sims[("expression", label)], frame, t, label))
        if k in self.clip:
            sim, frame, t = self.clip[k]
            found.append((sim, frame, t, "clip"))
        found.sort(key=lambda x: -x[0])
        out, seen = [], set()
        for sc, frame, t, label in found:
            if frame in seen:
                continue
            seen.add(frame)
            out.append({"frame": int(frame), "time": round(float(t), 6), "score": round(float(sc), 4), "label": label})
        return out[:MAX_FRAMES]


def _link(video_id: int, t: float) -> str:
    return f"/videos/{video_id}?t={t:.3f}"


def collect_evidence(s, archive, q, text: str | None, parsed, key, notes: list[str]) -> Evidence:
    """Fetch the rows behind the text: only rows with the concepts' labels (indexed), or whose
    file / person name holds the whole text or one of its words that matched no label."""
    ev = Evidence(concepts=list(parsed.concepts))
    by_kind: dict[str, set] = {}
    for c in ev.concepts:
        for m in c.matches:
            by_kind.setdefault(m.kind, set()).add(m.label)
    vid = [db.Tag.video_id == q.video] if q.video else []
    if by_kind.get("tag"):
        # the shot aggregate (frame null) where there is one, else the best frame with the label
        labels = sorted(by_kind["tag"])
        tags = select(db.Tag.video_id, db.Tag.shot_idx).where(db.Tag.label.in_(labels), db.Tag.source != MOOD_SOURCE,
                                                              db.Tag.shot_idx.is_not(None), *vid)
        shot_level, frame_level = {}, {}
        for v, si, label, sc, frame, source in s.execute(tags.add_columns(db.Tag.label, db.Tag.score, db.Tag.frame,
                                                                          db.Tag.source)):
            ev.tag_sources.setdefault(label, source)
            into = shot_level if frame is None else frame_level
            kl = ((v, si), label)
            into[kl] = max(into.get(kl, 0.0), tag_strength(sc))
        for kl, st in frame_level.items():
            shot_level.setdefault(kl, st)
        for (k, label), st in shot_level.items():
            ev._add(k, "tag", label, st)
        ev.alternatives.append(key.in_(tags))
    if by_kind.get("object"):
        labels = sorted(by_kind["object"])
        ov = [db.ObjectTrack.video_id == q.video] if q.video else []
        for tid, v, si, label, sc in s.execute(select(db.ObjectTrack.id, db.ObjectTrack.video_id, db.ObjectTrack.shot_idx,
                                                      db.ObjectTrack.label, db.ObjectTrack.score)
                                               .where(db.ObjectTrack.label.in_(labels), *ov)):
            cur = ev.objects.setdefault((v, si), {})
            if label not in cur or sc > cur[label][0]:
                cur[label] = (sc, tid)
                ev._add((v, si), "object", label, float(sc))
        ev.alternatives.append(key.in_(select(db.ObjectTrack.video_id, db.ObjectTrack.shot_idx)
                                       .where(db.ObjectTrack.label.in_(labels))))
    if by_kind.get("expression"):
        labels = sorted(by_kind["expression"])
        fv = [db.Face.video_id == q.video] if q.video else []
        fq = face_query(select(db.Face.video_id, db.FaceTrack.shot_idx, db.Face.frame, db.Face.time, db.Face.expression),
                        [db.Face.expression.in_(labels)] + fv)
        for v, si, frame, t, label in s.execute(fq.order_by(db.Face.frame)):
            ev.expressions.setdefault((v, si), {}).setdefault(label, (frame, t))
            ev._add((v, si), "expression", label, 1.0)
        ev.alternatives.append(key.in_(face_query(select(db.FaceTrack.video_id, db.FaceTrack.shot_idx),
                                                  [db.Face.expression.in_(labels)])))
    if text:
        texts = [text] + [w for w in parsed.ignored if len(w) >= 3 and w != text.lower()]
        fq = select(db.Video.id).where(or_(*[db.Video.filename.ilike(like(x), escape="\\") for x in texts]))
        if q.video:
            fq = fq.where(db.Video.id == q.video)
        ev.file_videos = {v for (v,) in s.execute(fq)}
        if ev.file_videos:
            ev.alternatives.append(db.Shot.video_id.in_(sorted(ev.file_videos)))
        # identities first (a small table): the faces are then reached through indexed ids
        idents = [i for (i,) in s.execute(select(db.Identity.id).where(
            or_(*[db.Identity.name.ilike(like(x), escape="\\") for x in texts])))]
        if idents:
            name = ev.name_cond = db.Character.identity_id.in_(idents)
            nq = face_query(select(db.Face.video_id, db.FaceTrack.shot_idx, db.Face.frame, db.Face.time,
                                   db.Character.id, db.Identity.name, db.Face.expression), [name])
            if q.video:
                nq = nq.where(db.Face.video_id == q.video)
            for r in s.execute(nq.order_by(db.Face.video_id, db.Face.frame)):
                ev.name_keys.setdefault((r[0], r[1]), r)
            if ev.name_keys:
                ev.alternatives.append(key.in_(face_query(select(db.FaceTrack.video_id, db.FaceTrack.shot_idx), [name])))
    _text_evidence(s, q, parsed, key, ev)
    if text:
        _clip_evidence(s, archive, q, text, key, ev, notes)
    return ev


def _text_evidence(s, q, parsed, key, ev: Evidence) -> None:
    """Quoted phrases and the query's words in what is said and written (archive.search_text sources)."""
    from reelscope.archive.search_text import find_phrase, phrase_keys, word_key

    def within(h) -> bool:
        return (q.start is None or h.end >= q.start) and (q.end is None or h.start <= q.end)

    ev.phrase_keys = [k for k in (phrase_keys(p) for p in parsed.phrases)]
    asked = [(ks, True) for ks in ev.phrase_keys] + [([word_key(w)], False) for w in parsed.words
                                                     if len(word_key(w)) >= 2]
    found_words = set()
    for keys, is_phrase in asked:
        hits = [h for h in find_phrase(s, keys, q.video) if within(h) and h.shot_idx is not None] if keys else []
        shots = {(h.video_id, h.shot_idx) for h in hits}
        if is_phrase:
            ev.phrase_shots.append(shots)
        elif hits:
            found_words.add(keys[0])
        for h in hits:
            ev.texts.setdefault((h.video_id, h.shot_idx), []).append(h)
        if shots:
            ev.alternatives.append(key.in_(sorted(shots)))
    ev.found_words = found_words


def _clip_evidence(s, archive, q, text: str, key, ev: Evidence, notes: list[str]) -> None:
    """Text-to-image similarities from the optional CLIP-like index (models.clip_index)."""
    from reelscope.archive.clip_io import search_frames
    from reelscope.models.clip_index import default_model_dir

    model_dir = q.clip_model or default_model_dir()
    if not model_dir:
        return
    try:
        hits = search_frames(archive, s, model_dir, text, video=q.video)
    except Exception as e:  # a broken user model must not break search: say why, answer without it
        notes.append(f"CLIP index not used: {e}")
        return
    for (v, si), (sim, frame, t) in hits.items():
        ev.clip[(v, si)] = (round(sim, 4), frame, t)
    if ev.clip:
        ev.alternatives.append(key.in_(sorted(ev.clip)))
