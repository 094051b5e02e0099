"""Captions from a stored transcript: SubRip (.srt) and WebVTT (.vtt).

Transcript segments (the export form, ``archive.speech_io.speech_export``) become cues of at most
``max_lines`` lines of ``max_chars`` characters and ``max_seconds`` each, cut between words with
the words' own times (a segment without word times is one cue). Lines are broken at the space
nearest the middle. Cues never overlap: a cue ends at the latest when the next one starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass
class Cue:
    start: float
    end: float
    text: str  # lines joined with "\n"


def _lines(words: Sequence[str], max_chars: int) -> list[str]:
    """Greedy line filling."""
    lines: list[str] = []
    for w in words:
        if lines and len(lines[-1]) + 1 + len(w) <= max_chars:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return lines


def wrap(text: str, max_chars: int = 42) -> str:
    """One line, or two broken at the space nearest the middle that keeps both lines within
    ``max_chars`` (greedy filling when no such space exists)."""
    text = " ".join(text.split())
    if len(text) <= max_chars or " " not in text:
        return text
    mid = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    good = [i for i in spaces if i <= max_chars and len(text) - i - 1 <= max_chars]
    if good:
        cut = min(good, key=lambda i: abs(i - mid))
        return text[:cut] + "\n" + text[cut + 1:]
    return "\n".join(_lines(text.split(" "), max_chars))


def fits(words: Sequence[str], max_chars: int, max_lines: int) -> bool:
    return len(_lines(words, max_chars)) <= max_lines


def cues(segments: Sequence[dict], *, max_chars: int = 42, max_lines: int = 2, max_seconds: float = 7.0,
         min_seconds: float = 0.5) -> list[Cue]:
    out: list[Cue] = []
    for seg in segments:
        words = [w for w in seg.get("words") or [] if str(w.get("word", "")).strip()]
        if not words:
            text = " ".join(str(seg.get("text", "")).split())
            if text:
                out.append(Cue(float(seg["start_time"]), float(seg["end_time"]), text))
            continue
        whole = " ".join(str(seg.get("text", "")).split())
        if whole and fits(whole.split(" "), max_chars, max_lines) \
                and float(words[-1]["end_time"]) - float(words[0]["start_time"]) <= max_seconds:
            out.append(Cue(float(words[0]["start_time"]), float(words[-1]["end_time"]), whole))  # the text as written
            continue
        cur: list[dict] = []
        for w in words:
            if cur:
                if not fits([x["word"] for x in cur + [w]], max_chars, max_lines) \
                        or float(w["end_time"]) - float(cur[0]["start_time"]) > max_seconds:
                    out.append(Cue(float(cur[0]["start_time"]), float(cur[-1]["end_time"]),
                                   " ".join(x["word"] for x in cur)))
                    cur = []
            cur.append(w)
        if cur:
            out.append(Cue(float(cur[0]["start_time"]), float(cur[-1]["end_time"]), " ".join(x["word"] for x in cur)))
    out.sort(key=lambda c: c.start)
    for i, c in enumerate(out):
        nxt = out[i + 1].start if i + 1 < len(out) else None
        c.end = max(c.end, c.start + min_seconds)
        if nxt is not None and c.end > nxt:
            c.end = max(c.start + 0.001, nxt)
        c.text = wrap(c.text, max_chars) if max_lines > 1 else c.text
    return out


def _stamp(t: float, sep: str) -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(items: Sequence[Cue]) -> str:
    blocks = []
    for i, c in enumerate(items, 1):
        text = "\n".join(line for line in c.text.splitlines() if line.strip())
        blocks.append(f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def _vtt_text(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(line for line in text.splitlines() if line.strip())


def to_vtt(items: Sequence[Cue], language: str | None = None) -> str:
    head = "WEBVTT\nKind: captions\n" + (f"Language: {language}\n" if language else "")
    blocks = [head]
    for i, c in enumerate(items, 1):
        blocks.append(f"{i}\n{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{_vtt_text(c.text)}\n")
    return "\n".join(blocks)


def captions_text(speech: dict | None, fmt: str) -> str:
    """SRT or VTT text of a video's ``speech`` export dict (empty captions when there is none)."""
    fmt = fmt.lower()
    if fmt not in ("srt", "vtt"):
        raise ValueError(f"unknown caption format {fmt!r} (use srt or vtt)")
    items = cues((speech or {}).get("segments") or [])
    return to_srt(items) if fmt == "srt" else to_vtt(items, (speech or {}).get("language"))


def write_captions(speech: dict | None, out: str | Path, fmt: str | None = None) -> Path:
    out = Path(out)
    text = captions_text(speech, fmt or out.suffix.lstrip("."))
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
