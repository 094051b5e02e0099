"""Slideshow pictures from the archive: a video's shot keyframes, or a character's best moments.

Both return :class:`reelscope.mood.sources.SourceImage` with the time in the video, the face
prominence and focus (from the stored faces) and, where the shot's mood is already stored,
its mood (so it is not predicted again).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from sqlalchemy import select

from reelscope.archive import schema as db
from reelscope.errors import ReelscopeError
from reelscope.mood.sources import SourceImage, face_focus


def _faces_by_frame(s, video_id: int, character_ids: list[int] | None = None) -> dict[int, list[db.Face]]:
    q = select(db.Face).where(db.Face.video_id == video_id)
    if character_ids is not None:
        q = q.join(db.FaceTrack, db.Face.track_id == db.FaceTrack.id) \
             .where(db.FaceTrack.character_id.in_(character_ids))
    out: dict[int, list[db.Face]] = {}
    for f in s.scalars(q):
        out.setdefault(f.frame, []).append(f)
    return out


def _stored_mood(shot: db.Shot):
    if not shot.mood:
        return None
    from reelscope.mood.circle import MoodPrediction, scores_to_va

    scores = dict(shot.mood_scores or {})
    v, a = scores_to_va(scores) if scores else (0.0, 0.0)
    try:
        return MoodPrediction(shot.mood, float(shot.mood_confidence or 0.0), v, a, scores, {"stored": True})
    except ValueError:
        return None


def video_keyframes(archive, video_ref: str | int) -> list[SourceImage]:
    """The first keyframe of every shot of a video (analysed with the keyframes stage)."""
    video = archive.video(video_ref)
    kfs = [(sh, sh.keyframes[0]) for sh in video.shots if sh.keyframes]
    if not kfs:
        raise ReelscopeError(f"{video.filename}: no keyframes in the archive (analyse it with the keyframes stage)")
    with archive.session() as s:
        faces = _faces_by_frame(s, video.id)
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
                               path=str(archive.media_path(kf.image)), time=kf.time, faces=share, focus=focus,
                               thumbnail=kf.image, mood=_stored_mood(sh),
                               meta={"video_id": video.id, "shot": sh.idx, "frame": kf.frame}))
    return out


def find_characters(archive, video, character: str | int) -> list[db.Character]:
    """Characters of ``video`` named by id, by index within the video (``#2``) or by name."""
    ref = str(character).strip()
    with archive.session() as s:
        chars = list(s.scalars(select(db.Character).where(db.Character.video_id == video.id)))
        if ref.isdigit():
            hit = [c for c in chars if c.id == int(ref)]
        elif ref.startswith("#") and ref[1:].isdigit():
            hit = [c for c in chars if c.idx == int(ref[1:])]
        else:
            hit = [c for c in chars if c.identity is not None and c.identity.name.lower() == ref.lower()]
    if not hit:
        raise ReelscopeError(f"no character {ref!r} in {video.filename} (a character id, #index or a name; "
                             f"see `reelscope people list`)")
    return hit


def _moment_score(f: db.Face, width: int, height: int) -> float:
    """Large, confident, expressive faces first: area share x detector score x (1 + how far
    the expression is from neutral)."""
    area = (f.w * f.h) / max(1.0, width * height)
    scores = f.expression_scores or {}
    expressive = 1.0 - float(scores.get("neutral", 0.5)) if scores else 0.5
    return float(np.sqrt(area) * f.score * (1.0 + expressive))


def character_moments(archive, video_ref: str | int, character: str | int, limit: int = 24,
                      decode: bool = True, progress: Callable[[int, int], None] | None = None
                      ) -> list[SourceImage]:
    """The best frame of each of a character's face tracks (the largest, most expressive face),
    at most ``limit`` of them, in time order. The frames are decoded from the video file; if
    it is gone, the keyframe of the shot holding each moment stands in."""
    video = archive.video(video_ref)
    chars = find_characters(archive, video, character)
    with archive.session() as s:
        faces = _faces_by_frame(s, video.id, [c.id for c in chars])
    best: dict[int, db.Face] = {}
    for fs in faces.values():
        for f in fs:
            k = f.track_id or -f.id
            if k not in best or _moment_score(f, video.width, video.height) > \
                    _moment_score(best[k], video.width, video.height):
                best[k] = f
    if not best:
        raise ReelscopeError(f"character {character!r} of {video.filename} has no stored faces")
    chosen = sorted(best.values(), key=lambda f: -_moment_score(f, video.width, video.height))[:limit]
    chosen.sort(key=lambda f: f.frame)
    shot_of = {}
    for sh in video.shots:
        for f in chosen:
            if sh.start_frame <= f.frame <= sh.end_frame:
                shot_of[f.frame] = sh
    pixels = _decode_frames(video, {f.frame for f in chosen}, progress) if decode else {}
    who = chars[0].identity.name if chars[0].identity is not None else f"character {chars[0].idx}"
    out = []
    for f in chosen:
        share, focus = face_focus(np.array([[x.x, x.y, x.w, x.h] for x in faces[f.frame]]), video.width, video.height)
        sh = shot_of.get(f.frame)
        kf = sh.keyframes[0] if sh is not None and sh.keyframes else None
        rgb = pixels.get(f.frame)
        if rgb is None and kf is None:
            continue
        out.append(SourceImage(key=f"video:{video.id}:frame:{f.frame}", name=f"{who} at {f.time:.1f}s",
                               path=None if rgb is not None else str(archive.media_path(kf.image)), rgb=rgb,
                               time=f.time, faces=share, focus=focus, thumbnail=kf.image if kf else None,
                               meta={"video_id": video.id, "frame": f.frame, "shot": sh.idx if sh else None,
                                     "expression": f.expression}))
    if not out:
        raise ReelscopeError(f"{video.filename}: no frames of {who} could be read")
    return out


def _decode_frames(video: db.Video, frames: set[int], progress=None) -> dict[int, np.ndarray]:
    from reelscope.errors import MediaError
    from reelscope.media.decode import FrameSpec, iter_frames

    if not Path(video.path).is_file():
        return {}
    spec = FrameSpec("rgb")
    out = {}
    try:
        for fr in iter_frames(video.path, [spec], only=frames):
            out[fr.index] = fr[spec]
            if progress:
                progress(len(out), len(frames))
    except MediaError:
        return out
    return out
