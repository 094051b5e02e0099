"""Speech to text on the speech regions of a soundtrack: Whisper (faster-whisper) with language
identification and word timestamps.

1. **Regions.** The audio stage's ``speech`` segments (1 s steps) are padded on both sides (their
   edges are only as exact as a step) and merged when the gap between them is short
   (``audio_regions``). Without them (``regions="vad"``, or an audio result without segments),
   Silero VAD's 32 ms speech probabilities give the regions (``vad_regions``); ``"all"`` takes
   the whole soundtrack.
2. **Packing.** The regions' samples are laid end to end (silence and music are never fed to the
   model, so Whisper's 30 s windows are filled with speech) in blocks of at most ``block``
   seconds; a ``TimeMap`` takes times in a block back to the soundtrack. With ``pack=False``
   each region starts a window of its own (``clip_timestamps``): more encoder passes, but a
   language per region.
3. **Decoding.** One ``WhisperModel.transcribe`` call per block with word timestamps. Without a
   fixed ``language`` the language is identified in every 30 s window (faster-whisper's
   ``multilingual`` mode, which reuses the window's encoder output, so identification costs no
   extra encoder pass); ``_LanguageLog`` records each window's language and probability, and every
   segment gets the language of the window that decoded it.
4. **Segments.** Word times are mapped back; a segment is split where two consecutive words lie
   from different regions or more than ``split_gap`` apart (a long pause), so a segment never
   spans a stretch of music or silence that was not transcribed.

Times are seconds on the container clock (the clock of frame times), like the audio stage's.
"""
from __future__ import annotations

import bisect
import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

RATE = 16000
WINDOW = 30.0  # Whisper's input window, seconds


@dataclass
class Word:
    start: float
    end: float
    text: str  # as written, without the leading space
    probability: float


@dataclass
class TranscriptSegment:
    start: float
    end: float
    text: str
    language: str | None = None
    language_probability: float | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    words: list[Word] = field(default_factory=list)


@dataclass
class Transcript:
    available: bool  # False: nothing was transcribed (no audio, disabled, ...): see ``reason``
    model: str = ""
    language: str | None = None  # the language of most transcribed speech
    language_probability: float | None = None  # its mean window probability
    languages: dict[str, float] = field(default_factory=dict)  # language -> seconds of segments
    segments: list[TranscriptSegment] = field(default_factory=list)
    regions: list[tuple[float, float]] = field(default_factory=list)  # what was fed to the model
    region_source: str = ""  # audio | vad | all
    audio_seconds: float = 0.0  # length of the soundtrack
    seconds: float = 0.0  # wall time of decoding (model load excluded)
    reason: str = ""

    @property
    def speech_seconds(self) -> float:
        return float(sum(e - s for s, e in self.regions))

    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()

    def summary(self) -> dict:
        return {"available": self.available, "model": self.model, "language": self.language,
                "language_probability": self.language_probability,
                "languages": {k: round(v, 2) for k, v in self.languages.items()},
                "region_source": self.region_source, "regions": len(self.regions),
                "speech_seconds": round(self.speech_seconds, 3), "audio_seconds": round(self.audio_seconds, 3),
                "segments": len(self.segments), "words": sum(len(s.words) for s in self.segments),
                "reason": self.reason}


def no_transcript(reason: str, **kw) -> Transcript:
    return Transcript(available=False, reason=reason, **kw)


# ---- regions ------------------------------------------------------------------------------------
def pad_merge(spans: Sequence[tuple[float, float]], duration: float, *, pad: float = 1.0, merge_gap: float = 1.0,
              min_length: float = 0.3) -> list[tuple[float, float]]:
    """Spans widened by ``pad`` on both sides (within 0..duration), sorted, merged where they
    overlap or the gap is under ``merge_gap``; merged spans shorter than ``min_length`` dropped."""
    if pad < 0 or merge_gap < 0:
        raise ValueError("pad and merge_gap must not be negative")
    out: list[list[float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in spans if e > s):
        s, e = max(0.0, s - pad), min(duration, e + pad)
        if e <= s:
            continue
        if out and s - out[-1][1] < merge_gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(round(s, 3), round(e, 3)) for s, e in out if e - s >= min_length]


def audio_regions(segments: Sequence, duration: float, **kw) -> list[tuple[float, float]]:
    """Regions from the audio stage's segments (objects with ``kind``, ``start``, ``end``)."""
    return pad_merge([(s.start, s.end) for s in segments if s.kind == "speech"], duration, **kw)


def vad_spans(probs: np.ndarray, frame_seconds: float, *, threshold: float = 0.5, min_speech: float = 0.25,
              min_silence: float = 0.3) -> list[tuple[float, float]]:
    """Speech spans from per-frame speech probabilities: frames at or over ``threshold``, pauses
    shorter than ``min_silence`` bridged, spans shorter than ``min_speech`` dropped."""
    on = np.asarray(probs, np.float32) >= threshold
    spans: list[list[float]] = []
    i, n = 0, len(on)
    while i < n:
        if not on[i]:
            i += 1
            continue
        j = i
        while j < n and on[j]:
            j += 1
        s, e = i * frame_seconds, j * frame_seconds
        if spans and s - spans[-1][1] < min_silence:
            spans[-1][1] = e
        else:
            spans.append([s, e])
        i = j
    return [(s, e) for s, e in spans if e - s >= min_speech]


def vad_regions(mono: np.ndarray, vad, *, threshold: float = 0.5, **kw) -> list[tuple[float, float]]:
    """Regions from Silero VAD run on the samples (``vad``: reelscope.audio.vad.SileroVAD)."""
    probs = vad.probabilities(mono)
    return pad_merge(vad_spans(probs, vad.frame_seconds, threshold=threshold), len(mono) / RATE, **kw)


# ---- packing --------------------------------------------------------------------------------------
class TimeMap:
    """Pieces of the soundtrack laid end to end: time in the packed audio -> soundtrack time."""

    def __init__(self, pieces: Sequence[tuple[float, float]]):
        self.pieces = [(float(s), float(e)) for s, e in pieces]
        self.offsets = []
        acc = 0.0
        for s, e in self.pieces:
            self.offsets.append(acc)
            acc += e - s
        self.length = acc

    def piece(self, t: float) -> int:
        return max(0, bisect.bisect_right(self.offsets, t) - 1)

    def source(self, t: float, piece: int | None = None) -> float:
        """Soundtrack time of packed time ``t`` (in ``piece``, clamped to it, when given)."""
        k = self.piece(t) if piece is None else piece
        s, e = self.pieces[k]
        return min(e, max(s, s + t - self.offsets[k]))


def blocks(regions: Sequence[tuple[float, float]], block: float) -> list[list[tuple[float, float]]]:
    """Regions grouped in order into blocks of at most ``block`` seconds (regions longer than a
    block are cut into block-long pieces)."""
    out: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    used = 0.0
    for s, e in regions:
        while e - s > 1e-6:
            room = block - used
            if room <= 1e-6:
                out.append(cur)
                cur, used = [], 0.0
                continue
            take = min(e - s, room)
            cur.append((s, s + take))
            used += take
            s += take
    if cur:
        out.append(cur)
    return out


def gather(mono: np.ndarray, pieces: Sequence[tuple[float, float]]) -> np.ndarray:
    parts = [mono[int(round(s * RATE)):int(round(e * RATE))] for s, e in pieces]
    return np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)


# ---- decoding ---------------------------------------------------------------------------------------
class _LanguageLog:
    """Stands in for a WhisperModel's CTranslate2 model and records, in order, each window's
    language detection (faster-whisper's multilingual mode detects once per 30 s window, on the
    encoder output it then decodes from); every other attribute is the real model's."""

    def __init__(self, inner):
        self._inner = inner
        self.detections: list[tuple[str, float]] = []

    def detect_language(self, *args, **kw):
        results = self._inner.detect_language(*args, **kw)
        token, prob = results[0][0]
        self.detections.append((token.strip("<|>"), float(prob)))
        return results

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _split_words(words: list[tuple[Word, str, int]], split_gap: float) -> list[list[tuple[Word, str, int]]]:
    """Runs of words from one packed piece (region) whose gap to the previous word is at most
    ``split_gap`` seconds."""
    groups: list[list[tuple[Word, str, int]]] = []
    for w in words:
        if groups and w[2] == groups[-1][-1][2] and w[0].start - groups[-1][-1][0].end <= split_gap:
            groups[-1].append(w)
        else:
            groups.append([w])
    return groups


def transcribe_regions(model, mono: np.ndarray, regions: Sequence[tuple[float, float]], *,
                       language: str | None = None, beam_size: int = 5, block: float = 600.0,
                       split_gap: float = 2.0, condition_on_previous_text: bool = False, pack: bool = True,
                       progress: Callable[[int, int], None] | None = None) -> tuple[list[TranscriptSegment], list]:
    """Transcribe ``regions`` of ``mono`` (16 kHz, t = 0 at the container clock's zero) with a
    faster-whisper ``WhisperModel``. Returns the segments in soundtrack time and the language
    detections made ``[(language, probability, packed seconds)]``.

    ``pack``: regions share Whisper's 30 s windows (fewest encoder passes; short regions of
    different languages in one window get one language). False: every region starts a window of
    its own (one language per region at least; one encoder pass per region at least)."""
    if block < WINDOW:
        raise ValueError(f"block must be at least {WINDOW:g} s")
    segments: list[TranscriptSegment] = []
    detections: list[tuple[str, float, float]] = []
    groups = blocks(regions, block)
    total = max(1, int(sum(e - s for s, e in regions) * 1000))
    done = 0.0
    multilingual = language is None and getattr(model.model, "is_multilingual", False)
    for pieces in groups:
        tmap = TimeMap(pieces)
        audio = gather(mono, pieces)
        if len(audio) < RATE // 10:
            continue
        runner, log = model, None
        if multilingual:
            runner = copy.copy(model)  # the cached model is shared: never patch it
            log = _LanguageLog(model.model)
            runner.model = log
        clips = "0" if pack else [t for k, (s, e) in enumerate(pieces)
                                  for t in (tmap.offsets[k], tmap.offsets[k] + e - s)]
        segs, info = runner.transcribe(
            audio, language=language or ("en" if multilingual else None), multilingual=multilingual,
            beam_size=beam_size, word_timestamps=True, vad_filter=False, clip_timestamps=clips,
            condition_on_previous_text=condition_on_previous_text)
        for seg in segs:  # a generator: decoding happens here, window by window
            if log is not None and log.detections:
                lang, prob = log.detections[-1]
            else:
                lang, prob = info.language, info.language_probability
            words = []  # (Word, the word as decoded (with its leading space where the language has them), piece)
            for w in seg.words or []:
                k = tmap.piece(w.start)
                s = tmap.source(w.start, k)
                e = tmap.source(w.end, k)  # clamped to the word's first piece
                if w.word.strip():
                    words.append((Word(round(s, 3), round(max(e, s), 3), w.word.strip(),
                                       round(float(w.probability), 4)), w.word, k))
            common = {"language": lang, "language_probability": round(prob, 4),
                      "avg_logprob": round(float(seg.avg_logprob), 4),
                      "no_speech_prob": round(float(seg.no_speech_prob), 4)}
            if words:
                for group in _split_words(words, split_gap):
                    segments.append(TranscriptSegment(group[0][0].start, group[-1][0].end,
                                                      "".join(raw for _, raw, _ in group).strip(),
                                                      words=[w for w, _, _ in group], **common))
            elif seg.text.strip():
                k = tmap.piece(seg.start)
                segments.append(TranscriptSegment(round(tmap.source(seg.start, k), 3),
                                                  round(tmap.source(seg.end, k), 3), seg.text.strip(), **common))
            if progress:
                progress(min(total, int((done + seg.end) * 1000)), total)
        if log is not None:
            windows = max(1, len(log.detections))
            detections += [(lg, p, tmap.length / windows) for lg, p in log.detections]
        elif info.language:
            detections.append((info.language, float(info.language_probability), tmap.length))
        done += tmap.length
    segments.sort(key=lambda s: (s.start, s.end))
    return segments, detections


def summarise_languages(segments: Sequence[TranscriptSegment]) -> tuple[str | None, float | None, dict[str, float]]:
    """The language with the most segment time, its mean window probability weighted by time, and
    seconds per language."""
    secs: dict[str, float] = {}
    probs: dict[str, list[tuple[float, float]]] = {}
    for s in segments:
        if not s.language:
            continue
        d = max(s.end - s.start, 0.01)
        secs[s.language] = secs.get(s.language, 0.0) + d
        probs.setdefault(s.language, []).append((d, s.language_probability or 0.0))
    if not secs:
        return None, None, {}
    best = max(secs, key=secs.get)
    w = probs[best]
    mean = float(sum(d * p for d, p in w) / sum(d for d, _ in w))
    return best, round(mean, 4), {k: round(float(v), 3) for k, v in sorted(secs.items(), key=lambda kv: -kv[1])}


def transcribe_clip(mono: np.ndarray, model, *, model_name: str = "", regions: Sequence[tuple[float, float]],
                    region_source: str, language: str | None = None, beam_size: int = 5, block: float = 600.0,
                    split_gap: float = 2.0, condition_on_previous_text: bool = False, pack: bool = True,
                    progress: Callable[[int, int], None] | None = None) -> Transcript:
    """The transcript of ``regions`` of a soundtrack (``model`` may be a zero-argument callable that
    loads it, called only when there is something to transcribe)."""
    duration = len(mono) / RATE
    regions = list(regions)
    if not regions:
        return Transcript(available=True, model=model_name, regions=[], region_source=region_source,
                          audio_seconds=duration, reason="no speech regions")
    if callable(model) and not hasattr(model, "transcribe"):
        model = model()
    t0 = time.perf_counter()
    segments, _ = transcribe_regions(model, mono, regions, language=language, beam_size=beam_size, block=block,
                                     split_gap=split_gap, condition_on_previous_text=condition_on_previous_text,
                                     pack=pack, progress=progress)
    lang, prob, secs = summarise_languages(segments)
    if language:
        lang, prob = language, None
    return Transcript(available=True, model=model_name, language=lang, language_probability=prob, languages=secs,
                      segments=segments, regions=regions, region_source=region_source, audio_seconds=duration,
                      seconds=round(time.perf_counter() - t0, 3))
