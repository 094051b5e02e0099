"""TVSum annotations (``ydata-anno.tsv.gz``) and the 5-fold splits of published results.

The annotation file has one line per (video, annotator): YouTube id, category code and the
annotator's importance score (1-5) for every frame, comma-separated; 50 videos x 20 annotators.
Annotators scored uniform 2-second segments, so each line is constant over runs of about
2 s x fps frames. The videos themselves are not needed (nor available here).

Video keys: the splits files (``tvsum_splits.json``) name videos ``video_1`` .. ``video_50``, the
keys of the widely used ``eccv16_dataset_tvsum_google_pool5.h5``. That file lists the videos in
the order of the annotation file (``video_1`` = AwmHb44_ouw with 10597 frames, ...), so
``video_k`` is the k-th distinct id of ``ydata-anno.tsv.gz`` here.
"""
from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelscope.errors import ReelscopeError


@dataclass
class AnnotatedVideo:
    key: str  # video_1 .. video_50 (the splits' names)
    youtube_id: str
    category: str
    scores: np.ndarray  # (annotators, frames) int8, 1..5

    @property
    def n_frames(self) -> int:
        return int(self.scores.shape[1])

    @property
    def n_annotators(self) -> int:
        return int(self.scores.shape[0])

    def segments(self) -> np.ndarray:
        """The annotation segments as (k, 2) [start, end) frame ranges (see ``annotation_segments``)."""
        return annotation_segments(self.scores)


def annotation_segments(scores: np.ndarray) -> np.ndarray:
    """The 2-second segments annotators scored, recovered from the scores: a boundary wherever
    any annotator's score changes; runs longer than 1.5x the typical segment (neighbouring
    segments that every annotator scored alike) are split evenly into segments of about that
    length. Returns (k, 2) [start, end) frame ranges covering every frame."""
    scores = np.asarray(scores)
    n = scores.shape[1]
    change = np.unique(np.concatenate([np.flatnonzero(np.diff(row)) + 1 for row in scores] + [np.zeros(0, int)]))
    bounds = np.concatenate([[0], change, [n]]).astype(int)
    runs = np.diff(bounds)
    typical = Counter(runs[runs > 0].tolist()).most_common(1)[0][0] if len(runs) else n
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        length = b - a
        parts = max(1, int(round(length / typical))) if length > 1.5 * typical else 1
        edges = np.linspace(a, b, parts + 1).round().astype(int)
        out += list(zip(edges[:-1], edges[1:]))
    return np.asarray(out, dtype=int).reshape(-1, 2)


def load_tvsum(path: str | Path) -> list[AnnotatedVideo]:
    """The annotated videos of a TVSum annotation file (.tsv or .tsv.gz), in file order."""
    p = Path(path)
    if not p.is_file():
        raise ReelscopeError(f"{p}: TVSum annotation file not found")
    opener = gzip.open if p.suffix == ".gz" else open
    rows: dict[str, list[np.ndarray]] = {}
    cats: dict[str, str] = {}
    try:
        with opener(p, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 3:
                    raise ReelscopeError(f"{p}:{lineno}: expected 3 tab-separated columns, got {len(parts)}")
                vid, cat, text = parts
                try:
                    row = np.array([int(x) for x in text.split(",")], dtype=np.int8)
                except ValueError:
                    raise ReelscopeError(f"{p}:{lineno}: scores are not comma-separated integers") from None
                if prev := rows.get(vid):
                    if len(prev[0]) != len(row):
                        raise ReelscopeError(f"{p}:{lineno}: {vid} has {len(row)} frames here, "
                                             f"{len(prev[0])} on an earlier line")
                rows.setdefault(vid, []).append(row)
                cats[vid] = cat
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise ReelscopeError(f"{p}: cannot read TVSum annotations ({e})") from None
    if not rows:
        raise ReelscopeError(f"{p}: no annotations in the file")
    return [AnnotatedVideo(f"video_{k}", vid, cats[vid], np.stack(r)) for k, (vid, r) in enumerate(rows.items(), 1)]


def load_splits(path: str | Path) -> list[dict[str, list[str]]]:
    """The folds of a splits file: [{"train_keys": [...], "test_keys": [...]}, ...]."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ReelscopeError(f"{p}: splits file not found") from None
    except (OSError, ValueError) as e:
        raise ReelscopeError(f"{p}: cannot read splits ({e})") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) and "test_keys" in d for d in data):
        raise ReelscopeError(f"{p}: expected a list of folds with test_keys")
    return [{"train_keys": list(d.get("train_keys", [])), "test_keys": list(d["test_keys"])} for d in data]
