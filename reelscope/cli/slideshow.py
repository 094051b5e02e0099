"""`reelscope slideshow`: a mood-matched slideshow (mp4) from pictures and a music folder."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from reelscope.cli.common import ArchiveOpt, DbOpt, err, fail, open_archive, out

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
PHASES = {"images": "pictures: mood", "music": "music: mood, tempo", "render": "render frames"}


def parse_seconds(text: str | None, what: str = "duration") -> float | None:
    """'60', '60s', '90.5s', '2m', '1m30s', '1:30', '0:01:30' -> seconds."""
    if text is None:
        return None
    t = str(text).strip().lower()
    try:
        if ":" in t:
            parts = [float(x) for x in t.split(":")]
            if len(parts) > 3:
                raise ValueError
            value = 0.0
            for x in parts:
                value = value * 60 + x
        else:
            m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*"
                             r"(?:(\d+(?:\.\d+)?)\s*s?)?", t)
            if not m or not any(m.groups()):
                raise ValueError
            h, mi, s = (float(x) if x else 0.0 for x in m.groups())
            value = h * 3600 + mi * 60 + s
    except ValueError:
        fail(f"--{what}: cannot read {text!r} as a duration (e.g. 60s, 1m30s, 1:30)")
    if value <= 0:
        fail(f"--{what}: must be more than 0 seconds")
    return value


def slideshow(
    inputs: Optional[List[str]] = typer.Argument(None, help="Image files or folders; video files (their shots' "
                                                            "keyframes, analysed into the archive if needed)."),
    music: Path = typer.Option(..., "--music", "-m", help="Folder of music files (ogg, mp3, wav, flac, ...)."),
    output: Path = typer.Option(Path("slideshow.mp4"), "--output", "-o", help="The mp4 to write."),
    length: Optional[str] = typer.Option(None, help="Total length, e.g. 60s, 1m30s, 1:30 (default: per-image x "
                                                    "pictures)."),
    per_image: Optional[str] = typer.Option(None, "--per-image", help="Seconds per picture (default 4s; with "
                                                                      "--length it sets how many pictures fit)."),
    size: str = typer.Option("720p", help="1280x720, 1920x1080, 1080x1920, 720p, 1080p, 9:16, 9:16@720, 1:1, 4:5."),
    order: str = typer.Option("mood", help="mood (groups follow the mood circle), time, or faces (largest faces "
                                           "first within a mood)."),
    video: Optional[str] = typer.Option(None, help="A video in the archive (id, file name, path): its keyframes."),
    character: Optional[str] = typer.Option(None, help="With --video: a character (id, #index or name): their "
                                                       "best moments instead of the keyframes."),
    fps: int = typer.Option(25, help="Frames per second."),
    fit: str = typer.Option("cover", help="cover (fill the frame, crop around faces/saliency) or contain "
                                          "(letterbox)."),
    ken_burns: float = typer.Option(0.05, help="Gentle zoom over each picture (0 = still)."),
    music_dip: float = typer.Option(0.35, help="Music level at a cut within one track (0..1; 0 at track changes "
                                               "always)."),
    preset: str = typer.Option("veryfast", help="x264 preset (ultrafast .. slow)."),
    crf: int = typer.Option(21, help="x264 quality (lower is better, 18-28 sensible)."),
    plan_out: Optional[Path] = typer.Option(None, "--plan", help="Also write the plan (timeline JSON) here."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan only: print the timeline, render nothing."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
):
    """Make a mood-matched slideshow: pictures grouped by mood, each group with music of the
    same mood; pictures fade in and out and the music's volume follows the same curve."""
    from reelscope.errors import ReelscopeError
    from reelscope.mood.plan import ORDERS
    from reelscope.slideshow import VIDEO_SUFFIXES, plan_slideshow, render_options, render_slideshow

    inputs = inputs or []
    if not inputs and not video:
        fail("give pictures (files or folders) or --video")
    if character and not video:
        fail("--character needs --video")
    if order not in ORDERS:
        fail(f"--order: use one of {', '.join(ORDERS)}")
    if preset not in X264_PRESETS:
        fail(f"--preset: use one of {', '.join(X264_PRESETS)}")
    if not 0 <= crf <= 51:
        fail("--crf must be between 0 and 51")
    if not 1 <= fps <= 120:
        fail("--fps must be between 1 and 120")
    if not 0 <= music_dip <= 1:
        fail("--music-dip must be between 0 and 1")
    if output.suffix.lower() != ".mp4" and not dry_run:
        fail(f"{output}: the output is an mp4 file (name it .mp4)")
    try:
        render_options(size, fps=fps, fit=fit)
    except ReelscopeError as e:
        fail(f"--size: {e}")
    if fit not in ("cover", "contain"):
        fail("--fit: use cover or contain")
    needs_archive = bool(video) or any(Path(i).suffix.lower() in VIDEO_SUFFIXES for i in inputs)
    arch = open_archive(archive, db) if (needs_archive or archive or db) else None
    seconds, per = parse_seconds(length, "length"), parse_seconds(per_image, "per-image")

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=False, disable=not err.is_terminal) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(PHASES.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=max(total, done))

        try:
            plan = plan_slideshow(inputs, music, archive=arch, video=video, character=character, length=seconds,
                                  per_image=per, order=order, music_floor=music_dip, progress=progress)
        except ReelscopeError as e:
            fail(str(e))
        for e in plan.errors:
            err.print(f"[yellow]skipped:[/yellow] {e}", highlight=False)
        _print_plan(plan)
        if plan_out:
            _write_json(plan_out, plan.to_dict())
            err.print(f"plan: {plan_out}", highlight=False)
        if dry_run:
            if not plan_out:
                out.print_json(data=plan.to_dict())
            return
        try:
            r = render_slideshow(plan, output, size, progress=progress, fps=fps, fit=fit, ken_burns=ken_burns,
                                 preset=preset, crf=crf)
        except ReelscopeError as e:
            fail(str(e))
    if arch is not None:
        arch.close()
    err.print(f"wrote {output}: {r.duration:.1f} s, {r.width}x{r.height}, {r.fps} fps, "
              f"{len(plan.timeline.slots)} pictures, {len(plan.timeline.groups)} mood group(s) "
              f"in {r.seconds:.1f} s ({r.duration / max(r.seconds, 1e-9):.2f}x real time)", highlight=False)


def _print_plan(plan) -> None:
    t = Table("from", "to", "mood", "pictures", "music (its mood)", "beat")
    tl = plan.timeline
    for g in tl.groups:
        tr = tl.tracks[g.track]
        t.add_row(f"{g.start:.1f}s", f"{g.end:.1f}s", g.mood, str(len(g.images)), f"{tr.name} ({tr.mood})",
                  "on beat" if g.beat_aligned else "")
    err.print(t)
    if tl.dropped:
        err.print(f"{len(tl.dropped)} picture(s) left out to fit the length", highlight=False)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)
