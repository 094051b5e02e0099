"""Clustering and verification metrics for faces (characters, identities).

Clustering: BCubed precision / recall / F (Bagga & Baldwin 1998; Amigó et al. 2009), the
usual measure for face clustering because it weighs every face equally and punishes both
merging people (precision) and splitting a person (recall):

    precision = mean over items i of |cluster(i) & class(i)| / |cluster(i)|
    recall    = mean over items i of |cluster(i) & class(i)| / |class(i)|

Known values: a perfect clustering gives 1/1/1; everything in one cluster gives recall 1 and
precision sum(n_c^2)/N^2; all singletons give precision 1 and recall K/N (K true classes).

Verification (is this pair the same person?) from distances, where a pair is declared
"same" when its distance is <= the threshold: ROC (TPR/FPR over all thresholds), its area,
accuracy at a threshold, the accuracy-maximising threshold, and the equal error rate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


# ---- clustering ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BCubed:
    precision: float
    recall: float
    f1: float
    n_clusters: int
    n_classes: int

    def as_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "n_clusters": self.n_clusters, "n_classes": self.n_classes}


def _codes(labels: Sequence) -> np.ndarray:
    """Dense integer codes 0..K-1 for any hashable labels, in order of first appearance."""
    index: dict = {}
    items = labels.tolist() if isinstance(labels, np.ndarray) else list(labels)
    return np.fromiter((index.setdefault(v, len(index)) for v in items), np.int64, count=len(items))


def bcubed(predicted: Sequence, truth: Sequence) -> BCubed:
    """BCubed precision/recall/F1 of cluster ids ``predicted`` against class ids ``truth``
    (any hashable labels; one per item). Noise labels (e.g. DBSCAN's -1) are an ordinary
    cluster here: map them to unique ids first (``singletons_for_noise``) if each noise item
    should count as its own cluster."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted labels for {len(truth)} true labels")
    n = len(truth)
    if n == 0:
        raise ValueError("bcubed needs at least one item")
    p, t = _codes(predicted), _codes(truth)
    # contingency table: items per (cluster, class)
    table = np.zeros((p.max() + 1, t.max() + 1), np.int64)
    np.add.at(table, (p, t), 1)
    cluster_size = table.sum(1)
    class_size = table.sum(0)
    # each of the table[a, b] items in cell (a, b) scores table[a, b] / size
    precision = float((table ** 2 / cluster_size[:, None]).sum() / n)
    recall = float((table ** 2 / class_size[None, :]).sum() / n)
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return BCubed(precision, recall, f1, int((cluster_size > 0).sum()), int((class_size > 0).sum()))


def singletons_for_noise(labels: Sequence[int], noise: int = -1) -> np.ndarray:
    """Cluster ids with every ``noise`` item given its own new id (so each is a singleton)."""
    out = np.asarray(labels, np.int64).copy()
    mask = out == noise
    start = (out.max() + 1) if len(out) and out.max() >= 0 else 0
    out[mask] = start + np.arange(mask.sum())
    return out


# ---- verification -------------------------------------------------------------------------
def pairs(labels: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All unordered pairs i < j: (i, j, same) with same[k] True when labels[i] == labels[j]."""
    codes = _codes(labels)
    i, j = np.triu_indices(len(codes), k=1)
    return i, j, codes[i] == codes[j]


def pair_distances(distances: np.ndarray, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(distance, same) for all unordered pairs of an (N, N) distance matrix."""
    i, j, same = pairs(labels)
    return np.asarray(distances)[i, j], same


def _check(distances, same):
    d = np.asarray(distances, np.float64).reshape(-1)
    s = np.asarray(same, bool).reshape(-1)
    if len(d) != len(s):
        raise ValueError(f"{len(d)} distances for {len(s)} same/different flags")
    if not s.any() or s.all():
        raise ValueError("verification needs both genuine (same) and impostor (different) pairs")
    return d, s


@dataclass(frozen=True)
class Roc:
    thresholds: np.ndarray  # ascending; a pair is "same" when distance <= threshold
    tpr: np.ndarray  # genuine pairs accepted
    fpr: np.ndarray  # impostor pairs accepted

    @property
    def auc(self) -> float:
        x = np.concatenate([[0.0], self.fpr, [1.0]])
        y = np.concatenate([[0.0], self.tpr, [1.0]])
        return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def roc(distances, same) -> Roc:
    """TPR and FPR at every distinct distance used as threshold (distance <= t is 'same')."""
    d, s = _check(distances, same)
    order = np.argsort(d, kind="stable")
    d, s = d[order], s[order]
    last = np.r_[d[1:] != d[:-1], True]  # last index of each run of equal distances
    tp = np.cumsum(s)[last]
    fp = np.cumsum(~s)[last]
    return Roc(d[last], tp / s.sum(), fp / (~s).sum())


def roc_auc(distances, same) -> float:
    """Area under the ROC curve = P(genuine distance < impostor distance), ties count half."""
    return roc(distances, same).auc


def accuracy_at(distances, same, threshold: float) -> float:
    """Fraction of pairs decided right when distance <= threshold means 'same'."""
    d, s = _check(distances, same)
    return float(np.mean((d <= threshold) == s))


def rates_at(distances, same, threshold: float) -> dict:
    """TPR, FPR, accuracy and balanced accuracy at one threshold."""
    d, s = _check(distances, same)
    accept = d <= threshold
    tpr, fpr = float(accept[s].mean()), float(accept[~s].mean())
    return {"threshold": float(threshold), "tpr": tpr, "fpr": fpr, "accuracy": float(np.mean(accept == s)),
            "balanced_accuracy": (tpr + 1 - fpr) / 2}


def best_threshold(distances, same, *, balanced: bool = False) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy (or balanced accuracy, the mean of TPR and
    TNR, which ignores how many more impostor pairs there are). The threshold is placed
    midway between the two distances it separates."""
    d, s = _check(distances, same)
    r = roc(d, s)
    n_pos, n_neg = s.sum(), (~s).sum()
    if balanced:
        acc = (r.tpr + 1 - r.fpr) / 2
        acc0 = 0.5  # threshold below every distance
    else:
        acc = (r.tpr * n_pos + (1 - r.fpr) * n_neg) / len(d)
        acc0 = n_neg / len(d)
    k = int(np.argmax(acc))
    if acc0 > acc[k]:
        return float(r.thresholds[0] - 1e-6), float(acc0)
    t = r.thresholds[k]
    t = (t + r.thresholds[k + 1]) / 2 if k + 1 < len(r.thresholds) else t
    return float(t), float(acc[k])


def eer(distances, same) -> tuple[float, float]:
    """(equal error rate, threshold): where the false reject rate (1 - TPR) equals the false
    accept rate (FPR), linearly interpolated between ROC points."""
    r = roc(distances, same)
    frr = 1 - r.tpr
    diff = frr - r.fpr  # decreasing in the threshold
    k = int(np.argmax(diff <= 0))  # first threshold where FRR <= FAR
    if k == 0:
        return float((frr[0] + r.fpr[0]) / 2), float(r.thresholds[0])
    d0, d1 = diff[k - 1], diff[k]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    rate = (1 - w) * r.fpr[k - 1] + w * r.fpr[k]
    thr = (1 - w) * r.thresholds[k - 1] + w * r.thresholds[k]
    return float(rate), float(thr)
