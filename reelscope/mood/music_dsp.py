"""Signal processing for music mood, in NumPy/SciPy: spectrogram, onset strength, tempo, beats,
chroma and key.

Written here rather than taken from librosa: librosa pulls numba/llvmlite (a JIT compile on
first use that costs tens of seconds on a 2-core machine) for the handful of classic
algorithms below, each a few lines:

- onset strength: half-wave rectified first difference of a log-compressed mel spectrogram,
  averaged over bands, minus its local mean (the spectral-flux novelty curve);
- tempo: autocorrelation of the onset strength over lags of 30..300 BPM, weighted by a
  log-normal prior centred at 120 BPM (one octave wide) to choose among metrical levels;
- beats: dynamic programming (Ellis, "Beat Tracking by Dynamic Programming", JNMR 2007):
  a beat sequence maximising onset strength at the beats minus a penalty on deviations of
  the inter-beat interval from the tempo's period;
- key and mode: a 12-bin chroma profile correlated with the Krumhansl-Kessler major and minor
  key profiles in all 12 rotations (Krumhansl, "Cognitive Foundations of Musical Pitch", 1990).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, uniform_filter1d

RATE = 22050
N_FFT = 2048
HOP = 256
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Krumhansl-Kessler probe-tone ratings, tonic first
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def frame_rate(rate: int = RATE, hop: int = HOP) -> float:
    return rate / hop


def highpass(x: np.ndarray, rate: int = RATE, cutoff: float = 25.0) -> np.ndarray:
    """Remove DC and sub-audio rumble (some field recordings carry a large DC offset)."""
    from scipy.signal import butter, sosfiltfilt
    x = np.asarray(x, np.float64)
    x = x - x.mean()
    if len(x) < 64:
        return x.astype(np.float32)
    sos = butter(2, cutoff, btype="highpass", fs=rate, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def _frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    x = np.pad(np.asarray(x, np.float32), (n_fft // 2, n_fft // 2))
    n = max(1, 1 + (len(x) - n_fft) // hop)
    return np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:n]


def power_spectrogram(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """(frames, n_fft // 2 + 1) power spectrogram, Hann window, frames centred (zero padded)."""
    frames = _frames(x, n_fft, hop)
    spec = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)
    return (spec.real ** 2 + spec.imag ** 2).astype(np.float32)


@dataclass
class Spectral:
    """Per-frame summaries of the spectrogram (the full spectrogram is never kept)."""
    mel: np.ndarray  # (frames, bands) mel power
    chroma: np.ndarray  # (frames, 12) magnitude per pitch class, C first
    centroid: np.ndarray  # (frames,) magnitude-spectrum centroid, Hz
    power: np.ndarray  # (frames,) total power
    fps: float


def spectral_frames(x: np.ndarray, rate: int = RATE, n_fft: int = N_FFT, hop: int = HOP,
                    chunk: int = 1024) -> Spectral:
    """Mel bands, chroma, centroid and power of every frame, computed chunk by chunk so that a
    long track needs little memory."""
    frames = _frames(x, n_fft, hop)
    win = np.hanning(n_fft).astype(np.float32)
    fb = mel_filterbank(rate, n_fft).T
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1).astype(np.float32)
    onehot, sel = _chroma_map(rate, n_fft)
    mel, chroma, cent, power = [], [], [], []
    for i in range(0, len(frames), chunk):
        spec = np.fft.rfft(frames[i:i + chunk] * win, axis=1)
        p = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
        mag = np.sqrt(p)
        mel.append(p @ fb)
        chroma.append(mag[:, sel] @ onehot)
        msum = mag.sum(axis=1)
        cent.append(np.where(msum > 0, (mag @ freqs) / np.maximum(msum, 1e-20), 0.0))
        power.append(p.sum(axis=1))
    return Spectral(np.concatenate(mel), np.concatenate(chroma), np.concatenate(cent), np.concatenate(power),
                    rate / hop)


def _chroma_map(rate: int, n_fft: int, fmin: float = 55.0, fmax: float = 4200.0):
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    sel = (freqs >= fmin) & (freqs <= fmax)
    pc = (np.round(12 * np.log2(freqs[sel] / 440.0)).astype(int) + 9) % 12
    onehot = np.zeros((int(sel.sum()), 12), np.float32)
    onehot[np.arange(int(sel.sum())), pc] = 1.0
    return onehot, sel


def mel_filterbank(rate: int = RATE, n_fft: int = N_FFT, bands: int = 64, fmin: float = 30.0,
                   fmax: float = 8000.0) -> np.ndarray:
    """(bands, n_fft // 2 + 1) triangular filters equally spaced on the HTK mel scale."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(min(fmax, rate / 2)), bands + 2))
    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    fb = np.zeros((bands, len(freqs)), np.float32)
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        fb[b] = np.maximum(0.0, np.minimum(up, down))
    return fb


def onset_strength(mel: np.ndarray, fps: float) -> np.ndarray:
    """Spectral-flux onset strength per frame (>= 0, local mean removed) from mel power."""
    logmel = 10.0 * np.log10(np.maximum(mel, 1e-10))
    logmel = np.maximum(logmel, logmel.max() - 80.0)  # an 80 dB floor, as in dB spectrograms
    flux = np.maximum(0.0, np.diff(logmel, axis=0, prepend=logmel[:1])).mean(axis=1)
    local = uniform_filter1d(flux, size=max(3, int(round(0.5 * fps))), mode="nearest")
    return np.maximum(0.0, flux - local).astype(np.float32)


def autocorrelation(env: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation of the mean-removed envelope for lags 0..max_lag (unbiased: each lag's sum
    divided by its number of terms), normalised so lag 0 = 1. ``max_lag`` < len(env)."""
    e = env - env.mean()
    n = 1 << int(np.ceil(np.log2(2 * len(e) + 1)))
    f = np.fft.rfft(e, n)
    ac = np.fft.irfft(f * np.conj(f), n)[:max_lag + 1]
    ac = ac / (len(e) - np.arange(max_lag + 1))  # unbiased: long lags of short clips count fully
    return ac / ac[0] if ac[0] > 0 else np.zeros(max_lag + 1)


def estimate_tempo(env: np.ndarray, fps: float, prior_bpm: float = 120.0, prior_octaves: float = 1.0,
                   lo_bpm: float = 30.0, hi_bpm: float = 300.0) -> tuple[float, float, float | None]:
    """(tempo BPM, pulse clarity 0..1, the other metrical level's BPM or None).

    The tempo is the autocorrelation peak of the (slightly smoothed, so that periods between
    two integer lags are not penalised) onset strength under a log-normal prior; clarity is the
    normalised autocorrelation at that lag (1 = a perfectly periodic pulse). The alternative is
    the stronger of half and double that tempo when its autocorrelation is at least half as
    strong: tempo octave errors are the classic failure of every beat tracker."""
    min_lag = max(1, int(np.floor(60.0 * fps / hi_bpm)))
    max_lag = min(len(env) // 2, int(np.ceil(60.0 * fps / lo_bpm)))  # >= 2 periods seen
    if max_lag <= min_lag + 2 or not np.any(env > 0):
        return 0.0, 0.0, None
    ac = autocorrelation(gaussian_filter1d(env.astype(np.float64), 1.0), max_lag)
    lags = np.arange(min_lag, max_lag + 1)
    bpm = 60.0 * fps / lags
    prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / prior_octaves) ** 2)
    score = np.maximum(ac[lags], 0.0) * prior
    k = int(np.argmax(score))

    def refined(i: int) -> float:
        lag = float(lags[i])
        if 0 < i < len(lags) - 1:  # parabolic refinement of the peak
            a, b, c = ac[lags[i] - 1], ac[lags[i]], ac[lags[i] + 1]
            den = a - 2 * b + c
            if den < 0:
                lag += float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
        return 60.0 * fps / lag

    tempo, clarity = refined(k), float(np.clip(ac[lags[k]], 0.0, 1.0))
    alt, best = None, 0.5 * ac[lags[k]]
    for factor in (0.5, 2.0):
        want = lags[k] / factor  # lag of the other level
        near = np.flatnonzero(np.abs(lags - want) <= max(1.0, 0.04 * want))
        if len(near):
            j = int(near[np.argmax(ac[lags[near]])])
            if ac[lags[j]] >= best:
                alt, best = refined(j), ac[lags[j]]
    return tempo, clarity, alt


def track_beats(env: np.ndarray, fps: float, bpm: float, tightness: float = 100.0) -> np.ndarray:
    """Beat frame indices by dynamic programming (Ellis 2007) at tempo ``bpm``."""
    if bpm <= 0 or len(env) < 4 or not np.any(env > 0):
        return np.zeros(0, int)
    period = 60.0 * fps / bpm
    env = env / (env.std() + 1e-9)
    # smooth the onset strength with a Gaussian a sixteenth of a period wide
    w = np.arange(-int(period), int(period) + 1)
    local = np.convolve(env, np.exp(-0.5 * (w * 32.0 / period) ** 2), mode="same")
    n = len(local)
    score = local.astype(np.float64).copy()
    back = np.full(n, -1, int)
    lo, hi = int(round(period / 2)), int(round(2 * period))
    offsets = np.arange(-hi, -lo + 1)  # candidate previous beats relative to t
    penalty = -tightness * np.log(-offsets / period) ** 2
    for t in range(lo, n):
        prev = t + offsets
        ok = prev >= 0
        if not ok.any():
            continue
        cand = score[prev[ok]] + penalty[ok]
        j = int(np.argmax(cand))
        if cand[j] > 0:
            score[t] = local[t] + cand[j]
            back[t] = prev[ok][j]
    # end on the best-scoring frame within the last period
    tail = max(0, n - int(round(period)) - 1)
    t = tail + int(np.argmax(score[tail:]))
    beats = [t]
    while back[t] >= 0:
        t = back[t]
        beats.append(t)
    beats = np.array(beats[::-1], int)
    # drop weak beats at the ends (silence before the music starts / after it stops)
    if len(beats):
        strong = local[beats] > 0.5 * np.sqrt(np.mean(local ** 2))
        if strong.any():
            first, last = np.flatnonzero(strong)[[0, -1]]
            beats = beats[first:last + 1]
    return beats


def chroma_profile(chroma: np.ndarray) -> np.ndarray:
    """Mean 12-bin chroma (C first) of the louder three quarters of the frames, each frame scaled
    so its strongest pitch class is 1 (the max-norm chroma most key finders use)."""
    energy = chroma.sum(axis=1)
    if not np.any(energy > 0):
        return np.zeros(12)
    loud = energy >= np.percentile(energy[energy > 0], 25)
    c = chroma[loud] / np.maximum(chroma[loud].max(axis=1, keepdims=True), 1e-12)
    return c.mean(axis=0)


def estimate_key(chroma: np.ndarray) -> dict:
    """Key and mode from a chroma profile: the best of 24 rotated Krumhansl-Kessler profiles.

    Returns {"key": "F# minor", "tonic": "F#", "mode": "minor", "correlation": best r,
    "mode_strength": best major r - best minor r (positive = major)}."""
    chroma = np.asarray(chroma, np.float64)
    if chroma.std() < 1e-9:
        return {"key": None, "tonic": None, "mode": None, "correlation": 0.0, "mode_strength": 0.0}

    def corrs(profile):
        return np.array([np.corrcoef(chroma, np.roll(profile, k))[0, 1] for k in range(12)])

    maj, mnr = corrs(KK_MAJOR), corrs(KK_MINOR)
    if maj.max() >= mnr.max():
        tonic, mode, r = int(maj.argmax()), "major", float(maj.max())
    else:
        tonic, mode, r = int(mnr.argmax()), "minor", float(mnr.max())
    return {"key": f"{PITCH_CLASSES[tonic]} {mode}", "tonic": PITCH_CLASSES[tonic], "mode": mode,
            "correlation": r, "mode_strength": float(maj.max() - mnr.max())}


def mean_centroid(sp: Spectral, floor_db: float = 40.0) -> float:
    """Mean spectral centroid (Hz) over the frames within ``floor_db`` of the loudest."""
    if not np.any(sp.power > 0):
        return 0.0
    keep = sp.power >= sp.power.max() * 10 ** (-floor_db / 10)
    return float(sp.centroid[keep].mean())


def onset_rate(env: np.ndarray, fps: float) -> float:
    """Onsets per second: peaks of the onset strength above its mean + 1 std, >= 50 ms apart."""
    if len(env) < 3 or env.std() == 0:
        return 0.0
    from scipy.signal import find_peaks
    peaks, _ = find_peaks(env, height=env.mean() + env.std(), distance=max(1, int(0.05 * fps)))
    return len(peaks) / (len(env) / fps)
