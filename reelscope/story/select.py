"""Keyshot selection under a length budget: exact 0/1 knapsack, with diversity.

``knapsack(values, weights, capacity)`` is the exact dynamic programme (integer weights), the
selection step of the published summarisation protocol (Gygli et al. 2014, Zhang et al. 2016):
choose segments maximising their total value with total length <= budget. It is written here
(numpy, one vectorised pass per item, O(n * capacity)) because the usual choice, OR-Tools, is a
large dependency for twenty lines.

``select_keyshots`` adds what a watchable summary needs beyond the protocol:
- durations are measured in ticks of ``resolution`` seconds, rounded *up* per shot and the
  budget rounded *down*, so the chosen shots never exceed the budget;
- diversity: within a scene (a group of visually similar, near-consecutive shots; see
  ``reelscope.story.importance``), the shots are ranked by score and the k-th best keeps only
  ``decay ** k`` of its value (soft), and no scene may take more than ``max_scene_share`` of
  the budget (hard: the scene's weakest selected shot is withdrawn and the knapsack solved
  again until every scene fits).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_CELLS = 40_000_000  # items x capacity cells of the DP table (bool): ~40 MB


def knapsack(values: Sequence[float], weights: Sequence[int], capacity: int) -> list[int]:
    """Indices (ascending) of the items of maximum total value with total weight <= capacity.

    Weights are non-negative integers; items with value <= 0 are never chosen (they cannot
    help); ties keep the earlier solution (fewer, earlier items)."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights)
    if len(v) != len(w):
        raise ValueError(f"{len(v)} values for {len(w)} weights")
    if len(w) and (w < 0).any():
        raise ValueError("weights must be >= 0")
    if not np.all(np.equal(np.mod(w, 1), 0)):
        raise ValueError("weights must be integers")
    w = w.astype(np.int64)
    cap = int(capacity)
    if cap < 0 or len(v) == 0:
        return []
    if len(v) * (cap + 1) > MAX_CELLS:
        raise ValueError(f"knapsack too large ({len(v)} items x capacity {cap}); use coarser weights")
    best = np.zeros(cap + 1)
    take = np.zeros((len(v), cap + 1), dtype=bool)
    tol = 1e-12
    for i in range(len(v)):
        wi, vi = int(w[i]), float(v[i])
        if vi <= 0 or wi > cap:
            continue
        cand = best[:cap + 1 - wi] + vi  # a new array: built from the previous row
        better = cand > best[wi:] + tol
        take[i, wi:] = better
        best[wi:] = np.where(better, cand, best[wi:])
    chosen = []
    c = cap
    for i in range(len(v) - 1, -1, -1):
        if take[i, c]:
            chosen.append(i)
            c -= int(w[i])
    return sorted(chosen)


@dataclass(frozen=True)
class Candidate:
    """A piece of the video that may go into a summary."""
    start: float  # seconds
    end: float
    score: float  # importance, 0..1
    scene: int = -1  # scene group (-1: its own)
    shot: int = -1

    @property
    def duration(self) -> float:
        return self.end - self.start


def ticks(seconds: float, resolution: float, up: bool) -> int:
    x = seconds / resolution
    return int(math.ceil(x - 1e-9)) if up else int(math.floor(x + 1e-9))


def select_keyshots(cands: Sequence[Candidate], budget: float, *, decay: float = 0.5,
                    max_scene_share: float | None = 0.4, resolution: float = 0.04,
                    value: str = "mass") -> list[int]:
    """Indices (ascending) of the candidates to keep, total duration <= ``budget`` seconds.

    ``value``: "mass" (score x duration: the importance covered; the default for highlight
    reels) or "mean" (the score alone, as the TVSum/SumMe protocol's knapsack does).
    ``decay`` = 1 and ``max_scene_share`` = None switch diversity off."""
    if budget <= 0 or not cands:
        return []
    res = resolution
    while len(cands) * (ticks(budget, res, False) + 1) > MAX_CELLS:
        res *= 2
    cap = ticks(budget, res, False)
    weights = [max(1, ticks(c.duration, res, True)) for c in cands]
    base = [max(0.0, c.score) * (c.duration if value == "mass" else 1.0) for c in cands]
    # soft diversity: the k-th best shot of a scene keeps decay**k of its value
    vals = list(base)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        groups[c.scene if c.scene >= 0 else -1 - i].append(i)
    if decay < 1:
        for members in groups.values():
            for k, i in enumerate(sorted(members, key=lambda j: (-cands[j].score, j))):
                vals[i] = base[i] * decay ** k
    excluded: set[int] = set()
    while True:
        v = [0.0 if i in excluded else x for i, x in enumerate(vals)]
        chosen = knapsack(v, weights, cap)
        if max_scene_share is None:
            return chosen
        limit = max_scene_share * budget
        over = None
        for members in groups.values():
            sel = [i for i in chosen if i in members]
            if len(sel) > 1 and sum(cands[i].duration for i in sel) > limit + 1e-9:
                over = min(sel, key=lambda j: (vals[j] / max(cands[j].duration, 1e-9), -j))
                break
        if over is None:
            return chosen
        excluded.add(over)
