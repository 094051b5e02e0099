"""Speech / music / silence / other, per analysis step, then merged into segments.

Per step (thresholds measured on ../shared/data, see bench/results/audio_segments.md):

- **silence**: 1 s loudness (reelscope.audio.loudness) under ``silence_lufs`` (-50 LUFS).
- **music score** 0..1, the mean of four cues of the classic speech/music discriminators
  (Scheirer & Slaney 1997: sustained spectra, regular rhythm, few pauses):
  ``tonal / 0.12`` (held partials; speech medians 0.00-0.02, music 0.10-0.31),
  ``(pulse - 0.15) / 0.30`` (pulse clarity; speech 0.05-0.35, rhythmic music 0.5-1),
  ``1 - ler / 0.30`` (low-energy-frame ratio; speech 0.17-0.36, music 0.00-0.19) and
  ``(clarity - 0.30) / 0.40`` (periodicity of the waveform; noise ~0.35 or less), each clipped
  to 0..1.
- **speech** when the mean Silero VAD probability is at least ``speech_threshold`` (0.5), unless
  the music score is at least ``singing_music`` (0.6) and the VAD probability under
  ``singing_speech`` (0.85): sung vocals fire the VAD at 0.5-0.8 (a folk-pop song in
  ../shared/data: 25% of its seconds), spoken words over music mostly above 0.85.
- **music** when the music score is at least ``music_threshold`` (0.5); else **other** (noise,
  crowds, nature sounds, effects).

Labels are smoothed with a 3-step majority vote, then runs of equal labels become segments.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("speech", "music", "silence", "other")


@dataclass
class SegmentParams:
    silence_lufs: float = -50.0
    speech_threshold: float = 0.5
    music_threshold: float = 0.5
    singing_music: float = 0.6
    singing_speech: float = 0.85


@dataclass
class Segment:
    kind: str
    start: float  # seconds
    end: float
    loudness: float | None = None  # LUFS (energy mean of the steps)
    arousal: float | None = None  # 0..1 (mean of the steps)
    confidence: float | None = None
    data: dict = field(default_factory=dict)


def music_score(stats: dict[str, np.ndarray]) -> np.ndarray:
    cues = [np.clip(stats["tonal"] / 0.12, 0, 1), np.clip((stats["pulse"] - 0.15) / 0.30, 0, 1),
            np.clip(1 - stats["ler"] / 0.30, 0, 1), np.clip((stats["clarity"] - 0.30) / 0.40, 0, 1)]
    return np.mean(cues, axis=0).astype(np.float32)


def classify_steps(loudness: np.ndarray, speech: np.ndarray, music: np.ndarray,
                   params: SegmentParams | None = None) -> list[str]:
    p = params or SegmentParams()
    labels = []
    for lo, sp, mu in zip(loudness, speech, music):
        if lo < p.silence_lufs:
            labels.append("silence")
        elif sp >= p.speech_threshold and not (mu >= p.singing_music and sp < p.singing_speech):
            labels.append("speech")
        elif mu >= p.music_threshold:
            labels.append("music")
        else:
            labels.append("other")
    return smooth_labels(labels)


def smooth_labels(labels: list[str]) -> list[str]:
    """3-step majority vote: a single step between two equal neighbours takes their label."""
    out = list(labels)
    for i in range(1, len(labels) - 1):
        if labels[i - 1] == labels[i + 1] != labels[i]:
            out[i] = labels[i - 1]
    return out


def merge_segments(labels: list[str], step: float, duration: float, *, loudness: np.ndarray,
                   arousal: np.ndarray, speech: np.ndarray, music: np.ndarray,
                   silence_lufs: float = -50.0) -> list[Segment]:
    """Runs of equal labels as segments, with loudness (energy mean), arousal and confidence
    (speech: mean VAD probability; music: mean music score; silence: share of steps under the
    gate; other: 1 - the larger of the speech and music means)."""
    segs: list[Segment] = []
    i = 0
    n = len(labels)
    while i < n:
        j = i
        while j + 1 < n and labels[j + 1] == labels[i]:
            j += 1
        kind = labels[i]
        sl = slice(i, j + 1)
        sp, mu = float(np.mean(speech[sl])), float(np.mean(music[sl]))
        lufs = float(10 * np.log10(np.mean(np.power(10.0, loudness[sl] / 10.0))))
        conf = {"speech": sp, "music": mu, "silence": float(np.mean(loudness[sl] < silence_lufs)),
                "other": 1.0 - max(sp, mu)}[kind]
        segs.append(Segment(kind, round(i * step, 3), round(min((j + 1) * step, duration), 3), round(lufs, 2),
                            round(float(np.mean(arousal[sl])), 4), round(conf, 4),
                            {"speech": round(sp, 4), "music": round(mu, 4)}))
        i = j + 1
    return [s for s in segs if s.end > s.start]
