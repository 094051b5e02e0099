"""Mood benchmark: image-mood agreement with the by-eye labels, and music mood of the real tracks.

    .venv/bin/python bench/bench_mood.py [--effnet] [--out bench/results/mood]

Images: the frames of tests/fixtures/mood/labels.json (labelled by eye on the mood circle).
Reported for the default predictor (colour only; colour + faces), the optional scene-content
cue (colour + faces + content at its a-priori weight 0.5, content alone, and a small weight
sensitivity table), for trained logistic heads
under two cross-validation protocols (stratified 5-fold; leave-one-video-out, which keeps
frames of one video out of its own training set), and for two baselines (uniform chance;
always the most frequent label). Agreement = accuracy, mean circular error in 45° steps
(0..4; chance 2.0) and the share within one step.

Music: every track of ../shared/data/music with tempo, beat strength, energy, brightness, key,
mood, and the seconds per track; there is no ground truth (see BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine_info import machine

from reelscope.mood.circle import MOODS, circular_distance, mood_from_va
from reelscope.mood.image_features import FaceSignals, colour_features, feature_vector
from reelscope.mood.image_mood import colour_va, face_va, load_images
from reelscope.mood.mood_train import (
    FORMAT,
    MoodModel,
    _fit,
    agreement,
    cross_validate,
    data_root,
    effnet_features,
    load_labels,
)

LABELS = ROOT / "tests" / "fixtures" / "mood" / "labels.json"


def lovo(X: np.ndarray, y: np.ndarray, groups: np.ndarray, C: float = 0.5) -> dict:
    pred = np.empty(len(y), object)
    for g in np.unique(groups):
        te = groups == g
        m = MoodModel({"format": FORMAT, "feature_set": "", **_fit(X[~te], y[~te], C)})
        pred[te] = [m.classes[i] for i in m.probabilities(X[te]).argmax(axis=1)]
    return agreement(list(y), list(pred))


def images(effnet: bool) -> dict:
    labels = load_labels(LABELS)
    t0 = time.perf_counter()
    imgs = load_images([it.ref for it in labels])
    t_decode = time.perf_counter() - t0
    bad = [(it.ref, im) for it, im in zip(labels, imgs) if isinstance(im, str)]
    if bad:
        raise SystemExit(f"unreadable labelled frames: {bad}")
    y = np.array([it.mood for it in labels])
    groups = np.array([it.ref.split("#")[0] for it in labels])
    faces = FaceSignals()
    colour, fev, t_colour, t_faces = [], [], 0.0, 0.0
    for im in imgs:
        t = time.perf_counter()
        colour.append(colour_features(im))
        t_colour += time.perf_counter() - t
        t = time.perf_counter()
        fev.append(faces(im))
        t_faces += time.perf_counter() - t
    res: dict = {"n": len(y), "videos": len(np.unique(groups)),
                 "counts": {m: int((y == m).sum()) for m in MOODS},
                 "ms_per_image": {"colour": 1000 * t_colour / len(y), "faces+expressions": 1000 * t_faces / len(y)},
                 "decode_seconds": t_decode}
    pred_c, pred_cf, items = [], [], []
    for it, c, f in zip(labels, colour, fev):
        vc, ac = colour_va(c)
        vf, af, w = face_va(f)
        mc = mood_from_va(vc, ac)[0]
        mcf = mood_from_va((1 - w) * vc + w * vf, (1 - w) * ac + w * af)[0]
        pred_c.append(mc)
        pred_cf.append(mcf)
        items.append({"ref": it.ref.replace(str(data_root()), "data"), "label": it.mood, "colour": mc,
                      "colour+faces": mcf, "faces": f.count})
    res["default"] = {"colour": agreement(list(y), pred_c), "colour+faces": agreement(list(y), pred_cf)}
    Z = content_cue(imgs, colour, fev, y, items, res)
    major = max(MOODS, key=lambda m: (y == m).sum())
    res["baselines"] = {"chance": {"accuracy": 1 / 8, "circular_error": 2.0, "within_one": 3 / 8},
                        f"always {major}": agreement(list(y), [major] * len(y))}
    H = np.stack([feature_vector(c, f) for c, f in zip(colour, fev)])
    sets = {"colour": H[:, :21], "colour+faces": H}
    if Z is not None:
        sets["colour+faces+content z"] = np.hstack([H, Z])
    if effnet:
        t = time.perf_counter()
        E = effnet_features(imgs)
        res["ms_per_image"]["effnet"] = 1000 * (time.perf_counter() - t) / len(y)
        sets["colour+faces+effnet"] = np.hstack([H, E])
    res["trained"] = {}
    for name, X in sets.items():
        cv = cross_validate(X, y, folds=5)
        res["trained"][name] = {"stratified_5fold": {k: cv[k] for k in ("accuracy", "circular_error", "within_one")},
                                "leave_one_video_out": {k: v for k, v in lovo(X, y, groups).items()
                                                        if k != "confusion"}}
    res["items"] = items
    return res


def content_cue(imgs, colour, fev, y, items, res) -> np.ndarray | None:
    """The scene-content cue (reelscope.mood.content) at its a-priori weight 0.5, plus a few
    other weights reported for transparency only (none was chosen from these labels)."""
    from reelscope.mood.content import CONTENT_WEIGHT, ContentCue, available, blend
    if not available():
        res["content"] = {"error": "tagger or text model not installed"}
        return None
    cue = ContentCue()
    t = time.perf_counter()
    tags = cue.tagger.tag_batch(imgs, top=cue.top, min_score=0.0)
    t_tag = time.perf_counter() - t
    t = time.perf_counter()
    cont = [cue.va_of_tags(tg) for tg in tags]
    res["ms_per_image"]["content (tagger)"] = 1000 * t_tag / len(y)
    res["ms_per_image"]["content (embeddings)"] = 1000 * (time.perf_counter() - t) / len(y)
    base = []
    for c, f in zip(colour, fev):
        vc, ac = colour_va(c)
        vf, af, w = face_va(f)
        base.append(((1 - w) * vc + w * vf, (1 - w) * ac + w * af))
    sens = {}
    for wt in (0.25, CONTENT_WEIGHT, 0.75, 1.0):
        pred = [mood_from_va(*blend(b, (v, a), wt))[0] for b, (v, a, _) in zip(base, cont)]
        sens[f"{wt:g}"] = agreement(list(y), pred)
        if wt == CONTENT_WEIGHT:
            for it, pm, (_, _, ev) in zip(items, pred, cont):
                it["colour+faces+content"] = pm
                it["content"] = ev["mood"]
                it["tags"] = ", ".join(n for n, _ in ev["tags"][:3])
    res["default"]["colour+faces+content (w 0.5)"] = sens[f"{CONTENT_WEIGHT:g}"]
    res["default"]["content only (w 1)"] = sens["1"]
    # control: the content point replaced by its mean over all frames (a constant pull in the
    # content's average direction, no per-frame information); if this matches the real cue,
    # the gain is a bias, not content
    mv, ma = float(np.mean([c[0] for c in cont])), float(np.mean([c[1] for c in cont]))
    ctrl = [mood_from_va(*blend(b, (mv, ma), CONTENT_WEIGHT))[0] for b in base]
    res["default"]["control: colour+faces + mean content point (w 0.5)"] = agreement(list(y), ctrl)
    old = [it["colour+faces"] for it in items]
    new = [it["colour+faces+content"] for it in items]
    d = [circular_distance(n, t) - circular_distance(o, t) for o, n, t in zip(old, new, y)]
    res["content"] = {"weight": CONTENT_WEIGHT, "sensitivity": sens, "mean_content_va": [mv, ma],
                      "content_only_predictions": {m: sum(c[2]["mood"] == m for c in cont) for m in MOODS},
                      "paired_vs_colour+faces": {"closer": sum(x < 0 for x in d), "further": sum(x > 0 for x in d),
                                                 "same": sum(x == 0 for x in d)}}
    return np.stack([cue.scores_of_tags(tg)[1] for tg in tags])


def music() -> list[dict]:
    from reelscope.mood.music import analyze_track
    rows = []
    for p in sorted((data_root() / "music").glob("*.ogg")):
        t = time.perf_counter()
        a = analyze_track(p)
        secs = time.perf_counter() - t
        desc = p.with_name(p.name.replace(".hq.ogg", ".txt"))
        rows.append({**a.to_dict(beats=False), "beats": len(a.beat_times), "seconds": round(secs, 2),
                     "description": desc.read_text(errors="replace").splitlines()[0][:90] if desc.exists() else ""})
    return rows


def fmt(a: dict) -> str:
    return f"{a['accuracy']:.1%} | {a['circular_error']:.2f} | {a['within_one']:.1%}"


def report(res: dict) -> str:
    im = res["images"]
    lines = [f"# Mood benchmark ({res['date']})", "",
             f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores (shared), Python "
             f"{res['machine']['python']}, load before {res['machine']['load_before']}", "",
             f"## Image mood agreement: {im['n']} frames of {im['videos']} videos, labelled by eye", "",
             "labels per mood: " + ", ".join(f"{m} {c}" for m, c in im["counts"].items()), "",
             "| predictor | protocol | accuracy | mean circular error (45° steps) | within one step |",
             "|---|---|---|---|---|"]
    for name, a in im["default"].items():
        lines.append(f"| default formula, {name} | none (untrained) | {fmt(a)} |")
    for name, a in im["trained"].items():
        lines.append(f"| logistic head, {name} | stratified 5-fold | {fmt(a['stratified_5fold'])} |")
        lines.append(f"| logistic head, {name} | leave one video out | {fmt(a['leave_one_video_out'])} |")
    for name, a in im["baselines"].items():
        lines.append(f"| baseline: {name} | - | {fmt(a)} |")
    if "sensitivity" in im.get("content", {}):
        lines += ["", (f"Content weight sensitivity (the weight used is the a-priori {im['content']['weight']:g}; "
                       "others shown for transparency, not used to choose it):"), "",
                  "| content weight | accuracy | circular error | within one step |", "|---|---|---|---|"]
        lines += [f"| {w} | {fmt(a)} |" for w, a in im["content"]["sensitivity"].items()]
        pc = im["content"]["paired_vs_colour+faces"]
        lines += ["", f"Per frame, colour+faces+content vs colour+faces: closer to the label on {pc['closer']}, "
                  f"further on {pc['further']}, same distance on {pc['same']}. Content alone predicts: "
                  + ", ".join(f"{m} {c}" for m, c in im["content"]["content_only_predictions"].items() if c)
                  + f"; its mean point (v, a) = ({im['content']['mean_content_va'][0]:+.2f}, "
                  f"{im['content']['mean_content_va'][1]:+.2f})."]
    lines += ["", "ms per image: " + ", ".join(f"{k} {v:.0f}" for k, v in im["ms_per_image"].items()), "",
              "### Per frame (label, default colour, colour+faces, colour+faces+content, content alone, top tags)", "",
              "| frame | label | colour | colour+faces | +content | content | faces | top tags |",
              "|---|---|---|---|---|---|---|---|"]
    for it in im["items"]:
        lines.append(f"| {Path(it['ref']).name} | {it['label']} | {it['colour']} | {it['colour+faces']} | "
                     f"{it.get('colour+faces+content', '-')} | {it.get('content', '-')} | {it['faces']} | "
                     f"{it.get('tags', '')} |")
    lines += ["", "## Music mood (no ground truth)", "",
              "| track | s | tempo (alt) | beat | energy (dBFS) | centroid | key | v / a | mood (conf) | analysis s |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["music"]:
        tempo = "-" if r["tempo"] is None else f"{r['tempo']:.1f}" + (
            f" ({r['tempo_alternative']:.1f})" if r["tempo_alternative"] else "")
        lines.append(f"| {r['filename'][:40]} | {r['duration']:.1f} | {tempo} | {r['beat_strength']:.2f} | "
                     f"{r['energy']:.2f} ({r['rms_db']:.1f}) | {r['brightness']:.0f} Hz | {r['key'] or '-'} | "
                     f"{r['valence']:+.2f} / {r['arousal']:+.2f} | {r['mood']} ({r['confidence']:.2f}) | "
                     f"{r['seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--effnet", action="store_true", help="also cross-validate EfficientNet-Lite0 features (slow)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "mood"))
    args = ap.parse_args()
    res = {"date": date.today().isoformat(),
           "machine": machine(("numpy", "scipy", "scikit-learn", "av", "opencv-contrib-python-headless", "torch"))}
    res["music"] = music()
    res["images"] = images(args.effnet)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    out.with_suffix(".md").write_text(report(res))
    print(report(res))


if __name__ == "__main__":
    main()
