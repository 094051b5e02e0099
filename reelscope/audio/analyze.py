"""The audio pass over a file: decode once (16 kHz, stereo kept for loudness), voice activity,
frame features, loudness, then per-step curves, speech/music/silence segments and arousal.

Times are on the container's clock, like video frame times: the decoded samples are shifted by
the audio stream's start time so that curve sample ``i`` is at ``i * step`` seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from reelscope.audio.arousal import arousal_curve
from reelscope.audio.features import RATE, frame_features
from reelscope.audio.loudness import FLOOR, measure
from reelscope.audio.segments import Segment, SegmentParams, classify_steps, merge_segments, music_score
from reelscope.audio.steps import step_stats
from reelscope.media.audio import AudioClip, read_audio

# curve name -> unit; all sampled every ``step`` seconds from t = 0
CURVES = {"loudness": "LUFS", "arousal": "", "speech": "probability", "music": "score", "rms": "dBFS",
          "pitch": "Hz", "onset_rate": "1/s", "tempo": "BPM", "pulse": "", "centroid": "Hz"}


@dataclass
class AudioResult:
    available: bool  # False: the file has no audio stream (nothing else is set)
    step: float = 1.0
    duration: float = 0.0  # seconds of audio from t = 0 (including any leading offset)
    start: float = 0.0  # the audio stream's start time (s) on the container clock
    channels: int = 0  # channels in the file
    codec: str = ""
    integrated_lufs: float | None = None
    loudness_range: float | None = None  # LU (EBU Tech 3342)
    sample_peak: float | None = None  # dBFS
    segments: list[Segment] = field(default_factory=list)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    reason: str = ""  # why not available

    @property
    def t0(self) -> float:
        return 0.0

    def times(self) -> np.ndarray:
        n = len(next(iter(self.curves.values()))) if self.curves else 0
        return (np.arange(n) + 0.5) * self.step

    def share(self, kind: str) -> float:
        """Fraction of the audio's duration labelled ``kind``."""
        total = sum(s.end - s.start for s in self.segments)
        return sum(s.end - s.start for s in self.segments if s.kind == kind) / total if total else 0.0

    def summary(self) -> dict:
        return {"available": self.available, "integrated_lufs": self.integrated_lufs,
                "loudness_range": self.loudness_range, "sample_peak": self.sample_peak,
                "channels": self.channels, "codec": self.codec, "start": self.start, "duration": self.duration,
                "shares": {k: round(self.share(k), 4) for k in ("speech", "music", "silence", "other")},
                "reason": self.reason}


def no_audio(reason: str = "no audio stream") -> AudioResult:
    return AudioResult(available=False, reason=reason)


def align(clip: AudioClip) -> np.ndarray:
    """The clip's samples with t = 0 at the container clock's zero: leading offset padded with
    silence, audio before zero dropped."""
    x = clip.samples
    shift = int(round(clip.start * clip.rate))
    if shift > 0:
        pad = np.zeros((shift,) + x.shape[1:], x.dtype)
        x = np.concatenate([pad, x])
    elif shift < 0:
        x = x[-shift:]
    return x


def analyze_clip(clip: AudioClip, *, vad=None, step: float = 1.0, arousal_sigma: float = 1.0,
                 segment_params: SegmentParams | None = None,
                 progress: Callable[[int, int], None] | None = None) -> AudioResult:
    if clip.rate != RATE:
        raise ValueError(f"audio analysis runs at {RATE} Hz, got {clip.rate}")
    if step <= 0:
        raise ValueError("step must be positive")
    x = align(clip)
    mono = x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)
    duration = len(mono) / RATE
    n = max(1, int(np.ceil(duration / step - 1e-9)))
    total = 4
    if progress:
        progress(0, total)
    if vad is None:
        from reelscope.audio.vad import SileroVAD
        vad = SileroVAD()
    probs = vad.probabilities(mono)
    if progress:
        progress(1, total)
    ff = frame_features(mono, RATE)
    if progress:
        progress(2, total)
    loud = measure(x, RATE)
    loud_curve = loud.curve(step, n)
    stats = step_stats(ff, probs, step, n)
    music = music_score(stats)
    params = segment_params or SegmentParams()
    arousal = arousal_curve(loud_curve, stats, step, arousal_sigma)
    labels = classify_steps(loud_curve, stats["speech"], music, params)
    segments = merge_segments(labels, step, duration, loudness=loud_curve, arousal=arousal, speech=stats["speech"],
                              music=music, silence_lufs=params.silence_lufs)
    if progress:
        progress(total, total)
    curves = {"loudness": loud_curve, "arousal": arousal, "speech": stats["speech"], "music": music,
              "rms": stats["rms_db"], "pitch": stats["pitch"], "onset_rate": stats["onset_rate"],
              "tempo": stats["tempo"], "pulse": stats["pulse"], "centroid": stats["centroid"]}
    return AudioResult(available=True, step=step, duration=duration, start=clip.start,
                       channels=clip.source_channels, codec=clip.codec,
                       integrated_lufs=round(loud.integrated, 2),
                       loudness_range=None if loud.range is None else round(loud.range, 2),
                       sample_peak=None if not np.isfinite(loud.sample_peak) else round(loud.sample_peak, 2),
                       segments=segments, curves={k: np.asarray(v, np.float32) for k, v in curves.items()})


def analyze_audio(path: str | Path, *, step: float = 1.0, arousal_sigma: float = 1.0,
                  segment_params: SegmentParams | None = None, vad=None,
                  progress: Callable[[int, int], None] | None = None) -> AudioResult:
    """Analyse the first audio stream of ``path`` (a video or an audio-only file). A file without
    an audio stream gives ``AudioResult(available=False)``; other media errors are raised."""
    from reelscope.media.info import open_container

    container = open_container(path)  # raises MediaError for missing / unreadable files
    try:
        has_audio = bool(container.streams.audio)
    finally:
        container.close()
    if not has_audio:
        return no_audio()
    clip = read_audio(path, RATE, "auto")
    if len(clip.samples) == 0:
        return no_audio("audio stream has no decodable samples")
    if clip.samples.ndim == 2 and clip.samples.shape[1] > 2:  # pragma: no cover - read_audio gives <= 2
        clip.samples = clip.samples[:, :2]
    return analyze_clip(clip, vad=vad, step=step, arousal_sigma=arousal_sigma, segment_params=segment_params,
                        progress=progress)


__all__ = ["AudioResult", "analyze_audio", "analyze_clip", "no_audio", "CURVES", "FLOOR"]
