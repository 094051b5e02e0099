"""Audio arousal: a 0..1 curve of how activated the soundtrack sounds, from normalised features.

Arousal (the calm-excited axis of Russell's circumplex) is carried in audio mostly by loudness,
tempo/event density, spectral brightness and, in voices, pitch height and range (Juslin &
Laukka 2003, review of vocal and musical cues; Weninger et al. 2013, loudness and spectral
features as the most arousal-relevant acoustic descriptors across speech, music and sound). No
labelled arousal data is at hand offline, so the weights are a documented heuristic, not fit:

    A = g * (0.40 L + 0.20 R + 0.15 B + 0.15 P + 0.10 T) / (sum of weights present)
      with L = (loudness + 50) / 40           1 s loudness, -50 LUFS -> 0, -10 LUFS -> 1
           R = onset_rate / 6                 acoustic events per second (syllables, notes, hits)
           B = (centroid - 300) / 2700        spectral centroid in Hz: dull -> bright
           P = 0.5 + (pitch - median pitch) / 12 semitones + pitch_range / 24
                                              voiced steps only (relative to the file's own voice)
           T = pulse * (tempo - 60) / 120     a clear beat at a fast tempo
           g = (loudness + 60) / 20           near-silence carries no arousal
    every term clipped to 0..1; then smoothed with a Gaussian of ``sigma`` seconds.

P is left out (and the weights renormalised) on steps with no voiced pitch. Loudness is absolute
(LUFS), so a quiet film scores low everywhere: arousal is comparable across videos.
"""
from __future__ import annotations

import numpy as np

WEIGHTS = {"loudness": 0.40, "events": 0.20, "brightness": 0.15, "pitch": 0.15, "tempo": 0.10}


def gaussian_smooth(x: np.ndarray, sigma_steps: float) -> np.ndarray:
    if sigma_steps <= 0 or len(x) < 2:
        return np.asarray(x, np.float32)
    from scipy.ndimage import gaussian_filter1d
    return gaussian_filter1d(np.asarray(x, np.float64), sigma_steps, mode="nearest").astype(np.float32)


def arousal_terms(loudness: np.ndarray, stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The clipped 0..1 terms of the formula (``pitch`` is NaN where no pitch)."""
    c = lambda v: np.clip(v, 0.0, 1.0).astype(np.float32)  # noqa: E731
    pitch = stats["pitch"]
    voiced = pitch > 0
    p = np.full(len(pitch), np.nan, np.float32)
    if voiced.any():
        med = float(np.median(pitch[voiced]))
        semis = 12 * np.log2(np.maximum(pitch[voiced], 1.0) / med)
        p[voiced] = c(0.5 + semis / 12 + stats["pitch_range"][voiced] / 24)
    return {
        "loudness": c((loudness + 50.0) / 40.0),
        "events": c(stats["onset_rate"] / 6.0),
        "brightness": c((stats["centroid"] - 300.0) / 2700.0),
        "pitch": p,
        "tempo": c(stats["pulse"] * (stats["tempo"] - 60.0) / 120.0),
    }


def arousal_curve(loudness: np.ndarray, stats: dict[str, np.ndarray], step: float = 1.0,
                  sigma: float = 1.0) -> np.ndarray:
    terms = arousal_terms(loudness, stats)
    num = np.zeros(len(loudness), np.float64)
    den = np.zeros(len(loudness), np.float64)
    for k, w in WEIGHTS.items():
        v = terms[k]
        ok = np.isfinite(v)
        num[ok] += w * v[ok]
        den[ok] += w
    gate = np.clip((loudness + 60.0) / 20.0, 0.0, 1.0)
    raw = gate * num / np.maximum(den, 1e-9)
    return np.clip(gaussian_smooth(raw, sigma / step), 0.0, 1.0)
