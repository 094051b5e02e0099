"""The emotion curve of a video: valence (-1..1), arousal (0..1) and the dominant emotion over
time, per step (1 s) and per shot, fused from the facial expressions of on-screen faces and
the audio's arousal (reelscope.audio.arousal).

Faces -> valence/arousal. Each face carries the 7 FER probabilities of
reelscope.vision.expression; its (valence, arousal) is the probability-weighted mean of the
classes' positions on Russell's circumplex (Russell 1980), table ``CIRCUMPLEX`` below. The
figures are rounded from the pleasure/arousal ratings that Russell & Mehrabian (1977) give for
these emotion terms, as commonly used in affective computing; "neutral" sits at the origin.
Arousal -1..1 is mapped to 0..1 as (a + 1) / 2, so a neutral face is 0.5.

Weights: a face counts ``score x size`` where size = min(1, max(0.1, face height / frame height
/ 0.25)): a face filling a quarter of the frame height or more counts fully, background faces
down to 0.1. A sampled frame's expression is the weighted mean over its faces; its weight is
its largest face weight. Per step, frames are averaged by weight; ``presence`` is the summed
frame weight per expected sampled frame (1 = a clear face on every sampled frame).

Smoothing: a Gaussian of ``sigma`` seconds (1.5 s), as a normalised convolution over the
steps that have faces (gaps do not pull values to zero); presence is smoothed alike.

Fusion per step, with k = min(1, 2 x smoothed presence) the confidence in the faces:
- valence = k x face valence (faces are the only valence cue; without faces it stays 0, not
  guessed);
- arousal = (0.7 A_audio + 0.3 k A_face) / (0.7 + 0.3 k) where audio is present: the audio
  drives arousal (loudness, tempo, event density carry it better than a face's class), the
  faces move it; without audio it is A_face; with neither, the mean of the video's other steps
  (0.5 if none), with confidence 0;
- dominant = the class with the largest smoothed probability where k >= 0.1, else "none";
- confidence = (0.7 [audio present] + 0.3 k) / (0.7 + 0.3) for arousal-backed steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# (valence, arousal) in -1..1 for each FER class (see module docstring)
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "angry": (-0.51, 0.59),
    "disgust": (-0.60, 0.35),
    "fear": (-0.64, 0.60),
    "happy": (0.81, 0.51),
    "sad": (-0.63, -0.27),
    "surprise": (0.40, 0.67),
    "neutral": (0.0, 0.0),
}
_V = np.array([CIRCUMPLEX[e][0] for e in EMOTIONS])
_A = np.array([(CIRCUMPLEX[e][1] + 1) / 2 for e in EMOTIONS])

AUDIO_WEIGHT = 0.7
FACE_WEIGHT = 0.3
NEUTRAL_AROUSAL = 0.5
MIN_FACE_CONFIDENCE = 0.1  # k under this (the Gaussian's tails far from any face): no dominant emotion


@dataclass
class EmotionResult:
    step: float                 # seconds between samples (1.0 default)
    valence: np.ndarray         # float, -1..1, one per step, covering the whole video
    arousal: np.ndarray         # float, 0..1
    dominant: list[str]         # per step: one of EMOTIONS or "none"
    per_shot: list[dict]        # one per shot, in order: {"shot", "valence", "arousal", "dominant",
                                #   "face_share", "audio_arousal"}
    sources: dict = field(default_factory=dict)  # which signals were available/used, weights
    confidence: np.ndarray | None = None  # 0..1 per step: how much signal backs the step

    def times(self) -> np.ndarray:
        """Centre time of each step (seconds)."""
        return (np.arange(len(self.valence)) + 0.5) * self.step


@dataclass
class FaceSample:
    """One sampled frame that has faces: its time, its weight and its mean expression."""
    time: float
    weight: float  # 0..1
    probs: np.ndarray | None  # (7,) weighted mean probabilities; None when no expressions were classified


@dataclass
class ShotSpan:
    index: int
    start: float  # seconds
    end: float


def face_weight(score: float, box_h: float, frame_h: float) -> float:
    size = min(1.0, max(0.1, (box_h / max(frame_h, 1.0)) / 0.25))
    return float(np.clip(score, 0.0, 1.0)) * size


def face_samples(face_pass, frame_height: int, fps: float) -> list[FaceSample]:
    """FaceSamples from a faces pass (reelscope.people.video_faces.FacePass: ``frames`` are
    Detections with boxes in video pixels and ``data[i]["expression"]`` = {label, scores})."""
    out = []
    for dets in getattr(face_pass, "frames", []) or []:
        if not len(dets):
            continue
        t = face_pass.times.get(dets.frame, dets.frame / fps) if dets.frame is not None else 0.0
        weights, probs = [], []
        for i in range(len(dets)):
            w = face_weight(float(dets.scores[i]), float(dets.boxes[i][3]), frame_height)
            weights.append(w)
            ex = (dets.data[i] or {}).get("expression") if dets.data else None
            scores = ex.get("scores") if isinstance(ex, dict) else None
            probs.append(np.array([float(scores.get(e, 0.0)) for e in EMOTIONS]) if scores else None)
        w = np.array(weights)
        have = [k for k, p in enumerate(probs) if p is not None]
        mean = None
        if have and w[have].sum() > 0:
            mean = np.sum([w[k] * probs[k] for k in have], axis=0) / w[have].sum()
            mean = mean / max(mean.sum(), 1e-9)
        out.append(FaceSample(float(t), float(w.max()), mean))
    return out


def shot_spans(shots: Sequence, frame_times: Sequence[float] | None, fps: float, frame_count: int) -> list[ShotSpan]:
    """Time spans of shots (reelscope.shots.types.Shot: index, start, end frames)."""
    times = list(frame_times or [])

    def at(frame: int) -> float:
        if frame < len(times):
            return float(times[frame])
        return (times[-1] + (frame - len(times) + 1) / fps) if times else frame / fps

    return [ShotSpan(s.index, at(s.start), at(min(s.end + 1, max(frame_count, s.end + 1)))) for s in shots]


def _smooth(x: np.ndarray, sigma_steps: float) -> np.ndarray:
    if sigma_steps <= 0 or len(x) < 2:
        return np.asarray(x, np.float64)
    from scipy.ndimage import gaussian_filter1d
    return gaussian_filter1d(np.asarray(x, np.float64), sigma_steps, axis=0, mode="constant")


def _resample(values: np.ndarray, src_step: float, step: float, n: int) -> np.ndarray:
    """Values of a curve sampled every ``src_step`` (from 0) at the centres of ``n`` steps;
    NaN past its end."""
    src_t = (np.arange(len(values)) + 0.5) * src_step
    t = (np.arange(n) + 0.5) * step
    out = np.interp(t, src_t, values) if len(values) else np.full(n, np.nan)
    out = np.asarray(out, np.float64)
    if len(values):
        out[t > len(values) * src_step] = np.nan
    return out


def fuse(duration: float, shots: Sequence[ShotSpan], faces: Sequence[FaceSample], audio_arousal: np.ndarray | None,
         *, audio_step: float = 1.0, step: float = 1.0, sigma: float = 1.5, sample_fps: float = 2.0,
         audio_weight: float = AUDIO_WEIGHT, face_weight_: float = FACE_WEIGHT) -> EmotionResult:
    """The emotion curve from face samples and an audio arousal curve (either may be empty/None)."""
    if step <= 0:
        raise ValueError("step must be positive")
    n = max(1, int(np.ceil(duration / step - 1e-9)))
    # ---- faces per step
    wsum = np.zeros(n)
    psum = np.zeros((n, len(EMOTIONS)))
    pw = np.zeros(n)  # weight of samples that carry expressions
    for f in faces:
        i = min(max(int(f.time // step), 0), n - 1)
        wsum[i] += f.weight
        if f.probs is not None:
            psum[i] += f.weight * f.probs
            pw[i] += f.weight
    expected = max(step * sample_fps, 1.0)
    sig = sigma / step
    presence = np.clip(_smooth(wsum / expected, sig), 0, 1)
    k = np.clip(2 * presence, 0, 1)
    sp, spw = _smooth(psum, sig), _smooth(pw, sig)
    has_expr = spw > 1e-6
    probs = np.where(has_expr[:, None], sp / np.maximum(spw, 1e-12)[:, None], 0.0)
    k = np.where(has_expr, k, 0.0)
    face_v = probs @ _V
    face_a = probs @ _A
    # ---- audio
    audio = None
    if audio_arousal is not None and len(audio_arousal):
        audio = _resample(np.asarray(audio_arousal, np.float64), audio_step, step, n)
    has_audio = np.isfinite(audio) if audio is not None else np.zeros(n, bool)
    # ---- fusion
    valence = k * face_v
    arousal = np.full(n, np.nan)
    if audio is not None:
        both = has_audio
        arousal[both] = (audio_weight * audio[both] + face_weight_ * k[both] * face_a[both]) / \
            (audio_weight + face_weight_ * k[both])
    only_face = ~has_audio & (k > 0)
    arousal[only_face] = face_a[only_face]
    missing = ~np.isfinite(arousal)
    if missing.any():
        arousal[missing] = float(np.mean(arousal[~missing])) if (~missing).any() else NEUTRAL_AROUSAL
    confidence = (audio_weight * has_audio + face_weight_ * k) / (audio_weight + face_weight_)
    dominant = [EMOTIONS[int(np.argmax(probs[i]))] if k[i] >= MIN_FACE_CONFIDENCE else "none" for i in range(n)]
    # ---- per shot
    per_shot = []
    for s in shots:
        lo, hi = s.start / step, s.end / step
        idx = np.arange(max(int(np.floor(lo)), 0), min(int(np.ceil(hi)), n))
        ov = np.clip(np.minimum(idx + 1, hi) - np.maximum(idx, lo), 0, None)
        if ov.sum() <= 0:  # a shot shorter than nothing or past the end: nearest step
            idx, ov = np.array([min(max(int(lo), 0), n - 1)]), np.array([1.0])
        wmean = lambda x: float(np.sum(ov * x[idx]) / np.sum(ov))  # noqa: E731
        in_shot = [f for f in faces if s.start <= f.time < s.end]
        with_probs = [f for f in in_shot if f.probs is not None]
        dom = "none"
        if with_probs:
            tot = np.sum([f.weight * f.probs for f in with_probs], axis=0)
            dom = EMOTIONS[int(np.argmax(tot))]
        expected_samples = max((s.end - s.start) * sample_fps, 1.0)
        a_audio = None
        if audio is not None and np.isfinite(audio[idx]).any():
            ok = np.isfinite(audio[idx])
            a_audio = round(float(np.sum(ov[ok] * audio[idx][ok]) / max(np.sum(ov[ok]), 1e-12)), 4)
        per_shot.append({"shot": s.index, "valence": round(wmean(valence), 4), "arousal": round(wmean(arousal), 4),
                         "dominant": dom, "face_share": round(min(1.0, len(in_shot) / expected_samples), 4),
                         "audio_arousal": a_audio})
    sources = {"faces": bool(len(faces)), "face_expressions": bool(pw.sum() > 0), "audio": bool(has_audio.any()),
               "face_samples": len(faces),
               "weights": {"arousal": {"audio": round(audio_weight, 4), "faces": round(face_weight_, 4)},
                           "valence": {"faces": 1.0}},
               "sigma": sigma, "circumplex": {e: list(v) for e, v in CIRCUMPLEX.items()}}
    return EmotionResult(step=step, valence=np.clip(valence, -1, 1).astype(np.float32),
                         arousal=np.clip(arousal, 0, 1).astype(np.float32), dominant=dominant, per_shot=per_shot,
                         sources=sources, confidence=np.clip(confidence, 0, 1).astype(np.float32))
