"""A summary as an editor's rough cut: OpenTimelineIO (.otio) or CMX 3600 EDL (.edl).

One clip per segment, referencing the source file, in playing order; with a crossfade, an SMPTE
dissolve at each joint. The render (reelscope.story.render) overlaps the last x frames of a
segment with the first x of the next; in edit terms that is a cut in the middle of the overlap
with a dissolve of x frames using x/2 handle frames each side, so the rough cut's duration and
every frame's source equal the rendered file's. Segments that follow each other in the source
(consecutive shots) join without a dissolve, as in the render. The OTIO timeline also carries an audio track
with the same clips and transitions (EDL: picture only, as CMX 3600 events; audio follows video).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def to_timeline(source: str | Path, fps: float, frame_count: int, segments: Sequence[dict], *,
                crossfade: float = 0.3, name: str = "summary", audio: bool = True):
    """segments: [{start_time, end_time, shot?, score?}] in playing order."""
    import opentimelineio as otio

    from reelscope.story.render import layout

    rate = float(fps)
    lay = layout([(s["start_time"], s["end_time"]) for s in segments], rate, crossfade)
    counts, x = lay.counts, lay.overlaps
    ref = otio.schema.ExternalReference(
        target_url=Path(source).resolve().as_uri(),
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                otio.opentime.RationalTime(frame_count, rate)))
    tracks = [otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)]
    if audio:
        tracks.append(otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio))
    stem = Path(source).stem
    for k, (seg, n) in enumerate(zip(segments, counts)):
        x_in = x[k - 1] if k else 0
        x_out = x[k] if k < len(x) else 0
        head, tail = x_in - x_in // 2, x_out // 2  # frames of this segment inside the neighbouring dissolves
        first = int(round(lay.starts[k] * rate)) + head
        length = n - head - tail
        for tr in tracks:
            if x_in:
                tr.append(otio.schema.Transition(
                    name="dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=otio.opentime.RationalTime(x_in // 2, rate),
                    out_offset=otio.opentime.RationalTime(x_in - x_in // 2, rate)))
            clip = otio.schema.Clip(name=f"{stem} segment {k + 1:03d}", media_reference=ref.clone(),
                                    source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(first, rate),
                                                                         otio.opentime.RationalTime(length, rate)))
            clip.metadata["reelscope"] = {k2: seg.get(k2) for k2 in ("shot", "score", "start_time", "end_time")}
            tr.append(clip)
    tl = otio.schema.Timeline(name=name)
    for tr in tracks:
        tl.tracks.append(tr)
    tl.metadata["reelscope"] = {"kind": "summary", "crossfade": crossfade, "segments": len(segments)}
    return tl


def write_roughcut(source: str | Path, fps: float, frame_count: int, segments: Sequence[dict], out: str | Path,
                   fmt: str | None = None, *, crossfade: float = 0.3, name: str = "summary") -> Path:
    """Write the rough cut as .otio or .edl (format from the extension unless ``fmt``)."""
    import opentimelineio as otio

    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in ("otio", "edl"):
        raise ValueError(f"{out}: unknown rough-cut format {fmt!r} (use .edl or .otio)")
    tl = to_timeline(source, fps, frame_count, segments, crossfade=crossfade, name=name, audio=fmt == "otio")
    tmp = out.with_name(out.name + ".part")
    try:
        if fmt == "otio":
            otio.adapters.write_to_file(tl, str(tmp), adapter_name="otio_json")
        else:
            otio.adapters.write_to_file(tl, str(tmp), adapter_name="cmx_3600")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
