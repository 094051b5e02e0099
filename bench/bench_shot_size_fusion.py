"""Shot size: can a classifier trained on the rules' evidence (and on frozen EfficientNet-Lite0
features) beat the default rules on the by-eye labels? 10-fold stratified CV, 3 shuffles.

Features per labelled middle frame:
  E  the evidence of ``shots.shot_size.measure`` as 38 numbers (main face box/score/body below
     the chin, pose extent and visible parts, main person region box/area/aspect, saliency,
     focus, edge density, contrast, aspect ratio);
  R  the default rules' decision, one-hot (its thresholds were calibrated on these labels, so
     configurations with R leak a little);
  F  EfficientNet-Lite0 ``avg+mid`` pooled features (1704 values; horizontally flipped copies
     added to the training folds).

Usage: python bench/bench_shot_size_fusion.py   (writes bench/results/shot_size_fusion.{json,md})
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_shot_size import LABELS_FILE, load_frames  # noqa: E402
from machine_info import machine  # noqa: E402

from reelscope.shots.shot_size import ShotSizeClassifier, decide  # noqa: E402
from reelscope.shots.size_train import effnet_features  # noqa: E402

CLASSES = ["ECU", "CU", "MS", "FS", "LS"]
OUT = Path(__file__).parent / "results"


def evidence_vector(ev: dict) -> np.ndarray:
    w, h = ev["size"]
    faces = sorted(ev["faces"], key=lambda f: -f["w"] * f["h"])
    good = [f for f in faces if f["score"] >= 0.6]
    f = good[0] if good else (faces[0] if faces else None)
    fv = [0.0] * 8
    if f:
        bottom = f["y"] + f["h"]
        cut = f["x"] <= 0.01 or f["y"] <= 0.01 or f["x"] + f["w"] >= 0.99 or bottom >= 0.99
        fv = [1, f["h"], f["w"], f["y"], bottom, f["score"], (1 - bottom) / max(f["h"], 1e-3), float(cut)]
    fv += [len(faces), len(good)]
    poses = [p for p in ev["pose"] if p["flag"] >= 0.5]
    pv = [0.0] * 11
    if poses:
        p = max(poses, key=lambda p: p["score"])
        pv = [1, p["extent"], p["crown_y"], p["feet_y"], p["score"], p["flag"]] + \
             [float(p["parts"][k]) for k in ("head", "shoulders", "waist", "knees", "feet")]
    blobs = ev["blobs"]
    bv = [0.0] * 7
    if blobs:
        b = blobs[0]
        bv = [1, b["y0"], b["y1"], b["y1"] - b["y0"], b["x1"] - b["x0"], b["area"],
              ((b["y1"] - b["y0"]) * h) / max(1e-6, (b["x1"] - b["x0"]) * w)]
    bv += [len(blobs), sum(b["area"] for b in blobs)]
    s = ev["saliency"]
    sv = [s["salient_area"], s["salient_height"], s["salient_width"], float(np.log1p(s["focus"])),
          s["edge_density"], s["contrast"] / 100, w / h]
    return np.array(fv + pv + bv + sv, np.float32)


def cross_validate(make, x, y, x_flip=None, seeds=(0, 1, 2)) -> dict:
    from sklearn.model_selection import StratifiedKFold
    accs, cm = [], np.zeros((5, 5), int)
    for seed in seeds:
        pred = np.zeros_like(y)
        for tr, te in StratifiedKFold(10, shuffle=True, random_state=seed).split(x, y):
            xt, yt = x[tr], y[tr]
            if x_flip is not None:
                xt, yt = np.concatenate([xt, x_flip[tr]]), np.concatenate([yt, yt])
            m = make()
            m.fit(xt, yt)
            pred[te] = m.predict(x[te])
        accs.append(float((pred == y).mean()))
        for t, p in zip(y, pred):
            cm[t, p] += 1
    return {"accuracy": round(float(np.mean(accs)), 4), "std": round(float(np.std(accs)), 4), "confusion": cm.tolist()}


def main() -> int:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.filterwarnings("ignore")
    labels = json.loads(LABELS_FILE.read_text())["labels"]
    frames = load_frames(labels)
    clf = ShotSizeClassifier()
    imgs = [frames[(lab["video"], lab["frame"])] for lab in labels]
    evs = [clf.evidence(im) for im in imgs]
    y = np.array([CLASSES.index(lab["label"]) for lab in labels])
    e = np.stack([evidence_vector(ev) for ev in evs])
    r = np.zeros((len(evs), 5), np.float32)
    r[np.arange(len(evs)), [CLASSES.index(decide(ev)[0]) for ev in evs]] = 1
    f = effnet_features(imgs, pool="avg+mid")
    ff = effnet_features([im[:, ::-1].copy() for im in imgs], pool="avg+mid")

    def lr(c):
        return lambda: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000, class_weight="balanced"))

    configs = {
        "E, extra trees": (lambda: ExtraTreesClassifier(500, class_weight="balanced", random_state=0), e, None),
        "E+R, random forest": (lambda: RandomForestClassifier(400, class_weight="balanced", random_state=0),
                               np.hstack([e, r]), None),
        "F, logistic C=0.1": (lr(0.1), f, ff),
        "F+E+R, logistic C=0.1": (lr(0.1), np.hstack([f, e * 10, r * 10]), np.hstack([ff, e * 10, r * 10])),
    }
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(("numpy", "scikit-learn", "torch")), "n": len(labels),
           "rules_accuracy": round(float((r.argmax(1) == y).mean()), 4), "configs": {}}
    for name, (make, x, xf) in configs.items():
        res["configs"][name] = cross_validate(make, x, y, xf)
        print(name, res["configs"][name]["accuracy"], flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "shot_size_fusion.json").write_text(json.dumps(res, indent=1))
    lines = ["# Shot size: trained fusion of evidence and CNN features (10-fold CV x 3 shuffles)", "",
             f"- date: {res['date']}", f"- machine: {res['machine']}", f"- labels: {res['n']} by-eye frames",
             f"- default rules (not cross-validated; calibrated on these labels): {res['rules_accuracy']:.1%}", "",
             "| features, model | CV accuracy (mean ± std over shuffles) |", "|---|---:|"]
    lines += [f"| {k} | {v['accuracy']:.1%} ± {v['std']:.1%} |" for k, v in res["configs"].items()]
    (OUT / "shot_size_fusion.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
