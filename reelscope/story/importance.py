"""Importance of every shot (0..1) and an importance curve over time, for highlight summaries.

A weighted mean of signals, each scaled to 0..1 (a signal a shot lacks is left out and the
weights of the others renormalised for that shot):

| signal      | default weight | per shot                                                              |
|-------------|---------------:|-----------------------------------------------------------------------|
| emotion     | 0.35 | e = 0.75 x arousal + 0.25 x abs(valence) of the emotion stage (faces + audio), stretched to the video's own range (5th..95th percentile of e over time -> 0..1) |
| motion      | 0.20 | 1 - exp(-m / 6), m = mean absolute luma change between frames (grey levels) |
| faces       | 0.15 | per sampled frame: 0 without a face, else 0.4 + 0.6 x min(1, h / 0.4 H) for the largest face of height h; mean over the shot |
| characters  | 0.10 | screen time of the shot's best-known character / the main character's        |
| shot_size   | 0.10 | closer is more telling: CU 1.0, ECU 0.8, MS 0.7, FS 0.5, LS 0.35             |
| novelty     | 0.10 | 1 - the highest colour-histogram similarity to any earlier shot              |

Motion is on an absolute scale (about 0.15 for a locked-off talking head, 0.4 for handheld,
0.85 for action), so a calm film is not stretched into fake excitement. Emotion is stretched:
its arousal scale is not calibrated across videos (on the music video of the benchmark it spans
only 0.5..0.65), and what a highlight needs is the video's own emotional peaks; unstretched it
would barely move the ranking whatever its weight. A signal that is the same for every shot (no
faces found at all, a flat emotion curve, no emotion source) is dropped from the mix.

The curve (one value per ``step`` seconds) uses the same weights with the per-step versions of
emotion, motion and faces, and the covering shot's value of the others.

Scenes for diversity (``reelscope.story.select``): a shot joins the scene of one of the two
shots before it when their colour histograms intersect by >= ``scene_threshold`` (0.55), so
shot / reverse-shot exchanges stay one scene.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from reelscope.shots.types import Shot
from reelscope.story.visual import VisualSignals, similarity

DEFAULT_WEIGHTS = {"emotion": 0.35, "motion": 0.20, "faces": 0.15, "characters": 0.10, "shot_size": 0.10,
                   "novelty": 0.10}
SIZE_VALUE = {"CU": 1.0, "ECU": 0.8, "MS": 0.7, "FS": 0.5, "LS": 0.35}
MOTION_SCALE = 6.0  # grey levels (0..255) at which motion reaches 1 - 1/e
SCENE_THRESHOLD = 0.55


@dataclass
class ImportanceResult:
    step: float  # seconds between curve samples
    curve: np.ndarray  # 0..1 per step
    per_shot: list[dict]  # {"shot", "start_time", "end_time", "score", "scene", "signals": {name: value|None}}
    weights: dict[str, float]  # the weights of the signals used (renormalised to sum 1)
    sources: dict = field(default_factory=dict)  # which signals were available, and why not

    @property
    def scores(self) -> np.ndarray:
        return np.array([p["score"] for p in self.per_shot])


def motion_value(m: float) -> float:
    return float(1 - np.exp(-m / MOTION_SCALE)) if np.isfinite(m) else float("nan")


def face_value(height_fraction: float | None) -> float:
    if height_fraction is None:
        return 0.0
    return 0.4 + 0.6 * min(1.0, height_fraction / 0.4)


def shot_times(shots: Sequence[Shot], frame_times: Sequence[float], duration: float, fps: float) -> list[tuple[float, float]]:
    t = list(frame_times)

    def at(frame: int) -> float:
        if frame < len(t):
            return float(t[frame])
        return (t[-1] + (frame - len(t) + 1) / fps) if t else frame / fps

    return [(at(s.start), max(at(s.start), at(s.end + 1))) for s in shots]


def _face_samples(faces, frame_times: Sequence[float], height: int, fps: float, frame_count: int):
    """(times, values) of every frame the faces stage sampled, 0 where it found no face."""
    if faces is None:
        return None
    sampled = int(getattr(faces, "sampled", 0) or 0)
    if sampled <= 0:
        return None
    step = max(1, int(round(frame_count / sampled)))
    largest: dict[int, float] = {}
    for d in getattr(faces, "frames", []) or []:
        if d.frame is None or not len(d.boxes):
            continue
        largest[d.frame] = max(largest.get(d.frame, 0.0), float(d.boxes[:, 3].max()) / max(height, 1))
    frames = list(range(0, frame_count, step))
    times = np.array([frame_times[f] if f < len(frame_times) else f / fps for f in frames])
    values = np.array([face_value(largest.get(f)) for f in frames])
    return times, values


def _character_values(faces, n_shots: int) -> list[float] | None:
    chars = getattr(faces, "characters", None) if faces is not None else None
    if not chars:
        return None
    top = max(c.screen_time for c in chars) or 1.0
    weight_of_track = {tid: c.screen_time / top for c in chars for tid in c.track_ids}
    out = [0.0] * n_shots
    for t in getattr(faces, "tracks", []) or []:
        w = weight_of_track.get(t.id)
        if w is not None and 0 <= t.shot_index < n_shots:
            out[t.shot_index] = max(out[t.shot_index], w)
    return out


def _novelty_and_scenes(hist: np.ndarray | None, n: int, threshold: float):
    """(novelty per shot or None, scene id per shot)."""
    if hist is None or len(hist) != n or n == 0:
        return None, list(range(n))
    has = hist.any(1)
    nov, scenes, next_id = [], [], 0
    for i in range(n):
        earlier = np.minimum(hist[:i][has[:i]], hist[i]).sum(1) if has[i] and i else np.zeros(0)
        nov.append(1.0 - float(earlier.max()) if len(earlier) else (1.0 if has[i] else float("nan")))
        scene = None
        for j in (i - 1, i - 2):
            if j >= 0 and has[i] and has[j] and similarity(hist[i], hist[j]) >= threshold:
                scene = scenes[j]
                break
        if scene is None:
            scene, next_id = next_id, next_id + 1
        scenes.append(scene)
    return nov, scenes


def _emotion_available(emotion) -> bool:
    if emotion is None:
        return False
    arousal = np.asarray(getattr(emotion, "arousal", []), np.float64)
    conf = getattr(emotion, "confidence", None)
    if conf is not None and len(conf) and not (np.asarray(conf, np.float64) > 0).any():
        return False  # a placeholder curve: neither faces nor audio backed any step
    return bool(len(arousal) and np.isfinite(arousal).any())


def _emotion_value(arousal, valence) -> float:
    a = float(arousal) if arousal is not None else float("nan")
    v = abs(float(valence)) if valence is not None and np.isfinite(valence) else 0.0
    return 0.75 * a + 0.25 * v if np.isfinite(a) else float("nan")


def _emotion_steps(emotion) -> np.ndarray:
    ea = np.asarray(emotion.arousal, np.float64)
    ev = np.asarray(getattr(emotion, "valence", None) if getattr(emotion, "valence", None) is not None
                    else np.zeros_like(ea), np.float64)
    return np.array([_emotion_value(a, ev[j] if j < len(ev) else None) for j, a in enumerate(ea)])


def emotion_stretch(emotion):
    """x -> 0..1 over the video's own emotion range (5th..95th percentile of its steps); None if flat."""
    e = _emotion_steps(emotion)
    e = e[np.isfinite(e)]
    if len(e) < 2:
        return None
    lo, hi = np.percentile(e, [5, 95])
    if hi - lo < 0.01:
        return None
    return lambda x: float(np.clip((x - lo) / (hi - lo), 0.0, 1.0)) if np.isfinite(x) else float("nan")


def compute_importance(shots: Sequence[Shot], frame_times: Sequence[float], *, duration: float, fps: float,
                       height: int, sizes: dict[int, str] | None = None, faces: Any = None, emotion: Any = None,
                       visual: VisualSignals | None = None, weights: dict[str, float] | None = None,
                       step: float = 1.0, scene_threshold: float = SCENE_THRESHOLD) -> ImportanceResult:
    """Per-shot importance and the importance curve from whatever signals are at hand."""
    n = len(shots)
    w_given = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(w_given) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown importance signals {sorted(unknown)} (known: {', '.join(DEFAULT_WEIGHTS)})")
    frame_count = len(frame_times) or int(round(duration * fps))
    spans = shot_times(shots, frame_times, duration, fps)
    total = max(duration, spans[-1][1] if spans else 0.0)
    sources: dict[str, Any] = {}
    sig: dict[str, list[float]] = {}

    stretch = emotion_stretch(emotion) if _emotion_available(emotion) else None
    if stretch is not None:
        by_shot = {p.get("shot"): p for p in emotion.per_shot or []}
        sig["emotion"] = [stretch(_emotion_value(by_shot.get(s.index, {}).get("arousal"),
                                                 by_shot.get(s.index, {}).get("valence"))) for s in shots]
        sources["emotion"] = {k: v for k, v in (getattr(emotion, "sources", {}) or {}).items() if k != "circumplex"}
    elif _emotion_available(emotion):
        sources.setdefault("dropped", {})["emotion"] = "flat over the video"
    if visual is not None:
        sig["motion"] = [motion_value(m) for m in visual.shot_motion]
    samples = _face_samples(faces, frame_times, height, fps, frame_count)
    if samples is not None:
        st, sv = samples
        vals = []
        for a, b in spans:
            sel = sv[(st >= a) & (st < b)]
            vals.append(float(sel.mean()) if len(sel) else float("nan"))
        sig["faces"] = vals
    chars = _character_values(faces, n)
    if chars is not None:
        sig["characters"] = chars
    if sizes:
        sig["shot_size"] = [SIZE_VALUE.get(sizes.get(s.index), float("nan")) for s in shots]
    novelty, scenes = _novelty_and_scenes(visual.histograms if visual is not None else None, n, scene_threshold)
    if novelty is not None:
        sig["novelty"] = novelty

    used = {}
    for name, vals in sig.items():
        arr = np.asarray(vals, np.float64)
        fin = arr[np.isfinite(arr)]
        if w_given.get(name, 0) <= 0:
            sources.setdefault("dropped", {})[name] = "weight 0"
        elif not len(fin):
            sources.setdefault("dropped", {})[name] = "no values"
        elif n > 1 and np.ptp(fin) < 1e-9 and len(fin) == n:
            sources.setdefault("dropped", {})[name] = "the same for every shot"
        else:
            used[name] = arr
    for name in DEFAULT_WEIGHTS:
        if name not in sig and w_given.get(name, 0) > 0:
            sources.setdefault("dropped", {}).setdefault(name, "not available")
    wsum = sum(w_given[k] for k in used) or 1.0
    weights_used = {k: w_given[k] / wsum for k in used}

    def combine(values: dict[str, float]) -> float:
        num = den = 0.0
        for k, wk in weights_used.items():
            x = values.get(k)
            if x is not None and np.isfinite(x):
                num += wk * x
                den += wk
        return num / den if den > 0 else 0.0

    per_shot = []
    for i, s in enumerate(shots):
        vals = {k: float(used[k][i]) for k in used}
        per_shot.append({"shot": s.index, "start_time": spans[i][0], "end_time": spans[i][1],
                         "score": round(combine(vals), 6), "scene": scenes[i],
                         "signals": {k: (round(v, 4) if np.isfinite(v) else None) for k, v in vals.items()}})

    curve = importance_curve(per_shot, used, weights_used, total, step, emotion, visual, samples, stretch)
    sources["signals"] = sorted(used)
    return ImportanceResult(step, curve, per_shot, weights_used, sources)


def importance_curve(per_shot, used, weights_used, total: float, step: float, emotion, visual, samples,
                     stretch=None) -> np.ndarray:
    """The weighted signals per ``step`` seconds; shot-level signals from the covering shot."""
    m = max(1, int(np.ceil(total / step - 1e-9)))
    starts = np.array([p["start_time"] for p in per_shot]) if per_shot else np.zeros(0)
    curve = np.zeros(m)

    def binned(times: np.ndarray, values: np.ndarray) -> np.ndarray:
        ok = np.isfinite(values)
        idx = np.clip((times[ok] / step).astype(int), 0, m - 1)
        s = np.bincount(idx, values[ok], minlength=m)
        c = np.bincount(idx, minlength=m)
        return np.divide(s, c, out=np.full(m, np.nan), where=c > 0)

    local: dict[str, np.ndarray] = {}
    if "motion" in used and visual is not None:
        local["motion"] = np.array([motion_value(x) for x in binned(visual.times, visual.motion)])
    if "faces" in used and samples is not None:
        local["faces"] = binned(*samples)
    if "emotion" in used and emotion is not None and stretch is not None:
        e = _emotion_steps(emotion)
        es = float(getattr(emotion, "step", step) or step)
        k = np.minimum(((np.arange(m) + 0.5) * step / es).astype(int), len(e) - 1)
        local["emotion"] = np.array([stretch(e[j]) for j in k])
    for t in range(m):
        mid = (t + 0.5) * step
        i = max(0, int(np.searchsorted(starts, mid, side="right")) - 1) if len(starts) else -1
        vals = {}
        for k in weights_used:
            if k in local and np.isfinite(local[k][t]):
                vals[k] = float(local[k][t])
            elif i >= 0:
                vals[k] = per_shot[i]["signals"].get(k)
        num = sum(weights_used[k] * v for k, v in vals.items() if v is not None)
        den = sum(weights_used[k] for k, v in vals.items() if v is not None)
        curve[t] = num / den if den > 0 else 0.0
    return np.round(curve, 6)
