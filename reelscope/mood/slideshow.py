"""Mood-matched slideshows from pictures already collected: their moods, the music's moods, the
timeline (:class:`SlideshowPlan`) and the mp4.

Pictures are :class:`reelscope.mood.sources.SourceImage` (files and folders: mood.sources; a
video's keyframes or a character's moments: mood.moments); music: every audio file of a
folder (reelscope.mood.music, with an optional cache); planning: reelscope.mood.plan;
rendering: reelscope.mood.render. Gathering pictures from the archive is reelscope.slideshow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2

from reelscope.errors import MediaError, ReelscopeError
from reelscope.mood.plan import PlanImage, PlanTrack, Timeline, build_timeline
from reelscope.mood.render import RenderOptions, RenderResult, parse_size, render
from reelscope.mood.sources import PREVIEW_SIDE, SourceImage

Progress = Callable[[str, int, int], None]  # (phase, done, total): phases images, music, render


@dataclass
class SlideshowPlan:
    timeline: Timeline
    sources: list[SourceImage]  # index i <-> timeline.images[i]
    errors: list[str] = field(default_factory=list)  # "PATH: problem" of every skipped input
    music: list = field(default_factory=list)  # MusicAnalysis of every usable track

    def to_dict(self) -> dict:
        d = self.timeline.to_dict()
        used = {g["track"]["path"] for g in d["groups"]}
        d["errors"] = list(self.errors)
        d["music"] = [{"path": m.path, "name": Path(m.path).name, "mood": m.mood, "confidence": m.confidence,
                       "tempo": m.tempo, "beat_strength": m.beat_strength, "duration": m.duration,
                       "used": m.path in used} for m in self.music]
        return d


def _emit(progress: Progress | None, phase: str, done: int, total: int) -> None:
    if progress:
        progress(phase, done, total)


def describe(sources: list[SourceImage], predictor=None, progress: Progress | None = None
             ) -> tuple[list[PlanImage], list[SourceImage], list[str]]:
    """The mood of every picture (stored moods are kept; others are predicted on a small copy),
    with faces from the predictor's evidence. Unreadable pictures are skipped and reported."""
    from reelscope.mood.sources import face_focus

    plan_images, kept, errors = [], [], []
    for i, src in enumerate(sources):
        try:
            pred = src.mood
            if pred is None:
                small = src.preview(PREVIEW_SIDE)
                if predictor is None:
                    from reelscope.mood.image_mood import ImageMoodPredictor

                    predictor = ImageMoodPredictor()
                pred = predictor.predict(small)
                faces = (pred.evidence or {}).get("faces") or {}
                boxes = [f["box"] for f in faces.get("faces") or [] if "box" in f]
                if boxes and src.focus is None:
                    share, focus = face_focus(boxes, small.shape[1], small.shape[0])
                    src.faces, src.focus = max(src.faces, share), focus
        except MediaError as e:
            errors.append(str(e))
            _emit(progress, "images", i + 1, len(sources))
            continue
        except (ValueError, cv2.error) as e:  # a picture the mood features cannot handle
            errors.append(f"{src.path or src.name}: cannot analyse the picture: {e}")
            _emit(progress, "images", i + 1, len(sources))
            continue
        kept.append(src)
        plan_images.append(PlanImage(key=src.key, name=src.name, mood=pred.mood, confidence=float(pred.confidence),
                                     valence=float(pred.valence), arousal=float(pred.arousal), time=src.time,
                                     faces=float(src.faces), path=src.path, thumbnail=src.thumbnail,
                                     focus=src.focus))
        _emit(progress, "images", i + 1, len(sources))
    return plan_images, kept, errors


def plan_from_sources(sources: list[SourceImage], errors: list[str], music_dir: str | Path, *, cache=None,
                      length: float | None = None, per_image: float | None = None, order: str = "mood",
                      music_floor: float = 0.35, predictor=None, progress: Progress | None = None) -> SlideshowPlan:
    """The moods of ``sources`` (``errors``: lines about inputs already skipped), the music's
    moods (``cache``: a MusicCache of analyses) and the timeline (nothing rendered yet)."""
    from reelscope.mood.music import analyze_folder

    if not sources:
        raise ReelscopeError("no pictures for the slideshow" + (": " + "; ".join(errors[:3]) if errors else ""))
    plan_images, kept, bad = describe(sources, predictor, progress)
    errors = errors + bad
    if not plan_images:
        raise ReelscopeError("none of the pictures could be read: " + "; ".join(errors[:3]))
    music_errors: list = []
    tracks = analyze_folder(music_dir, cache=cache, errors=music_errors,
                            progress=(lambda d, t, _name: _emit(progress, "music", d, t)) if progress else None)
    errors += [m for _, m in music_errors]
    tl = build_timeline(plan_images, [PlanTrack.of(t) for t in tracks], length=length, per_image=per_image,
                        order=order, music_floor=music_floor)
    return SlideshowPlan(tl, kept, errors, list(tracks))


def render_options(size: str | tuple[int, int] = "720p", **kw) -> RenderOptions:
    w, h = parse_size(size) if isinstance(size, str) else size
    return RenderOptions(width=w, height=h, **kw)


def render_slideshow(plan: SlideshowPlan, output: str | Path, size: str | tuple[int, int] = "720p",
                     progress: Progress | None = None, **options) -> RenderResult:
    """Render ``plan`` to ``output`` (mp4). ``options``: RenderOptions fields (fps, fit,
    ken_burns, crf, preset, ...)."""
    from reelscope.mood.sources import saliency_focus

    opts = render_options(size, **options)
    tl = plan.timeline

    def load(i: int):
        src = plan.sources[i]
        rgb = src.load()
        if tl.images[i].focus is None and opts.fit == "cover":
            tl.images[i].focus = saliency_focus(rgb)
        return rgb

    return render(tl, output, load, opts, (lambda d, t: _emit(progress, "render", d, t)) if progress else None)
