"""One self-contained HTML report per video.

``render_report`` is pure: it takes the documented export dict of a video
(:func:`reelscope.archive.export.video_dict`) and the keyframe JPEGs, and returns one HTML
page that works offline: thumbnails are data URIs, plotly.js is inlined once, nothing is
fetched from the network. ``write_report`` gathers both from an archive and writes the
file atomically.
"""
from __future__ import annotations

import base64
import json
import os
from datetime import datetime
from fractions import Fraction
from html import escape
from pathlib import Path

from reelscope.archive.export import SCHEMA_ID, SCHEMA_VERSION, video_dict
from reelscope.media.timecode import seconds_to_timecode
from reelscope.report.story_curves import curves_section, gather
from reelscope.report.text_section import text_section

# Colours of the transition that starts a shot ("start" = first shot of the video).
COLOURS = {"start": "#9aa5b1", "cut": "#3e4c59", "dissolve": "#2f80ed", "fade": "#9b51e0",
           "wipe": "#f2994a", "other": "#27ae60"}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def write_report(archive, video, out_path: str | Path) -> Path:
    """Write the HTML report of ``video`` (ORM row with shots, keyframes, transitions, runs)."""
    data = video_dict(video, archive)
    data.update(gather(archive, video))  # curves and summaries (not in the export dict)
    images = {}
    for shot in data["shots"]:
        for kf in shot["keyframes"][:1]:
            path = archive.media_path(kf["image"])
            if path.is_file():
                images[kf["image"]] = path.read_bytes()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(data, images)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def render_report(data: dict, images: dict[str, bytes]) -> str:
    """The report page for one video's export dict; ``images`` maps keyframe "image" paths to bytes."""
    from reelscope import __version__

    fps = Fraction(data["fps"])
    shots = data["shots"]
    title = escape(data["filename"])
    body = [
        f"<header><p class='kicker'>reelscope report</p><h1>{title}</h1>",
        f"<p class='path'>{escape(data.get('path') or '')}</p></header>",
        _facts(data, fps),
        _runs(data["analysis_runs"]),
        _section("Shots", _strip(shots, images, data), f"{len(shots)} shot{'s' * (len(shots) != 1)}"),
        _section("Shot lengths", _charts(shots)),
        _story(shots),
        curves_section(data, PLOTLY_CONFIG),
        _transcript(data.get("speech"), fps),
        text_section(data, fps),
        _section("Transitions", _transitions(data, fps), f"{len(data['transitions'])}"),
        f"<footer>Export schema <code>{SCHEMA_ID}</code> version {SCHEMA_VERSION} · "
        f"reelscope {escape(__version__)} · generated {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}<br>"
        "The same data is available as JSON (and as EDL/OTIO shot lists) via "
        "<code>reelscope export</code>.</footer>",
    ]
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{title} · reelscope</title><style>{CSS}</style></head>\n"
            f"<body><main>{''.join(body)}</main></body></html>\n")


# ---- sections ----------------------------------------------------------------------------
def _section(title: str, content: str, count: str | None = None) -> str:
    badge = f" <span class='count'>{escape(count)}</span>" if count else ""
    return f"<section><h2>{escape(title)}{badge}</h2>{content}</section>"


def _durations(shots: list[dict]) -> list[float]:
    return [s["end_time"] - s["start_time"] for s in shots]


def _facts(data: dict, fps: Fraction) -> str:
    durs = _durations(data["shots"])
    fps_text = f"{float(fps):.3f}".rstrip("0").rstrip(".") + " fps"
    if fps.denominator != 1:
        fps_text += f" ({fps.numerator}/{fps.denominator})"
    if data.get("variable_frame_rate"):
        fps_text += " · variable"
    res = f"{data['width']}×{data['height']}"
    if data.get("rotation"):
        res += f" · rotated {data['rotation']}°"
    audio = f"yes ({data['audio_codec']})" if data.get("has_audio") and data.get("audio_codec") \
        else ("yes" if data.get("has_audio") else "no")
    facts = [
        ("Resolution", res), ("Frame rate", fps_text),
        ("Duration", f"{seconds_to_timecode(data['duration'])} ({data['duration']:.2f} s)"),
        ("Frames", f"{data['frame_count']:,}"),
        ("Codec", data.get("codec") or "?"), ("Container", (data.get("container") or "?").replace(",", ", ")),
        ("Audio", audio), ("File size", _size(data.get("size_bytes"))),
        ("Shots", str(len(durs))),
        ("Average shot length", f"{sum(durs) / len(durs):.2f} s" if durs else "–"),
    ]
    tiles = "".join(f"<div class='fact'><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return f"<dl class='facts'>{tiles}</dl>"


def _size(n: int | None) -> str:
    if not n:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "?"


def _runs(runs: list[dict]) -> str:
    if not runs:
        return _section("Analysis runs", "<p class='empty'>No analysis runs stored.</p>")
    rows = []
    for r in runs:
        models = r.get("models") or {}
        models_text = ", ".join(map(str, models)) if isinstance(models, dict) else str(models)
        secs = r.get("seconds")
        rows.append(
            f"<tr><td><b>{escape(str(r['stage']))}</b>"
            + (f" <span class='muted'>{escape(str(r['status']))}</span>" if r.get("status") != "complete" else "")
            + f"</td><td>{_params(r.get('params') or {})}</td><td>{escape(models_text) or '–'}</td>"
            f"<td>{escape(str(r.get('reelscope_version') or '?'))}</td>"
            f"<td>{escape(_when(r.get('finished_at') or r.get('started_at')))}</td>"
            f"<td class='num'>{'–' if secs is None else f'{secs:.2f}'}</td></tr>")
    table = ("<table class='runs'><thead><tr><th>stage</th><th>settings</th><th>models</th>"
             "<th>reelscope</th><th>when</th><th class='num'>seconds</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    return _section("Analysis runs", f"<div class='scroll'>{table}</div>")


def _params(params: dict) -> str:
    """Headline (detector and version, or the few requested settings) plus the full parameters."""
    p = {k: v for k, v in params.items() if not k.startswith("_")} or dict(params.get("_requested") or {})
    head = []
    if "detector" in p:
        head.append(f"detector <b>{escape(str(p.pop('detector')))}</b>"
                    + (f" v{escape(str(p.pop('version')))}" if "version" in p else ""))
    if len(p) <= 3:
        head += [f"{escape(str(k))}={escape(json.dumps(v))}" for k, v in p.items()]
        p = {}
    text = ", ".join(head) or "defaults"
    if p:
        text += (f" <details><summary>{len(p)} parameters</summary>"
                 f"<pre>{escape(json.dumps(p, indent=1, sort_keys=True))}</pre></details>")
    return text


def _when(iso: str | None) -> str:
    if not iso:
        return "?"
    try:
        return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M:%S %Z}".strip()
    except ValueError:
        return iso


def _strip(shots: list[dict], images: dict[str, bytes], data: dict) -> str:
    if not shots:
        return "<p class='empty'>No shots stored for this video (run the shots stage).</p>"
    aspect = f"{data['width'] or 16} / {data['height'] or 9}"
    objects: dict[int, dict[str, int]] = {}  # shot -> COCO class -> tracks
    for t in (data.get("objects") or {}).get("tracks") or []:
        per = objects.setdefault(t.get("shot_index"), {})
        per[t["label"]] = per.get(t["label"], 0) + 1
    cells = []
    for s, dur in zip(shots, _durations(shots)):
        kf = s["keyframes"][0] if s["keyframes"] else None
        blob = images.get(kf["image"]) if kf else None
        if blob:
            mime = "image/png" if kf["image"].lower().endswith(".png") else "image/jpeg"
            pic = (f"<img src='data:{mime};base64,{base64.b64encode(blob).decode('ascii')}' "
                   f"width='{kf['width']}' height='{kf['height']}' "
                   f"alt='shot {s['index'] + 1}, frame {kf['frame']}'>")
        else:
            pic = "<div class='noimg'>no keyframe</div>"
        t_in = s.get("transition_in")
        badge = f"<span class='badge' style='background:{_colour(t_in)}'>{escape(t_in)}</span>" \
            if t_in and t_in != "cut" else ""
        frames = f"frames {s['start_frame']}–{s['end_frame']} ({s['frame_count']})"
        if kf:
            frames += f" · keyframe {kf['frame']}"
        cells.append(
            f"<figure class='shot' tabindex='0' title='{escape(frames)}'>"
            f"<div class='pic' style='aspect-ratio:{aspect}'>{pic}{badge}"
            f"<div class='range'>{escape(frames)}</div></div>"
            f"<figcaption><b>#{s['index'] + 1}</b> <span>{escape(s['start_timecode'])}</span>"
            f"<span class='dur'>{dur:.2f} s</span>{_shot_facts(s, objects.get(s['index']))}</figcaption></figure>")
    return ("<p class='hint'>Hover or click a keyframe for its frame range; badges mark shots that "
            f"begin with a gradual transition.</p><div class='strip'>{''.join(cells)}</div>")


def _shot_facts(s: dict, objects: dict[str, int] | None) -> str:
    """What the later stages found in a shot, one short line each (nothing when not analysed)."""
    lines = []
    if s.get("size"):
        lines.append(f"size {s['size']}")
    if s.get("mood"):
        lines.append(f"mood {s['mood']}")
    if s.get("importance") is not None:
        lines.append(f"importance {s['importance']:.2f}")
    emo = s.get("emotion") or {}
    if emo.get("dominant") and emo["dominant"] != "none":
        lines.append(f"emotion {emo['dominant']}")
    if objects:
        lines.append("objects " + ", ".join(k if n == 1 else f"{k} x{n}"
                                            for k, n in sorted(objects.items(), key=lambda kv: -kv[1])[:4]))
    tags = [t["label"] for t in s.get("tags") or [] if t.get("source") == "imagenet"][:3]
    if tags:
        lines.append("tags " + ", ".join(tags))
    return "".join(f"<span class='sfact'>{escape(x)}</span>" for x in lines)


def _colour(kind: str | None) -> str:
    return COLOURS.get(kind or "start", COLOURS["other"])


def _charts(shots: list[dict]) -> str:
    if not shots:
        return "<p class='empty'>No shots.</p>"
    import plotly.graph_objects as go

    durs = _durations(shots)
    layout = dict(template="plotly_white", height=320, margin=dict(l=52, r=12, t=36, b=44),
                  font=dict(family="system-ui, -apple-system, 'Segoe UI', sans-serif", size=12))
    bars = go.Figure()
    kinds = list(dict.fromkeys(s.get("transition_in") or "start" for s in shots))
    kinds.sort(key=lambda k: list(COLOURS).index(k) if k in COLOURS else len(COLOURS))
    for kind in kinds:
        sel = [(s, d) for s, d in zip(shots, durs) if (s.get("transition_in") or "start") == kind]
        bars.add_trace(go.Bar(
            x=[s["index"] + 1 for s, _ in sel], y=[round(d, 3) for _, d in sel],
            name="start of video" if kind == "start" else kind, marker_color=_colour(kind), width=0.8,
            customdata=[[s["start_timecode"], s["start_frame"], s["end_frame"]] for s, _ in sel],
            hovertemplate="shot %{x} · %{y:.2f} s<br>%{customdata[0]} · frames %{customdata[1]}"
                          "–%{customdata[2]}<extra>%{fullData.name}</extra>"))
    bars.update_layout(**layout, bargap=0.15, barmode="overlay", showlegend=True,
                       xaxis=dict(title="shot", dtick=1 if len(shots) <= 30 else None, tick0=1),
                       yaxis_title="seconds", legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))

    width = _bin_width(max(durs), len(durs))
    counts: dict[int, int] = {}
    for d in durs:
        counts[int(d // width)] = counts.get(int(d // width), 0) + 1
    bins = range(max(counts) + 1)
    hist = go.Figure(go.Bar(
        x=[(b + 0.5) * width for b in bins], y=[counts.get(b, 0) for b in bins], width=width * 0.94,
        marker_color=COLOURS["cut"], customdata=[[b * width, (b + 1) * width] for b in bins],
        hovertemplate="%{customdata[0]:.4g}–%{customdata[1]:.4g} s: %{y} shots<extra></extra>"))
    hist.update_layout(**layout, xaxis=dict(title="shot length (s)", range=[0, len(bins) * width]),
                       yaxis=dict(title="shots", dtick=1 if max(counts.values()) <= 8 else None))
    first = bars.to_html(full_html=False, include_plotlyjs=True, config=PLOTLY_CONFIG, div_id="shot-durations")
    second = hist.to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG, div_id="shot-histogram")
    return ("<div class='charts'>"
            f"<div class='chart'><h3>Shot durations, coloured by the transition that starts each shot</h3>{first}</div>"
            f"<div class='chart'><h3>Distribution of shot lengths</h3>{second}</div></div>")


def _story(shots: list[dict]) -> str:
    """Shot size over time and its distribution, when the shot_size stage has run."""
    if not any(s.get("size") for s in shots):
        return ""
    from reelscope.report.story import distribution_figure, size_timeline

    line = size_timeline(shots).to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG,
                                        div_id="shot-size-timeline")
    dist = distribution_figure(shots).to_html(full_html=False, include_plotlyjs=False, config=PLOTLY_CONFIG,
                                              div_id="shot-size-distribution")
    return _section("Story view: shot size over time",
                    "<div class='charts'>"
                    f"<div class='chart'><h3>Shot size of every shot, in order, with its duration</h3>{line}</div>"
                    f"<div class='chart'><h3>Share of running time by shot size</h3>{dist}</div></div>")


def _bin_width(longest: float, n: int) -> float:
    """A round histogram bin width giving roughly 2·sqrt(n) bins (5 to 30) up to the longest shot."""
    target = longest / min(30, max(5, round(2 * n ** 0.5)))
    for step in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if step >= target:
            return step
    return 1200.0


def _transitions(data: dict, fps: Fraction) -> str:
    trans = data["transitions"]
    if not trans:
        return "<p class='empty'>No transitions: the video is a single shot.</p>"
    # Times of boundaries come from the shots they start (exact for variable frame rates).
    starts = {s["start_frame"]: s["start_time"] for s in data["shots"]}
    rows = []
    for i, t in enumerate(trans, 1):
        b = t["boundary_frame"]
        tc = seconds_to_timecode(starts.get(b, float(b / fps)), fps)
        kind = t["type"]
        rows.append(
            f"<tr><td class='num'>{i}</td><td><span class='dot' style='background:{_colour(kind)}'></span>"
            f"{escape(kind)}</td><td class='num'>{t['start_frame']}</td><td class='num'>{t['end_frame']}</td>"
            f"<td class='num'>{b}</td><td class='mono'>{escape(tc)}</td>"
            f"<td class='num'>{t['score']:.3f}</td><td>{escape(t.get('detector') or '')}</td></tr>")
    return ("<div class='scroll'><table class='transitions'><thead><tr><th class='num'>#</th><th>type</th>"
            "<th class='num'>start frame</th><th class='num'>end frame</th><th class='num'>boundary frame</th>"
            "<th>time</th><th class='num'>score</th><th>detector</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _transcript(speech: dict | None, fps: Fraction) -> str:
    """The speech stage's transcript: language summary, then one row per segment (empty when the
    stage did not run)."""
    if speech is None:
        return ""
    if not speech.get("available"):
        return _section("Transcript", f"<p class='empty'>Not transcribed: {escape(speech.get('reason') or '?')}.</p>")
    segs = speech.get("segments") or []
    langs = speech.get("languages") or {}
    lang = speech.get("language")
    head = [f"model <b>{escape(str(speech.get('model') or '?'))}</b>"]
    if lang:
        prob = speech.get("language_probability")
        head.append(f"language <b>{escape(lang)}</b>" + (f" ({prob:.0%})" if isinstance(prob, (int, float)) else ""))
    if len(langs) > 1:
        head.append("by time: " + ", ".join(f"{escape(k)} {float(v):.0f} s" for k, v in langs.items()))
    if speech.get("speech_seconds") is not None:
        head.append(f"{float(speech['speech_seconds']):.0f} s of speech regions transcribed")
    if not segs:
        return _section("Transcript", f"<p class='hint'>{' · '.join(head)}</p><p class='empty'>No speech found.</p>")
    multi = len(langs) > 1
    rows = []
    for g in segs:
        tc = seconds_to_timecode(g["start_time"], fps)
        rows.append(f"<tr><td class='mono'>{escape(tc)}</td><td class='num'>{g['end_time'] - g['start_time']:.1f}</td>"
                    + (f"<td>{escape(g.get('language') or '')}</td>" if multi else "")
                    + f"<td>{escape(g['text'])}</td></tr>")
    table = ("<div class='scroll transcript'><table><thead><tr><th>time</th><th class='num'>seconds</th>"
             + ("<th>language</th>" if multi else "") + "<th>text</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table></div>")
    return _section("Transcript", f"<p class='hint'>{' · '.join(head)}</p>{table}", str(len(segs)))


CSS = """
:root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;--accent:#2f80ed}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:24px 28px 40px}
header h1{margin:0 0 2px;font-size:26px;word-break:break-all}
.kicker{margin:0;color:var(--accent);font-weight:600;text-transform:uppercase;letter-spacing:.08em;font-size:11px}
.path{margin:0 0 16px;color:var(--muted);font-size:12px;word-break:break-all}
h2{font-size:17px;margin:0 0 12px}
.count{display:inline-block;background:var(--bg);border:1px solid var(--line);border-radius:10px;
 padding:0 8px;font-size:12px;color:var(--muted);font-weight:500;vertical-align:2px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:16px 0}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:0}
.fact{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.fact dt{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.fact dd{margin:2px 0 0;font-size:15px;font-weight:600;word-break:break-word}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px;background:var(--card);position:sticky;top:0}
tbody tr:hover{background:#f9fafb}
.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.scroll{overflow-x:auto}
.transcript{max-height:480px;overflow-y:auto}
.muted,.hint,.empty{color:var(--muted)}
.hint{margin:-6px 0 12px;font-size:12px}
details{display:inline-block;margin-left:4px}
summary{cursor:pointer;color:var(--accent)}
.sfact{display:block;font-size:.8em;opacity:.75}
pre{margin:6px 0 0;font-size:11px;max-height:240px;overflow:auto;background:var(--bg);padding:6px 8px;border-radius:4px}
.strip{display:grid;grid-template-columns:repeat(auto-fill,minmax(148px,1fr));gap:10px}
.shot{margin:0;cursor:pointer;outline:none}
.pic{position:relative;background:#000;border-radius:5px;overflow:hidden}
.pic img{display:block;width:100%;height:100%;object-fit:contain}
.noimg{display:flex;align-items:center;justify-content:center;height:100%;color:#cbd2d9;font-size:12px}
.badge{position:absolute;top:5px;left:5px;color:#fff;font-size:10px;font-weight:600;padding:1px 6px;
 border-radius:8px;text-transform:uppercase;letter-spacing:.04em}
.range{display:none;position:absolute;left:0;right:0;bottom:0;background:rgba(0,0,0,.72);color:#fff;
 font-size:11px;padding:4px 6px}
.shot:hover .range,.shot:focus .range{display:block}
.shot:focus .pic{box-shadow:0 0 0 2px var(--accent)}
figcaption{display:flex;gap:6px;align-items:baseline;font-size:12px;padding:4px 1px 0;
 font-variant-numeric:tabular-nums;white-space:nowrap}
figcaption span{color:var(--muted)}
figcaption .dur{margin-left:auto;color:var(--fg)}
.charts{display:grid;grid-template-columns:2fr 1fr;gap:12px}
.chart{min-width:0}
h3{font-size:13px;font-weight:600;margin:0 0 4px;color:var(--muted)}
@media (max-width:900px){.charts{grid-template-columns:1fr}}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}
.ocr{font-weight:600;word-break:break-word}
code{background:var(--card);border:1px solid var(--line);border-radius:4px;padding:0 4px;font-size:12px}
"""
