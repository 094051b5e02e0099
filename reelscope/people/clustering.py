"""Cluster face-track embeddings into characters.

``cluster(embeddings, method=..., threshold=..., cannot_link=...) -> labels``: one integer
label per row, canonical (the cluster of row 0 is 0, the next new cluster 1, ...), so equal
partitions always give equal label arrays.

Methods (Euclidean distances between L2-normalised embeddings):

* ``"chinese_whispers"`` — dlib's Chinese Whispers graph clustering on the graph whose edges
  join rows closer than ``threshold`` (the same graph ``dlib.chinese_whispers_clustering``
  builds; we build it ourselves so that cannot-link pairs get no edge). dlib randomises the
  order in which nodes are visited with an internal ``dlib::rand`` that Python cannot seed; it
  is default-constructed, i.e. always starts from the same seed, so for a given input order
  and dlib build the result is deterministic (and the labels are canonicalised here). A
  different input order may give a different partition in ambiguous cases.
* ``"agglomerative"`` — average linkage, merging while the average distance between two
  clusters is <= ``threshold``. Own implementation (nearest-neighbour chain, O(n^2) time and
  memory) because scipy's ``linkage`` cannot take constraints; without constraints it gives
  the same partition as ``scipy.cluster.hierarchy.linkage(method="average")`` cut with
  ``fcluster(criterion="distance")`` (tested). Deterministic.

Cannot-link constraints (pairs of rows that must end in different clusters, e.g. two tracks
seen in the same frame, see ``tracks.cannot_link_pairs``):

* agglomerative: the pair's distance is set to infinity; average linkage propagates it (a
  weighted mean with an infinite term is infinite), so any merge that would put the two rows
  together is never made — the constraint holds exactly;
* Chinese Whispers: the pair gets no edge, yet labels spread along other paths, so a cluster
  can still hold both. Such clusters are post-split: their members are re-clustered with the
  constrained average linkage and no distance limit, i.e. split only as much as the
  constraints force, each part staying as large as average linkage allows.
"""
from __future__ import annotations

from typing import Iterable, Literal

import numpy as np

from reelscope.errors import MissingDependency

Method = Literal["chinese_whispers", "agglomerative"]

# Defaults for L2-normalised 128-d dlib descriptors averaged per track. Chinese Whispers joins
# through chains of close pairs, so it needs a tighter edge threshold than average linkage.
DEFAULT_THRESHOLDS: dict[str, float] = {"chinese_whispers": 0.5, "agglomerative": 0.6}


def pairwise_distances(x: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix (float64) of the rows of ``x``."""
    x = np.asarray(x, np.float64)
    sq = (x * x).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * x @ x.T
    return np.sqrt(np.clip(d2, 0.0, None))


def canonical_labels(labels: Iterable[int]) -> np.ndarray:
    """Relabel so clusters are numbered 0, 1, ... in order of their first row."""
    mapping: dict[int, int] = {}
    return np.asarray([mapping.setdefault(int(v), len(mapping)) for v in labels], np.int64)


def _cannot_link_matrix(n: int, cannot_link: Iterable[tuple[int, int]] | None) -> np.ndarray:
    m = np.zeros((n, n), bool)
    for i, j in cannot_link or ():
        if not (0 <= i < n and 0 <= j < n):
            raise ValueError(f"cannot-link pair ({i}, {j}) out of range for {n} embeddings")
        if i != j:
            m[i, j] = m[j, i] = True
    return m


def average_linkage(dist: np.ndarray, threshold: float, forbid: np.ndarray | None = None) -> np.ndarray:
    """Average-linkage clusters of a distance matrix, merging while the average distance is
    <= ``threshold`` (``inf`` for no limit), never joining a pair marked in ``forbid``.

    Nearest-neighbour chain algorithm: exact for average linkage (a reducible linkage); a
    pair of reciprocal nearest neighbours farther than the threshold can never merge below it
    (average distances only grow), so both are retired at once.
    """
    n = len(dist)
    d = np.array(dist, np.float64, copy=True)
    if forbid is not None:
        d[forbid] = np.inf
    np.fill_diagonal(d, np.inf)
    size = np.ones(n)
    members: list[list[int]] = [[i] for i in range(n)]
    active = np.ones(n, bool)
    chain: list[int] = []

    def retire(i: int) -> None:
        active[i] = False
        d[i, :] = np.inf
        d[:, i] = np.inf

    while active.any():
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        a = chain[-1]
        row = d[a]
        b = int(np.argmin(row))
        if len(chain) > 1 and row[chain[-2]] <= row[b]:
            b = chain[-2]  # tie: prefer the previous link, so the chain always terminates
        if not np.isfinite(row[b]) or row[b] > threshold:
            chain.pop()  # a has no neighbour it could merge with: it is final
            retire(a)
            continue
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            keep, gone = min(a, b), max(a, b)
            merged = (size[keep] * d[keep] + size[gone] * d[gone]) / (size[keep] + size[gone])
            d[keep, :] = merged
            d[:, keep] = merged
            d[keep, keep] = np.inf
            size[keep] += size[gone]
            members[keep] += members[gone]
            members[gone] = []
            active[gone] = False
            d[gone, :] = np.inf
            d[:, gone] = np.inf
        else:
            chain.append(b)
    labels = np.empty(n, np.int64)
    for k, ms in enumerate(m for m in members if m):
        labels[ms] = k
    return canonical_labels(labels)


def _chinese_whispers(x: np.ndarray, threshold: float, forbid: np.ndarray) -> np.ndarray:
    try:
        import dlib
    except ImportError as e:
        raise MissingDependency(f"dlib (for Chinese Whispers clustering: {e})", "pip install dlib-bin") from e
    n = len(x)
    close = pairwise_distances(x) < threshold  # dlib.chinese_whispers_clustering uses '<' too
    close &= ~forbid
    ii, jj = np.nonzero(np.triu(close))  # includes (i, i): isolated rows keep their own cluster
    edges = [(int(i), int(j)) for i, j in zip(ii, jj)]
    labels = canonical_labels(dlib.chinese_whispers(edges))
    if len(labels) != n:  # pragma: no cover - every row has its self edge
        raise RuntimeError(f"dlib returned {len(labels)} labels for {n} rows")
    return labels


def _split_violations(labels: np.ndarray, dist: np.ndarray, forbid: np.ndarray) -> np.ndarray:
    """Split every cluster that holds a cannot-link pair (see the module docstring)."""
    out = labels.copy()
    next_label = int(labels.max()) + 1 if len(labels) else 0
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        sub_forbid = forbid[np.ix_(idx, idx)]
        if not sub_forbid.any():
            continue
        parts = average_linkage(dist[np.ix_(idx, idx)], np.inf, sub_forbid)
        for p in range(1, int(parts.max()) + 1):
            out[idx[parts == p]] = next_label
            next_label += 1
    return canonical_labels(out)


def cluster(embeddings: np.ndarray, method: Method = "chinese_whispers", threshold: float | None = None,
            cannot_link: Iterable[tuple[int, int]] | None = None) -> np.ndarray:
    """Cluster rows of ``embeddings`` (N, D); returns canonical int labels (N,).

    ``threshold`` defaults to ``DEFAULT_THRESHOLDS[method]``. ``cannot_link``: pairs of row
    indices that must not share a cluster.
    """
    x = np.asarray(embeddings, np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {x.shape}")
    if method not in DEFAULT_THRESHOLDS:
        raise ValueError(f"unknown clustering method {method!r}; use one of {sorted(DEFAULT_THRESHOLDS)}")
    n = len(x)
    if n == 0:
        return np.zeros(0, np.int64)
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or inf")
    t = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
    forbid = _cannot_link_matrix(n, cannot_link)
    dist = pairwise_distances(x)
    if method == "agglomerative":
        return average_linkage(dist, t, forbid)
    labels = _chinese_whispers(x, t, forbid)
    return _split_violations(labels, dist, forbid) if forbid.any() else labels
