"""Speech-to-text evaluation: word error rate, and test material made with espeak-ng.

``word_errors`` aligns a hypothesis with a reference (Levenshtein over words: substitutions,
deletions, insertions) after ``normalise`` (case-folded, punctuation removed except inner
apostrophes, hyphens as spaces), so "Mrs. Allen, said" and "mrs allen said" match. WER over a
set of sentences is the total errors over the total reference words.

``synthesize`` speaks a sentence with espeak-ng (the Debian package; ``ESPEAK`` names the
binary) and returns 16 kHz mono samples; ``mix_at_snr`` lays speech over a background at a given
speech-to-background power ratio; ``write_clip`` muxes samples with a still picture into a short
H.264/AAC MP4 that the analysis engine takes like any video.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

RATE = 16000
ESPEAK = "espeak-ng"
_PUNCT = re.compile(r"[^\w\s']+", re.UNICODE)


def normalise(text: str) -> list[str]:
    t = unicodedata.normalize("NFKC", text).casefold().replace("-", " ").replace("’", "'")
    t = _PUNCT.sub(" ", t)
    return [w.strip("'") for w in t.split() if w.strip("'")]


@dataclass
class WordErrors:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        return self.errors / self.reference_words if self.reference_words else float(self.errors > 0)

    def __add__(self, other: "WordErrors") -> "WordErrors":
        return WordErrors(self.substitutions + other.substitutions, self.deletions + other.deletions,
                          self.insertions + other.insertions, self.reference_words + other.reference_words)


def word_errors(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> WordErrors:
    """Minimum edit alignment of the hypothesis words to the reference words."""
    ref = normalise(reference) if isinstance(reference, str) else list(reference)
    hyp = normalise(hypothesis) if isinstance(hypothesis, str) else list(hypothesis)
    n, m = len(ref), len(hyp)
    # cost[i][j]: (errors, subs, dels, ins) for ref[:i] vs hyp[:j]
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, n + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, m + 1):
            if ref[i - 1] == hyp[j - 1]:
                best = prev[j - 1]
            else:
                s, d, ins = prev[j - 1], prev[j], cur[j - 1]
                best = min((s[0] + 1, s[1] + 1, s[2], s[3]), (d[0] + 1, d[1], d[2] + 1, d[3]),
                           (ins[0] + 1, ins[1], ins[2], ins[3] + 1))
            cur.append(best)
        prev = cur
    _, subs, dels, ins = prev[m]
    return WordErrors(subs, dels, ins, n)


def have_espeak() -> bool:
    return shutil.which(ESPEAK) is not None


def synthesize(text: str, voice: str = "en-us", *, speed: int = 150, pitch: int = 50) -> np.ndarray:
    """16 kHz mono float32 samples of espeak-ng speaking ``text`` with ``voice``."""
    from reelscope.media.audio import read_audio

    if not have_espeak():
        raise FileNotFoundError(f"{ESPEAK} not found (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="reelscope-tts-") as tmp:
        wav = Path(tmp) / "say.wav"
        r = subprocess.run([ESPEAK, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"{ESPEAK} -v {voice} failed: {(r.stderr or r.stdout).strip()[-300:]}")
        return read_audio(wav, RATE, "mono").samples.copy()


def power(x: np.ndarray) -> float:
    x = np.asarray(x, np.float64)
    return float(np.mean(x * x)) if len(x) else 0.0


def mix_at_snr(speech: np.ndarray, background: np.ndarray, snr_db: float | None, *, offset: float = 0.0,
               length: float | None = None) -> np.ndarray:
    """``background`` (looped or cut to ``length`` seconds, default: speech end + 0.5 s) with
    ``speech`` laid on at ``offset`` seconds, the background scaled so that the speech's power
    over the background's power (over the speech's span) is ``snr_db``; None: speech alone."""
    start = int(round(offset * RATE))
    n = int(round(length * RATE)) if length else start + len(speech) + RATE // 2
    out = np.zeros(n, np.float32)
    if snr_db is not None and len(background):
        reps = -(-n // len(background))
        bg = np.tile(np.asarray(background, np.float32), reps)[:n]
        span = bg[start:start + len(speech)]
        pb = power(span) or power(bg)
        if pb > 0:
            out += bg * np.float32(np.sqrt(power(speech) / (pb * 10 ** (snr_db / 10))))
    out[start:start + len(speech)] += np.asarray(speech, np.float32)[: max(0, n - start)]
    peak = float(np.abs(out).max()) if len(out) else 0.0
    return out / peak * 0.9 if peak > 0.99 else out


def write_clip(path: str | Path, samples: np.ndarray, *, size: tuple[int, int] = (160, 90), fps: int = 10,
               colour: tuple[int, int, int] = (40, 90, 140)) -> Path:
    """An MP4 (H.264 still picture + AAC mono 16 kHz) holding ``samples``."""
    import av

    path = Path(path)
    samples = np.asarray(samples, np.float32)
    seconds = len(samples) / RATE
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        aus = c.add_stream("aac", rate=RATE, layout="mono")
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:] = colour
        for i in range(max(1, int(np.ceil(seconds * fps)))):
            img = frame.copy()
            img[:, : (i * 7) % size[0]] //= 2  # a moving edge, so frames differ
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        step = 1024
        for k, a in enumerate(range(0, len(samples), step)):
            chunk = samples[a:a + step]
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            af.sample_rate = RATE
            af.pts = a
            af.time_base = Fraction(1, RATE)
            for p in aus.encode(af):
                c.mux(p)
        for p in aus.encode():
            c.mux(p)
    return path
