"""The audio stage: speech / music / silence / other segments, EBU R128 loudness, and per-second
curves (loudness, arousal, speech probability, music score, pitch, onset rate, tempo, ...).

A video without an audio stream gives ``AudioResult(available=False)``: nothing is stored but
the run's parameters say ``audio: "none"``. Parameters: ``step`` (seconds per curve sample),
``arousal_sigma`` (seconds of Gaussian smoothing of the arousal curve), and the segmentation
thresholds of reelscope.audio.segments.SegmentParams.
"""
from __future__ import annotations

from reelscope.pipeline.stage import Context, Stage, register


def run_audio(ctx: Context, params: dict) -> dict:
    from reelscope.audio.analyze import analyze_clip, no_audio
    from reelscope.audio.segments import SegmentParams

    seg = SegmentParams(silence_lufs=params["silence_lufs"], speech_threshold=params["speech_threshold"],
                        music_threshold=params["music_threshold"])
    models = {}
    clip = ctx.audio_clip()  # decoded once for every audio stage
    if clip is None:
        res = no_audio()
    elif len(clip.samples) == 0:
        res = no_audio("audio stream has no decodable samples")
    else:
        from reelscope.audio.vad import SileroVAD
        vad = SileroVAD()
        models = vad.models()
        res = analyze_clip(clip, vad=vad, step=params["step"], arousal_sigma=params["arousal_sigma"],
                           segment_params=seg)
    info = res.summary() if res.available else {"available": False, "reason": res.reason}
    run_params = {"audio": "analysed" if res.available else "none", "summary": info}
    return {"audio": res, "_run": {"params": run_params, "models": models if res.available else {}}}


register(Stage("audio", requires=("video",), provides=("audio",), run=run_audio, cost=0.05, concurrent=True,
               defaults={"step": 1.0, "arousal_sigma": 1.0, "silence_lufs": -50.0, "speech_threshold": 0.5,
                         "music_threshold": 0.5},
               description="speech/music/silence segments, EBU R128 loudness, audio arousal curve"))
