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
    x = np.asarray(samples, np.float64)
    peak = float(np.abs(x).max()) if x.size else 0.0
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    if len(x) < BLOCK * rate:
        return Loudness(FLOOR, None, peak_db, np.zeros(0, np.float32))
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
