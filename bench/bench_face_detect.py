"""Face detection benchmark: speed, recall, false positives, small faces, landmarks.

    .venv/bin/python bench/bench_face_detect.py                 # every backend (MMOD: ~10 min)
    .venv/bin/python bench/bench_face_detect.py --skip mmod     # the fast ones

Writes bench/results/face_detect.md and face_detect.json. Measures, per backend:

- speed: ms/frame (median) and faces/frame on clip_01_tears_of_steel.mp4 (640x360) and on
  openmpf video_01.mp4 (640x480, 3-5 people), frames decoded beforehand;
- recall on the 114 MEDS-II mugshots (one person each): fraction with exactly one face, and
  with at least one;
- false positives on 50 frames of clip_02_caminandes.mp4 (an animated llama, no humans);
- small faces: recall by face size on composites (MEDS faces that every fast backend finds,
  pasted 4 to a 640x360 frame of a face-free Tears of Steel shot at 16-128 px);
- landmarks: mean error against dlib's 68-point predictor on MEDS (eye centres, nose tip,
  mouth corners), in inter-ocular distances. The 68-point model (iBUG 300-W, licence excludes
  commercial use) is only a yardstick here; no backend uses it.
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

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", REPO.parent / "shared" / "data"))

from reelscope.media.decode import FrameSpec, iter_frames  # noqa: E402
from reelscope.vision.face_detect import make_face_detector  # noqa: E402

CONFIGS = {  # label -> (backend, params)
    "blazeface": ("blazeface", {}),
    "blazeface[tiles=False]": ("blazeface", {"tiles": False}),
    "blazeface[model=full]": ("blazeface", {"model": "full", "tiles": False}),
    "blazeface[model=short]": ("blazeface", {"model": "short"}),
    "blazeface[min_score=0.7]": ("blazeface", {"min_score": 0.7}),
    "hog": ("hog", {}),
    "mtcnn": ("mtcnn", {}),
    "mmod": ("mmod", {}),
}
SLOW = {"mmod"}  # fewer frames for these


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def frames(path: Path, indices=None, limit=None) -> list[np.ndarray]:
    out = []
    want = None if indices is None else set(int(i) for i in indices)
    for f in iter_frames(path, [FrameSpec("rgb")]):
        if want is None or f.index in want:
            out.append(f[FrameSpec("rgb")])
        if limit and len(out) >= limit:
            break
    return out


def meds_images() -> list[tuple[str, np.ndarray]]:
    return [(p.name, cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
            for p in sorted((DATA / "faces" / "meds2_nist_sd32").glob("*.jpg"))]


def timed(det, images):
    dets, ms = [], []
    for im in images:
        t = time.perf_counter()
        dets.append(det.detect(im))
        ms.append((time.perf_counter() - t) * 1000)
    return dets, ms


def speed(det, clip, n):
    det.detect(clip[0])  # load the model outside the timing
    dets, ms = timed(det, clip[:n])
    return {"frames": len(ms), "ms_median": round(statistics.median(ms), 2), "ms_mean": round(statistics.fmean(ms), 2),
            "faces_per_frame": round(float(np.mean([len(d) for d in dets])), 2)}


# ---- small faces: composites -----------------------------------------------------------------
SIZES = (16, 24, 32, 48, 64, 96, 128)


def composites(faces: list[tuple[np.ndarray, np.ndarray]], background: np.ndarray, size: int, per_image: int = 4):
    """Yield (image, truth boxes xywh): faces (crop, face box in the crop) scaled so the face
    box is ``size`` px wide, pasted in a row across ``background``."""
    h, w = background.shape[:2]
    for start in range(0, len(faces), per_image):
        img = background.copy()
        truth = []
        for k, (crop, box) in enumerate(faces[start:start + per_image]):
            s = size / box[2]
            c = cv2.resize(crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))),
                           interpolation=cv2.INTER_AREA)
            cx = int((k + 0.5) * w / per_image - c.shape[1] / 2)
            cy = int(h / 2 - c.shape[0] / 2)
            x0, y0 = max(cx, 0), max(cy, 0)
            x1, y1 = min(cx + c.shape[1], w), min(cy + c.shape[0], h)
            img[y0:y1, x0:x1] = c[y0 - cy:y1 - cy, x0 - cx:x1 - cx]
            truth.append([cx + box[0] * s, cy + box[1] * s, box[2] * s, box[3] * s])
        yield img, np.array(truth, np.float32)


def matched(truth: np.ndarray, boxes: np.ndarray) -> int:
    """Truth faces with a detection whose centre lies inside the face box and whose size is
    0.4-2.5x the face's (backends frame faces differently: dlib's boxes are tighter)."""
    hit = 0
    for tx, ty, tw, th in truth:
        for x, y, w, h in boxes:
            cx, cy = x + w / 2, y + h / 2
            if tx <= cx <= tx + tw and ty <= cy <= ty + th and 0.4 <= np.sqrt(w * h) / tw <= 2.5:
                hit += 1
                break
    return hit


# ---- landmarks against dlib's 68 points ---------------------------------------------------------
def reference_landmarks(images, boxes_from) -> list[np.ndarray | None]:
    import dlib

    from reelscope.models.registry import DLIB_LANDMARKS_5, _carrier_dir

    p68 = _carrier_dir(DLIB_LANDMARKS_5) / "shape_predictor_68_face_landmarks.dat"
    if not p68.is_file():
        return [None] * len(images)
    sp = dlib.shape_predictor(str(p68))
    out = []
    for (_, im), d in zip(images, boxes_from):
        if len(d) != 1:
            out.append(None)
            continue
        x, y, w, h = d.boxes[0]
        pts = np.array([(p.x, p.y) for p in sp(im, dlib.rectangle(int(x), int(y), int(x + w), int(y + h))).parts()],
                       np.float32)
        out.append(np.array([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]]))
    return out


def landmark_error(dets, refs) -> dict:
    errs = []
    for d, ref in zip(dets, refs):
        if ref is None or len(d) != 1:
            continue
        iod = np.linalg.norm(ref[1] - ref[0])
        errs.append(np.linalg.norm(d.landmarks[0] - ref, axis=1) / iod)
    if not errs:
        return {}
    e = np.array(errs)
    names = ["right_eye", "left_eye", "nose", "right_mouth", "left_mouth"]
    return {"faces": len(e), **{n: round(float(v), 3) for n, v in zip(names, e.mean(0))}}


PACKAGES = ("numpy", "opencv-contrib-python-headless", "torch", "dlib-bin", "ai-edge-litert", "av", "mediapipe", "face-recognition-models", "facenet-pytorch")


def run_config(label, backend, params, media, n) -> tuple[dict, list]:
    tos, v01, cam, meds = media
    det = make_face_detector(backend, **params)
    r: dict = {"backend": backend, "params": det.params(), "models": det.models()}
    t0 = time.perf_counter()
    r["speed_640x360"] = speed(det, tos, n)
    r["speed_640x480"] = speed(det, v01, n)
    dets, ms = timed(det, [im for _, im in meds])
    counts = [len(d) for d in dets]
    r["meds"] = {"images": len(meds), "exactly_one": round(counts.count(1) / len(meds), 4),
                 "at_least_one": round(sum(c >= 1 for c in counts) / len(meds), 4),
                 "misses": [meds[i][0] for i, c in enumerate(counts) if c == 0],
                 "extra": [meds[i][0] for i, c in enumerate(counts) if c > 1],
                 "ms_median": round(statistics.median(ms), 1)}
    cam_dets = [det.detect(im) for im in cam]
    r["caminandes"] = {"frames": len(cam), "frames_with_faces": sum(len(d) > 0 for d in cam_dets),
                       "detections": sum(len(d) for d in cam_dets),
                       "max_score": round(max([float(d.scores.max()) for d in cam_dets if len(d)], default=0), 3)}
    r["seconds"] = round(time.perf_counter() - t0, 1)
    return r, dets


def small_face_set(meds, meds_dets) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to 20 MEDS faces (square crops, face box in the crop) that blazeface, hog and mtcnn
    each find exactly once at full size: failures at small sizes are then due to size."""
    good = [i for i in range(len(meds)) if all(len(meds_dets[k][i]) == 1 for k in ("blazeface", "hog", "mtcnn"))]
    faces = []
    for i in good[:20]:
        im = meds[i][1]
        x, y, w, h = meds_dets["blazeface"][i].boxes[0]
        side = 1.8 * max(w, h)
        cx, cy = x + w / 2, y + h / 2
        m = np.float32([[1, 0, side / 2 - cx], [0, 1, side / 2 - cy]])
        crop = cv2.warpAffine(im, m, (int(side), int(side)), borderMode=cv2.BORDER_REPLICATE)
        faces.append((crop, np.array([side / 2 - w / 2, side / 2 - h / 2, w, h], np.float32)))
    return faces


def small_face_recall(backend, params, faces, background) -> dict:
    det = make_face_detector(backend, **params)
    rec = {}
    for size in (SIZES if backend not in SLOW else (32, 64, 128)):
        hit = total = 0
        for img, truth in composites(faces if backend not in SLOW else faces[:8], background, size):
            hit += matched(truth, det.detect(img).boxes)
            total += len(truth)
        rec[str(size)] = round(hit / total, 3)
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip", nargs="*", default=[], help="config labels or backends to skip")
    ap.add_argument("--only", nargs="*", default=[],
                    help="rerun only these config labels and merge them into the existing results")
    ap.add_argument("--frames", type=int, default=120, help="frames per clip for the speed runs")
    ap.add_argument("--slow-frames", type=int, default=10, help="frames per clip for MMOD")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "face_detect")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the existing .json")
    args = ap.parse_args(argv)
    if args.render:
        res = json.loads(args.out.with_suffix(".json").read_text())
        args.out.with_suffix(".md").write_text(markdown(res))
        return
    if args.only:
        unknown = [k for k in args.only if k not in CONFIGS]
        if unknown:
            ap.error(f"unknown config(s) {unknown}; known: {list(CONFIGS)}")
        configs = {k: CONFIGS[k] for k in args.only}
        results = json.loads(args.out.with_suffix(".json").read_text())
    else:
        configs = {k: v for k, v in CONFIGS.items() if k not in args.skip and v[0] not in args.skip}
        results = {"machine": machine(PACKAGES), "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                   "command": "python bench/bench_face_detect.py " + " ".join(argv or sys.argv[1:]), "configs": {}}
    run_info = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "load_before": [round(x, 2) for x in os.getloadavg()]}

    log("decoding media ...")
    tos = frames(DATA / "video" / "clip_01_tears_of_steel.mp4", limit=args.frames)
    v01 = frames(DATA / "faces" / "openmpf_face_videos" / "video_01.mp4", limit=args.frames)
    cam = frames(DATA / "video" / "clip_02_caminandes.mp4", indices=np.linspace(0, 239, 50).round())
    meds = meds_images()
    background = frames(DATA / "video" / "clip_01_tears_of_steel.mp4", indices=[0])[0]  # a robot: no faces
    media = (tos, v01, cam, meds)

    meds_dets: dict[str, list] = {}
    for label, (backend, params) in configs.items():
        log(f"{label} ...")
        r, meds_dets[label] = run_config(label, backend, params, media,
                                         args.slow_frames if backend in SLOW else args.frames)
        if args.only:
            r["run"] = run_info
        results["configs"][label] = r
        log(f"  {json.dumps({k: r[k] for k in ('speed_640x360', 'meds', 'caminandes')})[:400]}")
    for ref in ("blazeface", "hog", "mtcnn"):  # the small-face set and landmark yardstick need these
        if ref not in meds_dets:
            det = make_face_detector(CONFIGS[ref][0], **CONFIGS[ref][1])
            meds_dets[ref] = [det.detect(im) for _, im in meds]

    faces = small_face_set(meds, meds_dets)
    sf = results.setdefault("small_faces", {"recall": {}})
    sf.update({"faces": len(faces), "sizes": list(SIZES)})
    for label, (backend, params) in configs.items():
        sf["recall"][label] = small_face_recall(backend, params, faces, background)
        log(f"  small faces {label}: {sf['recall'][label]}")

    refs = reference_landmarks(meds, meds_dets["hog"])
    lm = results.setdefault("landmarks_vs_dlib68", {})
    for label in configs:
        lm[label] = landmark_error(meds_dets[label], refs)

    # keep the configs in CONFIGS order
    for key in ("configs",):
        results[key] = {k: results[key][k] for k in CONFIGS if k in results[key]}
    sf["recall"] = {k: sf["recall"][k] for k in CONFIGS if k in sf["recall"]}
    results["landmarks_vs_dlib68"] = {k: lm[k] for k in CONFIGS if k in lm}
    if args.only:
        run_info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    else:
        results["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    log(f"wrote {args.out.with_suffix('.md')} and .json")


def markdown(res: dict) -> str:
    m = res["machine"]
    v = ", ".join(f"{k} {x}" for k, x in m["versions"].items() if x)
    lines = ["# Face detection benchmark", "",
             f"- date: {res['date']}",
             f"- machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}",
             f"- versions: {v}",
             f"- load average (1/5/15 min) before {m.get('load_before')}, after {m.get('load_after')}: the machine is "
             "shared; timings under load are pessimistic",
             f"- command: `{res['command'].strip()}` (from the repository root, media in ../shared/data)",
             "",
             "Speed: median ms per frame (model loading excluded; detector threads: the default, half the",
             "cores). MEDS: 114 mugshots, one person each. Caminandes: 50 frames of an animated film",
             "with no humans (its llama has a cartoon face). Small faces: recall on composites.", "",
             "| detector | ms/frame 640x360 | faces/frame 640x360 | ms/frame 640x480 | faces/frame 640x480 "
             "| MEDS exactly 1 | MEDS >= 1 | caminandes frames with a face (of 50) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in res["configs"].items():
        a, b, me, c = r["speed_640x360"], r["speed_640x480"], r["meds"], r["caminandes"]
        mark = " \\*" if "run" in r else ""
        lines.append(f"| {label}{mark} | {a['ms_median']:.1f} | {a['faces_per_frame']:.2f} | {b['ms_median']:.1f} | "
                     f"{b['faces_per_frame']:.2f} | {me['exactly_one']:.3f} | {me['at_least_one']:.3f} | "
                     f"{c['frames_with_faces']} (max score {c['max_score']:.2f}) |")
    later = [(k, r["run"]) for k, r in res["configs"].items() if "run" in r]
    for k, run in later:
        lines.append(f"\n\\* {k}: measured in a later run (`--only`), {run['date']}, load average before "
                     f"{run['load_before']}, after {run.get('load_after')}.")
    sf = res.get("small_faces")
    if sf:
        lines += ["", f"Small-face recall ({sf['faces']} MEDS faces pasted 4 to a 640x360 frame; "
                      "face width in px; MMOD on 8 faces and 3 sizes):", "",
                  "| detector | " + " | ".join(str(s) for s in sf["sizes"]) + " |",
                  "|---|" + "---:|" * len(sf["sizes"])]
        for label, rec in sf["recall"].items():
            lines.append(f"| {label} | " + " | ".join(f"{rec[str(s)]:.2f}" if str(s) in rec else "" for s in sf["sizes"])
                         + " |")
    lm = res.get("landmarks_vs_dlib68") or {}
    if any(lm.values()):
        lines += ["", "Landmark error against dlib's 68-point predictor on MEDS (mean distance / inter-ocular "
                      "distance; dlib backends report the nose base, ~0.15 below the tip; mouth corners of "
                      "blazeface, hog and mmod are estimated):", "",
                  "| detector | faces | right eye | left eye | nose | right mouth | left mouth |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for label, e in lm.items():
            if e:
                lines.append(f"| {label} | {e['faces']} | {e['right_eye']:.3f} | {e['left_eye']:.3f} | {e['nose']:.3f} | "
                             f"{e['right_mouth']:.3f} | {e['left_mouth']:.3f} |")
    lines += ["", "Misses and extras on MEDS:", ""]
    for label, r in res["configs"].items():
        lines.append(f"- {label}: missed {', '.join(r['meds']['misses']) or 'none'}; "
                     f"more than one face {', '.join(r['meds']['extra']) or 'none'}")
    lines += ["", *recommendation(res), ""]
    return "\n".join(lines)


def recommendation(res: dict) -> list[str]:
    c = res["configs"]
    if not all(k in c for k in ("blazeface", "hog", "mtcnn")):
        return []
    b, h, m = c["blazeface"], c["hog"], c["mtcnn"]
    sf = (res.get("small_faces") or {}).get("recall", {})
    lm = res.get("landmarks_vs_dlib68") or {}

    def mouth(label):
        e = lm.get(label) or {}
        return (e.get("right_mouth", float("nan")) + e.get("left_mouth", float("nan"))) / 2

    cam = b["caminandes"]
    strict = c.get("blazeface[min_score=0.7]")
    return [
        "## Recommendation",
        "",
        f"Default: **blazeface** (short + full range, tiles on). It finds a face on "
        f"{b['meds']['at_least_one']:.0%} of the mugshots, profiles included (HOG "
        f"{h['meds']['at_least_one']:.0%}: it misses profiles), at {b['speed_640x360']['ms_median']:.0f} ms per 640x360 "
        f"frame: {h['speed_640x360']['ms_median'] / b['speed_640x360']['ms_median']:.0f}x faster than HOG and "
        f"{m['speed_640x360']['ms_median'] / b['speed_640x360']['ms_median']:.0f}x faster than MTCNN, so a video can be "
        f"sampled densely. Tiles cost {b['speed_640x360']['ms_median'] / c.get('blazeface[tiles=False]', b)['speed_640x360']['ms_median']:.1f}x "
        "the untiled run and buy small faces (recall at 24 px "
        f"{sf.get('blazeface[tiles=False]', {}).get('24', float('nan')):.2f} -> {sf.get('blazeface', {}).get('24', float('nan')):.2f}; "
        f"{c.get('blazeface[tiles=False]', b)['speed_640x480']['faces_per_frame']:.2f} -> "
        f"{b['speed_640x480']['faces_per_frame']:.2f} faces per frame of the 3-5 person clip); the short-range model "
        "adds extreme close-ups the full-range model misses.",
        "",
        f"Its costs: faces under ~24 px are often missed (recall {sf.get('blazeface', {}).get('16', float('nan')):.2f} "
        "at 16 px; MTCNN finds them all); its mouth corners are estimated from the mouth centre (error "
        f"{mouth('blazeface'):.3f} eye distances against dlib-68 vs {mouth('mtcnn'):.3f} for MTCNN's measured ones); "
        f"and it fires on the cartoon llama of Caminandes ({cam['frames_with_faces']} of {cam['frames']} frames, "
        f"scores up to {cam['max_score']:.2f}): a drawn face with two big eyes is a face to this model."
        + (f" `min_score=0.7` leaves {strict['caminandes']['frames_with_faces']} of those frames and costs the weakest "
           f"human faces ({b['speed_640x480']['faces_per_frame']:.2f} -> "
           f"{strict['speed_640x480']['faces_per_frame']:.2f} faces per frame of the 3-5 person clip, small-face "
           f"recall at 24 px {sf.get('blazeface', {}).get('24', float('nan')):.2f} -> "
           f"{sf.get('blazeface[min_score=0.7]', {}).get('24', float('nan')):.2f})." if strict else ""),
        "",
        "Choose **mtcnn** for small faces and measured landmarks (all five points), at "
        f"{m['speed_640x360']['ms_median'] / b['speed_640x360']['ms_median']:.0f}-"
        f"{m['speed_640x480']['ms_median'] / b['speed_640x480']['ms_median']:.0f}x BlazeFace's time per frame "
        "(it reported ears of profile mugshots as faces twice). **hog** never fired on Caminandes but misses "
        "profiles and faces under ~32 px. **mmod** is robust to pose but takes about a second per frame on this CPU "
        "(dlib built without BLAS) and needs faces of ~80 px at upsample 0.",
    ]


if __name__ == "__main__":
    main()
