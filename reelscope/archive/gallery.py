"""The identity gallery and the labeling operations on characters, with an undo log.

Naming a character creates (or reuses) an Identity and stores the character's embedding as a
reference; every other character in the archive whose embedding lies within ``threshold`` of
an identity's references is then *recognised* (open set: farther than the threshold stays
unknown). Characters a person named are never overwritten by recognition.

Every operation runs in one transaction and writes a LabelEvent describing what it changed,
so ``undo`` can restore the previous state. Characters carry a version number (optimistic
locking): two people labeling at once never silently overwrite each other — the second write
to the *same* character fails with ConflictError and can be retried; writes to different
characters both land.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from reelscope.archive import schema as db
from reelscope.errors import ReelscopeError

# Euclidean distance between L2-normalised 128-d dlib descriptors (dlib's raw 0.6 is ~0.44 on
# this scale). On MEDS-II 0.35 gives TPR 0.95 at FPR 0.006 (bench/results/faces_meds.md):
# open-set recognition favours precision: an unknown face must stay unknown.
# (see BENCHMARKS.md "Faces"). Override per call or with Gallery(threshold=...).
DEFAULT_THRESHOLD = 0.35


class ConflictError(ReelscopeError):
    """Someone else changed the same character since it was read."""


def to_blob(v: np.ndarray) -> bytes:
    return np.asarray(v, "<f4").tobytes()


def from_blob(b: bytes) -> np.ndarray:
    return np.frombuffer(b, "<f4")


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _char_state(c: db.Character) -> dict:
    return {"identity_id": c.identity_id, "naming": c.naming, "match_distance": c.match_distance}


class Gallery:
    def __init__(self, archive, threshold: float = DEFAULT_THRESHOLD, user: str = ""):
        self.archive = archive
        self.threshold = threshold
        self.user = user

    # ---- reading -------------------------------------------------------------------------
    def identities(self) -> list[db.Identity]:
        with self.archive.session() as s:
            return list(s.scalars(select(db.Identity).order_by(db.Identity.name)))

    def characters(self, video_id: int | None = None) -> list[db.Character]:
        with self.archive.session() as s:
            q = select(db.Character).order_by(db.Character.video_id, db.Character.idx)
            if video_id is not None:
                q = q.where(db.Character.video_id == video_id)
            return list(s.scalars(q))

    def character(self, character_id: int) -> db.Character:
        with self.archive.session() as s:
            c = s.get(db.Character, character_id)
            if c is None:
                raise ReelscopeError(f"no character {character_id} in the archive")
            return c

    # ---- matching --------------------------------------------------------------------------
    def _references(self, s: Session) -> tuple[np.ndarray, np.ndarray]:
        refs = list(s.scalars(select(db.IdentityReference)))
        if not refs:
            return np.zeros((0, 128), np.float32), np.zeros(0, np.int64)
        return (np.stack([_unit(from_blob(r.embedding)) for r in refs]),
                np.array([r.identity_id for r in refs], np.int64))

    def match(self, embedding: np.ndarray, s: Session | None = None) -> tuple[int | None, float]:
        """Nearest identity and its distance; identity None if farther than the threshold."""
        if s is None:
            with self.archive.session() as s2:
                return self.match(embedding, s2)
        vecs, ids = self._references(s)
        if not len(ids):
            return None, float("inf")
        d = np.linalg.norm(vecs - _unit(np.asarray(embedding, np.float32)), axis=1)
        i = int(np.argmin(d))
        return (int(ids[i]) if d[i] <= self.threshold else None), float(d[i])

    def _recognise(self, s: Session, video_id: int | None = None) -> list[dict]:
        """Assign identities to characters not named by a person; returns their previous states.

        Cannot-link: two characters of one video seen on screen at the same time (overlapping face
        tracks in the same shot) are different people, so they never get the same identity; the
        closer match wins.
        """
        vecs, ids = self._references(s)
        q = select(db.Character)
        if video_id is not None:
            q = q.where(db.Character.video_id == video_id)
        chars = list(s.scalars(q))
        spans: dict[int, list[tuple[int, int, int]]] = {}
        for t in s.scalars(select(db.FaceTrack).where(db.FaceTrack.character_id.in_([c.id for c in chars]))):
            spans.setdefault(t.character_id, []).append((t.shot_idx, t.first_frame, t.last_frame))

        def together(a: int, b: int) -> bool:
            return any(sa == sb and fa <= lb and fb <= la
                       for sa, fa, la in spans.get(a, []) for sb, fb, lb in spans.get(b, []))

        # proposals: (distance, character) for characters not named by a person
        proposals = []
        for c in chars:
            if c.naming == "named":
                continue
            ident, dist = None, None
            if len(ids):
                d = np.linalg.norm(vecs - _unit(from_blob(c.embedding)), axis=1)
                i = int(np.argmin(d))
                if d[i] <= self.threshold:
                    ident, dist = int(ids[i]), float(d[i])
            proposals.append((dist if dist is not None else np.inf, c, ident))
        holders: dict[tuple[int, int], list[int]] = {}  # (video, identity) -> characters holding it
        for c in chars:
            if c.naming == "named" and c.identity_id is not None:
                holders.setdefault((c.video_id, c.identity_id), []).append(c.id)
        changed = []
        for dist, c, ident in sorted(proposals, key=lambda p: p[0]):
            if ident is not None and any(together(c.id, h) for h in holders.get((c.video_id, ident), [])):
                ident, dist = None, None  # someone on screen with this person already is this person
            if ident is not None:
                holders.setdefault((c.video_id, ident), []).append(c.id)
            naming = "recognised" if ident else "unknown"
            if (c.identity_id, c.naming) != (ident, naming):
                changed.append({"character_id": c.id, **_char_state(c)})
                c.identity_id, c.naming, c.match_distance = ident, naming, (dist if ident else None)
        return changed

    def recognise(self, video_id: int | None = None) -> int:
        """Re-run recognition (e.g. after a video's faces were analysed); returns characters changed."""
        with self.archive.session() as s, s.begin():
            changed = self._recognise(s, video_id)
            if changed:
                self._log(s, "recognise", {"recognised": changed})
            return len(changed)

    # ---- naming ------------------------------------------------------------------------------
    def _identity(self, s: Session, name: str) -> tuple[db.Identity, bool]:
        name = name.strip()
        if not name:
            raise ReelscopeError("a name cannot be empty")
        ident = s.scalars(select(db.Identity).where(db.Identity.name == name)).first()
        if ident:
            return ident, False
        ident = db.Identity(name=name)
        s.add(ident)
        s.flush()
        return ident, True

    def name(self, character_id: int, name: str, expected_version: int | None = None) -> db.Character:
        """Name a character; recognises matching characters everywhere in the archive."""
        try:
            with self.archive.session() as s, s.begin():
                c = s.get(db.Character, character_id)
                if c is None:
                    raise ReelscopeError(f"no character {character_id} in the archive")
                if expected_version is not None and c.version != expected_version:
                    raise ConflictError(f"character {character_id} was changed by someone else "
                                        f"(version {c.version}, you had {expected_version}); reload and retry")
                before = _char_state(c)
                ident, created = self._identity(s, name)
                ref = db.IdentityReference(identity_id=ident.id, source=f"character:{c.id}", character_id=c.id,
                                           embedding=c.embedding)
                s.add(ref)
                c.identity_id, c.naming, c.match_distance = ident.id, "named", 0.0
                s.flush()
                recognised = self._recognise(s)
                self._log(s, "name", {"character_id": c.id, "before": before, "identity_id": ident.id,
                                      "created_identity": created, "reference_ids": [ref.id],
                                      "recognised": recognised})
                return c
        except StaleDataError:
            raise ConflictError(f"character {character_id} was changed by someone else at the same time; "
                                "reload and retry") from None

    def add_photo(self, name: str, embeddings: list[np.ndarray], source: str) -> db.Identity:
        """Add reference embeddings (faces found in a photo) to an identity, creating it if new."""
        if not embeddings:
            raise ReelscopeError(f"{source}: no face to add for {name!r}")
        with self.archive.session() as s, s.begin():
            ident, created = self._identity(s, name)
            refs = [db.IdentityReference(identity_id=ident.id, source=f"photo:{source}", embedding=to_blob(e))
                    for e in embeddings]
            s.add_all(refs)
            s.flush()
            recognised = self._recognise(s)
            self._log(s, "add_photo", {"identity_id": ident.id, "created_identity": created,
                                       "reference_ids": [r.id for r in refs], "recognised": recognised})
            return ident

    # ---- merge / split -------------------------------------------------------------------------
    def merge(self, character_ids: list[int]) -> db.Character:
        """Merge characters of one video into the first; their tracks move over."""
        if len(set(character_ids)) < 2:
            raise ReelscopeError("merge needs at least two different characters")
        with self.archive.session() as s, s.begin():
            chars = [s.get(db.Character, i) for i in character_ids]
            if any(c is None for c in chars):
                raise ReelscopeError(f"unknown character in {character_ids}")
            if len({c.video_id for c in chars}) != 1:
                raise ReelscopeError("only characters of the same video can be merged")
            into, others = chars[0], chars[1:]
            moved = {}
            snapshots = []
            for o in others:
                for t in s.scalars(select(db.FaceTrack).where(db.FaceTrack.character_id == o.id)):
                    moved[t.id] = o.id
                    t.character_id = into.id
                snapshots.append({k: getattr(o, k) for k in _SNAPSHOT})
            before = {k: getattr(into, k) for k in _SNAPSHOT}
            s.flush()
            for o in others:
                s.delete(o)
            self._refresh(s, into)
            self._log(s, "merge", {"into": into.id, "before": _jsonable(before), "moved": moved,
                                   "removed": [_jsonable(x) for x in snapshots]})
            return into

    def split(self, character_id: int, track_ids: list[int]) -> db.Character:
        """Move some tracks of a character into a new character of the same video."""
        with self.archive.session() as s, s.begin():
            c = s.get(db.Character, character_id)
            if c is None:
                raise ReelscopeError(f"no character {character_id} in the archive")
            tracks = list(s.scalars(select(db.FaceTrack).where(db.FaceTrack.character_id == c.id)))
            chosen = [t for t in tracks if t.id in set(track_ids)]
            if not chosen or len(chosen) == len(tracks):
                raise ReelscopeError("split needs some, but not all, of the character's tracks")
            before = {k: getattr(c, k) for k in _SNAPSHOT}
            idx = max(x.idx for x in s.scalars(select(db.Character).where(
                db.Character.video_id == c.video_id))) + 1
            new = db.Character(video_id=c.video_id, idx=idx, naming="unknown", screen_time=0, first_frame=0,
                               last_frame=0, first_time=0, last_time=0, thumbnail=c.thumbnail, expressions={},
                               embedding=c.embedding)
            s.add(new)
            s.flush()
            for t in chosen:
                t.character_id = new.id
            s.flush()
            self._refresh(s, c)
            self._refresh(s, new)
            recognised = self._recognise(s, c.video_id)
            self._log(s, "split", {"from": c.id, "new": new.id, "tracks": [t.id for t in chosen],
                                   "before": _jsonable(before), "recognised": recognised})
            return new

    def _refresh(self, s: Session, c: db.Character) -> None:
        """Recompute a character's aggregates from its tracks and faces."""
        tracks = list(s.scalars(select(db.FaceTrack).where(db.FaceTrack.character_id == c.id)))
        if not tracks:
            return
        video = s.get(db.Video, c.video_id)
        fps = video.fps_num / video.fps_den
        c.screen_time = float(sum(t.seconds for t in tracks))
        c.first_frame = min(t.first_frame for t in tracks)
        c.last_frame = max(t.last_frame for t in tracks)
        c.first_time, c.last_time = c.first_frame / fps, c.last_frame / fps
        c.embedding = to_blob(_unit(np.mean([from_blob(t.embedding) for t in tracks], axis=0)))
        faces = list(s.scalars(select(db.Face).where(db.Face.track_id.in_([t.id for t in tracks]))))
        counts = Counter(f.expression for f in faces if f.expression)
        total = sum(counts.values())
        c.expressions = {k: v / total for k, v in counts.items()} if total else {}

    # ---- undo ----------------------------------------------------------------------------------
    def undo(self) -> db.LabelEvent:
        """Revert the most recent labeling operation that is not undone yet."""
        with self.archive.session() as s, s.begin():
            ev = s.scalars(select(db.LabelEvent).where(db.LabelEvent.undone.is_(False),
                                                       db.LabelEvent.action != "undo")
                           .order_by(db.LabelEvent.id.desc())).first()
            if ev is None:
                raise ReelscopeError("nothing to undo")
            p = ev.payload
            self._restore_states(s, p.get("recognised", []))
            if ev.action == "name":
                c = s.get(db.Character, p["character_id"])
                if c is not None:
                    for k, v in p["before"].items():
                        setattr(c, k, v)
            if ev.action in ("name", "add_photo"):
                for rid in p["reference_ids"]:
                    r = s.get(db.IdentityReference, rid)
                    if r is not None:
                        s.delete(r)
                s.flush()
                if p["created_identity"]:
                    ident = s.get(db.Identity, p["identity_id"])
                    if ident is not None and not ident.references:
                        for c in s.scalars(select(db.Character).where(db.Character.identity_id == ident.id)):
                            c.identity_id, c.naming, c.match_distance = None, "unknown", None
                        s.delete(ident)
            elif ev.action == "merge":
                for snap in p["removed"]:
                    s.add(db.Character(**_unjson(snap)))
                s.flush()
                for tid, cid in p["moved"].items():
                    t = s.get(db.FaceTrack, int(tid))
                    if t is not None:
                        t.character_id = cid
                into = s.get(db.Character, p["into"])
                for k, v in _unjson(p["before"]).items():
                    if k != "id":
                        setattr(into, k, v)
            elif ev.action == "split":
                for tid in p["tracks"]:
                    t = s.get(db.FaceTrack, tid)
                    if t is not None:
                        t.character_id = p["from"]
                s.flush()
                new = s.get(db.Character, p["new"])
                if new is not None:
                    s.delete(new)
                c = s.get(db.Character, p["from"])
                for k, v in _unjson(p["before"]).items():
                    if k != "id":
                        setattr(c, k, v)
            ev.undone = True
            self._log(s, "undo", {"event_id": ev.id, "action": ev.action})
            return ev

    @staticmethod
    def _restore_states(s: Session, states: list[dict]) -> None:
        for st in states:
            c = s.get(db.Character, st["character_id"])
            if c is not None:
                c.identity_id, c.naming, c.match_distance = st["identity_id"], st["naming"], st["match_distance"]

    def _log(self, s: Session, action: str, payload: dict) -> None:
        s.add(db.LabelEvent(user=self.user, action=action, payload=payload))

    def history(self, limit: int = 50) -> list[db.LabelEvent]:
        with self.archive.session() as s:
            return list(s.scalars(select(db.LabelEvent).order_by(db.LabelEvent.id.desc()).limit(limit)))


_SNAPSHOT = ("id", "video_id", "idx", "identity_id", "naming", "match_distance", "screen_time", "first_frame",
             "last_frame", "first_time", "last_time", "thumbnail", "expressions", "embedding")


def _jsonable(d: dict) -> dict:
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in d.items()}


def _unjson(d: dict) -> dict:
    return {k: (bytes.fromhex(v) if k == "embedding" and isinstance(v, str) else v) for k, v in d.items()}
