"""Loudness per ITU-R BS.1770-4 / EBU R128 with pyloudnorm (MIT): integrated loudness (LUFS),
loudness range (LRA, EBU Tech 3342) and a loudness curve.

The curve: pyloudnorm's gating blocks are the R128 *momentary* loudness (400 ms K-weighted
blocks every 100 ms); a curve sample is the energy mean of the blocks whose centre falls in its
step, in LUFS, floored at the absolute gate (-70 LUFS) so digital silence is a number.

Channels: BS.1770 sums the channels' powers, so stereo is measured as stereo (a mono downmix of
a stereo mix reads up to ~3 LU low: measured 0.3-1.8 LU on ../shared/data). Rate: we measure at
the analysis rate (16 kHz); against 48 kHz the integrated loudness of the clips in
../shared/data differs by at most 0.24 LU (the transnetv2 music video; 0.01 LU or less on the
others), because the K-weighting is designed for the given rate and little energy lies above
8 kHz. More than two channels are measured on the stereo downmix.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from reelscope.errors import MissingDependency

FLOOR = -70.0  # LUFS: the absolute gate of BS.1770
BLOCK, HOP = 0.4, 0.1  # momentary blocks


@dataclass
class Loudness:
    integrated: float  # LUFS (FLOOR when nothing passes the gates)
    range: float | None  # LRA in LU (None when too short or too quiet)
    sample_peak: float  # dBFS
    momentary: np.ndarray  # LUFS per 100 ms block (block j covers j*0.1 .. j*0.1+0.4 s)

    def curve(self, step: float, n: int) -> np.ndarray:
        """``n`` samples, one per ``step`` seconds: energy mean of the momentary blocks centred in each."""
        out = np.full(n, FLOOR, np.float32)
        if len(self.momentary) == 0:
            return out
        centres = np.arange(len(self.momentary)) * HOP + BLOCK / 2
        idx = np.minimum((centres // step).astype(int), n - 1)
        power = np.power(10.0, self.momentary / 10.0)
        sums = np.bincount(idx, power, minlength=n)[:n]
        counts = np.bincount(idx, minlength=n)[:n]
        with np.errstate(divide="ignore", invalid="ignore"):
            lufs = 10 * np.log10(sums / np.maximum(counts, 1))
        got = counts > 0
        out[got] = np.maximum(lufs[got], FLOOR)
        # steps between block centres (steps shorter than 100 ms): nearest block
        if not got.all():
            nearest = np.clip(((np.arange(n) + 0.5) * step - BLOCK / 2) / HOP, 0, len(power) - 1).round().astype(int)
            out[~got] = np.maximum(self.momentary[nearest[~got]], FLOOR)
        return out


def measure(samples: np.ndarray, rate: int) -> Loudness:
    """Loudness of ``samples``: (n,) mono or (n, channels) with up to 5 channels (L, R, C, Ls, Rs)."""
    try:
        import pyloudnorm
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependency("pyloudnorm (needed for loudness)", "pip install pyloudnorm") from e
    x = np.asarray(samples)
    peak = float(np.abs(x).max()) if x.size else 0.0
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    if len(x) < BLOCK * rate:
        return Loudness(FLOOR, None, peak_db, np.zeros(0, np.float32))
    if rate % 100 == 0:
        return _measure_streaming(x, rate, pyloudnorm.Meter(rate), peak_db)
    x = np.asarray(x, np.float64)
    meter = pyloudnorm.Meter(rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        integrated = float(meter.integrated_loudness(x))
        momentary = np.maximum(np.nan_to_num(np.asarray(meter.blockwise_loudness, np.float64), nan=FLOOR,
                                             neginf=FLOOR), FLOOR).astype(np.float32)
        lra = None
        if len(x) >= 3.0 * rate:
            try:
                v = float(meter.loudness_range(x))
                lra = v if np.isfinite(v) else None
            except ValueError:
                lra = None
    if not np.isfinite(integrated):
        integrated = FLOOR
    return Loudness(max(integrated, FLOOR), lra, peak_db, momentary)


GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)  # BS.1770 channel weights (L, R, C, Ls, Rs)


def _tick_energy(x: np.ndarray, rate: int, meter, tail: float, chunk_s: float = 30.0) -> np.ndarray:
    """Sum of squares of the K-weighted signal per 10 ms tick, per channel: (channels, ticks), for
    the signal followed by ``tail`` seconds of silence. Filtered chunk by chunk with the filters'
    state carried over, so memory stays O(chunk) for an hour of audio (the whole-array measurement
    needed about 4 GB for one hour of 16 kHz stereo). Pyloudnorm's own filter coefficients."""
    from scipy.signal import lfilter, lfilter_zi

    x2 = x.reshape(len(x), -1)
    ch = x2.shape[1]
    tick = rate // 100
    total = len(x2) + int(round(tail * rate))
    n_ticks = -(-total // tick)
    out = np.zeros((ch, n_ticks), np.float64)
    stages = [(f.b, f.a) for f in meter._filters.values()]
    state = [[lfilter_zi(b, a) * 0.0 for b, a in stages] for _ in range(ch)]
    step = int(chunk_s * rate) // tick * tick
    for start in range(0, total, step):
        stop = min(total, start + step)
        seg = np.zeros((stop - start, ch), np.float64)
        have = max(0, min(stop, len(x2)) - start)
        if have:
            seg[:have] = x2[start:start + have]
        for c in range(ch):
            y = seg[:, c]
            for k, (b, a) in enumerate(stages):
                y, state[c][k] = lfilter(b, a, y, zi=state[c][k])
            sq = np.square(y)
            pad = (-len(sq)) % tick
            if pad:
                sq = np.concatenate([sq, np.zeros(pad)])
            out[c, start // tick:start // tick + len(sq) // tick] = sq.reshape(-1, tick).sum(1)
    return out


def _blocks(energy: np.ndarray, n_samples: int, rate: int, block: float, step: float) -> np.ndarray:
    """Pyloudnorm's gating blocks (``block`` s long every ``step`` s, count as it counts them) as
    the weighted channel sum of mean squares, from the per-tick energies."""
    tick = rate // 100
    t = n_samples / rate
    n = int(np.round((t - block) / step)) + 1
    if n <= 0:
        return np.zeros(0)
    cum = np.concatenate([np.zeros((energy.shape[0], 1)), np.cumsum(energy, axis=1)], axis=1)
    lo = (np.arange(n) * int(round(step * 100))).clip(0, energy.shape[1])
    hi = (lo + int(round(block * 100))).clip(0, energy.shape[1])
    z = (cum[:, hi] - cum[:, lo]) / (block * rate)  # (channels, blocks)
    g = np.array(GAINS[:energy.shape[0]])[:, None]
    return (g * z).sum(0), z, g


def _measure_streaming(x: np.ndarray, rate: int, meter, peak_db: float) -> Loudness:
    n = len(x)
    energy = _tick_energy(x, rate, meter, tail=1.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        power, z, g = _blocks(energy, n, rate, BLOCK, HOP)
        loud = -0.691 + 10 * np.log10(power)
        gated = loud >= -70.0
        integrated = FLOOR
        if gated.any():
            rel = -0.691 + 10 * np.log10((g * z[:, gated].mean(1, keepdims=True)).sum()) - 10.0
            keep = (loud > rel) & (loud > -70.0)
            if keep.any():
                integrated = float(-0.691 + 10 * np.log10((g * z[:, keep].mean(1, keepdims=True)).sum()))
        momentary = np.maximum(np.nan_to_num(loud, nan=FLOOR, neginf=FLOOR), FLOOR).astype(np.float32)
        lra = None
        if n >= 3.0 * rate:  # EBU Tech 3342 on 3 s short-term blocks every 90 ms, as pyloudnorm steps them
            st_power, _, _ = _blocks(energy, n + int(round(1.5 * rate)), rate, 3.0, 0.09)
            st = -0.691 + 10 * np.log10(st_power)
            st = st[st >= -70.0]
            if len(st):
                level = 10 * np.log10(np.mean(np.power(10, st / 10)))
                st = st[st >= level - 20.0]
                if len(st):
                    lra = float(np.percentile(st, 95) - np.percentile(st, 10))
    if not np.isfinite(integrated):
        integrated = FLOOR
    return Loudness(max(integrated, FLOOR), lra, peak_db, momentary)
