"""Offline image signals for mood: colour statistics, texture, and faces with expressions.

Colour statistics are computed on a copy at most 256 px wide, after trimming black borders
(letterbox / pillarbox bars would otherwise read as "dark"):

    brightness     mean CIELAB L* / 100                           0..1
    saturation     mean HSV saturation of pixels with value > 0.1 0..1
    colourfulness  Hasler & Süsstrunk (2003) M = σ_rgyb + 0.3 μ_rgyb on 0..255 RGB, / 100
    contrast       standard deviation of L* / 100 (RMS contrast)
    warmth         (warm - cool) / (warm + cool) of chroma-weighted hues; warm = reds, oranges,
                   yellows (330°..75°), cool = cyans, blues, violets (165°..285°)  -1..1
    edges          fraction of Canny edge pixels (busy, detailed, agitated scenes)
    dark, bright   fractions of pixels with L* < 15 and L* > 85
    red            fraction of strongly saturated red pixels (hue 345°..15°, S > .5, V > .3)
    hue_hist       12 chroma-weighted hue bins of 30° (for trained heads)

Faces: the project's face detector (BlazeFace by default) and the FER mini-Xception
expression classifier; each face contributes its 7 expression probabilities, weighted by
its detection score and the square root of its area share.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from reelscope.vision.face_detect import as_rgb

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
COLOUR_KEYS = ("brightness", "saturation", "colourfulness", "contrast", "warmth", "edges", "dark", "bright", "red")
HUE_BINS = 12
FACE_KEYS = ("faces", "face_area") + tuple(f"face_{e}" for e in EXPRESSIONS)


def trim_borders(rgb: np.ndarray, thresh: int = 18, min_keep: float = 0.4) -> np.ndarray:
    """Drop uniform near-black rows/columns at the edges (letterbox and pillarbox bars).
    Keeps at least ``min_keep`` of each side so a black frame stays a black frame."""
    grey = rgb.max(axis=2)
    h, w = grey.shape
    rows = np.flatnonzero(np.percentile(grey, 95, axis=1) > thresh)
    cols = np.flatnonzero(np.percentile(grey, 95, axis=0) > thresh)
    if len(rows) == 0 or len(cols) == 0:
        return rgb
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (r1 - r0) < min_keep * h or (c1 - c0) < min_keep * w:
        return rgb
    return rgb[r0:r1, c0:c1]


def _small(rgb: np.ndarray, width: int = 256) -> np.ndarray:
    h, w = rgb.shape[:2]
    if w <= width:
        return rgb
    return cv2.resize(rgb, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def colour_features(rgb: np.ndarray) -> dict:
    """The colour statistics above, as floats (and ``hue_hist`` as a list of 12)."""
    img = _small(trim_borders(as_rgb(rgb)))
    f = img.astype(np.float32) / 255.0
    hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV)  # H 0..360, S, V 0..1
    lab = cv2.cvtColor(f, cv2.COLOR_RGB2Lab)  # L 0..100, a, b about -128..127
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    L = lab[..., 0]
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    lit = val > 0.1
    r, g, b = (f[..., k] * 255.0 for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    wgt = chroma * lit
    warm = float(wgt[(hue >= 330) | (hue < 75)].sum())
    cool = float(wgt[(hue >= 165) & (hue < 285)].sum())
    grey8 = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    med = float(np.median(grey8))
    edges = cv2.Canny(grey8, max(10.0, 0.66 * med), max(30.0, min(255.0, 1.33 * med)))
    hist, _ = np.histogram(hue, bins=HUE_BINS, range=(0, 360), weights=wgt)
    total = float(hist.sum())
    return {
        "brightness": float(L.mean() / 100.0),
        "saturation": float(sat[lit].mean()) if lit.any() else 0.0,
        "colourfulness": float(colourful / 100.0),
        "contrast": float(L.std() / 100.0),
        "warmth": (warm - cool) / (warm + cool) if warm + cool > 1e-6 else 0.0,
        "edges": float((edges > 0).mean()),
        "dark": float((L < 15).mean()),
        "bright": float((L > 85).mean()),
        "red": float((((hue >= 345) | (hue < 15)) & (sat > 0.5) & (val > 0.3)).mean()),
        "hue_hist": [float(x / total) if total > 0 else 0.0 for x in hist],
    }


@dataclass
class FaceEvidence:
    count: int = 0
    area: float = 0.0  # largest face's share of the image area
    expressions: dict[str, float] = field(default_factory=dict)  # weighted mean probabilities
    faces: list[dict] = field(default_factory=list)  # per face: box, score, expression

    def vector(self) -> list[float]:
        return [min(self.count, 5) / 5.0, min(1.0, self.area * 4.0)] + \
               [float(self.expressions.get(e, 0.0)) for e in EXPRESSIONS]

    def to_dict(self) -> dict:
        return {"count": self.count, "largest_area": round(self.area, 4),
                "expressions": {k: round(v, 4) for k, v in self.expressions.items()}, "faces": self.faces}


class FaceSignals:
    """Faces and their expressions in an image (models loaded on first use)."""

    def __init__(self, detector: str = "blazeface", min_score: float = 0.6, max_width: int = 640):
        self.detector_name = detector
        self.min_score = min_score
        self.max_width = max_width
        self._det = None
        self._expr = None

    def __call__(self, rgb: np.ndarray) -> FaceEvidence:
        from reelscope.vision.expression import ExpressionClassifier
        from reelscope.vision.face_detect import make_face_detector
        if self._det is None:
            self._det = make_face_detector(self.detector_name, min_score=self.min_score)
            self._expr = ExpressionClassifier()
        img = _small(as_rgb(rgb), self.max_width)
        det = self._det.detect(img)
        if len(det) == 0:
            return FaceEvidence()
        probs = self._expr.face_probabilities(img, det)
        area = (det.boxes[:, 2] * det.boxes[:, 3]) / float(img.shape[0] * img.shape[1])
        w = np.sqrt(np.clip(area, 1e-6, 1.0)) * det.scores
        mean = (probs * w[:, None]).sum(0) / max(float(w.sum()), 1e-9)
        faces = [{"box": [round(float(v), 1) for v in det.boxes[i]], "score": round(float(det.scores[i]), 3),
                  "expression": EXPRESSIONS[int(probs[i].argmax())],
                  "expression_score": round(float(probs[i].max()), 3)} for i in range(len(det))]
        return FaceEvidence(len(det), float(area.max()), {e: float(p) for e, p in zip(EXPRESSIONS, mean)}, faces)


def feature_vector(colour: dict, faces: FaceEvidence | None) -> np.ndarray:
    """The fixed-order vector trained heads use: colour stats, hue histogram, face summary."""
    faces = faces or FaceEvidence()
    return np.array([colour[k] for k in COLOUR_KEYS] + list(colour["hue_hist"]) + faces.vector(), np.float32)


FEATURE_NAMES = COLOUR_KEYS + tuple(f"hue_{i * 30}" for i in range(HUE_BINS)) + FACE_KEYS
