"""Check a rendered slideshow: decode it back (PyAV) and compare, frame by frame, the
picture's brightness with the music's loudness around each cut.

Brightness is the mean luma above black (Y - 16); loudness is the RMS of the audio samples
that play during the frame; each is divided by its slot's steady level. Around a cut both
should fall and rise together: the report gives
their Pearson correlation over windows around the cuts, per cut, and the lag (in frames) at
which the two envelopes agree best (0 when picture and sound are in step). Also the largest
sample-to-sample jump of the audio near the track changes versus elsewhere (clicks).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


@dataclass
class Envelopes:
    fps: float
    brightness: np.ndarray  # per frame, luma above black (0..219)
    rms: np.ndarray  # per frame, audio RMS of the samples during the frame
    audio: np.ndarray  # mono float32 samples
    rate: int


def envelopes(path: str | Path, rate: int = 48000) -> Envelopes:
    """Per-frame brightness and audio RMS of a video file (both decoded with PyAV)."""
    lum = []
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        fps = float(vs.average_rate or vs.guessed_rate or 25)
        vs.thread_type = "AUTO"
        for fr in c.decode(vs):
            y = np.frombuffer(fr.planes[0], np.uint8).reshape(-1, fr.planes[0].line_size)[:fr.height, :fr.width]
            lum.append(float(y.mean()) - 16.0)
    chunks = []
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for fr in c.decode(c.streams.audio[0]):
            fr.pts = None
            chunks.extend(r.to_ndarray().reshape(-1) for r in res.resample(fr))
        chunks.extend(r.to_ndarray().reshape(-1) for r in res.resample(None))
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    b = np.asarray(lum)
    edges = np.round(np.arange(len(b) + 1) / fps * rate).astype(int)
    rms = np.array([np.sqrt(np.mean(audio[a:z] ** 2)) if z <= len(audio) and z > a else 0.0
                    for a, z in zip(edges[:-1], edges[1:])])
    return Envelopes(fps, b, rms, audio, rate)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _normalised(values: np.ndarray, slots: list[tuple[float, float]], fps: float) -> np.ndarray:
    """Each frame's value over its slot's level at full brightness / volume (the median of the
    slot's middle half): what is left is the envelope, whatever the picture or the track."""
    out = np.zeros_like(values, dtype=np.float64)
    for a, b in slots:
        lo, hi = int(round(a * fps)), min(len(values), int(round(b * fps)))
        if hi <= lo:
            continue
        q = (hi - lo) // 4
        ref = float(np.median(values[lo + q:hi - q])) if hi - lo >= 4 else float(values[lo:hi].max())
        out[lo:hi] = values[lo:hi] / ref if ref > 1e-9 else 0.0
    return out


def sync_report(path: str | Path, timeline, window: float = 1.0, max_lag: int = 5) -> dict:
    """Correlation of the brightness and RMS envelopes within ``window`` seconds of each cut of
    ``timeline`` (a plan.Timeline). Both are first divided by their slot's steady level, so the
    comparison is of the fades themselves: pictures and tracks differ in brightness and level."""
    env = envelopes(path)
    fps = env.fps
    n = min(len(env.brightness), len(env.rms))
    slots = [(s.start, s.end) for s in timeline.slots]
    bright = _normalised(env.brightness[:n], slots, fps)
    loud = _normalised(env.rms[:n], slots, fps)
    per_cut, pooled_b, pooled_r = [], [], []
    for c in timeline.cuts():
        lo, hi = int(max(0, (c["time"] - window) * fps)), int(min(n, (c["time"] + window) * fps))
        b, r = bright[lo:hi], loud[lo:hi]
        if len(b) < 5:
            continue
        pooled_b.append(b)
        pooled_r.append(r)
        per_cut.append({"time": round(c["time"], 3), "track_change": bool(c.get("track_change")),
                        "correlation": round(_corr(b, r), 4)})
    if not pooled_b:
        return {"cuts": 0, "correlation": float("nan"), "per_cut": [], "lag_frames": None}
    B, R = np.concatenate(pooled_b), np.concatenate(pooled_r)
    lags = {}
    for lag in range(-max_lag, max_lag + 1):  # positive: the sound comes later than the picture
        bs = [x[max(0, -lag):len(x) - max(0, lag)] for x in pooled_b]
        rs = [y[max(0, lag):len(y) - max(0, -lag)] for y in pooled_r]
        lags[lag] = _corr(np.concatenate(bs), np.concatenate(rs))
    best = max(lags, key=lambda k: -1 if np.isnan(lags[k]) else lags[k])
    cors = np.array([p["correlation"] for p in per_cut], dtype=np.float64)
    return {"cuts": len(per_cut), "correlation": round(_corr(B, R), 4),
            "median_cut_correlation": round(float(np.nanmedian(cors)), 4),
            "min_cut_correlation": round(float(np.nanmin(cors)), 4),
            "lag_frames": int(best), "correlation_at_lag": round(lags[best], 4), "per_cut": per_cut}


def click_report(audio: np.ndarray, rate: int, times: list[float], near: float = 0.05) -> dict:
    """Largest absolute sample-to-sample step within ``near`` seconds of ``times`` and the
    99.9th percentile of steps everywhere else (a click shows as a step far above it)."""
    d = np.abs(np.diff(audio.astype(np.float64)))
    mask = np.zeros(len(d), bool)
    for t in times:
        a, b = int(max(0, (t - near) * rate)), int(min(len(d), (t + near) * rate))
        mask[a:b] = True
    joint = float(d[mask].max()) if mask.any() else 0.0
    rest = d[~mask]
    return {"max_step_at_joints": round(joint, 5),
            "p999_step_elsewhere": round(float(np.quantile(rest, 0.999)) if len(rest) else 0.0, 5),
            "max_step_elsewhere": round(float(rest.max()) if len(rest) else 0.0, 5)}


def gain_report(path: str | Path, timeline, options=None, window: float = 1.0) -> dict:
    """Like :func:`sync_report`, but the audio envelope is the music's gain recovered from the
    file: the rendered RMS of each frame over the RMS of the same music before the envelope
    (rebuilt from the source tracks exactly as the renderer plays them). This takes the music's
    own loudness changes out, so what remains is how well the sound's fade follows the picture's."""
    from reelscope.mood.render import Music, RenderOptions

    env = envelopes(path)
    opts = options or RenderOptions()
    music = Music(timeline, opts)
    fps, rate = env.fps, opts.audio_rate
    n = min(len(env.brightness), len(env.rms))
    edges = np.round(np.arange(n + 1) / fps * rate).astype(int)
    ref = np.zeros(n)
    for i in range(n):
        blk = music.block(int(edges[i]), int(edges[i + 1] - edges[i]), with_gain=False).mean(axis=0)
        ref[i] = float(np.sqrt(np.mean(blk.astype(np.float64) ** 2))) if len(blk) else 0.0
    ok = ref > 1e-3 * max(1e-9, ref.max())
    gain = np.where(ok, env.rms[:n] / np.where(ok, ref, 1.0), np.nan)
    gain = gain / np.nanmedian(gain[ok]) if ok.any() else gain
    slots = [(s.start, s.end) for s in timeline.slots]
    bright = _normalised(env.brightness[:n], slots, fps)
    per_cut, pb, pg = [], [], []
    for c in timeline.cuts():
        lo, hi = int(max(0, (c["time"] - window) * fps)), int(min(n, (c["time"] + window) * fps))
        b, g = bright[lo:hi], gain[lo:hi]
        keep = np.isfinite(g)
        if keep.sum() < 5:
            continue
        pb.append(b[keep])
        pg.append(g[keep])
        per_cut.append({"time": round(c["time"], 3), "track_change": bool(c["track_change"]),
                        "correlation": round(_corr(b[keep], g[keep]), 4)})
    if not per_cut:
        return {"cuts": 0, "correlation": float("nan"), "per_cut": []}
    cors = np.array([p["correlation"] for p in per_cut], dtype=np.float64)
    return {"cuts": len(per_cut), "correlation": round(_corr(np.concatenate(pb), np.concatenate(pg)), 4),
            "median_cut_correlation": round(float(np.nanmedian(cors)), 4),
            "min_cut_correlation": round(float(np.nanmin(cors)), 4), "per_cut": per_cut}
