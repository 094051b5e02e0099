"""CLI output for the speech stage: the transcript under `reelscope show`."""
from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from reelscope.cli.common import out
from reelscope.media.timecode import seconds_to_timecode


def print_speech(data: dict, limit: int = 20) -> None:
    """Print the transcript of a video_dict: language, then up to ``limit`` segments (nothing when
    the speech stage has not run)."""
    speech = data.get("speech")
    if speech is None:
        return
    if not speech.get("available"):
        out.print(f"[bold]speech[/bold]: not transcribed ({escape(speech.get('reason') or '?')})")
        return
    segs = speech.get("segments") or []
    langs = speech.get("languages") or {}
    lang = speech.get("language") or "?"
    by_time = f" ({', '.join(f'{k} {float(v):.0f}s' for k, v in langs.items())})" if len(langs) > 1 else ""
    out.print(f"[bold]speech[/bold]: {len(segs)} segments, language {escape(lang)}{by_time}, "
              f"{escape(str(speech.get('model') or ''))}")
    if not segs:
        return
    from fractions import Fraction

    fps = Fraction(data.get("fps") or "25")
    t = Table("time", "text")
    for g in segs[:limit]:
        t.add_row(seconds_to_timecode(g["start_time"], fps), escape(g["text"]))
    out.print(t)
    if len(segs) > limit:
        out.print(f"... {len(segs) - limit} more (reelscope export VIDEO -o transcript.srt)")
