"""CLI: ``reelscope summarize`` (highlight summaries) — registered on the main app."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from reelscope.cli.common import ArchiveOpt, DbOpt, err, fail, open_archive, out


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=False, disable=not err.is_terminal)


def _video_for(arch, video: str, force: bool):
    """The archived video for a file path (analysing it up to importance when needed) or a reference."""
    from reelscope.analysis import analyze
    from reelscope.errors import ReelscopeError
    from reelscope.media.info import probe

    p = Path(video)
    if not p.exists():
        try:
            return arch.video(video)
        except ReelscopeError:
            fail(f"{video}: file not found, and no such video in the archive")
    try:
        info = probe(p)
    except ReelscopeError as e:
        fail(str(e))
    if "importance" not in arch.completed(info.fingerprint) or force:
        err.print(f"{p}: analysing (shots, shot sizes, faces, audio, emotion, importance)...", highlight=False)
        with _bar() as bar:
            tasks: dict[str, int] = {}

            def progress(_p, stage, done, total):
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"{p.name} · {stage}", total=total)
                bar.update(tasks[stage], completed=done, total=max(total, done))

            (o,) = analyze([p], arch, stages=["importance"], force=force, progress=progress)
        if o.status == "failed":
            fail(o.error or f"{p}: analysis failed", 1)
    v = arch.find(info.fingerprint)
    return arch.video(v.id)


def summarize(
    video: str = typer.Argument(..., help="A video file (analysed first if needed) or an archived video's id/name."),
    length: str = typer.Option("15%", "--length", "-l", help="Summary length: seconds (60s, 1m30s) or a share (15%)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="MP4 to write (default: <video>.summary.mp4)."),
    edl: Optional[Path] = typer.Option(None, "--edl", help="Also write the rough cut as a CMX 3600 EDL."),
    otio_out: Optional[Path] = typer.Option(None, "--otio", help="Also write the rough cut as OpenTimelineIO."),
    crossfade: float = typer.Option(0.3, min=0, max=2, help="Seconds of cross-dissolve (and audio crossfade) at each joint."),
    max_height: int = typer.Option(720, min=2, help="Scale the summary down to at most this many lines."),
    render: bool = typer.Option(True, help="Render the MP4 (--no-render: plan and store the segments only)."),
    diversity: float = typer.Option(0.5, min=0, max=1, help="Value kept by each further shot of one scene (1 = no diversity)."),
    force: bool = typer.Option(False, help="Re-analyse the video even if its importance is stored."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
):
    """Make a highlight summary: keyshots by importance (emotion, motion, faces, shot size, novelty)
    under a length budget, rendered to MP4 with crossfades; optionally an EDL/OTIO rough cut."""
    from reelscope.archive.summaries import copy_media
    from reelscope.errors import ReelscopeError
    from reelscope.story.roughcut import write_roughcut
    from reelscope.summaries import create_summary

    arch = open_archive(archive, db)
    v = _video_for(arch, video, force)
    try:
        with _bar() as bar:
            task = bar.add_task(f"{v.filename} · summary", total=None)
            row = create_summary(arch, v.id, length, render=render, crossfade=crossfade, max_height=max_height,
                                 options={"decay": diversity},
                                 progress=lambda d, t: bar.update(task, completed=d, total=t))
        if render:
            target = output or Path(f"{Path(v.filename).stem}.summary.mp4")
            copy_media(arch, row, target)
        for path in (edl, otio_out):
            if path:
                write_roughcut(v.path, v.fps, v.frame_count, row.segments, path, crossfade=crossfade,
                               name=f"{v.filename} summary")
    except (ReelscopeError, ValueError) as e:
        fail(str(e))
    finally:
        arch.close()
    t = Table("#", "shot", "from", "to", "seconds", "importance")
    for k, sg in enumerate(row.segments, 1):
        t.add_row(str(k), str(sg["shot"] + 1), f"{sg['start_time']:.2f}", f"{sg['end_time']:.2f}",
                  f"{sg['end_time'] - sg['start_time']:.2f}", f"{sg['score']:.3f}")
    out.print(t)
    err.print(f"summary {row.id}: {len(row.segments)} segments, {row.seconds:.1f} s of {v.duration:.1f} s "
              f"(target {row.target_seconds:.1f} s)" + (f" -> {target}" if render else ""), highlight=False)
    for path in (edl, otio_out):
        if path:
            err.print(f"rough cut: {path}", highlight=False)
