"""The analysis engine as whole processes, against physical limits and a peer, interleaved.

    .venv/bin/python bench/bench_engine.py [--rounds 3] [--ten-minute] [--hour] [--out bench/results/engine.md]

Builds (once, into bench/_work/) a 90 s 640x360 film from the shared clips (Tears of Steel,
Sintel, Caminandes, and Big Buck Bunny with its music, scaled) and, with --ten-minute, a
10-minute file (the film looped), with --hour a 1-hour film (the same, looped by stream copy).
Then, round by round (A B C ... A B C ...), as whole processes:
  - `ffmpeg -threads 1 -i F -f null -`             single-thread decode: the physical floor
  - `reelscope analyze F` (fresh archive)            the full default analysis
  - `reelscope analyze F --stages fast`              shots and keyframes only
  - `scenedetect -i F detect-adaptive`               PySceneDetect (the peer for shots)
and reports medians and the ratios per round (full / ffmpeg, scenedetect / fast). Per-stage
seconds come from the archive's run records of the full analysis. With --hour, the peak RSS of
the full analysis of the 1-hour film (getrusage of the child).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))
WORK = ROOT / "bench" / "_work"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench"))


def build_film() -> Path:
    out = WORK / "film90_640x360.mp4"
    if out.exists():
        return out
    WORK.mkdir(parents=True, exist_ok=True)
    v = DATA / "video"
    parts = [v / "clip_01_tears_of_steel.mp4", v / "clip_03_sintel.mp4", v / "clip_02_caminandes.mp4"] * 2
    inputs, filters, n = [], [], 0
    for p in parts:
        inputs += ["-i", str(p)]
        filters.append(f"[{n}:v]scale=640:360,fps=24,setsar=1[v{n}];anullsrc=r=48000:cl=stereo,atrim=0:10[a{n}]")
        n += 1
    inputs += ["-i", str(v / "big_buck_bunny_0_30.webm")]
    filters.append(f"[{n}:v]scale=640:360,fps=24,setsar=1[v{n}];[{n}:a]aresample=48000,"
                   f"aformat=channel_layouts=stereo[a{n}]")
    n += 1
    chain = "".join(f"[v{i}][a{i}]" for i in range(n))
    fc = ";".join(filters) + f";{chain}concat=n={n}:v=1:a=1[v][a]"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", fc, "-map", "[v]", "-map", "[a]",
                    "-c:v", "libx264", "-preset", "medium", "-crf", "23", "-c:a", "aac", "-b:a", "128k",
                    "-t", "90", str(out)], check=True)
    return out


def looped(src: Path, seconds: int, name: str) -> Path:
    out = WORK / name
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(src), "-t", str(seconds),
                        "-c", "copy", str(out)], check=True)
    return out


def run(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, exit code) of one whole process."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        print(f"  ! {' '.join(cmd[:3])} exited {p.returncode}: {p.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return wall, p.returncode


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process, read by /usr/bin/time -v (public tool)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    kib = next((int(ln.split(":")[1]) for ln in p.stderr.splitlines() if "Maximum resident set size" in ln), 0)
    return wall, kib / 1024


def stage_seconds(archive: Path) -> dict[str, float]:
    from reelscope.archive import Archive

    with Archive(archive) as a:
        (v,) = a.videos(full=True)
        return {r.stage: round(r.seconds or 0.0, 2) for r in v.runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ten-minute", action="store_true")
    ap.add_argument("--hour", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engine.md")
    args = ap.parse_args()
    from machine_info import machine

    film = build_film()
    files = {"90 s 640x360": film}
    if args.ten_minute:
        files["10 min 640x360"] = looped(film, 600, "film600_640x360.mp4")
    reel = str(BIN / "reelscope")
    scened = shutil.which("scenedetect", path=str(BIN)) or shutil.which("scenedetect")
    lines = [f"# Engine benchmark ({time.strftime('%Y-%m-%d')})", "", str(machine(("av", "torch", "onnxruntime"))), "",
             f"load average at start: {os.getloadavg()[0]:.1f}", ""]
    results = {}
    for label, f in files.items():
        rows: dict[str, list[float]] = {"ffmpeg": [], "full": [], "fast": [], "scenedetect": []}
        stages_seen = []
        for r in range(args.rounds):
            tmp = Path(tempfile.mkdtemp(prefix="rs-bench-"))
            try:
                rows["ffmpeg"].append(run(["ffmpeg", "-v", "error", "-threads", "1", "-i", str(f), "-f", "null", "-"])[0])
                if label.startswith("90"):
                    rows["full"].append(run([reel, "analyze", str(f), "--archive", str(tmp / "full")])[0])
                    stages_seen.append(stage_seconds(tmp / "full"))
                rows["fast"].append(run([reel, "analyze", str(f), "--archive", str(tmp / "fast"), "--stages", "fast"])[0])
                if scened:
                    rows["scenedetect"].append(run([scened, "-i", str(f), "-o", str(tmp), "detect-adaptive"])[0])
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            print(f"{label} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in rows.items() if v),
                  file=sys.stderr)
        med = {k: statistics.median(v) for k, v in rows.items() if v}
        ratio = {}
        if rows["full"]:
            ratio["full / ffmpeg -threads 1"] = statistics.median(a / b for a, b in zip(rows["full"], rows["ffmpeg"]))
        if rows["scenedetect"]:
            ratio["speed vs PySceneDetect (scenedetect / fast)"] = statistics.median(
                b / a for a, b in zip(rows["fast"], rows["scenedetect"]))
        results[label] = {"median_seconds": med, "ratios": ratio, "stage_seconds": stages_seen}
        lines += [f"## {label} ({args.rounds} interleaved rounds, whole processes)", "",
                  "| command | median wall s | all rounds |", "|---|---|---|"]
        for k, v in rows.items():
            if v:
                lines.append(f"| {k} | {statistics.median(v):.2f} | {', '.join(f'{x:.2f}' for x in v)} |")
        lines += [""] + [f"- {k}: **{v:.2f}x** (median of per-round ratios)" for k, v in ratio.items()] + [""]
        if stages_seen:
            names = list(stages_seen[0])
            lines += ["Per-stage seconds of the full analysis (median over rounds, from the run records):", "",
                      "| stage | s |", "|---|---|"]
            for n in names:
                lines.append(f"| {n} | {statistics.median(s.get(n, 0.0) for s in stages_seen):.2f} |")
            lines.append("")
    if args.hour:
        hour = looped(film, 3600, "film3600_640x360.mp4")
        tmp = Path(tempfile.mkdtemp(prefix="rs-bench-"))
        try:
            wall, mib = peak_rss([reel, "analyze", str(hour), "--archive", str(tmp / "a")])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        results["hour"] = {"wall": wall, "peak_rss_mib": mib}
        lines += ["## 1-hour film (the 90 s film looped), full default analysis", "",
                  f"- wall {wall:.0f} s ({3600 / wall:.2f}x real time), peak RSS **{mib:.0f} MiB** (/usr/bin/time -v)", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    (args.out.with_suffix(".json")).write_text(json.dumps(results, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
