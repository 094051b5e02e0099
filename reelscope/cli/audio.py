"""CLI for the audio and emotion analyses.

    reelscope audio FILE [--json] [--step 1.0]   analyse any audio or video file (no archive):
                                                 loudness, speech/music/silence segments, arousal
``print_audio_emotion`` is what ``reelscope show VIDEO`` prints for these stages.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from reelscope.cli.common import fail, out

_BARS = " ▁▂▃▄▅▆▇█"


def sparkline(values, lo: float, hi: float, width: int = 60) -> str:
    v = np.asarray([np.nan if x is None else x for x in values], np.float64)
    if len(v) == 0:
        return ""
    if len(v) > width:  # mean of equal chunks
        edges = np.linspace(0, len(v), width + 1).astype(int)
        v = np.array([np.nanmean(v[a:b]) if np.isfinite(v[a:b]).any() else np.nan for a, b in zip(edges, edges[1:])])
    idx = np.clip((v - lo) / max(hi - lo, 1e-9) * (len(_BARS) - 1), 0, len(_BARS) - 1)
    return "".join(" " if not np.isfinite(i) else _BARS[int(round(i))] for i in idx)


def _fmt(v, spec: str) -> str:
    return "" if v is None else format(v, spec)


def _segments_table(segments: list[dict]) -> Table:
    t = Table("kind", "start", "end", "LUFS", "arousal", "conf.")
    for seg in segments:
        t.add_row(seg["kind"], f"{seg['start_time']:.1f}s", f"{seg['end_time']:.1f}s", _fmt(seg["loudness"], ".1f"),
                  _fmt(seg["arousal"], ".2f"), _fmt(seg["confidence"], ".2f"))
    return t


def print_audio_emotion(data: dict) -> None:
    """Audio segments, loudness and the emotion curve of one video (its export dict)."""
    audio, emotion = data.get("audio"), data.get("emotion")
    if audio:
        sm = audio.get("summary") or {}
        shares = sm.get("shares") or {}
        out.print(f"[bold]audio[/bold]  {sm.get('integrated_lufs')} LUFS integrated, "
                  f"LRA {sm.get('loudness_range')} LU, " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items() if v),
                  highlight=False)
        out.print(_segments_table(audio.get("segments") or []))
        for name, lo, hi in (("loudness", -60, -10), ("arousal", 0, 1)):
            c = (audio.get("curves") or {}).get(name)
            if c:
                out.print(f"  {name:<9} {sparkline(c['values'], lo, hi)}", highlight=False)
    elif any(r.get("stage") == "audio" for r in data.get("analysis_runs", [])):
        out.print("[bold]audio[/bold]  none (the file has no audio stream)")
    if emotion:
        out.print(f"[bold]emotion[/bold]  per {emotion['step']:g} s; sources: "
                  + ", ".join(k for k in ("faces", "audio") if (emotion.get("sources") or {}).get(k)), highlight=False)
        out.print(f"  valence   {sparkline(emotion['valence'], -1, 1)}", highlight=False)
        out.print(f"  arousal   {sparkline(emotion['arousal'], 0, 1)}", highlight=False)
        shots = [s for s in data.get("shots", []) if s.get("emotion")]
        if shots:
            t = Table("shot", "valence", "arousal", "dominant", "faces", "audio arousal")
            for s in shots:
                e = s["emotion"]
                t.add_row(str(s["index"] + 1), f"{e['valence']:+.2f}", f"{e['arousal']:.2f}", e["dominant"],
                          f"{e['face_share']:.0%}", _fmt(e.get("audio_arousal"), ".2f"))
            out.print(t)


def audio(
    file: Path = typer.Argument(..., help="An audio or video file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: summary, segments and curves."),
    step: float = typer.Option(1.0, help="Seconds per curve sample."),
):
    """Analyse a file's audio without the archive: loudness (EBU R128), speech/music/silence, arousal."""
    from reelscope.audio.analyze import analyze_audio
    from reelscope.errors import ReelscopeError

    try:
        res = analyze_audio(file, step=step)
    except (ReelscopeError, ValueError) as e:
        fail(str(e))
    if not res.available:
        fail(f"{file}: {res.reason}", code=1)
    from reelscope.archive.audio_io import curve_values

    data = {"summary": res.summary(),
            "segments": [{"kind": s.kind, "start_time": s.start, "end_time": s.end, "loudness": s.loudness,
                          "arousal": s.arousal, "confidence": s.confidence, "data": s.data} for s in res.segments],
            "curves": {k: {"t0": 0.0, "step": res.step, "values": curve_values(v)} for k, v in res.curves.items()}}
    if as_json:
        out.print_json(data=data)
        return
    out.print(f"[bold]{Path(file).name}[/bold]  {res.duration:.1f}s  {res.channels} ch {res.codec}", highlight=False)
    print_audio_emotion({"audio": data})
