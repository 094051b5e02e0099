"""Slideshow pictures from an analysed video: a video's shot keyframes, or a character's best moments.

Both give :class:`reelscope.mood.sources.SourceImage` with the time in the video, the face
prominence and focus (from the stored faces) and, where the shot's mood is already stored,
its mood (so it is not predicted again). The video, its shots (with keyframes) and its faces
are passed in (``reelscope.slideshow`` reads them from the archive): objects with the archive
rows' fields, i.e. a video's ``id, filename, width, height``; a shot's ``idx, start_frame,
end_frame, keyframes`` (each ``frame, time, image``) and ``mood, mood_confidence, mood_scores``;
a face's ``id, frame, time, x, y, w, h, score, track_id, expression, expression_scores``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from reelscope.errors import ReelscopeError
from reelscope.mood.sources import SourceImage, face_focus


def _stored_mood(shot):
    if not shot.mood:
        return None
    from reelscope.mood.circle import MoodPrediction, scores_to_va

    scores = dict(shot.mood_scores or {})
    v, a = scores_to_va(scores) if scores else (0.0, 0.0)
    try:
        return MoodPrediction(shot.mood, float(shot.mood_confidence or 0.0), v, a, scores, {"stored": True})
    except ValueError:
        return None


def keyframe_sources(video, shots: list, faces: dict[int, list], media_path: Callable[[str], Path]
                     ) -> list[SourceImage]:
    """The first keyframe of every shot; ``faces``: the video's faces by frame; ``media_path``:
    a stored image's path -> its file."""
    kfs = [(sh, sh.keyframes[0]) for sh in shots if sh.keyframes]
    if not kfs:
        raise ReelscopeError(f"{video.filename}: no keyframes in the archive (analyse it with the keyframes stage)")
    sampled = np.array(sorted(faces)) if faces else np.zeros(0, int)
    out = []
    for sh, kf in kfs:
        share, focus = 0.0, None
        if len(sampled):
            inside = sampled[(sampled >= sh.start_frame) & (sampled <= sh.end_frame)]
            if len(inside):  # the sampled face frame of the shot nearest to its keyframe
                near = int(inside[np.argmin(np.abs(inside - kf.frame))])
                boxes = [[f.x, f.y, f.w, f.h] for f in faces[near]]
                share, focus = face_focus(np.array(boxes), video.width, video.height)
        out.append(SourceImage(key=f"video:{video.id}:shot:{sh.idx}", name=f"{video.filename} shot {sh.idx + 1}",
                               path=str(media_path(kf.image)), time=kf.time, faces=share, focus=focus,
                               thumbnail=kf.image, mood=_stored_mood(sh),
                               meta={"video_id": video.id, "shot": sh.idx, "frame": kf.frame}))
    return out


def moment_score(f, width: int, height: int) -> float:
    """Large, confident, expressive faces first: area share x detector score x (1 + how far
    the expression is from neutral)."""
    area = (f.w * f.h) / max(1.0, width * height)
    scores = f.expression_scores or {}
    expressive = 1.0 - float(scores.get("neutral", 0.5)) if scores else 0.5
    return float(np.sqrt(area) * f.score * (1.0 + expressive))


def best_moments(faces: dict[int, list], width: int, height: int, limit: int = 24) -> list:
    """The best face of each face track (the largest, most expressive), at most ``limit`` of
    them, in time order."""
    best: dict[int, object] = {}
    for fs in faces.values():
        for f in fs:
            k = f.track_id or -f.id
            if k not in best or moment_score(f, width, height) > moment_score(best[k], width, height):
                best[k] = f
    chosen = sorted(best.values(), key=lambda f: -moment_score(f, width, height))[:limit]
    chosen.sort(key=lambda f: f.frame)
    return chosen


def moment_sources(video, shots: list, faces: dict[int, list], chosen: list, who: str,
                   pixels: dict[int, np.ndarray], media_path: Callable[[str], Path]) -> list[SourceImage]:
    """Pictures of the ``chosen`` faces (``best_moments``) of ``who``: the decoded frame from
    ``pixels`` (frame -> RGB), else the keyframe of the shot holding it."""
    shot_of = {}
    for sh in shots:
        for f in chosen:
            if sh.start_frame <= f.frame <= sh.end_frame:
                shot_of[f.frame] = sh
    out = []
    for f in chosen:
        share, focus = face_focus(np.array([[x.x, x.y, x.w, x.h] for x in faces[f.frame]]), video.width, video.height)
        sh = shot_of.get(f.frame)
        kf = sh.keyframes[0] if sh is not None and sh.keyframes else None
        rgb = pixels.get(f.frame)
        if rgb is None and kf is None:
            continue
        out.append(SourceImage(key=f"video:{video.id}:frame:{f.frame}", name=f"{who} at {f.time:.1f}s",
                               path=None if rgb is not None else str(media_path(kf.image)), rgb=rgb,
                               time=f.time, faces=share, focus=focus, thumbnail=kf.image if kf else None,
                               meta={"video_id": video.id, "frame": f.frame, "shot": sh.idx if sh else None,
                                     "expression": f.expression}))
    if not out:
        raise ReelscopeError(f"{video.filename}: no frames of {who} could be read")
    return out
