"""Video summary evaluation as the literature does it.

Keyshot F1 (Zhang et al. 2016; Gygli et al. 2014): a machine summary is a set of frames chosen
by a 0/1 knapsack over segments (segment value = mean frame score, weight = length, budget 15%
of the video); it is compared with each user summary by frame overlap (precision, recall, F1)
and the per-user F1s are averaged (TVSum) or maximised (SumMe).

Rank correlation (Otani et al., CVPR 2019, "Rethinking the Evaluation of Video Summaries"):
Kendall's tau-b and Spearman's rho between predicted per-frame scores and each annotator's
per-frame scores, averaged over annotators, then over videos. For humans, each annotator's
scores against each *other* annotator's, averaged per video, then over videos: on TVSum this
reproduces the published tau = 0.177, rho = 0.204 (comparing each annotator with the mean of
the others instead gives 0.314 / 0.396; see BENCHMARKS.md "Summaries").

Otani et al. showed random summaries reach F1 close to published methods, so a random baseline
(random segment scores, same segments and knapsack) is always reported next to F1.

Segments: the standard protocol cuts TVSum videos at KTS change points computed on the videos,
which are not available here. We use the 2-second segments the annotators themselves scored,
recovered from the annotations (``reelscope.eval.tvsum.annotation_segments``); this also makes
every user summary exactly consistent with its annotator's scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from reelscope.story.select import knapsack

MAX_TABLE = 4_000_000  # cells of the contingency table of the exact tied-rank fast path


# ---- rank correlation -------------------------------------------------------------------------
def _table(x: np.ndarray, y: np.ndarray):
    ux, ix = np.unique(x, return_inverse=True)
    uy, iy = np.unique(y, return_inverse=True)
    if len(ux) * len(uy) > MAX_TABLE:
        return None
    t = np.bincount(ix.ravel() * len(uy) + iy.ravel(), minlength=len(ux) * len(uy)).reshape(len(ux), len(uy))
    return t.astype(np.float64)


def _tau_from_table(t: np.ndarray) -> float:
    n = t.sum()
    # strictly-greater-in-both and greater-x-smaller-y cumulative counts
    below = np.cumsum(np.cumsum(t[::-1, ::-1], 0), 1)[::-1, ::-1]  # sum over k>=i, l>=j
    gg = np.zeros_like(t)
    gg[:-1, :-1] = below[1:, 1:]
    col_tail = np.cumsum(t[::-1], 0)[::-1]  # sum over k>=i, per column
    gs = np.zeros_like(t)  # k>i, l<j
    if t.shape[0] > 1 and t.shape[1] > 1:
        gs[:-1, 1:] = np.cumsum(col_tail[1:, :-1], 1)
    p = float((t * gg).sum())
    q = float((t * gs).sum())
    n0 = n * (n - 1) / 2
    n1 = float((t.sum(1) * (t.sum(1) - 1) / 2).sum())
    n2 = float((t.sum(0) * (t.sum(0) - 1) / 2).sum())
    den = math.sqrt((n0 - n1) * (n0 - n2))
    return (p - q) / den if den > 0 else float("nan")


def _midranks(counts: np.ndarray) -> np.ndarray:
    before = np.concatenate([[0.0], np.cumsum(counts)[:-1]])
    return before + (counts + 1) / 2


def _rho_from_table(t: np.ndarray) -> float:
    rx, ry = _midranks(t.sum(1)), _midranks(t.sum(0))
    n = t.sum()
    mx, my = (t.sum(1) * rx).sum() / n, (t.sum(0) * ry).sum() / n
    dx, dy = rx - mx, ry - my
    cov = float((t * np.outer(dx, dy)).sum())
    vx, vy = float((t.sum(1) * dx ** 2).sum()), float((t.sum(0) * dy ** 2).sum())
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else float("nan")


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (ties corrected; scipy's default). Exact and fast for tied data such as
    1-5 ratings or segment-constant scores (a contingency table); scipy otherwise."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"kendall_tau: {len(x)} vs {len(y)} values")
    t = _table(x, y)
    if t is not None:
        return _tau_from_table(t)
    from scipy.stats import kendalltau

    return float(kendalltau(x, y).statistic)


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson correlation of mid-ranks (scipy's spearmanr)."""
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"spearman_rho: {len(x)} vs {len(y)} values")
    t = _table(x, y)
    if t is not None:
        return _rho_from_table(t)
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def rank_correlation(pred: Sequence[float], annotations: np.ndarray) -> tuple[float, float]:
    """(tau, rho) of per-frame predictions against each annotator, averaged over annotators."""
    taus = [kendall_tau(pred, a) for a in annotations]
    rhos = [spearman_rho(pred, a) for a in annotations]
    return float(np.nanmean(taus)), float(np.nanmean(rhos))


def human_rank_correlation(annotations: np.ndarray, against: str = "others") -> tuple[float, float]:
    """Agreement among annotators of one video: each against each other one ("others", the
    published protocol) or against the mean of the others ("mean")."""
    a = np.asarray(annotations)
    taus, rhos = [], []
    if against == "others":
        codes = [np.unique(row, return_inverse=True) for row in a]
        for i in range(len(a)):
            ui, ci = codes[i]
            for j in range(len(a)):
                if j == i:
                    continue
                uj, cj = codes[j]
                t = np.bincount(ci * len(uj) + cj, minlength=len(ui) * len(uj)).reshape(len(ui), len(uj))
                taus.append(_tau_from_table(t.astype(np.float64)))
                rhos.append(_rho_from_table(t.astype(np.float64)))
    elif against == "mean":
        for i in range(len(a)):
            m = np.delete(a, i, 0).mean(0)
            taus.append(kendall_tau(a[i], m))
            rhos.append(spearman_rho(a[i], m))
    else:
        raise ValueError(f"against must be 'others' or 'mean', not {against!r}")
    return float(np.nanmean(taus)), float(np.nanmean(rhos))


# ---- keyshot summaries and F1 -----------------------------------------------------------------
def upsample(scores: Sequence[float], n_frames: int) -> np.ndarray:
    """Scores of any length stretched to ``n_frames`` (nearest sample), e.g. 2-fps predictions."""
    s = np.asarray(scores, np.float64).ravel()
    if len(s) == n_frames:
        return s
    if len(s) == 0:
        raise ValueError("no scores")
    idx = np.minimum((np.arange(n_frames) * len(s) / n_frames).astype(int), len(s) - 1)
    return s[idx]


def keyshot_summary(frame_scores: Sequence[float], segments: np.ndarray, budget: float = 0.15,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """The protocol's keyshot summary: a boolean mask over frames choosing whole segments
    (value = mean frame score of the segment, weight = its length) of total length <=
    ``budget`` x the number of frames.

    ``rng``: break ties between equal segment values at random (a 1e-6 jitter) instead of in
    favour of the earliest segments; user summaries from 1-5 ratings tie a lot, and breaking
    their ties by position would make all users agree on early segments."""
    s = np.asarray(frame_scores, np.float64)
    seg = np.asarray(segments, int).reshape(-1, 2)
    n = len(s)
    values = [float(s[a:b].mean()) if b > a else 0.0 for a, b in seg]
    if rng is not None:
        values = list(np.asarray(values) + 1e-6 * rng.random(len(values)))
    lengths = [int(b - a) for a, b in seg]
    chosen = knapsack(values, lengths, int(math.floor(budget * n)))
    mask = np.zeros(n, bool)
    for i in chosen:
        mask[seg[i, 0]:seg[i, 1]] = True
    return mask


def f1(machine: np.ndarray, user: np.ndarray) -> float:
    """Frame-overlap F1 of two boolean masks (0 when they share no frame)."""
    m, u = np.asarray(machine, bool), np.asarray(user, bool)
    n = min(len(m), len(u))
    overlap = float(np.logical_and(m[:n], u[:n]).sum())
    if overlap == 0:
        return 0.0
    p, r = overlap / m.sum(), overlap / u.sum()
    return 2 * p * r / (p + r)


def keyshot_f1(machine: np.ndarray, users: Iterable[np.ndarray], mode: str = "avg") -> float:
    scores = [f1(machine, u) for u in users]
    if mode == "avg":
        return float(np.mean(scores))
    if mode == "max":
        return float(np.max(scores))
    raise ValueError(f"mode must be 'avg' (TVSum) or 'max' (SumMe), not {mode!r}")


def user_summaries(annotations: np.ndarray, segments: np.ndarray, budget: float = 0.15, seed: int = 0) -> np.ndarray:
    """Each annotator's keyshot summary (ties broken at random, seeded: reproducible)."""
    rng = np.random.default_rng(seed)
    return np.stack([keyshot_summary(a, segments, budget, rng) for a in np.asarray(annotations)])


def human_keyshot_f1(users: np.ndarray, mode: str = "avg") -> float:
    """Leave-one-out: each user summary scored against the other users' summaries."""
    return float(np.mean([keyshot_f1(users[i], np.delete(users, i, 0), mode) for i in range(len(users))]))


# ---- a dataset --------------------------------------------------------------------------------
@dataclass
class VideoScores:
    key: str
    f1: float
    tau: float
    rho: float


def evaluate_video(pred: Sequence[float], annotations: np.ndarray, segments: np.ndarray, users: np.ndarray,
                   budget: float = 0.15, mode: str = "avg", key: str = "") -> VideoScores:
    s = upsample(pred, annotations.shape[1])
    tau, rho = rank_correlation(s, annotations)
    return VideoScores(key, keyshot_f1(keyshot_summary(s, segments, budget), users, mode), tau, rho)


def random_scores(segments: np.ndarray, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Random importance: one uniform score per segment (Otani et al.'s random summary)."""
    s = np.zeros(n_frames)
    for (a, b), v in zip(segments, rng.random(len(segments))):
        s[a:b] = v
    return s


def _mean(rows: list[VideoScores]) -> dict:
    return {"f1": float(np.mean([r.f1 for r in rows])), "tau": float(np.nanmean([r.tau for r in rows])),
            "rho": float(np.nanmean([r.rho for r in rows])), "videos": len(rows)}


def evaluate_dataset(videos, predictions: dict[str, Sequence[float]] | None = None, splits=None, *,
                     budget: float = 0.15, mode: str = "avg", random_trials: int = 20, seed: int = 0,
                     human: bool = True, progress=None) -> dict:
    """Human agreement, the random baseline and (optionally) predictions on annotated videos.

    ``videos``: AnnotatedVideo-like objects (key, youtube_id, scores, segments()).
    ``predictions``: video key or YouTube id -> scores (per frame, or any length: stretched).
    ``splits``: folds [{"test_keys": [...]}]; results are given per fold and averaged over folds.
    """
    rng = np.random.default_rng(seed)
    per: dict[str, dict] = {}
    human_rows, human_max, mean_rows, random_rows, pred_rows = [], [], [], [], []
    for k, v in enumerate(videos):
        seg = v.segments()
        users = user_summaries(v.scores, seg, budget, seed + k)
        entry: dict = {"youtube_id": v.youtube_id, "frames": v.n_frames, "segments": len(seg)}
        if human:
            tau, rho = human_rank_correlation(v.scores, "others")
            mt, mr = human_rank_correlation(v.scores, "mean")
            human_rows.append(VideoScores(v.key, human_keyshot_f1(users, "avg"), tau, rho))
            human_max.append(human_keyshot_f1(users, "max"))
            mean_rows.append(VideoScores(v.key, float("nan"), mt, mr))
            entry["human"] = vars(human_rows[-1]) | {"f1_max": human_max[-1], "tau_vs_mean": mt, "rho_vs_mean": mr}
        if random_trials:
            trials = [evaluate_video(random_scores(seg, v.n_frames, rng), v.scores, seg, users, budget, mode)
                      for _ in range(random_trials)]
            random_rows.append(VideoScores(v.key, *(float(np.mean([getattr(t, a) for t in trials]))
                                                    for a in ("f1", "tau", "rho"))))
            entry["random"] = vars(random_rows[-1])
        if predictions is not None:
            pred = predictions.get(v.key, predictions.get(v.youtube_id))
            if pred is not None:
                pred_rows.append(evaluate_video(pred, v.scores, seg, users, budget, mode, v.key))
                entry["prediction"] = vars(pred_rows[-1])
        per[v.key] = entry
        if progress:
            progress(k + 1, len(videos))
    out: dict = {"protocol": {"budget": budget, "f1_mode": mode, "segments": "annotation 2-s segments",
                              "rank_correlation": "per-frame, each annotator vs each other annotator (human); "
                                                  "prediction vs each annotator (methods); mean per video, "
                                                  "then over videos",
                              "random_trials": random_trials, "seed": seed},
                 "videos": per}
    if human_rows:
        out["human"] = _mean(human_rows) | {"f1_max": float(np.mean(human_max))}
        out["human_vs_mean_of_others"] = {k: v for k, v in _mean(mean_rows).items() if k != "f1"}
    if random_rows:
        out["random"] = _mean(random_rows)
    if pred_rows:
        out["prediction"] = _mean(pred_rows)
    if splits:
        folds = []
        for i, fold in enumerate(splits):
            keys = set(fold["test_keys"])
            row = {"fold": i, "test_videos": len(keys)}
            for name, rows in (("human", human_rows), ("random", random_rows), ("prediction", pred_rows)):
                sel = [r for r in rows if r.key in keys]
                if sel:
                    row[name] = _mean(sel)
            folds.append(row)
        out["folds"] = folds
        for name in ("human", "random", "prediction"):
            vals = [f[name] for f in folds if name in f]
            if vals:
                out.setdefault("fold_mean", {})[name] = {m: float(np.mean([x[m] for x in vals]))
                                                         for m in ("f1", "tau", "rho")}
    return out
