"""Making a highlight summary of an archived video: its stored importance and shots read from the
archive (``reelscope.archive.summaries``), the summary planned and rendered by
``reelscope.story.summary``, the file put in the media store and the Summary row kept.

The summary's file is rendered to a temporary name and renamed before its row is committed,
so a row never points at nothing (a crash leaves at worst an unreferenced file).
"""
from __future__ import annotations

from typing import Callable

from reelscope.archive import schema as db
from reelscope.archive.summaries import add_summary, stored_importance, summary_source
from reelscope.story.summary import RENDER_DEFAULTS, plan_video_summary, render_video_summary


def create_summary(archive, ref: str | int, length: str | float = "15%", *, render: bool = True,
                   crossfade: float = RENDER_DEFAULTS["crossfade"], max_height: int = RENDER_DEFAULTS["max_height"],
                   options: dict | None = None, progress: Callable[[int, int], None] | None = None) -> db.Summary:
    """Plan (and by default render) a summary of ``length`` ("60s", "15%", seconds) and store it."""
    video = archive.video(ref)
    imp = stored_importance(archive, video)
    source = summary_source(video)
    made = plan_video_summary(source, imp, length, render=render, crossfade=crossfade, max_height=max_height,
                              options=options)
    media = None
    if render:
        media = f"{video.fingerprint}/summaries/summary_{made.key}.mp4"
        render_video_summary(made, source, archive.media_root / media, progress=progress)
    return add_summary(archive, video, made.target, made.seconds, made.segments, made.stored_params(), media)
