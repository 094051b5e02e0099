"""The story view: shot size over time (per shot, in order, with durations) and the per-video
distribution of shot sizes, as plotly figures for the HTML report."""
from __future__ import annotations

SIZES = ["ECU", "CU", "MS", "FS", "LS"]
SIZE_COLOURS = {"ECU": "#b3261e", "CU": "#e8710a", "MS": "#f2b705", "FS": "#3c9d5d", "LS": "#2b6cb0"}
SIZE_NAMES = {"ECU": "extreme close-up", "CU": "close-up", "MS": "medium shot", "FS": "full shot", "LS": "long shot"}


def size_timeline(shots: list[dict]):
    """One horizontal segment per shot at its size's row, from its start to its end time."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for size in SIZES:
        sel = [s for s in shots if s.get("size") == size]
        if not sel:
            continue
        fig.add_trace(go.Bar(
            orientation="h", y=[size] * len(sel), base=[s["start_time"] for s in sel],
            x=[s["end_time"] - s["start_time"] for s in sel], name=f"{size} ({SIZE_NAMES[size]})",
            marker_color=SIZE_COLOURS[size], width=0.8,
            customdata=[[s["index"] + 1, s["start_timecode"], s.get("size_confidence") or 0] for s in sel],
            hovertemplate="shot %{customdata[0]} · %{customdata[1]}<br>%{x:.2f} s · confidence "
                          "%{customdata[2]:.2f}<extra>%{fullData.name}</extra>"))
    # the rhythm line: shot size as a step function of time (ECU high, LS low)
    xs, ys = [], []
    for s in shots:
        if s.get("size") in SIZES:
            xs += [s["start_time"], s["end_time"]]
            ys += [s["size"], s["size"]]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#555", width=1), name="rhythm",
                             hoverinfo="skip"))
    fig.update_layout(template="plotly_white", height=300, margin=dict(l=52, r=12, t=36, b=44),
                      barmode="overlay", xaxis_title="time (s)",
                      yaxis=dict(categoryorder="array", categoryarray=list(reversed(SIZES)), range=[-0.5, 4.5]),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
    return fig


def size_distribution(shots: list[dict]) -> dict[str, dict]:
    """Per size: number of shots, total seconds and share of the classified running time."""
    total = sum(s["end_time"] - s["start_time"] for s in shots if s.get("size") in SIZES) or 1.0
    out = {}
    for size in SIZES:
        sel = [s for s in shots if s.get("size") == size]
        secs = sum(s["end_time"] - s["start_time"] for s in sel)
        out[size] = {"shots": len(sel), "seconds": round(secs, 3), "share": round(secs / total, 4)}
    return out


def distribution_figure(shots: list[dict]):
    import plotly.graph_objects as go

    dist = size_distribution(shots)
    fig = go.Figure(go.Bar(x=SIZES, y=[dist[s]["share"] * 100 for s in SIZES],
                           marker_color=[SIZE_COLOURS[s] for s in SIZES],
                           customdata=[[dist[s]["shots"], dist[s]["seconds"]] for s in SIZES],
                           hovertemplate="%{x}: %{y:.1f}% of the time<br>%{customdata[0]} shots, "
                                         "%{customdata[1]:.1f} s<extra></extra>"))
    fig.update_layout(template="plotly_white", height=300, margin=dict(l=52, r=12, t=36, b=44),
                      yaxis_title="% of running time", xaxis_title="shot size")
    return fig
