"""Audio and emotion stages on the real clips: curves (PNG plots) and cost per minute of input.

    .venv/bin/python bench/bench_audio_emotion.py [--data ../shared/data] [--out bench/results]

Videos with audio (big_buck_bunny_0_30.webm, five-second-marathon-clip.mkv and the transnetv2
music video) run shots -> faces -> audio -> emotion; the speech/ and music/ files run the audio
analysis alone. Reported per file: duration, audio stage seconds (and its parts: decode, VAD,
features, loudness, the rest), emotion fusion seconds, faces stage seconds (the emotion stage's
costly dependency), segment shares, integrated loudness and LRA against ffmpeg's ebur128 filter
(a peer implementation, when the ffmpeg CLI is present) measured in the same run.
Writes audio_emotion.md / .json and one PNG per file (audio_emotion_<name>.png).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine_info import machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MUSIC_VIDEO = next(iter(sorted((REPO / ".venv" / "lib").glob("python3*/site-packages/tests/test.mp4"))), None)
COLOURS = {"speech": (60, 160, 60), "music": (200, 120, 40), "silence": (200, 200, 200), "other": (90, 90, 200)}


# ---- plotting with OpenCV (no plotting library in the dependencies) ---------------------------
def _panel(img, top, height, left, width, duration, series, lo, hi, title, shots=()):
    cv2.rectangle(img, (left, top), (left + width, top + height), (180, 180, 180), 1)
    cv2.putText(img, title, (left + 4, top + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
    if lo < 0 < hi:
        y0 = int(top + height * (hi - 0) / (hi - lo))
        cv2.line(img, (left, y0), (left + width, y0), (225, 225, 225), 1)
    for t in shots:
        x = int(left + width * t / max(duration, 1e-9))
        cv2.line(img, (x, top), (x, top + height), (210, 210, 235), 1)
    for k, (name, values, step, colour) in enumerate(series):
        v = np.asarray(values, np.float64)
        if len(v) == 0:
            continue
        t = (np.arange(len(v)) + 0.5) * step
        xs = left + width * t / max(duration, 1e-9)
        ys = top + height * (hi - np.clip(v, lo, hi)) / (hi - lo)
        pts = np.stack([xs, ys], 1).round().astype(np.int32)
        cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
        cv2.putText(img, name, (left + width - 150, top + 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1,
                    cv2.LINE_AA)
    cv2.putText(img, f"{hi:g}", (4, top + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.putText(img, f"{lo:g}", (4, top + height), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (80, 80, 80), 1, cv2.LINE_AA)


def plot(path: Path, name: str, audio, emotion, shots: list[float]) -> None:
    w, left, width = 1100, 50, 1030
    panels = 3 if emotion is not None else 2
    h = 40 + 130 * panels + 30
    img = np.full((h, w, 3), 255, np.uint8)
    duration = audio.duration if audio is not None and audio.available else len(emotion.valence) * emotion.step
    cv2.putText(img, name, (left, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    top = 35
    if audio is not None and audio.available:
        for s in audio.segments:  # segment band under the first panel's title
            x0, x1 = (int(left + width * t / duration) for t in (s.start, s.end))
            cv2.rectangle(img, (x0, top + 100), (max(x1, x0 + 1), top + 110), COLOURS[s.kind], -1)
        _panel(img, top, 110, left, width, duration,
               [("loudness LUFS", audio.curves["loudness"], audio.step, (40, 40, 40))], -60, -5,
               "1 s loudness (LUFS); band: speech green, music blue, silence grey, other red", shots)
        top += 130
        _panel(img, top, 110, left, width, duration,
               [("audio arousal", audio.curves["arousal"], audio.step, (30, 30, 200)),
                ("speech prob.", audio.curves["speech"], audio.step, (60, 160, 60)),
                ("music score", audio.curves["music"], audio.step, (200, 120, 40))], 0, 1,
               "audio arousal, speech probability, music score", shots)
        top += 130
    if emotion is not None:
        _panel(img, top, 110, left, width, duration,
               [("valence", emotion.valence, emotion.step, (160, 60, 160)),
                ("arousal (fused)", emotion.arousal, emotion.step, (30, 30, 200)),
                ("confidence", emotion.confidence, emotion.step, (150, 150, 150))], -1, 1,
               "emotion: valence -1..1, arousal 0..1 (shot cuts in light blue)", shots)
        top += 130
    for k in range(0, int(duration) + 1, max(1, int(duration // 10) or 1)):
        x = int(left + width * k / max(duration, 1e-9))
        cv2.putText(img, f"{k}s", (x - 8, top + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])


# ---- measuring -------------------------------------------------------------------------------
def ffmpeg_ebur128(path: Path) -> dict | None:
    if not shutil.which("ffmpeg"):
        return None
    t = time.perf_counter()
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-vn", "-af", "ebur128", "-f", "null",
                        "-"], capture_output=True, text=True)
    sec = time.perf_counter() - t
    tail = p.stderr[p.stderr.rfind("Summary:"):]
    i = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", tail)
    lra = re.search(r"LRA:\s+([\d.]+) LU", tail)
    if not i:
        return None
    return {"integrated": float(i.group(1)), "lra": float(lra.group(1)) if lra else None, "seconds": round(sec, 3)}


def audio_parts(path: Path, vad) -> dict:
    """The audio stage's parts, timed one by one (the same calls analyze_clip makes)."""
    from reelscope.audio.analyze import align, analyze_clip
    from reelscope.audio.features import RATE, frame_features
    from reelscope.audio.loudness import measure
    from reelscope.media.audio import read_audio

    t = {}
    s = time.perf_counter()
    clip = read_audio(path, RATE, "auto")
    t["decode"] = time.perf_counter() - s
    x = align(clip)
    mono = x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)
    s = time.perf_counter()
    vad.probabilities(mono)
    t["vad"] = time.perf_counter() - s
    s = time.perf_counter()
    frame_features(mono)
    t["features"] = time.perf_counter() - s
    s = time.perf_counter()
    measure(x, RATE)
    t["loudness"] = time.perf_counter() - s
    s = time.perf_counter()
    res = analyze_clip(clip, vad=vad)
    t["analyze_total_after_decode"] = time.perf_counter() - s
    t["rest"] = max(0.0, t["analyze_total_after_decode"] - t["vad"] - t["features"] - t["loudness"])
    return {k: round(v, 3) for k, v in t.items()}, res


def run_video(path: Path, vad) -> dict:
    from reelscope.media.info import probe
    from reelscope.pipeline import Context, get_stage

    info = probe(path)
    ctx = Context(path=str(path), info=info)
    out = {"file": path.name, "kind": "video", "duration": round(info.duration, 2)}
    for name in ("shots", "faces"):
        st = get_stage(name)
        s = time.perf_counter()
        res = st.run(ctx, st.resolve_params(None))
        res.pop("_run", None)
        ctx.artifacts.update(res)
        out[f"{name}_seconds"] = round(time.perf_counter() - s, 3)
    parts, _ = audio_parts(path, vad)
    st = get_stage("audio")
    s = time.perf_counter()
    res = st.run(ctx, st.resolve_params(None))
    out["audio_seconds"] = round(time.perf_counter() - s, 3)
    ctx.artifacts["audio"] = res["audio"]
    st = get_stage("emotion")
    s = time.perf_counter()
    em = st.run(ctx, st.resolve_params(None))["emotion"]
    out["emotion_seconds"] = round(time.perf_counter() - s, 4)
    out["audio_parts"] = parts
    out["shots"] = len(ctx.artifacts["shots"])
    out["face_samples"] = em.sources["face_samples"]
    times = ctx.artifacts.get("frame_times") or []
    cuts = [times[s.start] for s in ctx.artifacts["shots"][1:] if s.start < len(times)]
    return out, res["audio"], em, cuts


def run_audio_only(path: Path, vad) -> dict:
    from reelscope.audio.analyze import analyze_audio

    s = time.perf_counter()
    res = analyze_audio(path, vad=vad)
    total = time.perf_counter() - s
    parts, _ = audio_parts(path, vad)
    return {"file": path.name, "kind": "audio", "duration": round(res.duration, 2), "audio_seconds": round(total, 3),
            "audio_parts": parts}, res


def summarise(row: dict, audio) -> dict:
    mins = max(row["duration"], 1e-9) / 60
    row["audio_s_per_min"] = round(row["audio_seconds"] / mins, 3)
    if "emotion_seconds" in row:
        row["emotion_s_per_min"] = round(row["emotion_seconds"] / mins, 4)
        row["faces_s_per_min"] = round(row["faces_seconds"] / mins, 2)
    if audio is not None and audio.available:
        row["integrated_lufs"] = audio.integrated_lufs
        row["lra"] = audio.loudness_range
        row["shares"] = {k: round(audio.share(k), 3) for k in ("speech", "music", "silence", "other")}
        row["arousal_median"] = round(float(np.median(audio.curves["arousal"])), 3)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("REELSCOPE_TEST_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = ap.parse_args()
    from reelscope.audio.vad import SileroVAD

    args.out.mkdir(parents=True, exist_ok=True)
    s = time.perf_counter()
    vad = SileroVAD()
    load = time.perf_counter() - s
    videos = [args.data / "video/big_buck_bunny_0_30.webm", args.data / "video/five-second-marathon-clip.mkv"]
    if MUSIC_VIDEO is not None:
        videos.append(MUSIC_VIDEO)
    audios = sorted((args.data / "speech").glob("*.[ow][ga][gv]")) + sorted((args.data / "speech").glob("*.mp3")) + \
        sorted((args.data / "music").glob("*.ogg"))
    rows = []
    for p in videos:
        row, audio, em, cuts = run_video(p, vad)
        row = summarise(row, audio)
        row["peer_ffmpeg_ebur128"] = ffmpeg_ebur128(p)
        name = "transnetv2_music_video" if p == MUSIC_VIDEO else p.stem
        plot(args.out / f"audio_emotion_{name}.png", f"{name} ({row['duration']:.0f} s)", audio, em, cuts)
        row["plot"] = f"audio_emotion_{name}.png"
        rows.append(row)
        print(json.dumps(row), flush=True)
    for p in audios:
        row, audio = run_audio_only(p, vad)
        row = summarise(row, audio)
        row["peer_ffmpeg_ebur128"] = ffmpeg_ebur128(p)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", p.stem)[:40]
        plot(args.out / f"audio_emotion_{name}.png", f"{p.name} ({row['duration']:.0f} s)", audio, None, [])
        row["plot"] = f"audio_emotion_{name}.png"
        rows.append(row)
        print(json.dumps(row), flush=True)
    total_min = sum(r["duration"] for r in rows) / 60
    total_audio = sum(r["audio_seconds"] for r in rows)
    result = {"date": str(date.today()), "machine": machine(("numpy", "scipy", "onnxruntime", "pyloudnorm", "av")),
              "vad_load_seconds": round(load, 3), "rows": rows,
              "total": {"minutes": round(total_min, 2), "audio_seconds": round(total_audio, 2),
                        "audio_s_per_min": round(total_audio / total_min, 3)}}
    (args.out / "audio_emotion.json").write_text(json.dumps(result, indent=1))
    lines = [f"# Audio and emotion — {result['date']}", "",
             f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores (shared), load before "
             f"{result['machine']['load_before']}. Silero VAD load: {result['vad_load_seconds']} s (once).", "",
             "| file | dur s | audio s/min | decode / VAD / features / loudness / rest (s) | emotion s/min "
             "| faces s/min | speech / music / silence / other | LUFS (ffmpeg) | LRA (ffmpeg) | ffmpeg ebur128 s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        pa = r["audio_parts"]
        peer = r.get("peer_ffmpeg_ebur128") or {}
        sh = r.get("shares", {})
        lines.append(
            f"| {r['file'][:40]} | {r['duration']:.1f} | {r['audio_s_per_min']:.2f} | "
            f"{pa['decode']:.2f} / {pa['vad']:.2f} / {pa['features']:.2f} / {pa['loudness']:.2f} / {pa['rest']:.2f} | "
            f"{r.get('emotion_s_per_min', '')} | {r.get('faces_s_per_min', '')} | "
            f"{sh.get('speech', 0):.2f} / {sh.get('music', 0):.2f} / {sh.get('silence', 0):.2f} / "
            f"{sh.get('other', 0):.2f} | "
            f"{r.get('integrated_lufs')} ({peer.get('integrated')}) | {r.get('lra')} ({peer.get('lra')}) | "
            f"{peer.get('seconds', '')} |")
    lines += ["", f"All files: {result['total']['minutes']} min of audio in {result['total']['audio_seconds']} s: "
              f"**{result['total']['audio_s_per_min']} s per minute** for the audio stage.", "",
              "Plots: " + ", ".join(f"[{r['file']}]({r['plot']})" for r in rows)]
    (args.out / "audio_emotion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
