"""Mood-matched slideshows, end to end: pictures -> moods -> music -> plan -> mp4.

    plan = reelscope.slideshow.plan_slideshow(["photos/"], "music/", length=60)
    print(plan.to_dict())                                   # the timeline, before rendering
    result = reelscope.slideshow.render_slideshow(plan, "show.mp4", size="9:16")

    # a video's keyframes, or a character's best moments, from the archive
    plan = plan_slideshow(music_dir="music/", archive=arch, video="film.mp4", character="Anna")

Pictures: image files and folders (unreadable ones are reported and skipped), a video in the
archive (its shots' keyframes; a video file not yet analysed is analysed first), or a
character of such a video. Music: every audio file of a folder (reelscope.mood.music; cached
in the archive). This module gathers what the archive holds and hands it to
reelscope.mood.moments (pictures from a video) and reelscope.mood.slideshow (moods, plan, render).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from reelscope.errors import ReelscopeError
from reelscope.mood.render import RenderResult
from reelscope.mood.moments import best_moments, keyframe_sources, moment_sources
from reelscope.mood.slideshow import (Progress, SlideshowPlan, describe, plan_from_sources, render_options,
                                      render_slideshow)
from reelscope.mood.sources import SourceImage, images_from_paths

__all__ = ["VIDEO_SUFFIXES", "SlideshowPlan", "character_moments", "collect_sources", "describe", "make_slideshow",
           "plan_slideshow", "render_options", "render_slideshow", "video_keyframes"]

VIDEO_SUFFIXES = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".wmv",
                  ".flv", ".gif"}


def video_keyframes(archive, video_ref: str | int) -> list[SourceImage]:
    """The first keyframe of every shot of an archived video (analysed with the keyframes stage)."""
    from reelscope.archive.people_read import faces_by_frame

    video = archive.video(video_ref)
    return keyframe_sources(video, video.shots, faces_by_frame(archive, video.id), archive.media_path)


def character_moments(archive, video_ref: str | int, character: str | int, limit: int = 24,
                      decode: bool = True, progress: Callable[[int, int], None] | None = None
                      ) -> list[SourceImage]:
    """The best frame of each of a character's face tracks (the largest, most expressive face),
    at most ``limit`` of them, in time order. The frames are decoded from the video file; if
    it is gone, the keyframe of the shot holding each moment stands in."""
    from reelscope.archive.people_read import faces_by_frame, find_characters

    video = archive.video(video_ref)
    chars = find_characters(archive, video, character)
    faces = faces_by_frame(archive, video.id, [c.id for c in chars])
    chosen = best_moments(faces, video.width, video.height, limit)
    if not chosen:
        raise ReelscopeError(f"character {character!r} of {video.filename} has no stored faces")
    pixels = _decode_frames(video, {f.frame for f in chosen}, progress) if decode else {}
    who = chars[0].identity.name if chars[0].identity is not None else f"character {chars[0].idx}"
    return moment_sources(video, video.shots, faces, chosen, who, pixels, archive.media_path)


def _decode_frames(video, frames: set[int], progress=None) -> dict[int, np.ndarray]:
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


def collect_sources(inputs: Iterable[str | Path] = (), *, archive=None, video: str | int | None = None,
                    character: str | int | None = None, moments: int = 24) -> tuple[list[SourceImage], list[str]]:
    """Pictures from image files/folders, video files (their keyframes, via the archive) and
    ``video`` (+ ``character``) in the archive. Returns (sources, error lines)."""
    images, videos = [], []
    for item in inputs:
        p = Path(item)
        (videos if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES else images).append(item)
    sources, errors = images_from_paths(images)
    if video is not None:
        videos.append(video)
    if (videos or character is not None) and archive is None:
        raise ReelscopeError("pictures from a video need an archive (--archive)")
    if character is not None and video is None and len(videos) != 1:
        raise ReelscopeError("a character needs the video it appears in (--video)")
    for v in videos:
        try:
            ref = _archived(archive, v)
            if character is not None and (v == video or video is None):
                sources.extend(character_moments(archive, ref, character, limit=moments))
            else:
                sources.extend(video_keyframes(archive, ref))
        except ReelscopeError as e:
            errors.append(str(e))
    return sources, errors


def _archived(archive, ref: str | int) -> int:
    """The archive id of a video; a video file that is not in the archive is analysed first."""
    try:
        return archive.video(ref).id
    except ReelscopeError:
        p = Path(str(ref))
        if not p.is_file():
            raise
    from reelscope.analysis import analyze

    (o,) = analyze([p], archive, stages=["shots", "keyframes"])
    if o.status == "failed":
        raise ReelscopeError(o.error or f"{p}: analysis failed")
    return o.video_id


def plan_slideshow(inputs: Iterable[str | Path] = (), music_dir: str | Path | None = None, *, archive=None,
                   video: str | int | None = None, character: str | int | None = None,
                   length: float | None = None, per_image: float | None = None, order: str = "mood",
                   music_floor: float = 0.35, predictor=None, moments: int = 24,
                   progress: Progress | None = None) -> SlideshowPlan:
    """Pictures, their moods, the music's moods and the timeline (nothing rendered yet)."""
    if music_dir is None:
        raise ReelscopeError("a slideshow needs a music folder (--music)")
    cache = None
    if archive is not None:
        from reelscope.archive import Archive
        from reelscope.archive.mood_io import ArchiveMusicCache

        if not hasattr(archive, "session"):
            archive = Archive(archive)
        cache = ArchiveMusicCache(archive)
    sources, errors = collect_sources(inputs, archive=archive, video=video, character=character, moments=moments)
    return plan_from_sources(sources, errors, music_dir, cache=cache, length=length, per_image=per_image, order=order,
                             music_floor=music_floor, predictor=predictor, progress=progress)


def make_slideshow(inputs: Iterable[str | Path] = (), music_dir: str | Path | None = None,
                   output: str | Path = "slideshow.mp4", *, size: str | tuple[int, int] = "720p",
                   progress: Progress | None = None, render_kw: dict | None = None, **plan_kw
                   ) -> tuple[SlideshowPlan, RenderResult]:
    """plan_slideshow + render_slideshow."""
    plan = plan_slideshow(inputs, music_dir, progress=progress, **plan_kw)
    return plan, render_slideshow(plan, output, size, progress, **(render_kw or {}))
