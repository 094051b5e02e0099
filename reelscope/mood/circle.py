"""The mood circle: 8 moods placed on the valence/arousal plane, like a colour wheel.

Valence (unpleasant -1 .. +1 pleasant) is the x axis, arousal (calm -1 .. +1 excited) the
y axis; angles are measured counter-clockwise from +valence, as in Russell's circumplex
model of affect. Mood ``MOODS[i]`` sits at angle ``i * 45°``::

                       intense (90°)
           tense (135°)     |      excited (45°)
                            |
        sad (180°) ---------+--------- happy (0°)      valence ->
                            |
          gloomy (225°)     |      relaxed (315°)
                        calm (270°)

    index  mood      angle  valence arousal   typical image / music
    0      happy       0°     +1      0       sunny, colourful, smiling faces / major, mid tempo
    1      excited    45°    +.7     +.7      bright, saturated, lively / fast, loud, major
    2      intense    90°     0      +1       high contrast action / loud, driving
    3      tense     135°    -.7     +.7      dark, red, harsh / loud, minor, dissonant
    4      sad       180°    -1       0       grey, cold, frowning / minor, slow
    5      gloomy    225°    -.7     -.7      dark, desaturated, blue / quiet, minor, slow
    6      calm      270°     0      -1       soft, muted, still / quiet, slow
    7      relaxed   315°    +.7     -.7      soft light, warm pastels, nature / gentle major

Neighbours on the circle are alike; the distance between two moods is the number of 45°
steps between them (0..4). A (valence, arousal) point is turned into a mood and a
confidence with :func:`mood_from_va`: its direction picks the mood, its distance from the
centre (how far from neutral) and how close it lies to the mood's own direction set the
confidence (:func:`mood_scores`, a von Mises-shaped soft assignment).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

MOODS: tuple[str, ...] = ("happy", "excited", "intense", "tense", "sad", "gloomy", "calm", "relaxed")
STEP_DEG = 45.0
# sharpness of the soft assignment: with a point on the unit circle exactly at a mood's
# direction, that mood gets ~0.60 of the mass and each neighbour ~0.19
KAPPA = 4.0


def mood_index(name: str) -> int:
    try:
        return MOODS.index(str(name).lower())
    except ValueError:
        raise ValueError(f"unknown mood {name!r}; expected one of {', '.join(MOODS)}") from None


def mood_angle(name: str) -> float:
    """Angle of the mood on the circle, degrees counter-clockwise from +valence."""
    return mood_index(name) * STEP_DEG


def mood_va(name: str) -> tuple[float, float]:
    """The unit (valence, arousal) direction of a mood."""
    a = math.radians(mood_angle(name))
    return math.cos(a), math.sin(a)


def va_angle(valence: float, arousal: float) -> float:
    """Angle of a (valence, arousal) point in degrees, 0..360."""
    return math.degrees(math.atan2(arousal, valence)) % 360.0


def mood_scores(valence: float, arousal: float, kappa: float = KAPPA) -> dict[str, float]:
    """Soft assignment of a (valence, arousal) point to the 8 moods (sums to 1).

    score_i ∝ exp(kappa * r * cos(θ - θ_i)) with r = min(1, |(v, a)|): the neutral centre
    gives a uniform 1/8 everywhere, a strong point concentrates on its mood and neighbours.
    """
    r = min(1.0, math.hypot(valence, arousal))
    theta = math.atan2(arousal, valence)
    logits = [kappa * r * math.cos(theta - math.radians(i * STEP_DEG)) for i in range(len(MOODS))]
    m = max(logits)
    ex = [math.exp(x - m) for x in logits]
    s = sum(ex)
    return {name: e / s for name, e in zip(MOODS, ex)}


def mood_from_va(valence: float, arousal: float) -> tuple[str, float]:
    """The mood whose direction is nearest to (valence, arousal), and a 0..1 confidence.

    The confidence is the mood's share in :func:`mood_scores`, rescaled so that the neutral
    centre (1/8) maps to 0 and a point at full intensity exactly on the mood's direction
    maps to ~0.55.
    """
    scores = mood_scores(valence, arousal)
    name = max(scores, key=scores.get)
    n = len(MOODS)
    conf = (scores[name] - 1.0 / n) / (1.0 - 1.0 / n)
    return name, float(min(1.0, max(0.0, conf)))


def angle_to_mood(angle_deg: float) -> str:
    return MOODS[int(round((angle_deg % 360.0) / STEP_DEG)) % len(MOODS)]


def circular_distance(a: str, b: str) -> int:
    """Steps of 45° between two moods on the circle: 0 (same) .. 4 (opposite)."""
    d = abs(mood_index(a) - mood_index(b)) % len(MOODS)
    return min(d, len(MOODS) - d)


def scores_to_va(scores: dict[str, float]) -> tuple[float, float]:
    """Weighted mean direction of a mood distribution, as a (valence, arousal) point."""
    v = sum(p * mood_va(m)[0] for m, p in scores.items())
    a = sum(p * mood_va(m)[1] for m, p in scores.items())
    return v, a


@dataclass
class MoodPrediction:
    """One image's (or track's) mood: the label, its confidence, the (valence, arousal)
    point it came from, the soft scores over all 8 moods, and the evidence used
    (feature values, faces, classes) for explanation."""

    mood: str
    confidence: float
    valence: float
    arousal: float
    scores: dict[str, float] = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)

    def __post_init__(self):
        mood_index(self.mood)  # validates

    @classmethod
    def from_va(cls, valence: float, arousal: float, evidence: dict | None = None) -> "MoodPrediction":
        valence = float(max(-1.0, min(1.0, valence)))
        arousal = float(max(-1.0, min(1.0, arousal)))
        name, conf = mood_from_va(valence, arousal)
        return cls(name, conf, valence, arousal, mood_scores(valence, arousal), dict(evidence or {}))

    def to_dict(self) -> dict:
        return {"mood": self.mood, "confidence": round(float(self.confidence), 4),
                "valence": round(float(self.valence), 4), "arousal": round(float(self.arousal), 4),
                "scores": {k: round(float(v), 4) for k, v in self.scores.items()},
                "evidence": self.evidence}
