"""`reelscope analyze`: one progress bar per video (overall %, current stage, ETA), one line per
video when it ends (analysed / already stored / error), and a batch summary."""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from reelscope.cli.common import ArchiveOpt, DbOpt, err, open_archive


def _params(sets, shorthand) -> dict:
    from reelscope.pipeline.stage import parse_sets

    params = parse_sets(sets)
    for (stage, key), value in shorthand.items():
        if value is not None:
            params.setdefault(stage, {}).setdefault(key, value)
    return params


def run_analyze(videos, arch, *, stages=None, sets=(), shorthand=None, force=None, report=None,
                verbose=False) -> int:
    """Returns the exit code: 0 all analysed or stored, 1 some failed, 2 bad arguments."""
    from reelscope.analysis import analyze, log_path
    from reelscope.pipeline.stage import expand, plan

    try:
        wanted = expand(stages)
        planned = {st.name for st in plan(wanted)}
        params = _params(sets, shorthand or {})
        # shorthand flags only for stages that run; --set for a stage that does not run is an error
        params = {k: v for k, v in params.items() if k in planned or any(f"{k}." in x for x in sets)}
        forced = [] if not force else (True if force == "all" else [x.strip() for x in force.split(",") if x.strip()])
        if forced and forced is not True:
            expand(forced)
    except ValueError as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        return 2
    counts = {"analyzed": 0, "skipped": 0, "failed": 0}
    media_seconds = 0.0
    t_start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                  console=err, transient=False, disable=not err.is_terminal) as bar:
        for path in videos:
            task = bar.add_task(f"{Path(path).name}", total=None)

            def progress(p, stage, done, total, task=task):
                bar.update(task, completed=done, total=total, description=f"{Path(p).name} · {stage}")

            try:
                (o,) = analyze([path], arch, stages=wanted, params=params, force=forced, progress=progress)
            except (ValueError, ImportError) as e:
                err.print(f"[red]error:[/red] {e}", highlight=False)
                return 2
            bar.update(task, completed=1, total=1, description=f"{Path(path).name} · {o.status}")
            counts[o.status] += 1
            if o.status == "failed":
                err.print(f"[red]error:[/red] {o.error}", highlight=False)
                if verbose and o.detail:
                    err.print(o.detail, highlight=False, markup=False)
                continue
            media_seconds += o.duration
            if o.status == "skipped":
                err.print(f"{path}: already in the archive (video {o.video_id}): "
                          f"{', '.join(o.reused) or 'nothing to do'}; --force STAGE to redo", highlight=False)
            else:
                reused = f"; stored: {', '.join(o.reused)}" if o.reused else ""
                err.print(f"{path}: {o.shots} shots, {o.transitions} transitions; computed "
                          f"{', '.join(o.computed) or 'nothing'}{reused} in {o.seconds:.1f}s (video {o.video_id})",
                          highlight=False)
                if verbose and o.stage_seconds and o.duration > 0:  # each stage's cost on its own
                    err.print("  stage seconds per minute of video: " + ", ".join(
                        f"{k} {60 * v / o.duration:.1f}" for k, v in o.stage_seconds.items()), highlight=False)
                for w in o.warnings:
                    err.print(f"[yellow]warning:[/yellow] {path}: {w}", highlight=False)
            if report and o.video_id:
                from reelscope.report.html import write_report

                target = report if len(videos) == 1 else report / f"{Path(path).stem}.html"
                target.parent.mkdir(parents=True, exist_ok=True)
                write_report(arch, arch.video(o.video_id), target)
                err.print(f"report: {target}", highlight=False)
    wall = time.perf_counter() - t_start
    if len(videos) > 1 or counts["failed"]:
        speed = f", {media_seconds / wall:.2f}x real time" if wall > 0 and media_seconds else ""
        err.print(f"{len(videos)} file(s): {counts['analyzed']} analysed, {counts['skipped']} already stored, "
                  f"{counts['failed']} failed in {wall:.1f}s{speed}"
                  + (f"; details in {log_path(arch)}" if counts["failed"] else ""), highlight=False)
    arch.close()
    return 1 if counts["failed"] else 0


def analyze(
    videos: List[Path] = typer.Argument(..., help="Video files to analyze."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
    stages: Optional[str] = typer.Option(None, help="Stages to run, comma-separated (see `reelscope stages`), or a preset: "
                                                   "default (every stage that needs no user-supplied model; the default), "
                                                   "fast (shots, keyframes), all."),
    set_: List[str] = typer.Option([], "--set", help="A stage parameter, STAGE.PARAM=VALUE (repeatable), e.g. faces.detector=hog."),
    detector: Optional[str] = typer.Option(None, help="Shot boundary detector: fast, transnetv2 or hybrid (= --set shots.detector=...)."),
    keyframes: Optional[str] = typer.Option(None, help="Keyframe per shot: middle (frame) or sharpest."),
    face_detector: Optional[str] = typer.Option(None, help="Face detector for the faces stage: blazeface, hog, mmod, mtcnn."),
    face_fps: Optional[float] = typer.Option(None, help="Frames per second sampled by the faces stage."),
    object_detector: Optional[str] = typer.Option(None, help="COCO object detector for the objects stage: nanodet, centernet, yolox-nano or a YOLOX-style .onnx path."),
    shot_size_model: Optional[str] = typer.Option(None, help="A model trained with `reelscope train shot-size` to replace the default shot-size rules."),
    clip_model: Optional[Path] = typer.Option(None, help="A CLIP-like ONNX model folder for the optional clip stage (default: $REELSCOPE_CLIP_MODEL)."),
    mood_model: Optional[Path] = typer.Option(None, help="A model trained with `reelscope train mood` for the mood stage (default: colour and faces)."),
    force: Optional[str] = typer.Option(None, "--force", help="Recompute these stages (comma-separated, or 'all') even if stored; what is built on them is recomputed too."),
    redo: bool = typer.Option(False, "--redo", help="Recompute every planned stage (= --force all)."),
    report: Optional[Path] = typer.Option(None, help="Also write an HTML report (a file for one video, a folder for several)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print the traceback of a failure (it always goes to ARCHIVE/logs/analysis.log) and each stage's seconds per minute of video."),
):
    """Analyze videos into the archive: by default every stage (shots, keyframes, shot sizes, faces and
    characters, objects, tags, audio, emotion, importance, mood). Stored results are reused."""
    shorthand = {("shots", "detector"): detector, ("keyframes", "method"): keyframes,
                 ("faces", "detector"): face_detector, ("faces", "sample_fps"): face_fps,
                 ("objects", "detector"): object_detector, ("shot_size", "model"): shot_size_model,
                 ("clip", "model"): str(clip_model) if clip_model else None,
                 ("mood", "model"): str(mood_model) if mood_model else None}
    code = run_analyze(videos, open_archive(archive, db), stages=stages, sets=set_, shorthand=shorthand,
                       force="all" if redo else force, report=report, verbose=verbose)
    if code:
        raise typer.Exit(code)
