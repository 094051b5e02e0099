"""Exports: the versioned archive JSON (see docs/export-schema.md) and shot lists as
CMX 3600 EDL or OpenTimelineIO for editing software."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

from reelscope.archive import schema as db
from reelscope.media.timecode import seconds_to_timecode

SCHEMA_ID = "reelscope.archive"
SCHEMA_VERSION = 1


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()


def stage_exports(archive, v: db.Video) -> dict:
    """What stages with an ``export`` hook in their archive writer add to a video's JSON (key ->
    value), so a new stage appears in the export without editing this module."""
    from reelscope.archive.writers import writers

    hooks = [w for w in writers().values() if w.export is not None]
    if archive is None or not hooks:
        return {}
    with archive.session() as s:
        return {w.export_key or w.stage: w.export(s, v.id) for w in hooks}


def video_dict(v: db.Video, archive=None) -> dict:
    """A video's export JSON; with ``archive``, also the stages' own export sections."""
    fps = Fraction(v.fps_num, v.fps_den)
    tags_by_shot: dict[int, list[dict]] = {}
    for t in (v.shot_tags if _loaded(v, "shot_tags") else []):
        tags_by_shot.setdefault(t.shot_idx, []).append({"label": t.label, "source": t.source,
                                                        "score": round(t.score, 4)})
    return {
        "id": v.id,
        "fingerprint": v.fingerprint,
        "path": v.path,
        "filename": v.filename,
        "size_bytes": v.size_bytes,
        "container": v.container,
        "codec": v.codec,
        "width": v.width,
        "height": v.height,
        "rotation": v.rotation,
        "fps": f"{fps.numerator}/{fps.denominator}",
        "frame_count": v.frame_count,
        "duration": round(v.duration, 6),
        "variable_frame_rate": v.variable_frame_rate,
        "has_audio": v.has_audio,
        "audio_codec": v.audio_codec,
        "analysis_runs": [{
            "stage": r.stage, "status": r.status, "params": r.params, "models": r.models,
            "reelscope_version": r.reelscope_version, "started_at": _iso(r.started_at),
            "finished_at": _iso(r.finished_at), "seconds": r.seconds,
        } for r in v.runs],
        "transitions": [{
            "type": t.type, "start_frame": t.start_frame, "end_frame": t.end_frame,
            "boundary_frame": t.boundary_frame, "score": round(t.score, 4), "detector": t.detector,
        } for t in v.transitions],
        "shots": [{
            "index": s.idx, "start_frame": s.start_frame, "end_frame": s.end_frame,
            "frame_count": s.length, "start_time": round(s.start_time, 6), "end_time": round(s.end_time, 6),
            "start_timecode": seconds_to_timecode(s.start_time, fps),
            "transition_in": s.transition_in, "transition_out": s.transition_out,
            "size": s.size, "size_confidence": None if s.size_confidence is None else round(s.size_confidence, 4),
            "size_evidence": s.size_evidence,
            "emotion": s.emotion,  # {valence, arousal, dominant, face_share, audio_arousal} or null
            "importance": s.importance,  # 0..1 (importance stage) or null
            "mood": s.mood,  # mood stage: one of reelscope.mood.circle.MOODS, or null
            "mood_confidence": s.mood_confidence,
            "tags": tags_by_shot.get(s.idx, []),  # shot-level tags [{label, source, score}], best first per source
            "keyframes": [{
                "frame": k.frame, "time": round(k.time, 6), "method": k.method, "image": k.image,
                "width": k.width, "height": k.height,
                "sharpness": None if k.sharpness is None else round(k.sharpness, 3),
            } for k in s.keyframes],
        } for s in v.shots],
        "characters": [{
            "id": c.id, "index": c.idx, "name": c.identity.name if c.identity else None,
            "identity_id": c.identity_id, "naming": c.naming,  # unknown | named | recognised
            "match_distance": None if c.match_distance is None else round(c.match_distance, 4),
            "screen_time": round(c.screen_time, 3), "first_frame": c.first_frame, "last_frame": c.last_frame,
            "first_time": round(c.first_time, 3), "last_time": round(c.last_time, 3),
            "thumbnail": c.thumbnail, "expressions": {k: round(x, 4) for k, x in c.expressions.items()},
        } for c in v.characters],
        "audio": audio_dict(v),
        "emotion": emotion_dict(v),
        "objects": _objects_dict(v),
        **stage_exports(archive, v),
    }


def _loaded(v: db.Video, attr: str) -> bool:
    from sqlalchemy import inspect

    return attr not in inspect(v).unloaded


def _curve(c: db.Curve, data: bool = True) -> dict:
    d = {"t0": c.t0, "step": c.step, "unit": c.unit, "values": c.values}
    if data and c.data:
        d["data"] = c.data
    return d


def audio_dict(v: db.Video) -> dict | None:
    """The audio stage's results: summary, segments, curves ``audio.*`` (null when not analysed)."""
    curves = {c.name[len("audio."):]: c for c in (v.curves if _loaded(v, "curves") else []) if c.stage == "audio"}
    segments = v.audio_segments if _loaded(v, "audio_segments") else []
    if not curves and not segments:
        return None
    summary = dict(curves["loudness"].data) if "loudness" in curves else {}
    return {
        "summary": summary,
        "segments": [{"kind": a.kind, "start_time": round(a.start_time, 3), "end_time": round(a.end_time, 3),
                      "loudness": a.loudness, "arousal": a.arousal, "confidence": a.confidence, "data": a.data}
                     for a in segments],
        "curves": {name: _curve(c, data=False) for name, c in curves.items()},
    }


def emotion_dict(v: db.Video) -> dict | None:
    """The emotion stage's curves (null when not analysed)."""
    curves = {c.name: c for c in (v.curves if _loaded(v, "curves") else []) if c.stage == "emotion"}
    val = curves.get("emotion.valence")
    if val is None:
        return None
    aro, conf = curves.get("emotion.arousal"), curves.get("emotion.confidence")
    return {"t0": val.t0, "step": val.step, "valence": val.values, "arousal": aro.values if aro else None,
            "confidence": conf.values if conf else None, "dominant": (val.data or {}).get("dominant"),
            "sources": (val.data or {}).get("sources")}


def archive_dict(videos: list[db.Video], archive=None) -> dict:
    from reelscope import __version__

    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "reelscope_version": __version__,
        "exported_at": datetime.now(timezone.utc).isoformat(),
        "videos": [video_dict(v, archive) for v in videos],
    }


def write_json(videos: list[db.Video], out: str | Path, archive=None) -> Path:
    out = Path(out)
    tmp = out.with_suffix(out.suffix + ".part")
    tmp.write_text(json.dumps(archive_dict(videos, archive), indent=2))
    tmp.replace(out)
    return out


def _objects_dict(v: db.Video) -> dict | None:
    from reelscope.archive.objects_io import objects_dict

    return objects_dict(v)


def write_seed(archive, v: db.Video, out: str | Path) -> Path:
    """The seed system's per-frame form of one video (objects and faces), as a JSON list
    (``reelscope.archive.objects_io.seed_frames``; docs/export-schema.md)."""
    from reelscope.archive.objects_io import seed_frames

    out = Path(out)
    with archive.session() as s:
        data = seed_frames(s, v.id)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text("[\n" + ",\n".join(json.dumps(f) for f in data) + "\n]\n")  # one frame per line
    tmp.replace(out)
    return out


def write_sizes_csv(v: db.Video, out: str | Path) -> Path:
    """The story view as CSV: one row per shot, in order, with its times, duration and size."""
    import csv

    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["shot", "start_frame", "end_frame", "start_time", "end_time", "duration", "size",
                    "size_confidence", "transition_in"])
        for s in v.shots:
            w.writerow([s.idx + 1, s.start_frame, s.end_frame, f"{s.start_time:.3f}", f"{s.end_time:.3f}",
                        f"{s.end_time - s.start_time:.3f}", s.size or "",
                        "" if s.size_confidence is None else f"{s.size_confidence:.3f}", s.transition_in or ""])
    tmp.replace(out)
    return out


def to_otio(v: db.Video):
    """An OpenTimelineIO timeline with one clip per shot, referencing the source file."""
    import opentimelineio as otio

    rate = v.fps_num / v.fps_den
    ref = otio.schema.ExternalReference(
        target_url=Path(v.path).as_uri(),
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                                otio.opentime.RationalTime(v.frame_count, rate)))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for s in v.shots:
        clip = otio.schema.Clip(
            name=f"{Path(v.filename).stem} shot {s.idx + 1:03d}", media_reference=ref.clone(),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(s.start_frame, rate),
                                                 otio.opentime.RationalTime(s.length, rate)))
        clip.metadata["reelscope"] = {"shot_index": s.idx, "transition_in": s.transition_in,
                                      "transition_out": s.transition_out}
        track.append(clip)
    tl = otio.schema.Timeline(name=v.filename)
    tl.tracks.append(track)
    tl.metadata["reelscope"] = {"fingerprint": v.fingerprint, "fps": f"{v.fps_num}/{v.fps_den}"}
    return tl


def write_shot_list(v: db.Video, out: str | Path, fmt: str | None = None) -> Path:
    """Write the shot list as EDL (.edl, CMX 3600) or OpenTimelineIO (.otio)."""
    import opentimelineio as otio

    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    tl = to_otio(v)
    tmp = out.with_name(out.name + ".part")
    if fmt == "otio":
        otio.adapters.write_to_file(tl, str(tmp), adapter_name="otio_json")
    elif fmt == "edl":
        otio.adapters.write_to_file(tl, str(tmp), adapter_name="cmx_3600")
    else:
        raise ValueError(f"unknown shot-list format {fmt!r} (use edl or otio)")
    tmp.replace(out)
    return out

