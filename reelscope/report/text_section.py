"""The report's on-screen text section: every text span (text stage) with its time range, shot,
confidence and place on screen, in order of appearance."""
from __future__ import annotations

from fractions import Fraction
from html import escape

from reelscope.media.timecode import seconds_to_timecode


def text_section(data: dict, fps: Fraction) -> str:
    """A table of the export dict's ``text.spans``, or '' when the text stage has not run."""
    text = data.get("text")
    if text is None:
        return ""
    spans = text.get("spans") or []
    if text.get("disabled"):
        body = "<p class='empty'>On-screen text was switched off for this video (text.enabled=false).</p>"
    elif not spans:
        body = "<p class='empty'>No on-screen text was read.</p>"
    else:
        rows = []
        for s in spans:
            x, y, w, h = s["box"]
            others = [t for t in (s.get("readings") or {}) if t != s["text"]]
            alt = (f" <span class='muted' title='other readings'>({escape(' / '.join(others[:3]))})</span>"
                   if others else "")
            shot = "" if s.get("shot_index") is None else str(s["shot_index"] + 1)
            rows.append(
                f"<tr><td class='mono'>{escape(seconds_to_timecode(s['start_time'], fps))}</td>"
                f"<td class='mono'>{escape(seconds_to_timecode(s['end_time'], fps))}</td>"
                f"<td class='num'>{shot}</td><td class='ocr'>{escape(s['text'])}{alt}</td>"
                f"<td class='num'>{s['score']:.2f}</td><td class='num'>{s['samples']}</td>"
                f"<td class='mono'>{x:.0f},{y:.0f} {w:.0f}×{h:.0f}</td></tr>")
        body = ("<p class='hint'>Lines read on sampled frames (PP-OCRv5) and merged over time: the same text at "
                "about the same place. Box: x,y and size in video pixels.</p>"
                "<div class='scroll'><table class='text-spans'><thead><tr><th>from</th><th>to</th>"
                "<th class='num'>shot</th><th>text</th><th class='num'>confidence</th><th class='num'>samples</th>"
                f"<th>box</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    count = f"{len(spans)} span{'s' * (len(spans) != 1)}"
    return (f"<section id='text'><h2>On-screen text <span class='count'>{escape(count)}</span></h2>"
            f"{body}</section>")
