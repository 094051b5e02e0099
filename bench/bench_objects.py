"""COCO object detection benchmark: quality on frames labelled by eye, and speed.

    .venv/bin/python bench/bench_objects.py                        # nanodet and centernet
    .venv/bin/python bench/bench_objects.py --configs nanodet      # one configuration
    .venv/bin/python bench/bench_objects.py --onnx yolox_nano.onnx # add a YOLOX-style ONNX model

Writes bench/results/objects.md and objects.json. Per detector configuration:

- quality on tests/fixtures/objects/labels.json (33 frames of 13 real clips in ../shared/data,
  107 boxes of clearly visible COCO objects, 36 ignore boxes): AP@0.5 per class, mAP over the
  labelled classes, precision / recall / false positives at the stage's operating threshold
  (min_score 0.4: on these labels the best F1 of nanodet, 0.81). Detections are taken down to score 0.05 so AP sees the whole curve;
- speed: detector frames per second on clip_01_tears_of_steel.mp4 (640x360; frames decoded
  beforehand, model loaded and warmed up), median of the per-frame times, and the objects
  stage's end-to-end throughput (decode + sample at 2 fps + detect + track) on chaplin.mp4;
- the published COCO val2017 mAP@[.5:.95] of each model, as its authors report it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

from machine_info import machine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", REPO.parent / "shared" / "data"))
LABELS = REPO / "tests" / "fixtures" / "objects" / "labels.json"

from reelscope.eval.objects import evaluate, load_labels  # noqa: E402
from reelscope.media.decode import FrameSpec, iter_frames  # noqa: E402
from reelscope.media.info import probe  # noqa: E402
from reelscope.vision.objects import make_object_detector  # noqa: E402

CONFIGS = {  # label -> (detector, params)
    "nanodet": ("nanodet", {}),
    "nanodet-fit": ("nanodet", {"fit": True}),  # input at the frame's aspect (416x256 for 16:9)
    "centernet": ("centernet", {}),
}
PUBLISHED = {  # COCO val2017 mAP@[.5:.95] as published by the model authors
    "nanodet": "22.9 (NanoDet-g 416, RangiLyu/nanodet README / config nanodet-g.yml)",
    "nanodet-fit": "22.9 at 416x416 (the same weights)",
    "centernet": "25.1, mAP@0.5 42.3 (mbv3-large-0.75 512, 610265158/mobilenetv3_centernet README)",
    "yolox-nano": "25.8 (YOLOX-Nano 416, Megvii-BaseDetection/YOLOX README)",
}
OPERATING = 0.4


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def labelled_frames(frames: list[dict]) -> list:
    """(label entry, RGB frame) for every labelled frame, decoded like the objects stage does."""
    by_video: dict[str, list[dict]] = {}
    for f in frames:
        by_video.setdefault(f["video"], []).append(f)
    out = []
    for video, fs in by_video.items():
        path = DATA / video
        info = probe(path)
        spec = FrameSpec("rgb")
        wanted = {f["frame"]: f for f in fs}
        for fr in iter_frames(path, [spec], rotation=info.rotation, only=set(wanted)):
            img = fr[spec]
            entry = wanted[fr.index]
            if (img.shape[1], img.shape[0]) != (entry["width"], entry["height"]):
                raise SystemExit(f"{video} frame {fr.index}: decoded {img.shape[1]}x{img.shape[0]}, "
                                 f"labelled {entry['width']}x{entry['height']}")
            out.append((entry, img))
    return out


def quality(det, frames) -> dict:
    pairs = []
    for entry, img in frames:
        d = det.detect(img)
        pairs.append((entry["objects"], [{"label": x["label"], "box": [float(v) for v in b], "score": float(s)}
                                         for x, b, s in zip(d.data, d.boxes, d.scores)]))
    q = evaluate(pairs, iou=0.5, score_threshold=OPERATING).as_dict()
    q["at_thresholds"] = {}
    for t in (0.3, 0.4, 0.5, 0.6):
        e = evaluate(pairs, iou=0.5, score_threshold=t)
        q["at_thresholds"][str(t)] = {"precision": round(e.precision, 4), "recall": round(e.recall, 4),
                                      "fp": e.fp, "person_precision": round(e.classes["person"].precision, 4),
                                      "person_recall": round(e.classes["person"].recall, 4)}
    return q


def speed(dets: dict, clip: Path, n: int = 24, rounds: int = 3) -> dict:
    """Median ms per frame of each detector, measured interleaved (frame by frame, detector by
    detector) so that every detector sees the same load on a shared machine."""
    spec = FrameSpec("rgb")
    info = probe(clip)
    imgs = [f[spec] for f in iter_frames(clip, [spec], rotation=info.rotation, only=set(range(0, 240, 10)))][:n]
    times: dict[str, list[float]] = {k: [] for k in dets}
    for d in dets.values():
        d.detect(imgs[0])  # load + warm up
    for _ in range(rounds):
        for img in imgs:
            for k, d in dets.items():
                t = time.perf_counter()
                d.detect(img)
                times[k].append(time.perf_counter() - t)
    out = {}
    for k, ts in times.items():
        med = statistics.median(ts)
        out[k] = {"clip": clip.name, "size": f"{imgs[0].shape[1]}x{imgs[0].shape[0]}", "frames": len(ts),
                  "ms_per_frame_median": round(med * 1000, 1), "fps": round(1 / med, 2),
                  "ms_per_frame_best": round(min(ts) * 1000, 1)}
    return out


def stage_speed(detector: str, params: dict, clip: Path) -> dict:
    from reelscope.pipeline.stages.objects import analyze_objects
    from reelscope.shots.types import Shot

    info = probe(clip)
    det = make_object_detector(detector, **params)
    n = info.frame_count_hint
    t = time.perf_counter()
    res = analyze_objects(str(clip), info, [Shot(0, 0, n - 1)], det, sample_fps=2.0)
    sec = time.perf_counter() - t
    return {"clip": clip.name, "duration_s": round(info.duration, 2), "sampled_frames": res.sampled,
            "seconds": round(sec, 2), "realtime_factor": round(info.duration / sec, 3),
            "tracks": len(res.tracks), "detections": sum(len(d) for d in res.frames)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--onnx", action="append", default=[], help="a YOLOX-style .onnx to benchmark too")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "objects"))
    args = ap.parse_args()
    configs = {k: CONFIGS[k] for k in args.configs.split(",") if k}
    for p in args.onnx:
        configs[f"onnx:{Path(p).name}"] = (p, {})
    info = machine(("torch", "onnxruntime", "numpy", "opencv-contrib-python-headless"))
    frames = labelled_frames(load_labels(LABELS))
    log(f"{len(frames)} labelled frames")
    results = {}
    for label, (name, params) in configs.items():
        log(f"== {label}")
        q = quality(make_object_detector(name, **{**params, "min_score": 0.05}), frames)
        results[label] = {"quality": q, "published_coco_map": PUBLISHED.get(name, PUBLISHED.get(label, "")),
                          "models": make_object_detector(name, **params).models()}
        log(json.dumps({"map50": q["map"], "person_ap": q["classes"].get("person", {}).get("ap"),
                        "p": q["precision"], "r": q["recall"]}))
    log("== speed (interleaved)")
    sp = speed({label: make_object_detector(name, **{**params, "min_score": OPERATING})
                for label, (name, params) in configs.items()}, DATA / "video" / "clip_01_tears_of_steel.mp4")
    for label, (name, params) in configs.items():
        results[label]["speed"] = sp[label]
        results[label]["stage"] = stage_speed(name, {**params, "min_score": OPERATING}, DATA / "video" / "chaplin.mp4")
        log(label, json.dumps(sp[label]), json.dumps(results[label]["stage"]))
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    doc = {"date": dt.date.today().isoformat(), "machine": info, "labels": str(LABELS.relative_to(REPO)),
           "operating_threshold": OPERATING, "results": results}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2))
    out.with_suffix(".md").write_text(render(doc))
    log(f"wrote {out}.md / .json")
    return 0


def render(doc: dict) -> str:
    m = doc["machine"]
    lines = [f"# Object detection ({doc['date']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores (shared), Python {m['python']}, load before "
             f"{m['load_before']}, after {m.get('load_after')}; torch {m['versions'].get('torch')}. Speeds are "
             "medians of 3 rounds over 24 frames, the detectors interleaved frame by frame so they share the "
             "load; the machine is shared, so absolute times vary between runs, ratios much less.", "",
             f"Labels: `{doc['labels']}` (frames labelled by eye; ignore boxes not counted). "
             f"AP@0.5 per class; precision/recall at score >= {doc['operating_threshold']}.", "",
             "| detector | mAP@0.5 (labelled classes) | person AP@0.5 | precision | recall | FP | FP (unlabelled classes) "
             "| ms/frame (640x360) | fps | stage x realtime (2 fps sampling) | published COCO mAP |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in doc["results"].items():
        q, s, st = r["quality"], r["speed"], r["stage"]
        lines.append(f"| {label} | {q['map']} | {q['classes'].get('person', {}).get('ap')} | {q['precision']} | "
                     f"{q['recall']} | {q['fp']} | {q['fp_unlabelled_classes']} | {s['ms_per_frame_median']} | "
                     f"{s['fps']} | {st['realtime_factor']} | {r['published_coco_map']} |")
    lines += ["", "Precision / recall (all labelled classes; person) at other score thresholds:", "",
              "| detector | threshold | precision | recall | FP | person precision | person recall |",
              "|---|---|---|---|---|---|---|"]
    for label, r in doc["results"].items():
        for t, v in r["quality"]["at_thresholds"].items():
            lines.append(f"| {label} | {t} | {v['precision']} | {v['recall']} | {v['fp']} | {v['person_precision']} "
                         f"| {v['person_recall']} |")
    lines += ["", "Per class (AP@0.5, ground-truth count):", ""]
    for label, r in doc["results"].items():
        per = ", ".join(f"{k} {v['ap']} (n={v['n_gt']})" for k, v in r["quality"]["classes"].items())
        lines.append(f"- {label}: {per}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
