"""Characters on real videos: how many are found vs the truth established by eye, naming once
and recognising across clips (Intel GIFs), and the faces stage's speed.

    .venv/bin/python bench/bench_characters.py [--detector blazeface] [--out bench/results/characters.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import reelscope  # noqa: E402
from reelscope.archive.gallery import Gallery  # noqa: E402

DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))
# People counted by eye (faces large enough to recognise, >= ~40 px at some point):
TRUTH = {
    "faces/openmpf_face_videos/new_face_video-90.mp4": (2, "the two women of the selfie video"),
    "faces/openmpf_face_videos/video_02.mp4": (8, "hikers who walk up to the camera: woman in teal, man in blue "
                                                  "jacket with glasses, man in white shirt and cap, man in red cap, "
                                                  "man in black with blue cap, man in blue hat and plaid shirt, man in "
                                                  "white cap and plaid shirt, white-haired man in grey; distant "
                                                  "walkers (faces < 20 px) not counted"),
    "faces/openmpf_face_videos/video_01.mp4": (None, "3-4 people indoors (not counted exactly)"),
}
GIFS = ["head-pose-face-detection-female.gif", "head-pose-face-detection-male.gif",
        "head-pose-face-detection-female-and-male.gif"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default="blazeface")
    ap.add_argument("--sample-fps", type=float, default=2.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "characters.json"))
    args = ap.parse_args()
    params = {"faces": {"detector": args.detector, "sample_fps": args.sample_fps}}
    res = {"date": datetime.now(timezone.utc).isoformat(), "machine": f"{platform.processor() or 'x86_64'}, "
           f"{os.cpu_count()} CPUs", "detector": args.detector, "sample_fps": args.sample_fps, "videos": [],
           "gifs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        arch = reelscope.open_archive(Path(tmp) / "a")
        g = Gallery(arch)
        for rel, (truth, why) in TRUTH.items():
            (o,) = reelscope.analyze(DATA / rel, archive=arch, stages=["shots", "faces"], params=params)
            chars = g.characters(o.video_id)
            res["videos"].append({"video": rel, "characters": len(chars), "truth": truth, "truth_note": why,
                                  "screen_times": [round(c.screen_time, 1) for c in chars],
                                  "seconds": round(o.seconds, 2)})
            print(rel, "characters:", len(chars), "truth:", truth)
        gif_ids = {}
        for name in GIFS:
            (o,) = reelscope.analyze(DATA / "faces/intel_sample_videos" / name, archive=arch,
                                     stages=["shots", "faces"], params=params)
            gif_ids[name] = o.video_id
        # name the main character of the single-person clips once
        woman = max(g.characters(gif_ids[GIFS[0]]), key=lambda c: c.screen_time)
        man = max(g.characters(gif_ids[GIFS[1]]), key=lambda c: c.screen_time)
        g.name(woman.id, "Woman")
        g.name(man.id, "Man")
        for name, vid in gif_ids.items():
            chars = g.characters(vid)
            res["gifs"][name] = [{"name": c.identity.name if c.identity else None, "naming": c.naming,
                                  "distance": None if c.match_distance is None else round(c.match_distance, 3),
                                  "screen_time": round(c.screen_time, 2)} for c in chars]
            print(name, res["gifs"][name])
        # speed on a 640x360 clip
        clip = DATA / "video/clip_01_tears_of_steel.mp4"
        from reelscope.media.info import probe
        from reelscope.people.video_faces import analyze_faces
        from reelscope.shots.types import Shot
        from reelscope.vision.expression import ExpressionClassifier
        from reelscope.vision.face_detect import make_face_detector
        from reelscope.vision.face_embed import FaceEmbedder

        info = probe(clip)
        shots = [Shot(0, 0, info.frame_count_hint - 1)]
        det, emb, ex = make_face_detector(args.detector), FaceEmbedder(), ExpressionClassifier()
        for every_frame in (False, True):
            sfps = 0 if every_frame else args.sample_fps
            analyze_faces(clip, info, shots, detector=det, embedder=emb, expressions=ex, sample_fps=sfps)  # warm
            t = time.perf_counter()
            fp = analyze_faces(clip, info, shots, detector=det, embedder=emb, expressions=ex, sample_fps=sfps)
            dt = time.perf_counter() - t
            n_faces = sum(len(f) for f in fp.frames)
            key = "every_frame" if every_frame else f"sampled_{args.sample_fps:g}fps"
            res[f"speed_{key}"] = {"clip": str(clip.relative_to(DATA)), "frames_decoded": info.frame_count_hint,
                                   "frames_analysed": fp.sampled, "faces": n_faces, "seconds": round(dt, 3),
                                   "video_fps": round(info.frame_count_hint / dt, 1),
                                   "analysed_fps": round(fp.sampled / dt, 1),
                                   "faces_per_s": round(n_faces / dt, 1)}
            print(key, res[f"speed_{key}"])
        arch.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
