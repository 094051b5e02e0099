"""Summary render speed against a peer measured in the same run: the ffmpeg CLI rendering the same
spans of the same source, laid out by ``reelscope.story.render.layout`` (same frame counts, same
overlaps, continuous joints played straight through), with the same encoder settings (libx264
veryfast CRF 21, yuv420p, AAC 48 kHz, +faststart) and the same output size.

Peer graph: one ``-ss start -t len`` input per span (fast input seeking, like reelscope's seek per
span); per span ``fps`` + ``scale`` + ``trim`` to the span's frame count, audio ``aresample`` 48 kHz
+ ``atrim`` to the same length; joints with overlap -> ``xfade=fade`` (video) and
``acrossfade`` with quarter-sine curves (equal power, as reelscope's cos/sin); continuous joints ->
``concat``; 20 ms ``afade`` in/out of the whole soundtrack.

Runs interleave (reelscope, ffmpeg, reelscope, ...), best of N each.

Spans: the music video uses the 15% plan recorded in bench/results/summary.json by the last
``--part clips`` run (re-analysing the video costs ~150 s of face detection on this machine);
big_buck_bunny_0_30 uses spans planned directly (its 4.5 s automatic summary is one segment).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
BBB_SPANS = [(1.0, 4.0), (12.0, 15.0), (21.5, 24.5), (26.0, 29.0)]


def music_video_spans(summary_json: Path, length: str = "15%") -> list[tuple[float, float]]:
    res = json.loads(summary_json.read_text())
    for c in res.get("clips", []):
        if c.get("video") == "test.mp4":
            for s in c["summaries"]:
                if s["length"] == length:
                    return [(float(a), float(b)) for _, a, b, _ in s["segments"]]
    raise SystemExit(f"{summary_json}: no test.mp4 {length} summary; run bench_summary.py --part clips first")


def _ff(x: float) -> str:
    return f"{x:.6f}"


def ffmpeg_command(source: Path, spans, out: Path, *, crossfade: float = 0.3, audio_fade: float = 0.02,
                   max_height: int = 720, crf: int = 21, preset: str = "veryfast") -> tuple[list[str], float]:
    """The ffmpeg CLI command rendering ``spans`` like render_summary, and the planned output seconds."""
    from reelscope.media.info import probe
    from reelscope.story.render import AUDIO_RATE, _out_size, layout

    info = probe(source)
    fps = Fraction(info.fps).limit_denominator(1001 * 1000)
    f = float(fps)
    lay = layout(spans, f, crossfade)
    w, h = _out_size(info.width, info.height, max_height)
    audio = info.has_audio
    cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
    parts = []
    for k, (a, n) in enumerate(zip(lay.starts, lay.counts)):
        # a little extra input so that trimming (not the input's end) decides the length
        cmd += ["-ss", _ff(a), "-t", _ff(n / f + 0.5), "-i", str(source)]
        parts.append(f"[{k}:v]fps={fps.numerator}/{fps.denominator},scale={w}:{h},format=yuv420p,"
                     f"trim=end_frame={n},setpts=PTS-STARTPTS[v{k}]")
        if audio:
            parts.append(f"[{k}:a]aresample={AUDIO_RATE},atrim=end_sample={round(n * AUDIO_RATE / f)},"
                         f"asetpts=PTS-STARTPTS[a{k}]")
    vacc, aacc, frames = "v0", "a0", lay.counts[0]
    for k in range(1, len(lay.counts)):
        ov = lay.overlaps[k - 1]
        nv, na = f"vj{k}", f"aj{k}"
        if ov:
            d = ov / f
            parts.append(f"[{vacc}][v{k}]xfade=transition=fade:duration={_ff(d)}:offset={_ff((frames - ov) / f)}[{nv}]")
            if audio:
                parts.append(f"[{aacc}][a{k}]acrossfade=ns={round(ov * AUDIO_RATE / f)}:c1=qsin:c2=qsin[{na}]")
        else:
            parts.append(f"[{vacc}][v{k}]concat=n=2:v=1:a=0[{nv}]")
            if audio:
                parts.append(f"[{aacc}][a{k}]concat=n=2:v=0:a=1[{na}]")
        vacc, aacc, frames = nv, na, frames + lay.counts[k] - ov
    maps = ["-map", f"[{vacc}]"]
    if audio:
        parts.append(f"[{aacc}]afade=t=in:d={audio_fade},afade=t=out:st={_ff(frames / f - audio_fade)}:d={audio_fade}[aout]")
        maps += ["-map", "[aout]", "-c:a", "aac", "-ar", str(AUDIO_RATE)]
    cmd += ["-filter_complex", ";".join(parts), *maps, "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
            "-pix_fmt", "yuv420p", "-r", f"{fps.numerator}/{fps.denominator}", "-movflags", "+faststart", str(out)]
    return cmd, frames / f


def probe_out(path: Path) -> dict:
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height,duration,nb_frames",
                        "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return {s["codec_type"]: {k: v for k, v in s.items() if k != "codec_type"} for s in json.loads(r.stdout)["streams"]}


def compare(name: str, source: Path, spans, *, repeats: int = 3, crossfade: float = 0.3) -> dict:
    from reelscope.story.render import layout, render_summary

    rs_times, ff_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        rs_out, ff_out = Path(tmp) / "reelscope.mp4", Path(tmp) / "ffmpeg.mp4"
        cmd, planned = ffmpeg_command(source, spans, ff_out, crossfade=crossfade)
        res = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = render_summary(source, spans, rs_out, crossfade=crossfade)
            rs_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, check=False)
            ff_times.append(time.perf_counter() - t0)
            if p.returncode:
                raise SystemExit(f"ffmpeg failed on {source}: {p.stderr[-2000:]}")
        rs_probe, ff_probe = probe_out(rs_out), probe_out(ff_out)
        sizes = {"reelscope": rs_out.stat().st_size, "ffmpeg": ff_out.stat().st_size}
    rs_best, ff_best = min(rs_times), min(ff_times)
    ff_secs = float(ff_probe["video"].get("duration") or planned)
    row = {"video": name, "segments": len(spans), "joints_crossfaded": sum(1 for o in layout(spans, float(res.fps), crossfade).overlaps if o),
           "output": f"{res.width}x{res.height}", "fps": str(res.fps),
           "output_seconds": {"reelscope": round(res.seconds, 3), "ffmpeg": round(ff_secs, 3), "planned": round(planned, 3)},
           "wall_seconds": {"reelscope": [round(t, 3) for t in rs_times], "ffmpeg": [round(t, 3) for t in ff_times]},
           "speed_x": {"reelscope": round(res.seconds / rs_best, 2), "ffmpeg": round(ff_secs / ff_best, 2)},
           "bytes": sizes, "streams": {"reelscope": rs_probe, "ffmpeg": ff_probe}, "spans": [list(s) for s in spans]}
    row["ratio_reelscope_over_ffmpeg"] = round(row["speed_x"]["reelscope"] / row["speed_x"]["ffmpeg"], 2)
    print(name, json.dumps({k: row[k] for k in ("segments", "output", "output_seconds", "wall_seconds", "speed_x",
                                                 "ratio_reelscope_over_ffmpeg")}))
    return row


def run_peer(root: Path, data: Path, music_video: Path, repeats: int = 3) -> list[dict]:
    rows = []
    if music_video.exists():
        rows.append(compare("test.mp4 (15%)", music_video,
                            music_video_spans(root / "bench/results/summary.json"), repeats=repeats))
    bbb = data / "video/big_buck_bunny_0_30.webm"
    if bbb.exists():
        rows.append(compare("big_buck_bunny_0_30.webm", bbb, BBB_SPANS, repeats=repeats))
    return rows


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# Summary render vs the ffmpeg CLI — {res['date'][:10]}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores (shared; load before {m['load_before']}, after "
             f"{res['load_after']}). {res['ffmpeg']}. Interleaved, best of {res['repeats']}.", "",
             "| video | segments (crossfaded joints) | output | output s (reelscope / ffmpeg) | wall s best "
             "(reelscope / ffmpeg) | output s per wall s: reelscope | ffmpeg | ratio reelscope/ffmpeg |",
             "|---|---|---|---|---|---:|---:|---:|"]
    for r in res["peer"]:
        lines.append(f"| {r['video']} | {r['segments']} ({r['joints_crossfaded']}) | {r['output']} | "
                     f"{r['output_seconds']['reelscope']} / {r['output_seconds']['ffmpeg']} | "
                     f"{min(r['wall_seconds']['reelscope'])} / {min(r['wall_seconds']['ffmpeg'])} | "
                     f"{r['speed_x']['reelscope']} | {r['speed_x']['ffmpeg']} | {r['ratio_reelscope_over_ffmpeg']} |")
    lines += ["", "- Same spans, laid out by `reelscope.story.render.layout` (same frame counts, 0.3 s overlaps, "
              "continuous joints concatenated); same encoder settings (libx264 veryfast CRF 21, AAC 48 kHz) and size. "
              "Both outputs have identical frame and audio-frame counts (see `streams` in the JSON).",
              "- Peer: one `-ss/-t` input per span, `xfade=fade` + `acrossfade` (qsin/qsin, equal power) at each "
              "overlapping joint, `concat` at continuous ones. Its wall time includes process start-up and "
              "opening/probing one input per span, which is part of what using the CLI costs.",
              "- test.mp4 spans: the 15% plan recorded in summary.json by the last `--part clips` run; "
              f"big_buck_bunny spans planned directly: {res['peer'][-1]['spans'] if res['peer'] else ''}.",
              "- Output s per wall s = output duration / best wall time; ratio > 1 means reelscope is faster."]
    return "\n".join(lines) + "\n"
