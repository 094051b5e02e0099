"""`reelscope batch`: analyse whole archives on a process pool (local) or a Ray cluster, resumably."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from reelscope.cli.common import ArchiveOpt, DbOpt, err, fail, open_archive, out


def batch(
    sources: List[str] = typer.Argument(None, help="Video files, folders (searched recursively), glob patterns "
                                                   "(quoted) or manifests (.csv with a path column, .jsonl with "
                                                   "\"path\"; rows may add stages and set/params)."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
    workers: int = typer.Option(1, "--workers", "-w", help="Videos analysed at once (processes or Ray actors)."),
    engine: str = typer.Option("local", help="local (a process pool on this machine) or ray (a Ray cluster)."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (e.g. 10.0.0.5:6379 or auto); "
                                                     "default: a Ray instance on this machine."),
    stages: Optional[str] = typer.Option(None, help="As for analyze: stage names or a preset (default, fast, all)."),
    set_: List[str] = typer.Option([], "--set", help="STAGE.PARAM=VALUE for every video (repeatable)."),
    force: Optional[str] = typer.Option(None, "--force", help="Recompute these stages (comma-separated, or all)."),
    failed: bool = typer.Option(False, "--failed", help="List the files whose analysis failed, with their errors."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Analyse the failed files again (with the "
                                                                    "stages and parameters they were asked with)."),
):
    """Analyse many videos into the archive: resumable (stored videos and stages are skipped),
    one overall progress bar with throughput and ETA, failures recorded and retryable."""
    from reelscope.batch import expand_sources, run_batch
    from reelscope.batch.run import BatchError
    from reelscope.batch.sources import Source, SourceError
    from reelscope.pipeline.stage import parse_sets

    arch = open_archive(archive, db)
    if failed:
        rows = arch.failures()
        for f in rows:  # one line each, easy to grep: file, stage, attempts, the error line
            out.print(f"{f.path}\t{f.stage or '-'}\t{f.attempts}\t{f.error}", highlight=False, soft_wrap=True)
        if not rows:
            out.print("no failed files")
        return
    try:
        if retry_failed:
            srcs = [Source(f.path, f.stages or None, f.params or {}) for f in arch.failures()]
        else:
            if not sources:
                fail("give files, folders, patterns or a manifest (or --failed / --retry-failed)")
            srcs = expand_sources(sources)
        params = parse_sets(set_)
        forced = [] if not force else (True if force == "all" else [x.strip() for x in force.split(",") if x.strip()])
    except (SourceError, ValueError) as e:
        fail(str(e))
    if not srcs:
        fail("no video files found in the sources given" if not retry_failed else "no failed files to retry")
    location, url = str(arch.location), arch.url if not arch.url.startswith("sqlite") else None
    arch.close()
    counts = {"analyzed": 0, "skipped": 0, "failed": 0}
    video_seconds = [0.0]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, disable=not err.is_terminal) as bar:
        task = bar.add_task("batch", total=len(srcs))

        def progress(item, done, total):
            counts[item.status] += 1
            if item.status == "analyzed":
                video_seconds[0] += item.duration
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = video_seconds[0] / elapsed if elapsed else 0.0
            bar.update(task, completed=done, description=f"batch: {counts['analyzed'] + counts['skipped']} done, "
                                                         f"{counts['failed']} failed, {total - done} left, "
                                                         f"{rate:.2f} video-h/h")
            if item.status == "failed":
                err.print(f"[red]error:[/red] {item.error}", highlight=False)

        try:
            s = run_batch(srcs, location, url, stages=stages, params=params, force=forced, workers=workers,
                          engine=engine, address=address, progress=progress)
        except (BatchError, ValueError, ImportError) as e:
            fail(str(e))
    err.print(f"batch ({s.engine}, {s.workers} worker(s)): {len(s.items)} file(s): {s.count('analyzed')} analysed, "
              f"{s.count('skipped')} already stored, {s.count('failed')} failed in {s.wall:.1f}s; "
              f"{s.video_seconds / 3600:.3f} video-hours at {s.throughput:.2f} video-h/h"
              + ("; `reelscope batch --failed` lists them, --retry-failed runs them again" if s.count("failed") else ""),
              highlight=False)
    if s.count("failed"):
        raise typer.Exit(1)
