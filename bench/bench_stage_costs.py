#!/usr/bin/env python
"""Per-sampled-frame cost of the engine's frame stages (faces, objects, shot_size, tags) on a video.

For each stage the engine runs one decode pass feeding only that stage (the shots it needs are
computed first and kept in the context); a consumer fed the first three sampled frames loads the
models first, so model loading and first-call costs are left out. Per stage it reports

- ``cost_ms``: the stage's own seconds as the engine records them (its work on the sampled frames
  plus its ``finish``), per sampled frame;
- ``added_ms``: the wall time the stage adds to a decode pass that converts the same frames and
  feeds them to nobody, per sampled frame (what the stage really costs the analysis when it
  overlaps its work with decoding);
- ``cpu_ms``: the CPU time (all threads of the process) the stage adds to that decode pass, per
  sampled frame: robust to other work on a shared machine, but blind to idle waits;
- ``pass_s`` / ``decode_s``: the two passes' wall times;
- with several stages, ``together``: the wall time of one pass feeding all of them, as the
  engine runs them (stages with workers overlap each other and the decoding).

Before/after in one run: ``--trees OLD NEW`` runs this script from each checkout in turn (fresh
processes, ``PYTHONPATH`` set to the checkout), alternating the order every round (ABBA...), so
both see the same load; the table gives the medians over ``--rounds``.

    .venv/bin/python bench/bench_stage_costs.py VIDEO [--stages faces,objects] [--json]
    .venv/bin/python bench/bench_stage_costs.py VIDEO --trees /path/old /path/new --rounds 3 \\
        [--out bench/results/stage_costs.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def warm_up(video: str, info, st, params: dict, prepared: dict, frames: int = 3) -> None:
    """Load the stage's models and make its first calls: a consumer fed its first few frames,
    then dropped."""
    from reelscope.media.decode import iter_frames
    from reelscope.pipeline.stage import Context

    c = st.consumer(Context(path=video, info=info, artifacts=dict(prepared)), params)
    fed = 0
    for frame in iter_frames(video, tuple(c.specs), rotation=info.rotation, fps=info.fps,
                             select=lambda i, t: tuple(c.specs) if c.wants(i, t) else ()):
        c.feed(frame)
        fed += 1
        if fed >= frames:
            break
    join = getattr(getattr(c, "worker", None), "join", None)  # let a worker finish its calls
    if join is not None:
        join()


def measure(video: str, stages: list[str], threads: int | None = None) -> dict:
    """Time each stage's pass in this process (the reelscope on sys.path)."""
    import reelscope
    from reelscope.media.decode import DecodeStats, iter_frames
    from reelscope.media.info import probe
    from reelscope.pipeline.engine import Decision, run_video
    from reelscope.pipeline.stage import Context, get_stage

    try:  # one thread setting for the whole process, where the checkout has it
        from reelscope.models.cache import configure_threads
        threads = configure_threads(threads)
    except ImportError:
        pass

    class NullStore:
        def stored(self):
            return {}

        def load(self, stage):
            raise KeyError(stage)

        def save(self, stage, artifacts, run):
            pass

    info = probe(video)
    base = Context(path=video, info=info)
    shots = get_stage("shots")
    run_video(base, Decision([shots], [], []), {"shots": shots.resolve_params(None)}, NullStore())
    prepared = {k: v for k, v in base.artifacts.items()}
    out = {"reelscope": str(Path(reelscope.__file__).parent.parent), "video": video, "frames": info.frame_count_hint,
           "threads": threads, "stages": {}}
    for name in stages:
        st = get_stage(name)
        params = st.resolve_params(None)
        warm_up(video, info, st, params, prepared)
        ctx = Context(path=video, info=info, artifacts=dict(prepared))
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_video(ctx, Decision([st], [], []), {name: params}, NullStore())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        run = next(r for r in res.runs if r["stage"] == name)
        seconds, sampled = run["seconds"], run["params"].get("sampled_frames")
        # the same frames decoded and converted, fed to nobody
        ctx = Context(path=video, info=info, artifacts=dict(prepared))
        c = st.consumer(ctx, params)
        specs = tuple(c.specs)
        wanted = 0

        def select(i, t):
            nonlocal wanted
            if c.last is not None and i > c.last:
                return ()
            if c.wants(i, t):
                wanted += 1
                return specs
            return ()

        t0, c0 = time.perf_counter(), time.process_time()
        for _ in iter_frames(video, specs, rotation=info.rotation, fast=not getattr(c, "quality", False),
                             stats=DecodeStats(), fps=info.fps, select=select, stop_after=c.last):
            pass
        decode, decode_cpu = time.perf_counter() - t0, time.process_time() - c0
        close = getattr(c, "close", None)
        if close is not None:
            close()
        sampled = sampled or wanted
        out["stages"][name] = {"sampled": sampled, "pass_s": round(wall, 3), "decode_s": round(decode, 3),
                               "seconds": round(seconds, 3),
                               "cost_ms": round(1000 * seconds / max(sampled, 1), 1),
                               "added_ms": round(1000 * (wall - decode) / max(sampled, 1), 1),
                               "cpu_ms": round(1000 * (cpu - decode_cpu) / max(sampled, 1), 1)}
    if len(stages) > 1:  # all of them in one pass, as the engine runs them (workers side by side)
        sts = [get_stage(n) for n in stages]
        resolved = {st.name: st.resolve_params(None) for st in sts}
        ctx = Context(path=video, info=info, artifacts=dict(prepared))
        t0, c0 = time.perf_counter(), time.process_time()
        run_video(ctx, Decision(sts, [], []), resolved, NullStore())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        sampled = max(v["sampled"] for v in out["stages"].values())
        decode = max(v["decode_s"] for v in out["stages"].values())
        out["together"] = {"stages": stages, "pass_s": round(wall, 3), "cpu_s": round(cpu, 3),
                           "sum_of_alone_s": round(sum(v["pass_s"] for v in out["stages"].values()), 3),
                           "added_ms": round(1000 * (wall - decode) / max(sampled, 1), 1)}
    out["load"] = [round(x, 2) for x in os.getloadavg()]
    return out


def compare(video: str, stages: list[str], trees: list[str], rounds: int, threads: int | None) -> dict:
    runs: dict[str, list[dict]] = {t: [] for t in trees}
    for r in range(rounds):
        order = trees if r % 2 == 0 else list(reversed(trees))
        for tree in order:
            env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
            cmd = [sys.executable, str(Path(__file__).resolve()), video, "--stages", ",".join(stages), "--json"]
            if threads:
                cmd += ["--threads", str(threads)]
            p = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
            if p.returncode:
                raise SystemExit(f"{tree}: bench failed:\n{p.stderr[-3000:]}")
            res = json.loads(p.stdout.strip().splitlines()[-1])
            runs[tree].append(res)
            print(f"round {r + 1} {tree}: " + ", ".join(f"{k} {v['cost_ms']} ms (+{v['added_ms']})"
                                                      for k, v in res["stages"].items()), file=sys.stderr)
    summary = {}
    for tree, rs in runs.items():
        summary[tree] = {s: {k: round(statistics.median(r["stages"][s][k] for r in rs), 3 if k.endswith("_s") else 1)
                             for k in ("cost_ms", "added_ms", "cpu_ms", "pass_s", "decode_s")} | {"sampled": rs[0]["stages"][s]["sampled"]}
                         for s in stages}
        if all("together" in r for r in rs):
            summary[tree]["together"] = {k: round(statistics.median(r["together"][k] for r in rs), 3)
                                         for k in ("pass_s", "cpu_s", "sum_of_alone_s", "added_ms")}
    return {"date": date.today().isoformat(), "video": video, "rounds": rounds, "trees": trees,
            "summary": summary, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--stages", default="faces,objects")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: the process default)")
    ap.add_argument("--trees", nargs="+", help="checkouts to compare, interleaved (fresh process each run)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON line (used by --trees)")
    ap.add_argument("--out", type=Path, help="write the results JSON here")
    args = ap.parse_args(argv)
    if not Path(args.video).is_file():
        ap.error(f"{args.video}: no such video file")
    stages = [s for s in args.stages.split(",") if s]
    if args.trees:
        sys.path.insert(0, str(ROOT / "bench"))
        from machine_info import machine

        info = machine(("torch", "onnxruntime", "ai-edge-litert", "numpy"))
        doc = compare(str(Path(args.video).resolve()), stages, args.trees, args.rounds, args.threads)
        doc["machine"] = info
        doc["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
        for tree, per in doc["summary"].items():
            print(tree)
            for s, v in per.items():
                if s == "together":
                    print(f"  all in one pass: {v['pass_s']} s, {v['cpu_s']} s CPU (alone, one after the other: "
                          f"{v['sum_of_alone_s']} s), "
                          f"adds {v['added_ms']} ms per sampled frame to the decode")
                    continue
                print(f"  {s}: {v['cost_ms']} ms per sampled frame (adds {v['added_ms']} ms to the pass, "
                      f"{v['cpu_ms']} ms of CPU), "
                      f"{v['sampled']} sampled, pass {v['pass_s']} s, decode alone {v['decode_s']} s")
    else:
        if str(ROOT) not in sys.path and not os.environ.get("PYTHONPATH"):
            sys.path.insert(0, str(ROOT))
        doc = measure(str(Path(args.video).resolve()), stages, args.threads)
        print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
