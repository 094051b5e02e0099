"""The words search understands: shot-size phrases, expressions, and the labels stored in the
archive (ImageNet tags, COCO objects, any other tag source), embedded with all-MiniLM-L6-v2 so
free text maps to the nearest labels ("piano" -> grand piano, upright piano).

Only labels that some row of the archive carries are in the vocabulary (read with one DISTINCT
query per table, cached per archive for ``TTL`` seconds); each label's embedding is computed
once and kept on disk (``TextEmbedder.vocabulary``). Without the text model (no torch or no
carrier) everything still works on exact, case-insensitive label names;
``Vocabulary.semantic`` says which mode is on.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from reelscope.archive import schema as db

SIZES = ("ECU", "CU", "MS", "FS", "LS")
SIZE_NAMES = {"ECU": "extreme close-up", "CU": "close-up", "MS": "medium shot", "FS": "full shot", "LS": "long shot"}
# phrases (lower case, hyphens as spaces) that name a shot size
SIZE_PHRASES = {
    "extreme close up": "ECU", "extreme closeup": "ECU", "extreme close ups": "ECU", "ecu": "ECU",
    "close up": "CU", "closeup": "CU", "close ups": "CU", "closeups": "CU",
    "medium shot": "MS", "medium shots": "MS", "mid shot": "MS", "waist shot": "MS",
    "full shot": "FS", "full shots": "FS", "full length shot": "FS", "full body shot": "FS", "full body": "FS",
    "long shot": "LS", "long shots": "LS", "wide shot": "LS", "wide shots": "LS", "establishing shot": "LS",
    "extreme long shot": "LS", "extreme wide shot": "LS",
}
EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# words that name an expression of the FER classifier (reelscope.vision.expression)
EXPRESSION_WORDS = {
    "happy": "happy", "smiling": "happy", "smile": "happy", "smiles": "happy", "laughing": "happy",
    "laugh": "happy", "laughs": "happy", "joyful": "happy", "cheerful": "happy", "grinning": "happy",
    "sad": "sad", "crying": "sad", "cries": "sad", "tears": "sad", "unhappy": "sad", "weeping": "sad",
    "angry": "angry", "furious": "angry", "mad": "angry", "rage": "angry", "shouting": "angry",
    "fear": "fear", "afraid": "fear", "scared": "fear", "frightened": "fear", "terrified": "fear",
    "surprise": "surprise", "surprised": "surprise", "astonished": "surprise", "shocked": "surprise",
    "disgust": "disgust", "disgusted": "disgust",
    "neutral": "neutral", "expressionless": "neutral",
}
# texts embedded for each expression (the best one counts) when a word is not in the table
EXPRESSION_TEXTS = {
    "happy": ("happy face", "smiling person", "laughing"), "sad": ("sad face", "crying person"),
    "angry": ("angry face", "furious person"), "fear": ("frightened face", "scared person"),
    "surprise": ("surprised face", "astonished person"), "disgust": ("disgusted face",),
    "neutral": ("neutral expression", "expressionless face"),
}
KINDS = ("tag", "object", "expression")
MOOD_SOURCE = "mood"  # Tag rows of the mood stage (archive.mood_io): not content labels


@dataclass(frozen=True)
class Match:
    kind: str  # tag | object | expression
    label: str
    similarity: float


class Vocabulary:
    """Labels by kind, with their embeddings when the text model is available."""

    def __init__(self, labels: dict[str, list[str]], embedder=None):
        self.labels = {k: list(dict.fromkeys(v)) for k, v in labels.items()}
        self.lower: dict[str, list[tuple[str, str]]] = {}
        for kind, names in self.labels.items():
            for n in names:
                self.lower.setdefault(n.lower(), []).append((kind, n))
        self.embedder = embedder
        self.entries: list[tuple[str, str]] = []
        self.matrix = np.zeros((0, 384), np.float32)
        if embedder is not None:
            texts = []
            for kind in ("tag", "object"):
                for n in self.labels.get(kind, []):
                    self.entries.append((kind, n))
                    texts.append(n)
            for expr, phrases in EXPRESSION_TEXTS.items():
                for p in phrases:
                    self.entries.append(("expression", expr))
                    texts.append(p)
            self.matrix = embedder.vocabulary(texts)

    @property
    def semantic(self) -> bool:
        return self.embedder is not None

    def exact(self, phrase: str) -> list[Match]:
        return [Match(k, n, 1.0) for k, n in self.lower.get(phrase.lower(), [])]

    def nearest(self, phrase: str, min_similarity: float = 0.6, top: int = 12, spread: float = 0.3) -> list[Match]:
        """Labels whose embedding is within ``min_similarity`` (cosine) of the phrase's, at most
        ``top``, and no further than ``spread`` below the best other label; exact names first at 1.0."""
        out = {(m.kind, m.label): m for m in self.exact(phrase)}
        if self.embedder is not None and len(self.entries):
            v = self.embedder.query(phrase.lower())
            sims = self.matrix @ v
            best: dict[tuple[str, str], float] = {}
            for i in np.argsort(-sims)[:top * 3]:
                s = float(sims[i])
                if s < min_similarity:
                    break
                key = self.entries[i]
                best[key] = max(best.get(key, 0.0), s)
            near = [s for key, s in best.items() if key not in out]  # an exact name must not raise the bar
            if near:
                floor = max(near) - spread
                for key, s in best.items():
                    if s >= floor and key not in out:
                        out[key] = Match(key[0], key[1], round(s, 4))
        return sorted(out.values(), key=lambda m: -m.similarity)[:max(top, len(self.exact(phrase)))]


_LOCK = threading.Lock()
_CACHE: dict[str, tuple[float, frozenset, Vocabulary]] = {}
TTL = 60.0  # seconds before the archive's distinct labels are read again


def _embedder():
    from reelscope.models import text_embed

    if not text_embed.available():
        return None
    try:
        return text_embed.text_embedder()
    except Exception:  # a broken model file: fall back to exact names, search still answers
        return None


def vocabulary_for(archive, semantic: bool = True) -> Vocabulary:
    """The vocabulary of ``archive`` (static names plus the labels stored in it), cached."""
    key = f"{archive.url}|{semantic}"
    now = time.monotonic()
    with _LOCK:
        hit = _CACHE.get(key)
        if hit and now - hit[0] < TTL:
            return hit[2]
    with archive.session() as s:
        # mood is not content: mood words go through the mood filter (reelscope.search.parse), not labels
        tag_labels = [r for (r,) in s.execute(select(db.Tag.label).where(db.Tag.source != MOOD_SOURCE).distinct())]
        obj_labels = [r for (r,) in s.execute(select(db.ObjectTrack.label).distinct())]
    # only labels stored in the archive can be found: they are the vocabulary (embedded once each)
    labels = {"tag": sorted(tag_labels), "object": sorted(obj_labels), "expression": list(EXPRESSIONS)}
    sig = frozenset((k, n) for k, v in labels.items() for n in v)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit and hit[1] == sig:
            _CACHE[key] = (now, sig, hit[2])
            return hit[2]
    vocab = Vocabulary(labels, _embedder() if semantic else None)
    with _LOCK:
        _CACHE[key] = (now, sig, vocab)
    return vocab
