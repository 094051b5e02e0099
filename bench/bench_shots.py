#!/usr/bin/env python
"""Shot-boundary benchmark: accuracy on the verified fixtures, and (--speed) throughput.

Accuracy: every fixture in tests/fixtures/shots/ is run through each detector and scored
with reelscope.eval.shots.score (±2 frames for hard cuts, inside the span for gradual
transitions), overall and per class, per clip and pooled (micro-average: TP/FP/FN summed
over clips).

Speed (--speed): frames per second on a 1280x720 and a 640x360 H.264 clip for plain FFmpeg
decoding (CLI), plain PyAV decoding, each reelscope detector through
reelscope.shots.run.detect, and PySceneDetect (its own decoding included). Each measurement
is repeated (--repeat, default 3) and the best (shortest) time is kept.

Results go to --out (JSON) and a Markdown section next to it (same name, .md), which is
also printed, ready to paste into BENCHMARKS.md. Re-run on a quiet machine with:

    .venv/bin/python bench/bench_shots.py --speed
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from reelscope.eval import peers  # noqa: E402
from reelscope.eval.shots import Fixture, Score, default_data_root, load_fixture, score  # noqa: E402
from reelscope.media.info import probe  # noqa: E402
from reelscope.shots.backends import make_detector  # noqa: E402
from reelscope.shots.run import detect  # noqa: E402

FIXTURE_DIR = ROOT / "tests" / "fixtures" / "shots"
ALL_DETECTORS = ("fast", "transnetv2", "hybrid") + peers.PEERS
SLOW_DETECTORS = {"transnetv2", "hybrid"}  # CPU neural network: ~12 ms/frame
QUICK_MAX_SECONDS = 10.5  # --quick: fixtures up to this long (the 10-s clips and shorter)
TOLERANCE = 2
KINDS = (("all", None), ("cut", "cut"), ("gradual", "gradual"))
SPEED_CLIPS = (  # label, path under the data root
    ("1280x720", "shots/pyscenedetect_testvideo/testvideo.mp4"),
    ("640x360", "video/clip_01_tears_of_steel.mp4"),
)
SLOW_FRAMES = 300  # slow detectors see only the first N frames of the 720p clip
FFMPEG_DECODE = ("ffmpeg", "-v", "error", "-i", "{input}", "-f", "null", "-")
FFMPEG_TRIM = ("ffmpeg", "-v", "error", "-y", "-i", "{input}", "-map", "0:v:0", "-c", "copy",
               "-frames:v", "{frames}", "{output}")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- detectors under test

@dataclass
class Runner:
    """Something that turns a video into predicted boundaries: a reelscope detector or a peer."""
    name: str
    run: Callable[[Path, object], tuple[list, int]]  # (path, prepared state) -> (predictions, frames)
    prepare: Callable[[], object] | None = None  # untimed per-run setup (model load), result passed on


def reelscope_runner(name: str) -> Runner:
    make_detector(name)  # fail here (import error, missing weights) rather than mid-benchmark

    def prepare():
        return make_detector(name)

    def run(path: Path, det=None):
        det = det if det is not None else make_detector(name)
        result = detect(path, probe(path), [det])
        return result.transitions[det.name], result.frame_count

    return Runner(name, run, prepare)


def peer_runner(name: str) -> Runner:
    peers._scenedetect()  # raises MissingDependency with the install hint

    def run(path: Path, _=None):
        r = peers.run_peer(name, path)
        return r.cuts, r.frames

    return Runner(name, run)


def make_runners(names: list[str], notes: list[str]) -> list[Runner]:
    runners = []
    for name in names:
        try:
            runners.append(peer_runner(name) if name in peers.PEERS else reelscope_runner(name))
        except Exception as e:  # not importable yet, missing dependency, half-written module
            note = f"skipped detector {name!r}: {type(e).__name__}: {e}"
            notes.append(note)
            print("note: " + note, flush=True)
    return runners


def call(runner: Runner, path: Path):
    state = runner.prepare() if runner.prepare else None
    return runner.run(path, state)


# ---------------------------------------------------------------- accuracy

def score_dict(s: Score) -> dict:
    p = s.tp / (s.tp + s.fp) if s.tp + s.fp else None
    r = s.tp / (s.tp + s.fn) if s.tp + s.fn else None
    f1 = 2 * s.tp / (2 * s.tp + s.fp + s.fn) if s.tp + s.fp + s.fn else None  # 0 when nothing matched
    return {"tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": p, "recall": r, "f1": f1}


def clip_seconds(fx: Fixture) -> float:
    fps = json.loads((FIXTURE_DIR / f"{fx.name}.json").read_text()).get("fps", "25")
    return fx.frame_count / float(Fraction(fps))


def load_fixtures(quick: bool, only: list[str] | None, notes: list[str]) -> list[Fixture]:
    fixtures = []
    for f in sorted(FIXTURE_DIR.glob("*.json")):
        fx = load_fixture(f)
        if only and fx.name not in only:
            continue
        if quick and clip_seconds(fx) > QUICK_MAX_SECONDS:
            continue
        try:
            path = fx.path()
        except FileNotFoundError as e:
            path, why = None, str(e)
        else:
            why = f"{path} not found"
        if path is None or not path.exists():
            notes.append(f"skipped fixture {fx.name}: {why}")
            print(f"note: skipped fixture {fx.name}: {why}", flush=True)
            continue
        fixtures.append(fx)
    return fixtures


def run_accuracy(fixtures: list[Fixture], runners: list[Runner], notes: list[str]) -> dict:
    clips = []
    pooled = {r.name: {k: Score() for k, _ in KINDS} for r in runners}
    failed: dict[str, list[str]] = {r.name: [] for r in runners}
    for fx in fixtures:
        path = fx.path()
        n_cut = sum(not t.gradual for t in fx.truths)
        clip = {"name": fx.name, "video": fx.video, "frames": fx.frame_count,
                "truths": {"cut": n_cut, "gradual": len(fx.truths) - n_cut}, "results": {}}
        for runner in runners:
            log(f"accuracy: {fx.name} / {runner.name}")
            t0 = time.perf_counter()
            try:
                predicted, frames = call(runner, path)
            except Exception as e:
                note = f"{runner.name} failed on {fx.name}: {type(e).__name__}: {e}"
                notes.append(note)
                print("note: " + note, flush=True)
                clip["results"][runner.name] = {"error": f"{type(e).__name__}: {e}"}
                failed[runner.name].append(fx.name)
                continue
            seconds = time.perf_counter() - t0
            if frames != fx.frame_count:
                notes.append(f"{runner.name} saw {frames} frames of {fx.name}; fixture says {fx.frame_count}")
            res = {"seconds": round(seconds, 3), "frames": frames,
                   "predicted": [_describe(p) for p in predicted]}
            for key, kind in KINDS:
                s = score(fx.truths, predicted, tolerance=TOLERANCE, kind=kind)
                pooled[runner.name][key] = pooled[runner.name][key] + s
                res[key] = score_dict(s)
                if kind is None:
                    res["false_positives"] = s.false_positives
                    res["fp_in_ignored"] = sum(any(a <= b <= z for a, z in fx.ignored) for b in s.false_positives)
                    res["misses"] = [list(m) for m in s.misses]
            clip["results"][runner.name] = res
        clips.append(clip)
    return {"tolerance": TOLERANCE, "clips": clips,
            "pooled": {name: {k: score_dict(s) for k, s in by_kind.items()} for name, by_kind in pooled.items()},
            "failed": failed}  # clips a detector raised on: left out of its pooled counts


def _describe(p) -> dict | int:
    if isinstance(p, int):
        return p
    return {"boundary": p.boundary, "type": p.type.value, "start": p.start, "end": p.end}


def _f(x: float | None) -> str:
    return "  –  " if x is None else f"{x:5.3f}"


def accuracy_tables(acc: dict) -> tuple[str, str]:
    """(plain text for the terminal, Markdown)."""
    names = list(acc["pooled"])
    text, md = [], []
    text.append(f"Pooled over {len(acc['clips'])} clips (micro-average), tolerance ±{acc['tolerance']} frames for cuts")
    head = f"{'detector':24} " + " | ".join(f"{k:^31}" for k, _ in KINDS)
    text.append(head)
    text.append(f"{'':24} " + " | ".join(f"{'P':>5} {'R':>5} {'F1':>5} {'tp/fp/fn':>13}" for _ in KINDS))
    md.append("| detector | " + " | ".join(f"{k} P | {k} R | {k} F1 | {k} TP/FP/FN" for k, _ in KINDS) + " |")
    md.append("|---|" + "---:|" * (4 * len(KINDS)))
    for name in names:
        cells_t, cells_m = [], []
        for k, _ in KINDS:
            d = acc["pooled"][name][k]
            counts = f"{d['tp']}/{d['fp']}/{d['fn']}"
            cells_t.append(f"{_f(d['precision'])} {_f(d['recall'])} {_f(d['f1'])} {counts:>13}")
            cells_m.append(f"{_f(d['precision']).strip()} | {_f(d['recall']).strip()} | {_f(d['f1']).strip()} | {counts}")
        text.append(f"{name:24} " + " | ".join(cells_t))
        md.append(f"| {name} | " + " | ".join(cells_m) + " |")
    failures = [f"{name} failed on {', '.join(clips)} (left out of its pooled counts)"
                for name, clips in acc.get("failed", {}).items() if clips]
    text += failures
    if failures:
        md += [""] + [f"Note: {f}." for f in failures]

    text.append("")
    text.append("Per clip (truths: cuts+gradual; each cell: F1 tp/fp/fn; '–' = undefined, no truths or no predictions)")
    text.append(f"{'clip':28} {'truths':>7} {'detector':24} {'all':>16} {'cut':>16} {'gradual':>16}")
    md_clip = ["| clip | truths (cut+grad) | detector | all F1 (TP/FP/FN) | cut F1 (TP/FP/FN) | gradual F1 (TP/FP/FN) |",
               "|---|---:|---|---:|---:|---:|"]
    for clip in acc["clips"]:
        truths = f"{clip['truths']['cut']}+{clip['truths']['gradual']}"
        for name, res in clip["results"].items():
            if "error" in res:
                text.append(f"{clip['name']:28} {truths:>7} {name:24} FAILED: {res['error']}")
                md_clip.append(f"| {clip['name']} | {truths} | {name} | FAILED: {res['error']} | | |")
                continue
            cells = [f"{_f(res[k]['f1']).strip()} ({res[k]['tp']}/{res[k]['fp']}/{res[k]['fn']})" for k, _ in KINDS]
            text.append(f"{clip['name']:28} {truths:>7} {name:24} " + " ".join(f"{c:>16}" for c in cells))
            md_clip.append(f"| {clip['name']} | {truths} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(text), "\n".join(md + [""] + md_clip)


# ---------------------------------------------------------------- speed

def best_of(fn: Callable[[], int], repeat: int, setup: Callable[[], object] | None = None) -> dict:
    """Time ``fn`` (which returns the frame count) ``repeat`` times; keep the best."""
    times, frames = [], 0
    for _ in range(repeat):
        state = setup() if setup else None
        t0 = time.perf_counter()
        frames = fn(state) if setup else fn()
        times.append(time.perf_counter() - t0)
    return {"frames": frames, "times_s": [round(t, 4) for t in times], "best_s": round(min(times), 4),
            "fps": round(frames / min(times), 1)}


def ffmpeg_cmd(template: tuple[str, ...], **kw) -> list[str]:
    return [a.format(**kw) for a in template]


def pyav_decode(path: Path, skip_loop_filter: bool = False) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if skip_loop_filter:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        return sum(1 for _ in container.decode(stream))


def speed_clip(label: str, path: Path, runners: list[Runner], repeat: int, content_peer: Runner | None,
               baselines_only_for: set[str] | None = None) -> dict:
    """Measure every method on one clip. ``baselines_only_for``: run only these runners (plus baselines)."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        width, height, codec = s.codec_context.width, s.codec_context.height, s.codec_context.name
    n_frames = pyav_decode(path)
    rows = []

    def add(method: str, result: dict, command: str | None = None):
        result = {"method": method, **result}
        if command:
            result["command"] = command
        rows.append(result)
        log(f"speed: {label}: {method}: {result['fps']} fps (best {result['best_s']} s of {result['times_s']})")

    cmd = ffmpeg_cmd(FFMPEG_DECODE, input=str(path))

    def run_ffmpeg():
        subprocess.run(cmd, check=True)
        return n_frames

    add("ffmpeg decode (CLI)", best_of(run_ffmpeg, repeat), shlex.join(cmd))
    add("PyAV decode (threaded, no conversion)", best_of(lambda: pyav_decode(path), repeat))
    add("PyAV decode, skip_loop_filter (reelscope's fast decode)",
        best_of(lambda: pyav_decode(path, skip_loop_filter=True), repeat))
    for runner in runners:
        if baselines_only_for is not None and runner.name not in baselines_only_for and runner is not content_peer:
            continue
        label_m = runner.name if runner.name in peers.PEERS else f"reelscope {runner.name} (run.detect)"
        try:
            if runner.prepare:
                add(label_m, best_of(lambda det: runner.run(path, det)[1], repeat, setup=runner.prepare))
            else:
                add(label_m, best_of(lambda: runner.run(path)[1], repeat))
        except Exception as e:
            rows.append({"method": label_m, "error": f"{type(e).__name__}: {e}"})
            log(f"speed: {label}: {label_m} failed: {e}")
    ref_ffmpeg = rows[0]["fps"]
    ref_content = next((r["fps"] for r in rows if r["method"] == "pyscenedetect-content" and "fps" in r), None)
    for r in rows:
        if "fps" in r:
            r["x_ffmpeg"] = round(r["fps"] / ref_ffmpeg, 3)
            r["x_pyscenedetect_content"] = round(r["fps"] / ref_content, 3) if ref_content else None
    return {"label": label, "path": str(path), "codec": codec, "width": width, "height": height,
            "frames": n_frames, "results": rows}


def run_speed(runners: list[Runner], repeat: int, quick: bool, full_slow: bool, notes: list[str]) -> dict:
    data = default_data_root()
    content_peer = next((r for r in runners if r.name == "pyscenedetect-content"), None)
    if content_peer is None:  # the reference for the ratios, always measured when available
        try:
            content_peer = peer_runner("pyscenedetect-content")
        except Exception as e:
            notes.append(f"PySceneDetect unavailable for the speed reference: {e}")
    all_runners = runners + ([content_peer] if content_peer and content_peer not in runners else [])
    fast_runners = [r for r in all_runners if full_slow or r.name not in SLOW_DETECTORS]
    slow_names = {r.name for r in all_runners if r.name in SLOW_DETECTORS and not full_slow}
    clips, commands = [], []
    with tempfile.TemporaryDirectory(prefix="reelscope-bench-") as tmp:
        for label, rel in SPEED_CLIPS:
            path = data / rel
            if not path.exists():
                notes.append(f"speed clip {path} not found")
                continue
            big = label == SPEED_CLIPS[0][0]
            if quick and big:
                continue
            clips.append(speed_clip(label, path, fast_runners if big else all_runners, repeat, content_peer))
            if big and slow_names:
                trimmed = Path(tmp) / f"{path.stem}_first{SLOW_FRAMES}{path.suffix}"
                cmd = ffmpeg_cmd(FFMPEG_TRIM, input=str(path), frames=str(SLOW_FRAMES), output=str(trimmed))
                subprocess.run(cmd, check=True)
                commands.append("trim (stream copy, no re-encode): " + shlex.join(cmd).replace(tmp, "$TMP"))
                clip = speed_clip(f"{label}, first {SLOW_FRAMES} frames", trimmed, all_runners, repeat,
                                  content_peer, baselines_only_for=slow_names)
                clip["path"] = f"{path} (first {SLOW_FRAMES} frames, stream copy)"
                for r in clip["results"]:
                    if "command" in r:
                        r["command"] = r["command"].replace(tmp, "$TMP")
                clips.append(clip)
    return {"repeat": repeat, "clips": clips, "commands": commands,
            "slow_detectors_on_720p": "full clip" if full_slow else f"first {SLOW_FRAMES} frames only"}


def speed_tables(speed: dict) -> tuple[str, str]:
    text, md = [], []
    for clip in speed["clips"]:
        title = f"{clip['label']} {clip['codec']} ({clip['width']}x{clip['height']}, {clip['frames']} frames): {clip['path']}"
        text += ["", title, f"{'method':58} {'best s':>8} {'fps':>8} {'x ffmpeg':>9} {'x PySD content':>15}"]
        md += ["", f"**{title}**", "",
               "| method | best of %d (s) | fps | × ffmpeg decode | × PySceneDetect content |" % speed["repeat"],
               "|---|---:|---:|---:|---:|"]
        for r in clip["results"]:
            if "fps" not in r:
                text.append(f"{r['method']:58} failed: {r['error']}")
                md.append(f"| {r['method']} | failed: {r['error']} | | | |")
                continue
            xc = f"{r['x_pyscenedetect_content']:.2f}" if r.get("x_pyscenedetect_content") else "–"
            text.append(f"{r['method']:58} {r['best_s']:8.3f} {r['fps']:8.1f} {r['x_ffmpeg']:9.2f} {xc:>15}")
            md.append(f"| {r['method']} | {r['best_s']:.3f} | {r['fps']:.1f} | {r['x_ffmpeg']:.2f} | {xc} |")
    return "\n".join(text), "\n".join(md)


# ---------------------------------------------------------------- machine and versions

def _cmd_out(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict:
    lscpu = dict(line.split(":", 1) for line in _cmd_out(["lscpu"]).splitlines() if ":" in line)
    lscpu = {k.strip(): v.strip() for k, v in lscpu.items()}
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_model": lscpu.get("Model name", platform.processor() or "unknown"),
        "cpus_lscpu": lscpu.get("CPU(s)"),
        "cores_per_socket": lscpu.get("Core(s) per socket"),
        "threads_per_core": lscpu.get("Thread(s) per core"),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict:
    import av
    import cv2
    import numpy

    v = {"python": platform.python_version(), "numpy": numpy.__version__, "av": av.__version__,
         "av_ffmpeg_libavcodec": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
         "opencv": cv2.__version__, "scenedetect": peers.scenedetect_version(),
         "ffmpeg_cli": (_cmd_out(["ffmpeg", "-version"]).splitlines() or ["missing"])[0]}
    try:
        import torch
        v["torch"] = torch.__version__
        v["torch_threads"] = torch.get_num_threads()
    except ImportError:
        v["torch"] = None
    commit = _cmd_out(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_cmd_out(["git", "status", "--porcelain", "--untracked-files=no"]))
    v["reelscope_commit"] = commit + (" + uncommitted changes" if dirty else "") if commit else None
    return v


def markdown(meta: dict, acc_md: str | None, speed_md: str | None, speed: dict | None, notes: list[str]) -> str:
    m, v = meta["machine"], meta["versions"]
    lines = [
        "## Shot boundary detection benchmark",
        "",
        f"- Date: {meta['date']}",
        f"- Machine: {m['cpu_model']}, {m['usable_cpus']} usable CPUs (lscpu: {m['cpus_lscpu']} CPUs, "
        f"{m['cores_per_socket']} cores/socket, {m['threads_per_core']} threads/core), {m['ram_gib']} GiB RAM, "
        f"{m['os']}; load average at start {m['load_avg_start']}, at end {m.get('load_avg_end')}",
        f"- Versions: Python {v['python']}, numpy {v['numpy']}, PyAV {v['av']} (libavcodec {v['av_ffmpeg_libavcodec']}), "
        f"OpenCV {v['opencv']}, torch {v.get('torch')} ({v.get('torch_threads')} threads), "
        f"PySceneDetect {v['scenedetect']}, {v['ffmpeg_cli']}; reelscope {v['reelscope_commit']}",
        f"- Command: `{meta['command']}`",
        "- PySceneDetect: ContentDetector / AdaptiveDetector at library defaults, `open_video` default backend "
        f"({meta.get('pyscenedetect_backend') or 'n/a'}), cut frames mapped to PyAV decode order (no offset found).",
    ]
    if acc_md:
        lines += ["", "### Accuracy", "",
                  f"Matching: a hard cut counts if a predicted boundary is within ±{TOLERANCE} frames; a gradual "
                  "transition if a boundary falls inside its span; one-to-one, closest first "
                  "(reelscope.eval.shots.score). Unmatched predictions in a fixture's documented "
                  "ignored regions count as false positives. Per-class scores: truths of the other class are dropped "
                  "and an unmatched prediction counts against the class it claims (PySceneDetect only claims cuts). "
                  "Pooled = TP/FP/FN summed over clips.", "", acc_md]
    if speed_md:
        lines += ["", "### Speed", "",
                  f"Frames per second, best of {speed['repeat']} runs (wall time of the whole call: open, decode, "
                  "analyse). reelscope detectors run through `reelscope.shots.run.detect` (probe + threaded PyAV "
                  "decode with skip_loop_filter, overlapped with analysis); model loading is excluded. "
                  f"Slow (neural) detectors on the 720p clip: {speed['slow_detectors_on_720p']}. "
                  "ffmpeg's default thread count is automatic (= usable CPUs).", speed_md]
        if speed["commands"]:
            lines += ["", "Commands: " + "; ".join(f"`{c}`" for c in speed["commands"])]
    if notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help=f"only fixtures up to {QUICK_MAX_SECONDS:g} s; speed only on the 640x360 clip")
    ap.add_argument("--detectors", default=",".join(ALL_DETECTORS),
                    help="comma-separated (default: %(default)s); unavailable ones are skipped with a note")
    ap.add_argument("--fixtures", default="", help="comma-separated fixture names (default: all)")
    ap.add_argument("--speed", action="store_true", help="also run the speed benchmark")
    ap.add_argument("--no-accuracy", action="store_true", help="skip the accuracy part (speed only)")
    ap.add_argument("--repeat", type=int, default=3, help="speed: runs per measurement, best kept (default 3)")
    ap.add_argument("--full-slow", action="store_true",
                    help=f"speed: run transnetv2/hybrid on the whole 720p clip, not the first {SLOW_FRAMES} frames")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "shots.json"),
                    help="JSON output; the Markdown goes next to it with a .md suffix (default: %(default)s)")
    args = ap.parse_args(argv)

    if shutil.which("ffmpeg") is None and args.speed:
        ap.error("--speed needs the ffmpeg CLI on PATH")
    notes: list[str] = []
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_DETECTORS]
    if unknown:
        ap.error(f"unknown detector(s) {', '.join(unknown)}; choose from {', '.join(ALL_DETECTORS)}")
    meta = {"date": dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
            "command": shlex.join(["python", *[os.path.relpath(sys.argv[0], ROOT)], *(argv or sys.argv[1:])]),
            "machine": machine_info(), "versions": versions()}
    runners = make_runners(names, notes)
    if any(r.name in peers.PEERS for r in runners) or args.speed:
        meta["pyscenedetect_backend"] = _pyscenedetect_backend()

    result: dict = {"meta": meta}
    acc_md = speed_md = None
    if not args.no_accuracy:
        only = [n.strip() for n in args.fixtures.split(",") if n.strip()] or None
        fixtures = load_fixtures(args.quick, only, notes)
        acc = run_accuracy(fixtures, runners, notes)
        result["accuracy"] = acc
        acc_text, acc_md = accuracy_tables(acc)
        print("\n" + acc_text, flush=True)
    if args.speed:
        speed = run_speed(runners, args.repeat, args.quick, args.full_slow, notes)
        result["speed"] = speed
        speed_text, speed_md = speed_tables(speed)
        print(speed_text, flush=True)
    meta["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["notes"] = notes

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    md = markdown(meta, acc_md, speed_md, result.get("speed"), notes)
    out.with_suffix(".md").write_text(md)
    print("\n" + md)
    log(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


def _pyscenedetect_backend() -> str | None:
    """Name of the backend open_video picks by default (OpenCV unless it is missing)."""
    try:
        sd = peers._scenedetect()
    except Exception:
        return None
    probe_clip = default_data_root() / SPEED_CLIPS[1][1]
    if probe_clip.exists():
        return sd.open_video(str(probe_clip)).BACKEND_NAME
    return "opencv (open_video default)"


if __name__ == "__main__":
    sys.exit(main())
