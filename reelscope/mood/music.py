"""Music mood: tempo, beats, energy, brightness, mode and a place on the mood circle per track.

    a = analyze_track("song.ogg")      # MusicAnalysis: tempo, beat_times, energy, mode, mood, ...
    tracks = analyze_folder("music/", cache=ArchiveMusicCache(arch))   # cached by content fingerprint

Features (signal processing in :mod:`reelscope.mood.music_dsp`; audio decoded with PyAV at
22.05 kHz mono):

    tempo          BPM of the strongest periodicity of the onset strength (30..300, prior 120);
                   ``tempo_alternative``: half or double it when that is nearly as strong
    beat_times     seconds of the beats (dynamic-programming beat tracker)
    beat_strength  pulse clarity 0..1: normalised autocorrelation of the onset strength at the
                   beat period (a metronome ~1, free-rhythm sound ~0); below 0.08 the track
                   has no steady beat: tempo None, no beats
    energy         RMS loudness mapped to 0..1: -40 dBFS -> 0, -10 dBFS -> 1 (``rms_db`` kept)
    brightness     spectral centroid in Hz (``brightness_norm``: 500 Hz -> 0 .. 4 kHz -> 1, log)
    mode, key      major/minor and tonic from Krumhansl-Kessler key-profile correlation
    onset_rate     note/event onsets per second

Valence and arousal (each in -1..1, documented formula, after the music-emotion literature:
arousal follows loudness, tempo and timbral brightness; valence follows mode, tempo and
brightness — Gabrielsson & Lindström 2010, Eerola et al. 2013):

    t = clip((tempo - 110) / 50, -1.5, 1.5) * (0.4 + 0.6 * min(1, 2 * beat_strength))
    d = clip((onset_rate - 3) / 3, -1, 1)
    arousal = tanh(1.6 (energy - 0.55) + 0.7 t + 0.8 (brightness_norm - 0.45) + 0.4 d)
    m = clip(4 * mode_strength, -1, 1) * clip(3 * key_correlation, 0, 1)
    valence = tanh(0.9 m + 0.35 t + 0.6 (brightness_norm - 0.45))

then :func:`reelscope.mood.circle.mood_from_va` gives the mood and confidence.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np

from reelscope.errors import MediaError, ReelscopeError
from reelscope.mood import music_dsp as dsp
from reelscope.mood.circle import MoodPrediction, mood_from_va, mood_scores

log = logging.getLogger(__name__)

VERSION = "music-mood/1"
AUDIO_EXTS = {".ogg", ".oga", ".opus", ".mp3", ".wav", ".flac", ".m4a", ".aac", ".wma", ".aif", ".aiff", ".mka",
              ".webm"}
MIN_SECONDS = 1.0
MIN_PULSE = 0.08  # pulse clarity below which a track is taken to have no steady beat


@dataclass
class MusicAnalysis:
    path: str
    fingerprint: str
    duration: float
    tempo: float | None
    tempo_alternative: float | None  # the other metrical level (half or double), when plausible
    beat_times: list[float]
    beat_strength: float
    energy: float
    rms_db: float
    brightness: float  # Hz
    brightness_norm: float
    mode: str | None
    key: str | None
    mode_strength: float
    key_correlation: float
    onset_rate: float
    valence: float
    arousal: float
    mood: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    version: str = VERSION
    cached: bool = False

    @property
    def filename(self) -> str:
        return Path(self.path).name

    def prediction(self) -> MoodPrediction:
        return MoodPrediction(self.mood, self.confidence, self.valence, self.arousal, dict(self.scores),
                              {"tempo": self.tempo, "energy": self.energy, "mode": self.mode, "key": self.key})

    def to_dict(self, beats: bool = True) -> dict:
        d = asdict(self)
        d["filename"] = self.filename
        if not beats:
            d.pop("beat_times")
        return d


def features_va(tempo: float | None, beat_strength: float, energy: float, brightness_norm: float,
                mode_strength: float, key_correlation: float, onset_rate: float) -> tuple[float, float]:
    """(valence, arousal) of a track's features (formula in the module docstring)."""
    t = float(np.clip(((tempo or 110.0) - 110.0) / 50.0, -1.5, 1.5)) * (0.4 + 0.6 * min(1.0, 2.0 * beat_strength))
    d = float(np.clip((onset_rate - 3.0) / 3.0, -1.0, 1.0))
    arousal = math.tanh(1.6 * (energy - 0.55) + 0.7 * t + 0.8 * (brightness_norm - 0.45) + 0.4 * d)
    m = float(np.clip(4.0 * mode_strength, -1.0, 1.0) * np.clip(3.0 * key_correlation, 0.0, 1.0))
    valence = math.tanh(0.9 * m + 0.35 * t + 0.6 * (brightness_norm - 0.45))
    return valence, arousal


def analyze_samples(x: np.ndarray, rate: int = dsp.RATE, path: str = "", fingerprint: str = "") -> MusicAnalysis:
    """Analyse mono float samples at ``rate`` (must be :data:`music_dsp.RATE`-compatible)."""
    x = dsp.highpass(x, rate)
    duration = len(x) / rate
    if duration < MIN_SECONDS:
        raise MediaError(path or "<samples>", f"too short for music analysis ({duration:.2f} s < {MIN_SECONDS} s)")
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    if rms < 1e-5:
        raise MediaError(path or "<samples>", "is silent (no audible signal)")
    rms_db = 20.0 * math.log10(rms)
    energy = float(np.clip((rms_db + 40.0) / 30.0, 0.0, 1.0))
    sp = dsp.spectral_frames(x, rate)
    fps = sp.fps
    env = dsp.onset_strength(sp.mel, fps)
    tempo, clarity, alt = dsp.estimate_tempo(env, fps) if duration >= 3.0 else (0.0, 0.0, None)
    if clarity < MIN_PULSE:  # no steady pulse (free rhythm, field recordings): no tempo, no beats
        tempo, alt = 0.0, None
    beats = dsp.track_beats(env, fps, tempo) if tempo > 0 else np.zeros(0, int)
    key = dsp.estimate_key(dsp.chroma_profile(sp.chroma))
    centroid = dsp.mean_centroid(sp)
    bnorm = float(np.clip(math.log2(max(centroid, 1.0) / 500.0) / 3.0, 0.0, 1.0))
    rate_on = dsp.onset_rate(env, fps)
    v, a = features_va(tempo or None, clarity, energy, bnorm, key["mode_strength"], key["correlation"], rate_on)
    mood, conf = mood_from_va(v, a)
    return MusicAnalysis(
        path=path, fingerprint=fingerprint, duration=round(duration, 3), tempo=round(tempo, 2) if tempo else None,
        tempo_alternative=round(alt, 2) if alt else None,
        beat_times=[round(float(b) / fps, 3) for b in beats], beat_strength=round(clarity, 4),
        energy=round(energy, 4), rms_db=round(rms_db, 2), brightness=round(centroid, 1),
        brightness_norm=round(bnorm, 4), mode=key["mode"], key=key["key"],
        mode_strength=round(key["mode_strength"], 4), key_correlation=round(key["correlation"], 4),
        onset_rate=round(rate_on, 3), valence=round(v, 4), arousal=round(a, 4), mood=mood,
        confidence=round(conf, 4), scores={k: round(s, 4) for k, s in mood_scores(v, a).items()})


def analyze_track(path: str | Path) -> MusicAnalysis:
    """Decode a music file (anything FFmpeg reads: ogg, mp3, wav, flac, ...) and analyse it.
    Raises MediaError naming the file when it has no usable audio."""
    from reelscope.media.audio import extract_audio
    from reelscope.media.info import fingerprint
    p = Path(path)
    try:
        x = extract_audio(p, dsp.RATE)
    except MediaError:
        raise
    except Exception as e:  # a decoder failure deep in FFmpeg: report it against the file
        raise MediaError(p, f"cannot decode audio: {e}") from None
    if len(x) == 0:
        raise MediaError(p, "no decodable audio")
    return analyze_samples(x, dsp.RATE, str(p.resolve()), fingerprint(p))


# ---- folders and the cache -----------------------------------------------------------------

class MusicCache(Protocol):
    def get(self, fingerprint: str) -> MusicAnalysis | None: ...
    def put(self, analysis: MusicAnalysis) -> None: ...


def music_files(folder: str | Path) -> list[Path]:
    """Audio files (by extension) in a folder and its subfolders, sorted. A file path is
    accepted too (a list of one)."""
    root = Path(folder)
    if not root.exists():
        raise ReelscopeError(f"{root}: music folder not found")
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTS
                  and not p.name.startswith("."))


def analyze_folder(folder: str | Path, *, cache: MusicCache | None = None, force: bool = False,
                   errors: list | None = None, progress: Callable[[int, int, str], None] | None = None,
                   ) -> list[MusicAnalysis]:
    """Analyse every audio file of a folder; returns the usable tracks, sorted by path.

    ``cache`` (get/put by fingerprint: the caller's, e.g. the archive's ``ArchiveMusicCache``)
    keeps analyses between runs: a track whose content fingerprint is cached with this
    analyser version is not decoded again (``force`` re-analyses). Unreadable tracks are
    logged, appended to ``errors`` as (path, message) and skipped. Raises ReelscopeError
    naming the folder when it holds no usable music. ``progress(done, total, filename)``.
    """
    from reelscope.media.info import fingerprint
    files = music_files(folder)
    if not files:
        raise ReelscopeError(f"{folder}: no music files found (looked for {', '.join(sorted(AUDIO_EXTS))})")
    out: list[MusicAnalysis] = []
    problems: list[tuple[str, str]] = []
    for i, p in enumerate(files):
        try:
            fp = fingerprint(p)
            hit = cache.get(fp) if (cache is not None and not force) else None
            if hit is not None and hit.version == VERSION:
                hit.path, hit.cached = str(p.resolve()), True
                out.append(hit)
            else:
                a = analyze_track(p)
                if cache is not None:
                    cache.put(a)
                out.append(a)
        except (MediaError, OSError) as e:
            msg = str(e) if isinstance(e, MediaError) else f"{p}: {e.strerror or e}"
            if errors is None:  # the caller does not collect them: say it in the log
                log.warning("skipping %s", msg)
            problems.append((str(p), msg))
        if progress:
            progress(i + 1, len(files), p.name)
    if errors is not None:
        errors.extend(problems)
    if not out:
        raise ReelscopeError(f"{folder}: no usable music ({len(files)} audio file(s), none could be analysed: "
                             + "; ".join(m for _, m in problems[:3]) + ")")
    return out


def analyze_paths(paths: Iterable[str | Path]) -> list[tuple[str, MusicAnalysis | str]]:
    """Each path's analysis or an error string (bad files reported, never abort the batch)."""
    res: list[tuple[str, MusicAnalysis | str]] = []
    for p in paths:
        try:
            res.append((str(p), analyze_track(p)))
        except MediaError as e:
            res.append((str(p), str(e)))
    return res
