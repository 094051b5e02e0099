"""Frame features and VAD probabilities summarised per analysis step (1 s by default).

Each statistic is an array with one value per step; step ``i`` covers ``[i * step, (i + 1) *
step)`` seconds of the (zero-based) audio. Windowed statistics (low-energy ratio, onset rate,
tempo) look at a window centred on the step, so they are defined for short steps too.
"""
from __future__ import annotations

import numpy as np

from reelscope.audio.features import FrameFeatures, onset_peaks, tempo_curve


def _per_step(values: np.ndarray, idx: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    w = np.ones(len(values)) if weights is None else weights
    s = np.bincount(idx, values * w, minlength=n)[:n]
    c = np.bincount(idx, w, minlength=n)[:n]
    return (s / np.maximum(c, 1e-12)).astype(np.float32)


def step_stats(ff: FrameFeatures, vad: np.ndarray, step: float, n: int, *, ler_window: float = 2.0,
               onset_window: float = 2.0, tempo_window: float = 6.0) -> dict[str, np.ndarray]:
    """Per-step statistics: speech (mean VAD probability), rms_db, centroid (Hz, energy-weighted),
    tonal, clarity, voiced (share of voiced frames), pitch (median f0 of voiced frames, Hz, 0
    when under 10% voiced), pitch_range (semitones: 10-90th percentile of voiced f0), ler (share
    of frames under half the mean RMS of a ``ler_window`` window: speech pauses), onset_rate
    (onsets per second over ``onset_window``), tempo (BPM) and pulse (pulse clarity 0..1)."""
    nf = len(ff)
    hop = ff.hop_seconds
    times = ff.times
    idx = np.minimum((times // step).astype(int), n - 1)
    vad = np.asarray(vad, np.float32)
    if len(vad) < nf:
        vad = np.concatenate([vad, np.zeros(nf - len(vad), np.float32)])
    power = ff.rms.astype(np.float64) ** 2
    out = {
        "speech": _per_step(vad[:nf], idx, n),
        "rms_db": (10 * np.log10(np.maximum(_per_step(power, idx, n), 1e-10))).astype(np.float32),
        "centroid": _per_step(ff.centroid, idx, n, weights=ff.rms + 1e-6),
        "tonal": _per_step(ff.tonal, idx, n),
        "clarity": _per_step(ff.clarity, idx, n),
        "voiced": _per_step((ff.f0 > 0).astype(np.float32), idx, n),
    }
    centres = (np.arange(n) + 0.5) * step
    pitch = np.zeros(n, np.float32)
    prange = np.zeros(n, np.float32)
    ler = np.zeros(n, np.float32)
    onset_rate = np.zeros(n, np.float32)
    onsets = onset_peaks(ff.flux, hop)
    onset_times = onsets * hop + hop / 2
    half_l, half_o = ler_window / 2, onset_window / 2
    for i, c in enumerate(centres):
        a, b = int(i * step / hop), int((i + 1) * step / hop)
        f0 = ff.f0[a:b]
        f0 = f0[f0 > 0]
        if len(f0) and len(f0) >= 0.1 * max(b - a, 1):
            pitch[i] = float(np.median(f0))
            if len(f0) >= 3:
                st = 12 * np.log2(f0)
                prange[i] = float(np.percentile(st, 90) - np.percentile(st, 10))
        wa, wb = max(0, int((c - half_l) / hop)), min(nf, int((c + half_l) / hop))
        r = ff.rms[wa:wb]
        mean = float(r.mean()) if len(r) else 0.0
        ler[i] = float((r < 0.5 * mean).mean()) if mean > 1e-5 else 1.0
        lo, hi = max(0.0, c - half_o), min(nf * hop, c + half_o)
        if hi > lo:
            onset_rate[i] = float(((onset_times >= lo) & (onset_times < hi)).sum() / (hi - lo))
    tempo, pulse = tempo_curve(ff.flux, hop, centres, window_s=tempo_window)
    out.update(pitch=pitch, pitch_range=prange, ler=ler, onset_rate=onset_rate, tempo=tempo, pulse=pulse)
    return out
