#!/usr/bin/env python
"""Odd media: cuts at low and variable frame rates, damage in the middle of a file, audio with
cover art, videos of a few frames.

Files are made in a temporary folder with PyAV's real encoders (reelscope.eval.odd_media) from the
13 clips with verified cut lists (tests/fixtures/shots/): each clip at its own rate, re-encoded at
15, 12 and 8 fps (each output frame shows the source frame of its time), and as a variable-frame-
rate Matroska file (every frame for 4 s, then every third: 24 fps becomes 8 fps). Truths are mapped
by time: a cut is the first frame shown at or after it; scoring as in bench_shots.py (±2 frames of
the file's own frames for cuts, inside the span for gradual transitions, pooled over clips).

Damage: 64 KB of garbage written over the middle of the Sintel clip (one keyframe) and of the same
clip re-encoded with a keyframe every second, as MP4 and as Matroska. Cover art: an Ogg (Opus), MP3 and M4A made here, and
the shared Ogg with cover art. Short videos: 1 to 10 frames through the shots stage
(--full-default: the whole default analysis too).

--baseline PATH also runs the detection with the code of another checkout (e.g. a worktree of the
commit before this work) on the same files, in a subprocess, for a before/after table from one run:

    git worktree add --detach /tmp/base a34fddd
    .venv/bin/python bench/bench_odd_media.py --baseline /tmp/base
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "shots"
RATES = (15, 12, 8)
TOLERANCE = 2


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ detection (any checkout)

def detect_all(jobs: list[dict]) -> list[dict]:
    """Run the fast detector over every job's file with whatever ``reelscope`` is importable."""
    from reelscope.errors import MediaError
    from reelscope.media.info import probe
    from reelscope.shots.backends import make_detector
    from reelscope.shots.run import detect

    out = []
    for job in jobs:
        t0 = time.perf_counter()
        try:
            r = detect(job["path"], probe(job["path"]), [make_detector("fast")])
            res = {"frames": r.frame_count, "times": list(r.frame_times),
                   "predicted": [{"boundary": t.boundary, "start": t.start, "end": t.end, "type": t.type.value}
                                 for t in r.transitions["fast"]],
                   "warning": getattr(r, "warning", None)}
        except MediaError as e:
            res = {"error": str(e)}
        res["seconds"] = round(time.perf_counter() - t0, 3)
        out.append(res)
    return out


def detect_with(code: Path | None, jobs: list[dict], work: Path) -> list[dict]:
    if code is None:
        return detect_all(jobs)
    (work / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run([sys.executable, __file__, "--detect-jobs", str(work / "jobs.json"), "--code", str(code)],
                   check=True, env=env)
    return json.loads((work / "jobs.out.json").read_text())


# ------------------------------------------------------------------ material

def make_material(work: Path, quick: bool) -> tuple[list[dict], dict]:
    from reelscope.eval.odd_media import at_rate, every_frame, frame_times, overwrite_middle, rewrite_video, thinned
    from reelscope.eval.shots import load_fixture

    jobs: list[dict] = []
    src_times: dict[str, list[float]] = {}
    for f in sorted(FIXTURE_DIR.glob("*.json")):
        fx = load_fixture(f)
        try:
            path = fx.path()
        except FileNotFoundError as e:
            log(f"skipped {fx.name}: {e}")
            continue
        if not path.exists():
            log(f"skipped {fx.name}: {path} not found")
            continue
        if quick and fx.name not in ("clip_03_sintel", "clip_01_tears_of_steel", "pyscenedetect_testvideo"):
            continue
        log(f"material: {fx.name}")
        times = frame_times(path)
        src_times[fx.name] = times
        rate = 1 / sorted(b - a for a, b in zip(times, times[1:]))[len(times) // 2]
        jobs.append({"group": "rate", "clip": fx.name, "variant": "native", "path": str(path), "times": times})
        for r in RATES:
            if r >= rate - 0.5:
                continue
            out = work / f"{fx.name}.{r}fps.mp4"
            _, t = rewrite_video(path, out, at_rate(r), time_base=Fraction(1, r))
            jobs.append({"group": "rate", "clip": fx.name, "variant": f"{r} fps", "path": str(out), "times": t})
        out = work / f"{fx.name}.vfr.mkv"
        _, t = rewrite_video(path, out, thinned(4.0, 3))
        jobs.append({"group": "rate", "clip": fx.name, "variant": "VFR", "path": str(out), "times": t})
    sintel = fixture_video("clip_03_sintel")
    if sintel is not None:
        gop = work / "sintel_gop24.mp4"
        rewrite_video(sintel, gop, every_frame, time_base=Fraction(1, 24),
                      options={"x264-params": "keyint=24:min-keyint=24:scenecut=0"})
        mkv = work / "sintel_gop24.mkv"
        rewrite_video(sintel, mkv, every_frame, options={"x264-params": "keyint=24:min-keyint=24:scenecut=0"})
        for label, src in (("Sintel clip (1 keyframe)", sintel), ("Sintel, keyframe every 1 s", gop),
                           ("Sintel as Matroska, keyframe every 1 s", mkv)):
            bad = overwrite_middle(src, work / f"damaged_{src.stem}{src.suffix}")
            jobs.append({"group": "damage", "clip": "clip_03_sintel", "variant": label, "path": str(bad),
                         "times": src_times.get("clip_03_sintel")})
    return jobs, src_times


def fixture_video(name: str) -> Path | None:
    from reelscope.eval.shots import load_fixture

    p = load_fixture(FIXTURE_DIR / f"{name}.json").path()
    return p if p.exists() else None


# ------------------------------------------------------------------ scoring

def mapped_truths(name: str, src_times: list[float], out_times: list[float]):
    """The fixture's truths and ignored regions in the frames of a re-timed file."""
    import numpy as np

    from reelscope.eval.shots import Truth, load_fixture

    fx = load_fixture(FIXTURE_DIR / f"{name}.json")
    out = np.asarray(out_times)

    def first_at(frame: int) -> int:  # first output frame shown at or after source frame's time
        t = src_times[min(frame, len(src_times) - 1)]
        return int(np.searchsorted(out, t - 1e-6))

    def last_at(frame: int) -> int:
        t = src_times[min(frame, len(src_times) - 1)]
        return int(np.searchsorted(out, t + 1e-6, side="right")) - 1

    truths, seen = [], set()
    for t in fx.truths:
        if not t.gradual:
            i = first_at(t.start)
            if 0 < i < len(out) and i not in seen:
                seen.add(i)
                truths.append(Truth(i, i, "cut"))
        else:
            a, b = first_at(t.start), last_at(t.end)
            if b < a:
                a = b = first_at(t.start)
            if a < len(out):
                truths.append(Truth(a, b, t.type))
    return truths


def score_job(job: dict, res: dict) -> dict:
    from reelscope.eval.shots import score
    from reelscope.shots.types import Transition, TransitionType

    if "error" in res:
        n_truths = len(mapped_truths(job["clip"], job["src_times"], job["times"]))
        return {"tp": 0, "fp": 0, "fn": n_truths, "error": res["error"]}
    times = [t - res["times"][0] for t in res["times"]] if res["times"] else []
    truths = mapped_truths(job["clip"], job["src_times"], times)
    pred = [Transition(p["start"], p["end"], p["boundary"], TransitionType(p["type"])) for p in res["predicted"]]
    s = score(truths, pred, tolerance=TOLERANCE)
    return {"tp": s.tp, "fp": s.fp, "fn": s.fn, "truths": len(truths), "false_positives": s.false_positives,
            "misses": [m[0] for m in s.misses]}


def f1(tp: int, fp: int, fn: int) -> float | None:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None


# ------------------------------------------------------------------ the other checks (current code)

def cover_art(work: Path) -> list[dict]:
    from reelscope.errors import MediaError
    from reelscope.eval.odd_media import audio_with_cover
    from reelscope.eval.shots import default_data_root
    from reelscope.media.info import probe

    paths = [audio_with_cover(work / f"tone{ext}") for ext in (".ogg", ".mp3", ".m4a")]
    shared = default_data_root() / "music" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
    if shared.exists():
        paths.append(shared)
    rows = []
    for p in paths:
        try:
            probe(p)
            rows.append({"file": p.name, "outcome": "accepted as a video"})
        except MediaError as e:
            rows.append({"file": p.name, "outcome": e.problem})
    return rows


def short_videos(work: Path, full_default: bool) -> list[dict]:
    import av
    import numpy as np

    from reelscope.analysis import analyze

    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (9, 16, 3), dtype=np.uint8) for _ in range(2))
    rows = []
    for n in range(1, 11):
        path = work / f"few_{n}.mp4"
        with av.open(str(path), "w") as c:
            s = c.add_stream("libx264", rate=24)
            s.width, s.height, s.pix_fmt = 320, 180, "yuv420p"
            for i in range(n):
                img = a if i < max(1, n // 2) else b
                big = np.kron(img, np.ones((20, 20, 1), np.uint8))
                for p in s.encode(av.VideoFrame.from_ndarray(big, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        row = {"frames": n}
        for label, stages in (("shots", ["shots"]),) + ((("default", None),) if full_default else ()):
            with tempfile.TemporaryDirectory(dir=work) as arch:
                (o,) = analyze([path], arch, stages=stages) if stages else analyze([path], arch)
            row[label] = o.status if o.status != "failed" else f"failed: {o.error}"
            if label == "shots":
                row["shots_found"] = o.shots
        rows.append(row)
    return rows


# ------------------------------------------------------------------ report

def tables(result: dict) -> str:
    versions = [v for v in ("before", "after") if v in result["detection"]]
    md = []
    md.append("**Cuts at low and variable frame rates** (fast detector; 13 verified clips, pooled; "
              "each cell: F1 (TP/FP/FN))")
    md.append("")
    md.append("| variant | " + " | ".join(versions) + " |")
    md.append("|---|" + "---:|" * len(versions))
    for variant in result["variants"]:
        cells = []
        for v in versions:
            p = result["pooled"][v][variant]
            x = f1(p["tp"], p["fp"], p["fn"])
            cells.append(f"{x:.3f} ({p['tp']}/{p['fp']}/{p['fn']})" if x is not None else "–")
        md.append(f"| {variant} | " + " | ".join(cells) + " |")
    md.append("")
    md.append("**Sintel (7 cuts verified by eye): cuts found / false boundaries**")
    md.append("")
    md.append("| file | " + " | ".join(versions) + " |")
    md.append("|---|" + "---|" * len(versions))
    for row in result["sintel"]:
        md.append(f"| {row['variant']} | " + " | ".join(row[v] for v in versions) + " |")
    md.append("")
    md.append("**Garbage over the middle of the file** (64 KB)")
    md.append("")
    md.append("| file | version | cuts found / FP | warning |")
    md.append("|---|---|---|---|")
    for row in result["damage"]:
        md.append(f"| {row['variant']} | {row['version']} | {row['cuts']} | {row['warning']} |")
    md.append("")
    md.append("**Audio with cover art** (current code)")
    md.append("")
    md.append("| file | outcome |")
    md.append("|---|---|")
    for row in result["cover_art"]:
        md.append(f"| {row['file']} | {row['outcome']} |")
    md.append("")
    md.append("**Videos of 1-10 frames** (current code)")
    md.append("")
    keys = [k for k in ("shots", "default") if k in result["short"][0]]
    md.append("| frames | " + " | ".join(f"{k} stage(s)" for k in keys) + " | shots found |")
    md.append("|---:|" + "---|" * len(keys) + "---:|")
    for row in result["short"]:
        md.append(f"| {row['frames']} | " + " | ".join(row[k] for k in keys) + f" | {row['shots_found']} |")
    return "\n".join(md)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", type=Path, help="another checkout whose detector to compare (subprocess)")
    ap.add_argument("--quick", action="store_true", help="three clips only")
    ap.add_argument("--full-default", action="store_true", help="also the whole default analysis on 1-10 frames")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "odd_media.json"))
    ap.add_argument("--detect-jobs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.detect_jobs:  # subprocess mode: detection with the code on PYTHONPATH
        sys.path.insert(0, str(args.code))
        res = detect_all(json.loads(args.detect_jobs.read_text()))
        args.detect_jobs.with_suffix(".out.json").write_text(json.dumps(res))
        return 0
    sys.path.insert(0, str(ROOT))
    sys.path.insert(1, str(ROOT / "bench"))
    from machine_info import machine

    info = machine(("av", "numpy", "opencv-python-headless"))
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reelscope-odd-") as tmp:
        work = Path(tmp)
        jobs, src_times = make_material(work, args.quick)
        for j in jobs:
            j["src_times"] = src_times.get(j["clip"], j["times"])
        slim = [{"path": j["path"]} for j in jobs]
        detection = {"after": detect_with(None, slim, work)}
        if args.baseline:
            log(f"baseline: {args.baseline}")
            detection["before"] = detect_with(args.baseline.resolve(), slim, work)
        variants = list(dict.fromkeys(j["variant"] for j in jobs if j["group"] == "rate"))
        pooled, per_clip, sintel, damage = {}, [], [], []
        for version, results in detection.items():
            pooled[version] = {v: {"tp": 0, "fp": 0, "fn": 0} for v in variants}
            for j, r in zip(jobs, results):
                if j["group"] != "rate":
                    continue
                sc = score_job(j, r)
                for k in ("tp", "fp", "fn"):
                    pooled[version][j["variant"]][k] += sc[k]
                per_clip.append({"version": version, "clip": j["clip"], "variant": j["variant"], **sc,
                                 "frames": r.get("frames"), "seconds": r["seconds"]})
        for j in [j for j in jobs if j["clip"] == "clip_03_sintel"]:
            row = {"variant": j["variant"]}
            for version, results in detection.items():
                r = results[jobs.index(j)]
                if "error" in r:
                    row[version] = f"error: {r['error'].split(': ', 1)[-1]}"
                    continue
                sc = score_job({**j, "times": r["times"]}, r)
                row[version] = f"{sc['tp']} of 7 / {sc['fp']} FP"
                if j["group"] == "damage":
                    damage.append({"variant": j["variant"], "version": version, "cuts": row[version],
                                   "warning": r.get("warning") or "none (exit 0, nothing said)"})
            if j["group"] == "rate":
                sintel.append(row)
        cover = cover_art(work)
        log("short videos")
        short = short_videos(work, args.full_default)
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": info,
              "load_after": [round(x, 2) for x in os.getloadavg()],
              "wall_seconds": round(time.perf_counter() - t_start, 1), "tolerance": TOLERANCE,
              "baseline": str(args.baseline) if args.baseline else None, "variants": variants,
              "detection": {k: True for k in detection}, "pooled": pooled, "per_clip": per_clip,
              "sintel": sintel, "damage": damage, "cover_art": cover, "short": short}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    md = tables(result)
    out.with_suffix(".md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
