"""Scene-content mood cue: what is in the picture (ImageNet classes) read through sentence embeddings.

Colour statistics miss content (a snowball fight in pale light looks calm; a bright pop video
looks calm). This zero-shot cue adds what the picture shows, with nothing fitted to mood labels:

1. EfficientNet-Lite0 (:class:`reelscope.vision.tags.ImageNetTagger`) gives the image's ImageNet
   class probabilities; the ``TOP`` most probable names are kept.
2. Each name is embedded as "a photo of <name>" with all-MiniLM-L6-v2
   (:mod:`reelscope.models.text_embed`); the image's content vector is the probability-weighted
   mean of those vectors, L2-normalised.
3. ``MOOD_TEXTS`` describe each of the 8 moods (written a priori from the mood definitions in
   :mod:`reelscope.mood.circle`). The cosine similarity ``s_m`` of the content vector to each
   description is standardised against all 1000 ImageNet names: ``z_m = (s_m - μ_m) / σ_m``
   with μ_m, σ_m the mean and spread of the description's similarity to every class name. This
   removes each description's own bias (one that resembles every object a bit would otherwise
   win everywhere) using only the class vocabulary, never labelled images.
4. ``softmax(z)`` over the moods is a mood distribution; its mean direction on the circle
   (:func:`reelscope.mood.circle.scores_to_va`) is the content's (valence, arousal).

:class:`reelscope.mood.image_mood.ImageMoodPredictor` (``content=True``) blends this point
with the colour/face point at the fixed weight ``CONTENT_WEIGHT`` = 0.5 (equal weights, chosen
before measuring; BENCHMARKS.md "Mood" reports a few other weights for transparency only).
Cost: one EfficientNet-Lite0 pass (~100 ms per frame on a 2-core CPU) and the embeddings of at
most ``TOP`` names, cached after first use.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reelscope.mood.circle import MOODS, scores_to_va

TOP = 5
CONTENT_WEIGHT = 0.5
TEMPLATE = "a photo of {}"

# one short description per mood, from the circle's definitions (circle.py), not from any frames
MOOD_TEXTS = {
    "happy": "a happy, cheerful, sunny scene with smiling people having fun",
    "excited": "an exciting, lively, energetic scene full of colour: a party, a show, a game",
    "intense": "an intense, dramatic, powerful action scene: a fight, a chase, a storm",
    "tense": "a tense, threatening, frightening scene with danger, weapons and menace",
    "sad": "a sad, lonely, grieving scene: tears, loss, a grey cold day",
    "gloomy": "a gloomy, dark, dreary, bleak scene at night, abandoned and decaying",
    "calm": "a calm, quiet, still scene: an empty room, an ordinary object, soft muted light",
    "relaxed": "a relaxed, peaceful, pleasant scene: soft warm light, nature, a beach, a garden",
}


def available() -> bool:
    """Whether the classifier weights, the class names and the text model are installed."""
    from reelscope.models import efficientnet_lite, text_embed
    try:
        from reelscope.vision.tags import class_names
        class_names()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return efficientnet_lite.available() and text_embed.available()


class ContentCue:
    """``va(rgb) -> (valence, arousal, evidence)`` from the image's ImageNet classes.

    Raises :class:`reelscope.errors.MissingDependency` on construction when the tagger or the
    text model is missing (the predictor then falls back to colour and faces)."""

    def __init__(self, tagger=None, embedder=None, top: int = TOP):
        from reelscope.models.text_embed import text_embedder
        from reelscope.vision.tags import ImageNetTagger, class_names

        self.tagger = tagger or ImageNetTagger(top=top, min_score=0.0)
        self.embedder = embedder or text_embedder()
        self.top = top
        names = list(dict.fromkeys(class_names()))
        self._names = {n: i for i, n in enumerate(names)}
        self._name_vecs = self.embedder.vocabulary([TEMPLATE.format(n) for n in names])  # (D, 384)
        self._mood_vecs = self.embedder.vocabulary([MOOD_TEXTS[m] for m in MOODS])  # (8, 384)
        sims = self._name_vecs @ self._mood_vecs.T  # (D, 8)
        self._mu, self._sd = sims.mean(0), sims.std(0) + 1e-6

    def scores_of_tags(self, tags: Sequence[tuple[str, float]]) -> tuple[dict[str, float], np.ndarray]:
        """Mood distribution and z-scores (8,) of a list of (class name, probability)."""
        tags = [(n, p) for n, p in tags if n in self._names and p > 0]
        if not tags:
            return {m: 1.0 / len(MOODS) for m in MOODS}, np.zeros(len(MOODS))
        w = np.array([p for _, p in tags], np.float32)
        vec = (w[:, None] * self._name_vecs[[self._names[n] for n, _ in tags]]).sum(0)
        vec /= float(np.linalg.norm(vec)) or 1.0
        z = (vec @ self._mood_vecs.T - self._mu) / self._sd
        e = np.exp(z - z.max())
        p = e / e.sum()
        return {m: float(x) for m, x in zip(MOODS, p)}, z

    def va_of_tags(self, tags: Sequence[tuple[str, float]]) -> tuple[float, float, dict]:
        scores, z = self.scores_of_tags(tags)
        v, a = scores_to_va(scores)
        best = max(scores, key=scores.get)
        ev = {"tags": [[n, round(float(p), 3)] for n, p in tags], "mood": best,
              "va": [round(v, 4), round(a, 4)], "z": {m: round(float(x), 2) for m, x in zip(MOODS, z)}}
        return v, a, ev

    def va(self, rgb: np.ndarray) -> tuple[float, float, dict]:
        """(valence, arousal, evidence) of the picture's content."""
        return self.va_of_tags(self.tagger.tag(rgb, top=self.top, min_score=0.0))


def blend(colour_face_va: tuple[float, float], content_va: tuple[float, float],
          weight: float = CONTENT_WEIGHT) -> tuple[float, float]:
    """Fixed-weight mix of the colour/face point and the content point."""
    w = float(min(1.0, max(0.0, weight)))
    if not all(math.isfinite(x) for x in content_va):
        return colour_face_va
    return ((1 - w) * colour_face_va[0] + w * content_va[0], (1 - w) * colour_face_va[1] + w * content_va[1])


__all__ = ["CONTENT_WEIGHT", "MOOD_TEXTS", "ContentCue", "available", "blend"]
