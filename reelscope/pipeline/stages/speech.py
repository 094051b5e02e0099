"""The speech stage: speech to text with Whisper (faster-whisper, CTranslate2) on the speech
regions the audio stage found, with language identification and word timestamps
(reelscope.audio.transcribe).

Parameters:

- ``enabled`` (true): false stores nothing (the run row says "disabled"), like leaving the stage
  out of ``--stages``;
- ``model``: ``base`` (default) or ``small`` (reelscope.models.whisper; the small carrier
  packages are incomplete, so ``small`` fails with a one-line explanation);
- ``language``: null (identify per 30 s window) or a code such as ``en`` to force one;
- ``regions``: ``audio`` (the audio stage's speech segments; Silero VAD on the soundtrack when
  the audio result has no segments), ``vad`` (always Silero VAD, 32 ms resolution) or ``all``;
- ``pad`` / ``merge_gap``: seconds added on each side of a region / gaps under which regions merge;
- ``pack`` (true): regions share Whisper's 30 s windows (fewest encoder passes; the language is
  identified per window); false: every region gets windows of its own (a language per region);
- ``beam_size``, ``compute_type`` (CTranslate2: int8, float32, ...), ``threads`` (0: all cores, up
  to 8), ``condition_on_previous_text``.

The model is loaded only when there is speech to transcribe; the cost (decode seconds, speech
and audio seconds) is in the run's parameters, so it can be reported per minute of input.
"""
from __future__ import annotations

from reelscope.pipeline.stage import Context, Stage, register

REGION_SOURCES = ("audio", "vad", "all")


def run_speech(ctx: Context, params: dict) -> dict:
    from reelscope.audio.analyze import align
    from reelscope.audio.transcribe import RATE, audio_regions, no_transcript, pad_merge, transcribe_clip, vad_regions
    from reelscope.models.whisper import COMPUTE_TYPES, SIZES, load_whisper, model_info

    size, source = params["model"], params["regions"]
    if size not in SIZES:
        raise ValueError(f"speech.model must be one of {', '.join(SIZES)}, not {size!r}")
    if source not in REGION_SOURCES:
        raise ValueError(f"speech.regions must be one of {', '.join(REGION_SOURCES)}, not {source!r}")
    if params["compute_type"] not in COMPUTE_TYPES:
        raise ValueError(f"speech.compute_type must be one of {', '.join(COMPUTE_TYPES)}")
    if not params["enabled"]:
        tr = no_transcript("disabled")
        return {"speech": tr, "_run": {"params": {"speech": "disabled", "summary": tr.summary()}}}
    audio = ctx.artifacts.get("audio")
    clip = ctx.audio_clip() if audio is None or audio.available else None
    if clip is None or len(clip.samples) == 0:
        tr = no_transcript(getattr(audio, "reason", "") or "no audio stream")
        return {"speech": tr, "_run": {"params": {"speech": "none", "summary": tr.summary()}}}
    x = align(clip)
    mono = x if x.ndim == 1 else x.mean(axis=1, dtype="float32")
    duration = len(mono) / RATE
    shape = {"pad": float(params["pad"]), "merge_gap": float(params["merge_gap"])}
    used = source
    if source == "audio" and audio is not None and audio.segments:
        regions = audio_regions(audio.segments, duration, **shape)
    elif source == "all":
        regions = pad_merge([(0.0, duration)], duration, pad=0.0, merge_gap=0.0)
    else:  # "vad", or the audio result has no segments
        from reelscope.audio.vad import SileroVAD
        used = "vad"
        regions = vad_regions(mono, SileroVAD(), **shape)

    def load():
        return load_whisper(size, compute_type=params["compute_type"], threads=params["threads"] or None)

    tr = transcribe_clip(mono, load, model_name=f"whisper-{size}", regions=regions, region_source=used,
                         language=params["language"] or None, beam_size=int(params["beam_size"]),
                         condition_on_previous_text=bool(params["condition_on_previous_text"]),
                         pack=bool(params["pack"]),
                         progress=ctx.report("speech"))
    run = {"speech": "transcribed" if regions else "no speech", "summary": tr.summary(),
           "regions": [list(r) for r in regions],
           "cost": {"decode_seconds": tr.seconds, "speech_seconds": round(tr.speech_seconds, 3),
                    "audio_seconds": round(duration, 3)}}
    return {"speech": tr, "_run": {"params": run, "models": model_info(size) if regions else {}}}


register(Stage("speech", requires=("audio",), provides=("speech",), run=run_speech, cost=1.0,
               defaults={"enabled": True, "model": "base", "language": None, "regions": "audio", "pad": 1.0,
                         "merge_gap": 1.0, "pack": True, "beam_size": 5, "compute_type": "int8", "threads": 0,
                         "condition_on_previous_text": False},
               description="speech to text (Whisper) on the audio stage's speech regions: language, "
                           "segments, word times"))
