"""Search latency on a synthetic archive of 1,000 videos, and the tags stage's speed.

Synthetic entries are database rows, not video files: per video 30 shots with sizes and
confidences, one keyframe each, ImageNet tags (5 per shot, 3 per sampled frame x 3 frames,
Zipf-distributed over the 1000 class names), COCO object tracks (0-3 per shot, 2 detections
each), 3 characters (a quarter of them named after 100 identities, e.g. "Anna") with one face
track per shot they appear in and 2 faces per track with expressions.

    .venv/bin/python bench/bench_search.py                  # SQLite (+ PostgreSQL if reachable)
    .venv/bin/python bench/bench_search.py --videos 200 --repeat 5 --no-tags-fps

Writes bench/results/search.json and .md. PostgreSQL: $REELSCOPE_BENCH_PG_URL (default
postgresql://reelscope:reelscope@localhost/reelscope_test; a fresh database is created in it).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import machine  # noqa: E402

from reelscope.archive import Archive  # noqa: E402
from reelscope.archive import schema as db  # noqa: E402
from reelscope.search import SearchQuery, search  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
SIZES = ["ECU", "CU", "MS", "FS", "LS"]
EXPRESSIONS = ["neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"]
# a subset of COCO's class names (the objects stage's labels) with rough frequencies
OBJECTS = ["person"] * 8 + ["car"] * 3 + ["chair", "cup", "bottle", "dog", "cat", "tv", "laptop", "book",
                                          "bicycle", "boat", "horse", "bird", "umbrella", "clock", "truck", "bus"]
NAMES = ["Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas"]
QUERIES = [
    ("piano", "piano"),
    ("close-up of Anna smiling", "close-up of Anna smiling"),
    ("car", "car"),
    ("dog on a beach", "dog on a beach"),
    ("wide shot of mountains", "wide shot of mountains"),
    ("zzz-nothing", "zzz-nothing"),
    ("size=CU", SearchQuery(sizes=["CU"])),
    ("tag=grand piano & size=MS", SearchQuery(tags=["grand piano"], sizes=["MS"])),
    ("object=car & 60-120 s", SearchQuery(objects=["car"], start=60, end=120)),
    ("character=Ben & expression=sad", SearchQuery(characters=["Ben"], expression="sad")),
]


def _video_rows(rng, v: int, ids: dict, names, zipf, order, ident_ids, shots: int) -> dict[str, list]:
    """All rows of one synthetic video, with explicit ids (so batches insert without round trips)."""
    fps, shot_len = 25, int(rng.integers(40, 200))
    emb = bytes(512)
    ids["video"] += 1
    vid = ids["video"]
    out: dict[str, list] = {k: [] for k in ("videos", "shots", "keyframes", "tags", "object_tracks",
                                            "object_detections", "characters", "face_tracks", "faces")}
    fp = f"{v:032x}"
    out["videos"].append({"id": vid, "fingerprint": fp, "path": f"/archive/video_{v:04d}.mp4",
                          "filename": f"video_{v:04d}.mp4", "size_bytes": 10**8, "container": "mp4", "codec": "h264",
                          "width": 1280, "height": 720, "rotation": 0, "fps_num": fps, "fps_den": 1,
                          "frame_count": shots * shot_len, "duration": shots * shot_len / fps,
                          "variable_frame_rate": False, "has_audio": False})
    for i in range(shots):
        ids["shot"] += 1
        size = SIZES[int(rng.choice(5, p=[0.08, 0.27, 0.35, 0.15, 0.15]))]
        s0 = i * shot_len
        out["shots"].append({"id": ids["shot"], "video_id": vid, "idx": i, "start_frame": s0, "end_frame": s0 + shot_len - 1,
                             "start_time": s0 / fps, "end_time": (s0 + shot_len) / fps, "size": size,
                             "size_confidence": float(rng.uniform(0.4, 1.0))})
        out["keyframes"].append({"shot_id": ids["shot"], "frame": s0 + shot_len // 2, "time": (s0 + shot_len // 2) / fps,
                                 "method": "middle", "image": f"{fp}/keyframes/{s0 + shot_len // 2:07d}_320x180.jpg",
                                 "width": 320, "height": 180})
        theme = order[rng.choice(len(names), 5, replace=False, p=zipf)]
        for k, c in enumerate(theme):
            out["tags"].append({"video_id": vid, "shot_idx": i, "frame": None, "time": s0 / fps, "label": names[c],
                                "source": "imagenet", "score": float(0.6 / (k + 1) * rng.uniform(0.5, 1))})
        for pos in (0.25, 0.5, 0.75):
            f = s0 + int(pos * shot_len)
            for c in rng.permutation(theme)[:3]:
                out["tags"].append({"video_id": vid, "shot_idx": i, "frame": f, "time": f / fps, "label": names[c],
                                    "source": "imagenet", "score": float(rng.uniform(0.1, 0.8))})
        for _ in range(int(rng.integers(0, 4))):
            ids["track"] += 1
            label = OBJECTS[int(rng.integers(len(OBJECTS)))]
            sc = float(rng.uniform(0.3, 0.95))
            out["object_tracks"].append({"id": ids["track"], "video_id": vid, "shot_idx": i, "label": label,
                                         "class_id": OBJECTS.index(label), "first_frame": s0 + 5, "last_frame": s0 + 25,
                                         "score": sc, "detections": 2})
            for f in (s0 + 5, s0 + 25):
                out["object_detections"].append({"video_id": vid, "track_id": ids["track"], "frame": f, "time": f / fps,
                                                 "label": label, "class_id": OBJECTS.index(label), "x": 10.0, "y": 10.0,
                                                 "w": 100.0, "h": 80.0, "score": sc})
    for c in range(3):
        ids["character"] += 1
        named = rng.random() < 0.25
        seen = sorted(rng.choice(shots, int(rng.integers(3, 12)), replace=False).tolist())
        out["characters"].append({"id": ids["character"], "video_id": vid, "idx": c,
                                  "identity_id": int(ident_ids[int(rng.integers(10 if rng.random() < 0.5 else len(ident_ids)))])
                                  if named else None,
                                  "naming": "named" if named else "unknown", "screen_time": 10.0,
                                  "first_frame": seen[0] * shot_len, "last_frame": seen[-1] * shot_len + 10,
                                  "first_time": seen[0] * shot_len / fps, "last_time": (seen[-1] * shot_len + 10) / fps,
                                  "expressions": {}, "embedding": emb, "version": 1})
        for i in seen:
            ids["face_track"] += 1
            out["face_tracks"].append({"id": ids["face_track"], "video_id": vid, "character_id": ids["character"],
                                       "shot_idx": i, "first_frame": i * shot_len + 2, "last_frame": i * shot_len + 14,
                                       "seconds": 0.5, "embedding": emb})
            for d in (2, 14):
                out["faces"].append({"video_id": vid, "track_id": ids["face_track"], "frame": i * shot_len + d,
                                     "time": (i * shot_len + d) / fps, "x": 1.0, "y": 1.0, "w": 50.0, "h": 50.0,
                                     "score": 0.9, "embedding": None, "expression_scores": None,
                                     "expression": EXPRESSIONS[int(rng.choice(7, p=[.4, .25, .1, .08, .08, .05, .04]))]})
    return out


TABLES = [("videos", db.Video), ("shots", db.Shot), ("keyframes", db.Keyframe), ("tags", db.Tag),
          ("object_tracks", db.ObjectTrack), ("object_detections", db.ObjectDetection), ("characters", db.Character),
          ("face_tracks", db.FaceTrack), ("faces", db.Face)]


def generate(arch: Archive, n_videos: int, shots: int = 30, seed: int = 0, batch: int = 50) -> dict:
    from reelscope.vision.tags import class_names

    rng = np.random.default_rng(seed)
    names = list(dict.fromkeys(class_names()))
    zipf = 1.0 / np.arange(1, len(names) + 1) ** 0.8
    zipf /= zipf.sum()
    order = rng.permutation(len(names))
    counts = {k: 0 for k, _ in TABLES}
    t0 = time.perf_counter()
    with arch.session() as s, s.begin():
        s.execute(insert(db.Identity), [{"name": f"{NAMES[i % 10]}{'' if i < 10 else f' {i // 10}'}"} for i in range(100)])
        ident_ids = [r[0] for r in s.execute(select(db.Identity.id).order_by(db.Identity.id))]
    ids = dict.fromkeys(("video", "shot", "track", "character", "face_track"), 0)
    for start in range(0, n_videos, batch):
        rows: dict[str, list] = {k: [] for k, _ in TABLES}
        for v in range(start, min(n_videos, start + batch)):
            for k, r in _video_rows(rng, v, ids, names, zipf, order, ident_ids, shots).items():
                rows[k] += r
        with arch.session() as s, s.begin():
            for k, table in TABLES:
                if rows[k]:
                    s.execute(insert(table), rows[k])
                    counts[k] += len(rows[k])
        print(f"  {min(n_videos, start + batch)} videos ({time.perf_counter() - t0:.0f} s)", flush=True)
    if arch.engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        with arch.session() as s, s.begin():
            for _, table in TABLES:
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.__tablename__}', 'id'), "
                               f"(SELECT COALESCE(MAX(id), 1) FROM {table.__tablename__}))"))
            s.execute(text("ANALYZE"))
    counts["seconds"] = round(time.perf_counter() - t0, 1)
    return counts


def measure(arch: Archive, repeat: int) -> dict:
    first = {}
    for name, q in QUERIES:  # the first run of each query: text model and vocabulary loaded by the first
        t0 = time.perf_counter()
        res = search(arch, q, limit=20)
        first[name] = {"ms": round(1000 * (time.perf_counter() - t0), 1), "total": res.total}
    per, all_ms = {}, []
    for name, q in QUERIES:
        ms = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            search(arch, q, limit=20)
            ms.append(1000 * (time.perf_counter() - t0))
        all_ms += ms
        per[name] = {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
                     "hits": first[name]["total"], "first_ms": first[name]["ms"]}
    return {"queries": per, "p50_ms": round(float(np.percentile(all_ms, 50)), 1),
            "p95_ms": round(float(np.percentile(all_ms, 95)), 1), "runs": len(all_ms)}


def tags_fps(clip: Path) -> dict:
    import reelscope
    from reelscope.media.decode import FrameSpec, iter_frames
    from reelscope.vision.tags import ImageNetTagger

    with tempfile.TemporaryDirectory() as d:
        (o,) = reelscope.analyze([clip], archive=d, stages=["shots", "tags"])
        with Archive(d) as a, a.session() as s:
            run = s.execute(select(db.AnalysisRun).where(db.AnalysisRun.stage == "tags")).scalar_one()
            seconds, sampled, frames = run.seconds, run.params["sampled_frames"], o.artifacts["frame_count"]
    spec = FrameSpec("rgb", 640, 360)
    imgs = [f[spec] for f in iter_frames(str(clip), [spec], only=set(range(0, 240, 10)))]
    tagger = ImageNetTagger()
    tagger.tag_batch(imgs[:4])
    t0, c0 = time.perf_counter(), time.process_time()
    tagger.tag_batch(imgs)
    per_frame = (time.perf_counter() - t0) / len(imgs)
    cpu_per_frame = (time.process_time() - c0) / len(imgs)  # CPU time: less sensitive to a busy machine
    return {"clip": clip.name, "frames": frames, "sampled_frames": sampled, "stage_seconds": round(seconds, 2),
            "video_fps": round(frames / seconds, 1), "tagged_fps": round(sampled / seconds, 1),
            "classifier_ms_per_frame": round(1000 * per_frame, 1),
            "classifier_cpu_ms_per_frame": round(1000 * cpu_per_frame, 1),
            "load_after": [round(x, 2) for x in __import__("os").getloadavg()]}


def pg_archive(base_url: str, folder: Path) -> Archive | None:
    from sqlalchemy import create_engine, text

    name = f"rs_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
    except Exception as e:  # no server: SQLite only
        print(f"PostgreSQL not used: {e.__class__.__name__}: {str(e).splitlines()[0]}")
        return None
    a = Archive(folder, base_url.rsplit("/", 1)[0] + "/" + name)
    a.pg_name = name
    return a


def drop_pg(a: Archive, base_url: str) -> None:
    from sqlalchemy import create_engine, text

    a.close()
    admin = create_engine(base_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {a.pg_name} WITH (FORCE)"))
    admin.dispose()


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-tags-fps", action="store_true")
    ap.add_argument("--tags-fps-only", action="store_true", help="only the tags stage's speed")
    args = ap.parse_args()
    result = {"date": date.today().isoformat(), "machine": machine(("SQLAlchemy", "psycopg", "torch")),
              "videos": args.videos, "repeat": args.repeat, "databases": {}}
    pg_url = os.environ.get("REELSCOPE_BENCH_PG_URL", "postgresql://reelscope:reelscope@localhost/reelscope_test")
    if args.tags_fps_only:
        args.videos = 0
    with tempfile.TemporaryDirectory() as d:
        targets = [("sqlite", Archive(Path(d) / "sqlite"))] if args.videos else []
        if args.videos and not args.no_pg:
            pg = pg_archive(pg_url, Path(d) / "pg")
            if pg is not None:
                targets.append(("postgresql", pg))
        for name, arch in targets:
            print(f"{name}: generating {args.videos} videos", flush=True)
            counts = generate(arch, args.videos)
            print(f"{name}: measuring", flush=True)
            result["databases"][name] = {"rows": counts, **measure(arch, args.repeat)}
            print(json.dumps(result["databases"][name], indent=1), flush=True)
            drop_pg(arch, pg_url) if name == "postgresql" else arch.close()
    if not args.no_tags_fps:
        data = Path(os.environ.get("REELSCOPE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
        result["tags_stage"] = tags_fps(data / "video" / "clip_01_tears_of_steel.mp4")
        print(json.dumps(result["tags_stage"]), flush=True)
    OUT.mkdir(exist_ok=True)
    if args.tags_fps_only and (OUT / "search.json").is_file():  # keep the stored search figures
        stored = json.loads((OUT / "search.json").read_text())
        stored["tags_stage"] = result["tags_stage"]
        result = stored
    (OUT / "search.json").write_text(json.dumps(result, indent=1))
    (OUT / "search.md").write_text(to_markdown(result))
    print(to_markdown(result))


def to_markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"# Search latency ({r['date']})", "", f"{m['cpu']}, {m['cores']} cores, load before {m['load_before']}; "
             f"{r['videos']} synthetic videos, each query run {r['repeat']} times after a first run.", ""]
    dbs = list(r["databases"])
    if dbs:
        rows = r["databases"][dbs[0]]["rows"]
        lines += ["Rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items() if k != "seconds"), ""]
        lines.append("| query | hits | " + " | ".join(f"{d} p50 / p95 ms | {d} first ms" for d in dbs) + " |")
        lines.append("|---|---:|" + "---:|---:|" * len(dbs))
        for name, _ in QUERIES:
            q0 = r["databases"][dbs[0]]["queries"][name]
            cells = []
            for d in dbs:
                q = r["databases"][d]["queries"][name]
                cells += [f"{q['p50_ms']} / {q['p95_ms']}", f"{q['first_ms']}"]
            lines.append(f"| {name} | {q0['hits']} | " + " | ".join(cells) + " |")
        lines.append("| **all queries** | | " + " | ".join(
            f"**{r['databases'][d]['p50_ms']} / {r['databases'][d]['p95_ms']}** | " for d in dbs) + "|")
    if "tags_stage" in r:
        t = r["tags_stage"]
        lines += ["", f"Tags stage on {t['clip']} (640x360, {t['frames']} frames, 3 frames per shot): "
                      f"{t['stage_seconds']} s = {t['video_fps']} video frames/s ({t['sampled_frames']} frames tagged, "
                      f"{t['tagged_fps']}/s, decode included); classifier alone {t['classifier_ms_per_frame']} ms/frame wall, "
                      f"{t['classifier_cpu_ms_per_frame']} ms CPU (load average {t['load_after']})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
