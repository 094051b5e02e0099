"""Frame-level audio features at 16 kHz, written with NumPy/SciPy (no audio library on PyPI we
may use carries these without dragging in numba/llvm; the formulas are short and standard).

Frames: 64 ms Hann windows every 32 ms (hop = one Silero VAD frame), centred on the VAD frames,
so frame ``i`` is at ``(i + 0.5) * 0.032`` s.

- ``rms``: root mean square of the window (linear; ``rms_db`` = dBFS).
- ``centroid``: spectral centroid in Hz (brightness).
- ``flux``: onset strength, the half-wave rectified rise of log-magnitude in 40 log-spaced bands
  (60 Hz .. 8 kHz) from the previous frame, summed over bands.
- ``f0`` / ``clarity``: pitch by YIN (de Cheveigné & Kawahara 2002): cumulative mean normalised
  difference over a 32 ms integration window, lags 60..800 Hz, absolute threshold 0.15 then the
  local minimum; ``clarity`` = 1 - the CMND value at the chosen lag (1 = perfectly periodic).
  Frames quieter than -50 dBFS or above the threshold are unvoiced (f0 = 0).
- ``tonal``: spectral peak persistence above 300 Hz, the share of the frame's magnitude in
  the lobes of prominent peaks (local maxima at least 2.5x the mean of the 17 bins around
  them) that were prominent peaks, within one bin, in each of the 4 frames before (partials
  held for >= 160 ms). Measured per second on ../shared/data (bench/results/audio_segments.md):
  median 0.00-0.02 for the five speech files, 0.10-0.31 for the five music tracks, 0.00 for
  white noise and the crowd clip: held notes and chords score, speech's gliding harmonics and
  noise do not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

RATE = 16000
HOP = 512
WIN = 1024
YIN_WINDOW = 512
F0_MIN, F0_MAX = 60.0, 800.0
YIN_THRESHOLD = 0.15
VOICED_MIN_DB = -50.0
N_BANDS = 40
TONAL_PROMINENCE = 2.5  # a peak is this many times the mean magnitude of the 17 bins around it
TONAL_HOLD = 4  # ... and was a peak (within a bin) in this many frames before (4 x 32 ms)
TONAL_MIN_HZ = 300.0  # speech's strong low harmonics are steady too: look above them
CHUNK = 2048  # frames per vectorised chunk (bounded memory for long files)


@dataclass
class FrameFeatures:
    hop_seconds: float
    rms: np.ndarray
    centroid: np.ndarray
    flux: np.ndarray
    f0: np.ndarray
    clarity: np.ndarray
    tonal: np.ndarray

    def __len__(self) -> int:
        return len(self.rms)

    @property
    def rms_db(self) -> np.ndarray:
        return 20 * np.log10(np.maximum(self.rms, 1e-5))

    @property
    def times(self) -> np.ndarray:
        return (np.arange(len(self)) + 0.5) * self.hop_seconds


def _band_matrix(n_bins: int, rate: int) -> np.ndarray:
    freqs = np.linspace(0, rate / 2, n_bins)
    edges = np.geomspace(60.0, rate / 2, N_BANDS + 1)
    m = np.zeros((n_bins, N_BANDS), np.float32)
    for b in range(N_BANDS):
        sel = (freqs >= edges[b]) & (freqs < edges[b + 1])
        if not sel.any():  # narrow low bands: take the nearest bin
            sel = np.zeros(n_bins, bool)
            sel[int(np.argmin(np.abs(freqs - (edges[b] + edges[b + 1]) / 2)))] = True
        m[sel, b] = 1.0 / sel.sum()
    return m


def _frames(x: np.ndarray, n: int) -> np.ndarray:
    """(n, WIN) windows centred on VAD frame centres: pad WIN/2 - HOP/2 before."""
    lead = (WIN - HOP) // 2
    need = (n - 1) * HOP + WIN
    padded = np.zeros(need, np.float32)
    take = min(len(x), need - lead)
    padded[lead:lead + take] = x[:take]
    return np.lib.stride_tricks.sliding_window_view(padded, WIN)[::HOP][:n]


def yin(frames: np.ndarray, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    """(f0 Hz with 0 for unvoiced, clarity 0..1) per frame of ``frames`` (n, >= 2 * YIN_WINDOW)."""
    w = YIN_WINDOW
    tau_min, tau_max = int(rate / F0_MAX), min(int(rate / F0_MIN), frames.shape[1] - w - 1)
    x = frames.astype(np.float64)
    nfft = 1 << int(np.ceil(np.log2(frames.shape[1] + w)))
    r = np.fft.irfft(np.conj(np.fft.rfft(x[:, :w], nfft)) * np.fft.rfft(x, nfft), nfft)[:, :tau_max + 2]
    sq = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x * x, axis=1)], axis=1)
    taus = np.arange(tau_max + 2)
    e_tau = sq[:, taus + w] - sq[:, taus]
    d = np.maximum(e_tau[:, :1] + e_tau - 2 * r, 0.0)
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
    seg = cmnd[:, tau_min:tau_max + 1]
    below = seg < YIN_THRESHOLD
    has = below.any(axis=1)
    t = np.where(has, below.argmax(axis=1), seg.argmin(axis=1))
    rows = np.arange(len(seg))
    for _ in range(seg.shape[1]):  # slide down to the local minimum after the first dip
        nxt = np.minimum(t + 1, seg.shape[1] - 1)
        move = has & (seg[rows, nxt] < seg[rows, t])
        if not move.any():
            break
        t = np.where(move, nxt, t)
    val = seg[rows, t]
    # parabolic interpolation of the lag
    lo, hi = np.maximum(t - 1, 0), np.minimum(t + 1, seg.shape[1] - 1)
    a, b, c = seg[rows, lo], val, seg[rows, hi]
    den = a - 2 * b + c
    shift = np.where((np.abs(den) > 1e-12) & (lo < t) & (t < hi), 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
    lag = t + tau_min + np.clip(shift, -0.5, 0.5)
    f0 = np.where(has, rate / lag, 0.0)
    clarity = np.clip(1.0 - val, 0.0, 1.0)
    return f0.astype(np.float32), clarity.astype(np.float32)


def frame_features(samples: np.ndarray, rate: int = RATE) -> FrameFeatures:
    """Features of mono ``samples`` at ``rate`` (16 kHz expected), one row per 32 ms frame."""
    if rate != RATE:
        raise ValueError(f"frame_features expects {RATE} Hz audio, got {rate}")
    x = np.asarray(samples, np.float32).reshape(-1)
    n = max(1, -(-len(x) // HOP))
    window = np.hanning(WIN).astype(np.float32)
    freqs = np.fft.rfftfreq(WIN, 1 / rate).astype(np.float32)
    bands = _band_matrix(len(freqs), rate)
    out = {k: np.zeros(n, np.float32) for k in ("rms", "centroid", "flux", "f0", "clarity", "tonal")}
    prev_logband = None
    prev_wide = None
    lo_bin = int(np.ceil(TONAL_MIN_HZ / (rate / WIN)))
    frames_all = _frames(x, n)
    for i in range(0, n, CHUNK):
        fr = frames_all[i:i + CHUNK]
        out["rms"][i:i + len(fr)] = np.sqrt(np.mean(fr * fr, axis=1))
        mag = np.abs(np.fft.rfft(fr * window, axis=1)).astype(np.float32)
        total = mag.sum(axis=1)
        out["centroid"][i:i + len(fr)] = (mag @ freqs) / np.maximum(total, 1e-9)
        logband = np.log1p(1000.0 * (mag @ bands))
        prev = np.concatenate([logband[:1] if prev_logband is None else prev_logband[None], logband[:-1]])
        out["flux"][i:i + len(fr)] = np.maximum(logband - prev, 0).sum(axis=1)
        prev_logband = logband[-1]
        # sustained spectral peaks (see module docstring)
        local = uniform_filter1d(mag, 17, axis=1, mode="nearest")
        peaks = np.zeros_like(mag, bool)
        peaks[:, 2:-1] = (mag[:, 2:-1] > mag[:, 1:-2]) & (mag[:, 2:-1] >= mag[:, 3:]) & \
            (mag[:, 2:-1] > TONAL_PROMINENCE * local[:, 2:-1])
        peaks[:, :lo_bin] = False
        wide = peaks | np.roll(peaks, 1, axis=1) | np.roll(peaks, -1, axis=1)  # a partial may drift a bin
        hist = wide if prev_wide is None else np.concatenate([prev_wide, wide])
        off = len(hist) - len(fr)
        held = peaks.copy()
        for k in range(1, TONAL_HOLD + 1):
            rows = np.arange(off, off + len(fr)) - k
            held &= np.where((rows >= 0)[:, None], hist[np.maximum(rows, 0)], False)
        lobe = held | np.roll(held, 1, axis=1) | np.roll(held, -1, axis=1)
        out["tonal"][i:i + len(fr)] = (mag * lobe).sum(axis=1) / np.maximum(mag[:, lo_bin:].sum(axis=1), 1e-9)
        prev_wide = hist[-TONAL_HOLD:]
        f0, clar = yin(fr, rate)
        out["f0"][i:i + len(fr)] = f0
        out["clarity"][i:i + len(fr)] = clar
    quiet = 20 * np.log10(np.maximum(out["rms"], 1e-5)) < VOICED_MIN_DB
    out["f0"][quiet] = 0.0
    out["clarity"][quiet] = 0.0
    return FrameFeatures(hop_seconds=HOP / rate, **out)


# ---- rhythm --------------------------------------------------------------------------------
def onset_peaks(flux: np.ndarray, hop_seconds: float, window_s: float = 1.5, k: float = 1.5,
                min_gap_s: float = 0.1) -> np.ndarray:
    """Indices of onsets: local maxima of ``flux`` above median + k * MAD of a sliding window,
    at least ``min_gap_s`` apart."""
    from scipy.ndimage import maximum_filter1d, median_filter

    if len(flux) < 3:
        return np.zeros(0, int)
    size = max(3, int(round(window_s / hop_seconds)) | 1)
    med = median_filter(flux, size=size, mode="nearest")
    mad = median_filter(np.abs(flux - med), size=size, mode="nearest")
    floor = 0.05 * float(np.percentile(flux, 95)) if np.any(flux > 0) else 0.0
    thr = med + k * mad + floor
    gap = max(1, int(round(min_gap_s / hop_seconds)))
    local = flux == maximum_filter1d(flux, size=2 * gap + 1, mode="nearest")
    return np.flatnonzero(local & (flux > thr))


def tempo_curve(flux: np.ndarray, hop_seconds: float, centres: np.ndarray, window_s: float = 6.0,
                bpm_range: tuple[float, float] = (50.0, 200.0)) -> tuple[np.ndarray, np.ndarray]:
    """(bpm, pulse clarity 0..1) at each time in ``centres``: the strongest lag of the normalised
    autocorrelation of the mean-removed onset envelope in a ``window_s`` window. Pulse clarity is
    that autocorrelation value: near 0 for speech/noise, 0.3-0.8 for music with a beat."""
    half = int(round(window_s / hop_seconds / 2))
    lag_lo = max(1, int(round(60.0 / bpm_range[1] / hop_seconds)))
    lag_hi = int(round(60.0 / bpm_range[0] / hop_seconds))
    bpm = np.zeros(len(centres), np.float32)
    clarity = np.zeros(len(centres), np.float32)
    for j, t in enumerate(centres):
        c = int(round(t / hop_seconds))
        seg = flux[max(0, c - half):c + half].astype(np.float64)
        if len(seg) < 2 * lag_hi:
            continue
        seg = seg - seg.mean()
        energy = float(seg @ seg)
        if energy <= 1e-12:
            continue
        ac = np.array([seg[:-lag] @ seg[lag:] for lag in range(lag_lo, lag_hi + 1)]) / energy
        ac *= len(seg) / (len(seg) - np.arange(lag_lo, lag_hi + 1))  # unbiased
        k = int(np.argmax(ac))
        clarity[j] = float(np.clip(ac[k], 0.0, 1.0))
        bpm[j] = 60.0 / ((lag_lo + k) * hop_seconds)
    return bpm, clarity
