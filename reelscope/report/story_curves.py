"""The report's emotion / importance section: the curves over time (plotly, offline) with the
shots' importance, and the video's highlight summaries (segments shaded on the time axis)."""
from __future__ import annotations

from html import escape

SERIES = [("importance", "importance", "#d9480f", "y"), ("emotion.arousal", "arousal", "#2f80ed", "y"),
          ("emotion.valence", "valence", "#2b8a3e", "y2"), ("audio.arousal", "audio arousal", "#868e96", "y")]


def gather(archive, video) -> dict:
    """The curves and summaries of a video, for ``render_report`` (keys "curves", "summaries")."""
    from sqlalchemy import select

    from reelscope.archive import schema as db
    from reelscope.archive.summaries import list_summaries, summary_dict

    with archive.session() as s:
        rows = s.scalars(select(db.Curve).where(db.Curve.video_id == video.id))
        curves = {c.name: {"t0": c.t0, "step": c.step, "values": list(c.values)} for c in rows}
    return {"curves": curves, "summaries": [summary_dict(r) for r in list_summaries(archive, video.id)]}


def curves_figure(curves: dict, shots: list[dict], summary: dict | None = None):
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, label, colour, axis in SERIES:
        c = curves.get(name)
        if not c or not c["values"]:
            continue
        xs = [c["t0"] + (i + 0.5) * c["step"] for i in range(len(c["values"]))]
        fig.add_trace(go.Scatter(x=xs, y=c["values"], mode="lines", name=label, yaxis=axis,
                                 line=dict(color=colour, width=2 if name != "audio.arousal" else 1,
                                           dash="dot" if name == "audio.arousal" else None),
                                 hovertemplate=f"{label} %{{y:.2f}} at %{{x:.1f}} s<extra></extra>"))
    imp = [s for s in shots if s.get("importance") is not None]
    if imp:
        fig.add_trace(go.Scatter(x=[(s["start_time"] + s["end_time"]) / 2 for s in imp],
                                 y=[s["importance"] for s in imp], mode="markers", name="shot importance",
                                 marker=dict(color="#d9480f", size=6, symbol="diamond"),
                                 customdata=[s["index"] + 1 for s in imp],
                                 hovertemplate="shot %{customdata}: importance %{y:.2f}<extra></extra>"))
    for k, sg in enumerate((summary or {}).get("segments", [])):
        label = {"annotation_text": "newest summary", "annotation_position": "top left"} if k == 0 else {}
        fig.add_vrect(x0=sg["start_time"], x1=sg["end_time"], fillcolor="#f59f00", opacity=0.18, line_width=0,
                      **label)
    fig.update_layout(template="plotly_white", height=320, margin=dict(l=52, r=52, t=36, b=44),
                      xaxis_title="time (s)", yaxis=dict(title="0..1", range=[0, 1.02]),
                      yaxis2=dict(title="valence", range=[-1.02, 1.02], overlaying="y", side="right",
                                  tickvals=[-1, -0.5, 0, 0.5, 1], zeroline=True, showgrid=False),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
    return fig


def curves_section(data: dict, config: dict) -> str:
    """HTML of the section, or "" when the video has neither curves nor summaries."""
    curves, summaries = data.get("curves") or {}, data.get("summaries") or []
    if not any(name in curves for name, *_ in SERIES) and not summaries:
        return ""
    latest = summaries[-1] if summaries else None
    fig = curves_figure(curves, data.get("shots") or [], latest)
    chart = fig.to_html(full_html=False, include_plotlyjs=False, config=config, div_id="story-curves")
    rows = []
    for s in summaries:
        segs = ", ".join(f"{sg['start_time']:.1f}–{sg['end_time']:.1f}" for sg in s["segments"])
        rows.append(f"<tr><td class='num'>{s['id']}</td><td class='num'>{s['seconds']:.1f}</td>"
                    f"<td class='num'>{s['target_seconds']:.1f}</td><td class='num'>{len(s['segments'])}</td>"
                    f"<td>{escape(segs)}</td><td class='mono'>{escape(s.get('media') or 'not rendered')}</td></tr>")
    table = ("<div class='scroll'><table><thead><tr><th class='num'>summary</th><th class='num'>seconds</th>"
             "<th class='num'>asked</th><th class='num'>segments</th><th>spans of the source (s)</th>"
             f"<th>file (media store)</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>") if rows else \
        "<p class='empty'>No summaries yet: <code>reelscope summarize VIDEO --length 60s</code>.</p>"
    note = ("<p class='hint'>Importance (0..1) drives the summaries; arousal and valence come from faces and "
            "sound. The newest summary's segments are shaded.</p>")
    return (f"<section><h2>Emotion, importance and summaries</h2>{note}<div class='chart'>{chart}</div>"
            f"<h3>Summaries</h3>{table}</section>")
