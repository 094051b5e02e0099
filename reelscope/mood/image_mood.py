"""Image mood: one of the 8 moods of :mod:`reelscope.mood.circle` per image, with a confidence.

Default predictor (no training, offline): colour statistics and faces with expressions
(:mod:`reelscope.mood.image_features`) give a point on the valence/arousal plane, which
:func:`reelscope.mood.circle.mood_from_va` turns into a mood and a confidence.

Colour. With z(x) = (x - centre) / spread (``REFERENCE``: medians and spreads measured on
frames of the project's test media; see BENCHMARKS.md "Mood"):

    valence_c = tanh(0.5 * (0.45 z(brightness) + 0.30 z(colourfulness) + 0.70 warmth
                            - 0.25 z(dark) + 0.10 z(saturation)))
    arousal_c = tanh(0.5 * (0.45 z(saturation) + 0.35 z(contrast) + 0.35 z(edges)
                            + 0.20 z(colourfulness) + 0.30 z(red) - 0.20 z(brightness)) - 0.15)

after the colour-emotion findings of Valdez & Mehrabian (1994: pleasure rises with brightness
and, less, saturation; arousal rises with saturation) and the common cinematographic reading
of warm light as pleasant and cold light as distant; contrast and edge density (busy, agitated
scenes) raise arousal. The -0.15 offset makes an ordinary, unremarkable frame "calm" rather
than exactly neutral.

Faces. Each face's 7 FER expression probabilities map to a point (``EXPRESSION_VA``, after
Russell's circumplex placements of the basic emotions); the faces' mean point
(score x sqrt(area) weighted) is blended in with weight

    w = clip(0.25 + 3 * largest_face_area, 0.25, 0.7) * (1 - 0.6 * p_neutral)

so a large expressive face dominates, a small or neutral one barely moves the colour estimate.

Content (``content=True``): the picture's ImageNet classes read through sentence embeddings
(:mod:`reelscope.mood.content`) give a second point, mixed in at the fixed weight 0.5. When the
classifier or the text model is not installed the predictor falls back to colour and faces
(``content_error`` says why). Off by default: see BENCHMARKS.md "Mood" for its measured effect.

Trained head: ``ImageMoodPredictor(model="mood.json")`` uses a model written by
``reelscope train mood`` (:mod:`reelscope.mood.mood_train`) instead of the formula.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from reelscope.errors import MediaError
from reelscope.media.image import read_image
from reelscope.mood.circle import MOODS, MoodPrediction, mood_from_va, scores_to_va
from reelscope.mood.image_features import (
    EXPRESSIONS,
    FaceEvidence,
    FaceSignals,
    colour_features,
    feature_vector,
)

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".ppm", ".pgm"}

# (centre, spread) of each colour statistic; centres are medians over the labelled frames of
# the test media, spreads their standard deviations (rounded)
REFERENCE = {"brightness": (0.50, 0.16), "saturation": (0.27, 0.13), "colourfulness": (0.32, 0.17),
             "contrast": (0.21, 0.065), "edges": (0.12, 0.08), "dark": (0.05, 0.19), "red": (0.0, 0.025)}
VALENCE_W = {"brightness": 0.45, "colourfulness": 0.30, "dark": -0.25, "saturation": 0.10}
WARMTH_W = 0.70
AROUSAL_W = {"saturation": 0.45, "contrast": 0.35, "edges": 0.35, "colourfulness": 0.20, "red": 0.30,
             "brightness": -0.20}
AROUSAL_OFFSET = -0.15
GAIN = 0.5

# (valence, arousal) of the FER expressions on the circumplex
EXPRESSION_VA = {"angry": (-0.6, 0.7), "disgust": (-0.7, 0.3), "fear": (-0.6, 0.7), "happy": (0.85, 0.35),
                 "sad": (-0.75, -0.4), "surprise": (0.2, 0.85), "neutral": (0.0, -0.1)}


def _z(colour: dict, key: str) -> float:
    c, s = REFERENCE[key]
    return (float(colour[key]) - c) / s


def colour_va(colour: dict) -> tuple[float, float]:
    """(valence, arousal) of an image's colour statistics (formula in the module docstring)."""
    v = sum(w * _z(colour, k) for k, w in VALENCE_W.items()) + WARMTH_W * float(colour["warmth"])
    a = sum(w * min(_z(colour, k), 4.0) for k, w in AROUSAL_W.items())
    return math.tanh(GAIN * v), math.tanh(GAIN * a + AROUSAL_OFFSET)


def face_va(faces: FaceEvidence) -> tuple[float, float, float]:
    """(valence, arousal, blend weight) of the faces; weight 0 without faces."""
    if not faces.count or not faces.expressions:
        return 0.0, 0.0, 0.0
    p = faces.expressions
    v = sum(p.get(e, 0.0) * EXPRESSION_VA[e][0] for e in EXPRESSIONS)
    a = sum(p.get(e, 0.0) * EXPRESSION_VA[e][1] for e in EXPRESSIONS)
    w = min(0.7, max(0.25, 0.25 + 3.0 * faces.area)) * (1.0 - 0.6 * p.get("neutral", 0.0))
    return v, a, w


# ---- reading images ------------------------------------------------------------------------

def load_image(spec: str | Path) -> np.ndarray:
    """RGB uint8 of an image file, or of one frame of a video/GIF.

    ``path`` of an image file reads it (OpenCV); ``video.mp4#120`` is frame 120 (0-based,
    presentation order) of a video or GIF; a video or GIF without ``#`` gives its middle frame.
    Raises MediaError naming the file when it cannot be read."""
    p, frame = _split_spec(spec)
    if frame is None and p.suffix.lower() in IMAGE_EXTS:
        return read_image(p)
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a directory, not an image")
    if p.stat().st_size == 0:
        raise MediaError(p, "file is empty (0 bytes)")
    return _video_frame(p, frame)


def _split_spec(spec: str | Path) -> tuple[Path, int | None]:
    text = str(spec)
    if "#" in text and not Path(text).exists():
        head, _, tail = text.rpartition("#")
        if tail.isdigit():
            return Path(head), int(tail)
    return Path(text), None


def load_images(specs: Iterable[str | Path]) -> list[np.ndarray | str]:
    """:func:`load_image` for many specs, decoding each video once for all its wanted frames.
    Each entry is the RGB image or an error string naming the file and the problem."""
    specs = [str(s) for s in specs]
    out: list[np.ndarray | str | None] = [None] * len(specs)
    by_video: dict[Path, dict[int, list[int]]] = {}
    for i, s in enumerate(specs):
        p, frame = _split_spec(s)
        if frame is None:
            try:
                out[i] = load_image(s)
            except MediaError as e:
                out[i] = str(e)
        else:
            by_video.setdefault(p, {}).setdefault(frame, []).append(i)
    for p, frames in by_video.items():
        try:
            got = _video_frames(p, set(frames))
        except MediaError as e:
            got = {}
            for idx in frames.values():
                for i in idx:
                    out[i] = str(e)
            continue
        for f, idx in frames.items():
            for i in idx:
                out[i] = got[f] if f in got else f"{p}: has no decodable frame {f}"
    return out  # type: ignore[return-value]


def _video_frames(p: Path, frames: set[int]) -> dict[int, np.ndarray]:
    from reelscope.media.decode import FrameSpec, iter_frames
    from reelscope.media.info import probe
    info = probe(p)
    w = min(960, info.width) or info.width
    h = max(2, int(round(info.height * w / max(info.width, 1) / 2)) * 2)
    spec = FrameSpec("rgb", w, h)
    return {fr.index: fr[spec] for fr in iter_frames(p, [spec], rotation=info.rotation, only=frames)}


def _video_frame(p: Path, frame: int | None) -> np.ndarray:
    if frame is None:
        from reelscope.media.info import probe
        frame = max(0, (probe(p).frame_count_hint or 1) // 2)
    got = _video_frames(p, {frame})
    if frame not in got:
        raise MediaError(p, f"has no decodable frame {frame}")
    return got[frame]


# ---- the predictor ------------------------------------------------------------------------

class ImageMoodPredictor:
    """``predict(rgb) -> MoodPrediction``; ``predict_paths(paths) -> [(path, MoodPrediction | error)]``.

    ``faces``: use faces and expressions (default True; False = colour only, ~10x faster).
    ``model``: path of a model trained with ``reelscope train mood`` (replaces the formula).
    ``face_detector``: backend name for :func:`reelscope.vision.face_detect.make_face_detector`.
    ``content``: add the scene-content cue (:mod:`reelscope.mood.content`, ~100 ms per image);
    falls back to colour and faces, with ``content_error`` set, when its models are missing.
    """

    def __init__(self, model: str | Path | None = None, faces: bool = True, face_detector: str = "blazeface",
                 content: bool = False, content_weight: float | None = None):
        self.use_faces = bool(faces)
        self.content = None
        self.content_error: str | None = None
        self.content_weight = content_weight
        if content and not model:
            from reelscope.errors import ReelscopeError
            from reelscope.mood.content import ContentCue
            try:
                self.content = ContentCue()
            except (ReelscopeError, OSError, ImportError) as e:
                self.content_error = str(e)
        self.face_signals = FaceSignals(face_detector) if self.use_faces else None
        self.model = None
        if model:
            from reelscope.mood.mood_train import load_model
            self.model = load_model(model)
            if self.model.needs_faces and not self.use_faces:
                raise ValueError(f"{model}: the model was trained with face features; faces=False cannot be used")

    @property
    def name(self) -> str:
        if self.model:
            return f"trained:{self.model.path.name}"
        return ("colour+faces" if self.use_faces else "colour") + ("+content" if self.content else "")

    def params(self) -> dict:
        return {"predictor": self.name, "faces": self.use_faces, "content": self.content is not None}

    def faces_of(self, rgb: np.ndarray) -> FaceEvidence:
        return self.face_signals(rgb) if self.face_signals is not None else FaceEvidence()

    def predict(self, rgb: np.ndarray) -> MoodPrediction:
        colour = colour_features(rgb)
        faces = self.faces_of(rgb)
        evidence = {"colour": {k: round(v, 4) for k, v in colour.items() if k != "hue_hist"},
                    "faces": faces.to_dict(), "predictor": self.name}
        if self.model is not None:
            scores = self.model.scores(rgb, colour, faces)
            mood = max(scores, key=scores.get)
            v, a = scores_to_va(scores)
            return MoodPrediction(mood, float(scores[mood]), float(v), float(a), scores, evidence)
        vc, ac = colour_va(colour)
        vf, af, w = face_va(faces)
        v, a = (1 - w) * vc + w * vf, (1 - w) * ac + w * af
        evidence["colour_va"] = [round(vc, 4), round(ac, 4)]
        if w:
            evidence["face_va"] = [round(vf, 4), round(af, 4), round(w, 3)]
        if self.content is not None:
            from reelscope.mood.content import CONTENT_WEIGHT, blend
            vt, at, ev = self.content.va(rgb)
            cw = CONTENT_WEIGHT if self.content_weight is None else self.content_weight
            v, a = blend((v, a), (vt, at), cw)
            evidence["content"] = {**ev, "weight": cw}
        return MoodPrediction.from_va(v, a, evidence)

    def features(self, rgb: np.ndarray) -> np.ndarray:
        """The hand-crafted feature vector trained heads use (colour, hue histogram, faces)."""
        return feature_vector(colour_features(rgb), self.faces_of(rgb))

    def predict_paths(self, paths: Iterable[str | Path], progress=None) -> list[tuple[str, MoodPrediction | str]]:
        """Each path's prediction, or an error string naming the file and the problem (bad files
        are reported and skipped, never abort the batch). ``progress(done, total)``."""
        paths = [str(p) for p in paths]
        out: list[tuple[str, MoodPrediction | str]] = []
        for i, (p, img) in enumerate(zip(paths, load_images(paths))):
            if isinstance(img, str):
                out.append((p, img))
            else:
                try:
                    out.append((p, self.predict(img)))
                except (ValueError, cv2.error) as e:
                    out.append((p, f"{p}: cannot analyse image: {e}"))
            if progress:
                progress(i + 1, len(paths))
        return out


__all__ = ["ImageMoodPredictor", "load_image", "load_images", "colour_va", "face_va", "MOODS", "mood_from_va"]
