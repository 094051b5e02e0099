#!/usr/bin/env python
"""Face embedding, clustering and expression benchmark on NIST MEDS-II (114 mugshots, 50 people).

Data: ``faces/meds2_nist_sd32/*.jpg`` under the shared data folder ($REELSCOPE_TEST_DATA or
../shared/data); the identity is the ``S<id>`` prefix of the file name. NIST Special Database 32
(MEDS-II), "released ... to support the NIST Multiple Biometric Evaluation 2010 ... available to
any user interested in biometric research" (see the folder's NOTICE). The images are read from
there, never copied.

For each configuration (face detector x alignment), the largest face of every photo is
detected and embedded with reelscope.vision.face_embed.FaceEmbedder (dlib ResNet, 128-d), then:

(a) verification over all genuine and impostor pairs of detected faces: ROC AUC, accuracy at
    dlib's published threshold 0.6 (on raw, unnormalised vectors, as dlib defines it), the
    accuracy-maximising threshold on our normalised vectors, balanced accuracy, EER;
(b) clustering of the detected faces: dlib.chinese_whispers_clustering (raw vectors at dlib's
    0.5/0.55/0.6, and normalised vectors over a sweep), sklearn AgglomerativeClustering
    (average linkage, distance-threshold sweep), sklearn DBSCAN (eps sweep; min_samples 1 and 2,
    noise counted as singletons) and reelscope.people.clustering (the pipeline's own
    implementations), scored with BCubed P/R/F (reelscope.eval.clustering) and the number of
    clusters against the true number of identities;
(c) speed on this CPU: faces/s for alignment + embedding, and for expression
    (reelscope.vision.expression, default 6 views and a single view);
(d) small faces: every photo shrunk so the face box is 40 or 80 px wide, embedded with
    FaceEmbedder (which enlarges small faces before dlib cuts the chip) and with plain dlib on the
    shrunk image, to check that the enlargement helps rather than hurts.

Run:  .venv/bin/python bench/bench_faces_meds.py            (about 3 minutes on 2 cores)
      .venv/bin/python bench/bench_faces_meds.py --quick    (hog only, no small-face test)
Writes bench/results/faces_meds.md and faces_meds.json (--out-dir to change).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from reelscope.eval import clustering as cm  # noqa: E402
from reelscope.vision.detections import Detections  # noqa: E402
from reelscope.vision.face_embed import (DLIB_RAW_THRESHOLD, FaceEmbedder, normalise,  # noqa: E402
                                         pairwise_distances)

DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))
MEDS = "faces/meds2_nist_sd32"
NORM_SWEEP = [round(x, 3) for x in np.arange(0.30, 0.625, 0.025)]
RAW_CW = [0.5, 0.55, 0.6]
FIXED_THRESHOLDS = [0.35, 0.4, 0.437]  # normalised; 0.437 ~ dlib's raw 0.6 (raw norms ~1.38)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- data and models --------------------------------------------------------------------------
def load_images(folder: Path) -> list[tuple[str, str, np.ndarray]]:
    import cv2

    out = []
    for p in sorted(folder.glob("*.jpg")):
        m = re.match(r"(S\d+)-", p.name)
        bgr = cv2.imread(str(p))
        if m is None or bgr is None:
            log(f"skipping {p.name}: no S<id> prefix or unreadable")
            continue
        out.append((p.name, m.group(1), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return out


def detect_largest(detector_name: str, images) -> tuple[list[Detections | None], float]:
    from reelscope.vision.face_detect import make_face_detector

    det = make_face_detector(detector_name)
    out, t = [], 0.0
    for _, _, rgb in images:
        t0 = time.perf_counter()
        d = det.detect(rgb)
        t += time.perf_counter() - t0
        out.append(d.select([int(np.argmax(d.areas))]) if len(d) else None)
    return out, t


def embed_all(embedder: FaceEmbedder, images, dets) -> tuple[np.ndarray, np.ndarray, dict]:
    """Raw (unnormalised) descriptors of the detected faces, their indices, and timings."""
    chips, idx = [], []
    t0 = time.perf_counter()
    for i, ((_, _, rgb), d) in enumerate(zip(images, dets)):
        if d is not None:
            chips.append(embedder.chips(rgb, d)[0])
            idx.append(i)
    t_align = time.perf_counter() - t0
    t0 = time.perf_counter()
    raw = embedder.embed_chips(np.stack(chips), raw=True)
    t_net = time.perf_counter() - t0
    n = len(idx)
    return raw, np.asarray(idx), {"faces": n, "align_s": t_align, "network_s": t_net,
                                  "faces_per_s": n / (t_align + t_net), "ms_per_face": 1000 * (t_align + t_net) / n}


# ---- (a) verification -------------------------------------------------------------------------
def verification(raw: np.ndarray, labels: list[str]) -> dict:
    norms = np.linalg.norm(raw, axis=1)
    d_norm, same = cm.pair_distances(pairwise_distances(raw), labels)
    diff = raw[:, None] - raw[None]
    d_raw, _ = cm.pair_distances(np.sqrt((diff ** 2).sum(-1)), labels)
    thr, acc = cm.best_threshold(d_norm, same)
    bthr, bacc = cm.best_threshold(d_norm, same, balanced=True)
    e, ethr = cm.eer(d_norm, same)
    e_raw, ethr_raw = cm.eer(d_raw, same)
    at06 = cm.rates_at(d_raw, same, DLIB_RAW_THRESHOLD)
    # the normalised threshold that accepts the same fraction of pairs as raw 0.6 does
    equiv = float(np.quantile(d_norm, np.mean(d_raw <= DLIB_RAW_THRESHOLD)))
    return {
        "pairs": int(len(same)), "genuine": int(same.sum()), "impostor": int((~same).sum()),
        "raw_norm_mean": float(norms.mean()), "raw_norm_min": float(norms.min()), "raw_norm_max": float(norms.max()),
        "auc": cm.roc_auc(d_norm, same), "auc_raw": cm.roc_auc(d_raw, same),
        "raw_0.6": at06, "norm_equiv_of_raw_0.6": equiv,
        "best_threshold": thr, "best_accuracy": acc, "at_best": cm.rates_at(d_norm, same, thr),
        "best_balanced_threshold": bthr, "best_balanced_accuracy": bacc,
        "eer": e, "eer_threshold": ethr, "eer_raw": e_raw, "eer_threshold_raw": ethr_raw,
        "genuine_max": float(d_norm[same].max()), "impostor_min": float(d_norm[~same].min()),
        "at_fixed": {str(t): cm.rates_at(d_norm, same, t) for t in FIXED_THRESHOLDS},
    }


# ---- (b) clustering ---------------------------------------------------------------------------
def clusterings(raw: np.ndarray, labels: list[str]) -> list[dict]:
    import dlib
    from sklearn.cluster import DBSCAN, AgglomerativeClustering

    from reelscope.people.clustering import cluster as rs_cluster

    x = normalise(raw)
    rows = []

    def add(method, threshold, pred, note=""):
        b = cm.bcubed(pred, labels)
        rows.append({"method": method, "threshold": threshold, **b.as_dict(), "note": note})

    for t in RAW_CW:
        add("dlib chinese_whispers (raw vectors)", t,
            dlib.chinese_whispers_clustering([dlib.vector(v.astype(float).tolist()) for v in raw], t))
    xv = [dlib.vector(v.astype(float).tolist()) for v in x]
    for t in NORM_SWEEP:
        add("dlib chinese_whispers", t, dlib.chinese_whispers_clustering(xv, t))
    for t in NORM_SWEEP:
        add("sklearn agglomerative average", t,
            AgglomerativeClustering(n_clusters=None, distance_threshold=t, linkage="average").fit_predict(x))
    for t in NORM_SWEEP:
        for ms in (1, 2):
            pred = DBSCAN(eps=t, min_samples=ms).fit_predict(x)
            add(f"sklearn DBSCAN min_samples={ms}", t, cm.singletons_for_noise(pred),
                f"{int((pred == -1).sum())} noise" if ms > 1 else "")
    for method in ("chinese_whispers", "agglomerative"):
        for t in NORM_SWEEP:
            add(f"reelscope.people.clustering {method}", t, rs_cluster(x, method, t))
    return rows


# ---- (c) expression speed + label counts ------------------------------------------------------
def expression_run(images, dets) -> dict:
    from reelscope.vision.expression import MARGIN, ExpressionClassifier

    out = {}
    for name, views in (("6 views (default)", None), ("1 view (fer's crop)", ((MARGIN, False),))):
        clf = ExpressionClassifier() if views is None else ExpressionClassifier(views=views)
        labels, t, n = {}, 0.0, 0
        for (fname, _, rgb), d in zip(images, dets):
            if d is None:
                continue
            t0 = time.perf_counter()
            p = clf.predict(rgb, d)[0]
            t += time.perf_counter() - t0
            n += 1
            labels[fname] = p["label"]
        counts: dict[str, int] = {}
        for v in labels.values():
            counts[v] = counts.get(v, 0) + 1
        out[name] = {"faces": n, "faces_per_s": n / t, "ms_per_face": 1000 * t / n, "labels": counts,
                     "S008-06 (broad smile)": labels.get("S008-06-t10_01.jpg")}
    return out


# ---- (d) small faces --------------------------------------------------------------------------
def small_faces(images, dets, labels_all, width: int) -> dict:
    import cv2
    import dlib

    from reelscope.models.dlib_models import dlib_model

    emb = FaceEmbedder(align="predictor")
    sp, net = dlib_model("shape5").model, dlib_model("facerec").model
    ours, plain, labels = [], [], []
    for (_, ident, rgb), d in zip(images, dets):
        if d is None:
            continue
        s = width / float(d.boxes[0, 2])
        small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        box = d.boxes[0] * s
        dd = Detections(box[None], [1.0])
        ours.append(emb.embed_chips(emb.chips(small, dd), raw=True)[0])
        x, y, w, h = box
        rect = dlib.rectangle(int(round(x)), int(round(y)), int(round(x + w)) - 1, int(round(y + h)) - 1)
        plain.append(np.asarray(net.compute_face_descriptor(small, sp(small, rect)), np.float32))
        labels.append(ident)
    res = {}
    for name, e in (("FaceEmbedder (enlarged before dlib)", ours), ("plain dlib on the small image", plain)):
        d_norm, same = cm.pair_distances(pairwise_distances(np.stack(e)), labels)
        res[name] = {"auc": cm.roc_auc(d_norm, same), "eer": cm.eer(d_norm, same)[0],
                     "best_accuracy": cm.best_threshold(d_norm, same)[1]}
    return res


# ---- report -----------------------------------------------------------------------------------
def _cmd_out(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def meta(argv: list[str]) -> dict:
    import cv2
    import dlib
    import sklearn

    lscpu = dict(line.split(":", 1) for line in _cmd_out(["lscpu"]).splitlines() if ":" in line)
    commit = _cmd_out(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_cmd_out(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": lscpu.get("Model name", "").strip() or platform.processor(),
                    "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                    "os": platform.platform(), "load_avg_start": [round(x, 2) for x in os.getloadavg()]},
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
                     "dlib": dlib.__version__, "scikit-learn": sklearn.__version__,
                     "reelscope": commit + (" + uncommitted changes" if dirty else "")},
        "command": "python bench/bench_faces_meds.py " + " ".join(argv),
    }


def _f(x, nd=3):
    return "–" if x is None else f"{x:.{nd}f}"


def markdown(res: dict) -> str:
    m = res["meta"]
    out = ["## Faces on MEDS-II: verification, clustering, expression", "",
           f"- Date: {m['date']}",
           f"- Machine: {m['machine']['cpu']}, {m['machine']['usable_cpus']} usable CPUs, {m['machine']['os']}; "
           f"load average at start {m['machine']['load_avg_start']}, at end {m['machine'].get('load_avg_end')}",
           "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
           f"- Command: `{m['command']}`",
           f"- Data: {res['data']['photos']} photos of {res['data']['identities']} people "
           f"({res['data']['multi_photo_identities']} with 2+ photos) from NIST SD32 MEDS-II "
           "(faces/meds2_nist_sd32, see its NOTICE); identity = the `S<id>` file-name prefix.",
           "- Distances: Euclidean between L2-normalised 128-d dlib descriptors (reelscope's one convention), "
           "except where *raw* says dlib's unnormalised vectors (dlib's published 0.6 threshold is raw).",
           ""]
    out += ["### (a) Verification (all pairs of detected faces)", "",
            "| config | faces (missed) | genuine / impostor pairs | AUC | acc @ raw 0.6 (TPR / FPR) | "
            "best threshold (norm.) | acc there (TPR / FPR) | best balanced thr. (bal. acc.) | EER (thr.) | "
            "raw norm mean | norm. equiv. of raw 0.6 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in res["configs"]:
        v = c["verification"]
        a6, ab = v["raw_0.6"], v["at_best"]
        out.append(f"| {c['name']} | {c['embed']['faces']} ({c['missed']}) | {v['genuine']} / {v['impostor']} | "
                   f"{v['auc']:.4f} | {a6['accuracy']:.4f} ({a6['tpr']:.3f} / {a6['fpr']:.4f}) | "
                   f"{v['best_threshold']:.3f} | {v['best_accuracy']:.4f} ({ab['tpr']:.3f} / {ab['fpr']:.4f}) | "
                   f"{v['best_balanced_threshold']:.3f} ({v['best_balanced_accuracy']:.4f}) | "
                   f"{v['eer']:.4f} ({v['eer_threshold']:.3f}) | {v['raw_norm_mean']:.3f} | "
                   f"{v['norm_equiv_of_raw_0.6']:.3f} |")
    out.append("")
    first = res["configs"][0]
    out += [f"Same faces for every configuration (the {len(first['face_index'])} that {first['name']} finds), "
            "and the rates at fixed normalised thresholds (TPR / FPR):", "",
            "| config | AUC | EER (thr.) | best accuracy (thr.) | " +
            " | ".join(f"@ {t}" for t in FIXED_THRESHOLDS) + " |", "|---|---:|---:|---:|" + "---:|" * len(FIXED_THRESHOLDS)]
    for c in res["configs"]:
        v = c.get("verification_common", c["verification"])
        out.append(f"| {c['name']} | {v['auc']:.4f} | {v['eer']:.4f} ({v['eer_threshold']:.3f}) | "
                   f"{v['best_accuracy']:.4f} ({v['best_threshold']:.3f}) | " +
                   " | ".join(f"{v['at_fixed'][str(t)]['tpr']:.3f} / {v['at_fixed'][str(t)]['fpr']:.4f}"
                              for t in FIXED_THRESHOLDS) + " |")
    out.append("")
    primary = res["configs"][0]
    out += [f"### (b) Clustering, {primary['name']}: BCubed (true identities: "
            f"{primary['clustering'][0]['n_classes']})", "",
            "| method | threshold | precision | recall | F | clusters | note |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in primary["clustering"]:
        if r["method"].startswith("reelscope.people"):
            continue
        out.append(f"| {r['method']} | {r['threshold']} | {r['precision']:.3f} | {r['recall']:.3f} | "
                   f"**{r['f1']:.3f}** | {r['n_clusters']} | {r['note']} |")
    out.append("")
    # F per method/threshold across configs
    names = [c["name"] for c in res["configs"]]
    out += ["### (b') Clustering across configurations: BCubed F (clusters)", "",
            "| method | threshold | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    keys = [(r["method"], r["threshold"]) for r in primary["clustering"]]
    tables = [{(r["method"], r["threshold"]): r for r in c["clustering"]} for c in res["configs"]]
    for k in keys:
        if "DBSCAN" in k[0] or (k[0] != "dlib chinese_whispers (raw vectors)" and not 0.35 <= k[1] <= 0.55):
            continue
        cells = [f"{t[k]['f1']:.3f} ({t[k]['n_clusters']})" if k in t else "–" for t in tables]
        out.append(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")
    out.append("")
    best = res["best_per_method"]
    out += ["Best threshold per method (F on each configuration, mean F), and robustness: the worst mean F "
            "over thresholds 0.30-0.40 (a threshold tuned on one cast is off on the next):", "",
            "| method | best threshold (mean F) | " + " | ".join(names) + " | worst mean F, 0.30-0.40 |",
            "|---|---:|" + "---:|" * (len(names) + 1)]
    for method, b in best.items():
        out.append(f"| {method} | {b['threshold']} ({b['mean_f1']:.3f}) | " +
                   " | ".join(f"{x:.3f}" for x in b["f1_per_config"]) +
                   f" | {_f(b.get('worst_mean_f1_030_040'))} |")
    out.append("")
    out += ["### (c) Speed (CPU)", "",
            "| step | faces | faces/s | ms/face |", "|---|---:|---:|---:|"]
    for c in res["configs"]:
        e = c["embed"]
        out.append(f"| embedding, {c['name']} (alignment {1000 * e['align_s'] / e['faces']:.1f} ms + "
                   f"network {1000 * e['network_s'] / e['faces']:.1f} ms) | {e['faces']} | {e['faces_per_s']:.1f} | "
                   f"{e['ms_per_face']:.1f} |")
    for name, e in res["expression"].items():
        out.append(f"| expression, {name} | {e['faces']} | {e['faces_per_s']:.1f} | {e['ms_per_face']:.1f} |")
    n = res["data"]["photos"]
    for det, t in res.get("detect_s", {}).items():
        out.append(f"| detection {det}, whole photo (for scale; 240x240 to 1824x1170 px) | {n} photos | "
                   f"{n / t:.1f} photos/s | {1000 * t / n:.0f} ms/photo |")
    out.append("")
    out += ["Expression labels on the mugshots (" + primary["name"] + "): " +
            "; ".join(f"{k}: " + ", ".join(f"{lab} {n}" for lab, n in sorted(v['labels'].items(), key=lambda kv: -kv[1]))
                      + f" (S008-06, a broad smile: {v['S008-06 (broad smile)']})"
                      for k, v in res["expression"].items()), ""]
    if res.get("small_faces"):
        out += ["### (d) Small faces (photo shrunk so the face box is W px wide; hog boxes scaled)", "",
                "| face width | method | AUC | EER | best accuracy |", "|---:|---|---:|---:|---:|"]
        for w, r in res["small_faces"].items():
            for name, v in r.items():
                out.append(f"| {w} | {name} | {v['auc']:.4f} | {v['eer']:.4f} | {v['best_accuracy']:.4f} |")
        out.append("")
    notes = list(res.get("notes", [])) + derived_notes(res)
    if notes:
        out += ["### Reading", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


def derived_notes(res: dict) -> list[str]:
    """Conclusions computed from the results (so a re-render from JSON stays true)."""
    notes = []
    best = res.get("best_per_method", {})
    robust = {m: b for m, b in best.items() if b.get("worst_mean_f1_030_040") is not None}
    if robust:
        m, b = max(robust.items(), key=lambda kv: (kv[1]["worst_mean_f1_030_040"], kv[1]["mean_f1"]))
        counts = [next(r["n_clusters"] for r in c["clustering"] if r["method"] == m and r["threshold"] == b["threshold"])
                  for c in res["configs"]]
        notes.append(f"Recommended clustering: **{m} at {b['threshold']}** (normalised distance): best mean BCubed F "
                     f"{b['mean_f1']:.3f} over the configurations with {min(counts)}-{max(counts)} clusters for "
                     f"{res['configs'][0]['clustering'][0]['n_classes']} people, and the most robust to the threshold "
                     f"(mean F >= {b['worst_mean_f1_030_040']:.3f} anywhere in 0.30-0.40). Others: " +
                     "; ".join(f"{o} peaks at {ob['mean_f1']:.3f} ({ob['threshold']}) but falls to "
                               f"{ob['worst_mean_f1_030_040']:.3f}" for o, ob in robust.items()
                               if o != m and not o.startswith("reelscope")) +
                     " (single-link-like methods chain different people together once the threshold is loose).")
    raw = best.get("dlib chinese_whispers (raw vectors)")
    if raw:
        v = res["configs"][0]["verification"]
        notes.append(f"dlib's thresholds on raw vectors (0.5-0.6, from LFW) merge people on these mugshots: best F "
                     f"{raw['mean_f1']:.3f} at {raw['threshold']}; raw 0.6 accepts {100 * v['raw_0.6']['fpr']:.1f}% "
                     f"of impostor pairs. On normalised vectors raw 0.6 corresponds to ~{v['norm_equiv_of_raw_0.6']:.3f}.")
    cfgs = res.get("configs", [])
    if cfgs and any(c["missed"] for c in cfgs) and any(not c["missed"] for c in cfgs):
        missed = next(c for c in cfgs if c["missed"])
        notes.append(f"{missed['detector']} misses {missed['missed']} photos ({', '.join(missed['missed_files'])}): "
                     "full profiles (by eye). Detectors that find them give those faces unreliable embeddings (dlib's network "
                     "is trained on near-frontal faces), which is why AUC over all faces drops for them while AUC on "
                     "the common faces is the same for every alignment.")
    m = res.get("meta", {}).get("machine", {})
    if m.get("load_avg_start") and m["load_avg_start"][0] > (m.get("usable_cpus") or 1):
        notes.append(f"The machine was shared during the run (load average {m['load_avg_start'][0]} on "
                     f"{m['usable_cpus']} CPUs): the speeds are pessimistic; quality numbers are deterministic.")
    return notes


def best_per_method(configs: list[dict]) -> dict:
    methods = {}
    for r in configs[0]["clustering"]:
        methods.setdefault(r["method"], []).append(r["threshold"])
    out = {}
    for method, thrs in methods.items():
        best = None
        for t in thrs:
            f1s = [next(r["f1"] for r in c["clustering"] if r["method"] == method and r["threshold"] == t)
                   for c in configs]
            if best is None or np.mean(f1s) > best["mean_f1"] + 1e-12:
                best = {"threshold": t, "mean_f1": float(np.mean(f1s)), "f1_per_config": f1s}
        band = [t for t in thrs if 0.299 <= t <= 0.401]
        if band and method != "dlib chinese_whispers (raw vectors)":
            best["worst_mean_f1_030_040"] = float(min(
                np.mean([next(r["f1"] for r in c["clustering"] if r["method"] == method and r["threshold"] == t)
                         for c in configs]) for t in band))
        out[method] = best
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA / MEDS)
    ap.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--quick", action="store_true", help="hog only, no small-face test")
    ap.add_argument("--render", type=Path, help="only re-write the Markdown from this results JSON")
    args = ap.parse_args(argv)
    if args.render:
        res = json.loads(args.render.read_text())
        md = markdown(res)
        (args.render.with_suffix(".md")).write_text(md + "\n")
        print(md)
        return 0
    if not args.data.is_dir():
        log(f"error: {args.data}: not a folder (set REELSCOPE_TEST_DATA or --data)")
        return 1
    res = {"meta": meta(argv), "notes": []}
    images = load_images(args.data)
    idents = [i for _, i, _ in images]
    counts = {i: idents.count(i) for i in set(idents)}
    res["data"] = {"photos": len(images), "identities": len(counts),
                   "multi_photo_identities": sum(1 for v in counts.values() if v > 1)}
    log(f"{len(images)} photos, {len(counts)} identities")

    plan = [("hog", "predictor"), ("hog", "auto")]
    if not args.quick:
        plan += [("blazeface", "auto"), ("mtcnn", "auto"), ("blazeface", "predictor")]
    dets_by: dict[str, list] = {}
    res["configs"] = []
    for detector, align in plan:
        if detector not in dets_by:
            log(f"detecting with {detector} ...")
            try:
                dets_by[detector], t = detect_largest(detector, images)
            except Exception as e:  # a backend missing here: skip it, say so
                res["notes"].append(f"detector {detector} unavailable: {e}")
                dets_by[detector] = None
                continue
            res.setdefault("detect_s", {})[detector] = t
        dets = dets_by[detector]
        if dets is None:
            continue
        name = f"{detector} + {'dlib 5-point predictor' if align == 'predictor' else 'its landmarks'}"
        log(f"embedding: {name} ...")
        raw, idx, timing = embed_all(FaceEmbedder(align=align), images, dets)
        labels = [idents[i] for i in idx]
        missed = [images[i][0] for i in range(len(images)) if dets[i] is None]
        cfg = {"name": name, "detector": detector, "align": align, "missed": len(missed), "missed_files": missed,
               "embed": timing, "verification": verification(raw, labels), "clustering": clusterings(raw, labels)}
        if res["configs"]:  # the same faces as the first configuration: alignment, not coverage
            common = np.isin(idx, res["configs"][0]["face_index"])
            cfg["verification_common"] = verification(raw[common], [lab for lab, c in zip(labels, common) if c])
        cfg["face_index"] = idx.tolist()
        res["configs"].append(cfg)
    res["best_per_method"] = best_per_method(res["configs"])
    log("expression ...")
    res["expression"] = expression_run(images, dets_by["hog"])
    if not args.quick:
        log("small faces ...")
        res["small_faces"] = {w: small_faces(images, dets_by["hog"], idents, w) for w in (40, 80)}
    res["meta"]["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "faces_meds.json").write_text(json.dumps(res, indent=1, default=float) + "\n")
    md = markdown(res)
    (args.out_dir / "faces_meds.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
