"""The reelscope command line (Typer)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from reelscope.cli_common import ArchiveOpt, DbOpt, err, open_archive, out, video_of

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Turn video into structured, searchable knowledge: shots, keyframes, faces, archive, reports.")
_open, _video = open_archive, video_of


@app.command()
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
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print the traceback of a failure (it always goes to ARCHIVE/logs/analysis.log)."),
):
    """Analyze videos into the archive: by default every stage (shots, keyframes, shot sizes, faces and
    characters, objects, tags, audio, emotion, importance, mood). Stored results are reused."""
    from reelscope.cli_analyze import run_analyze

    shorthand = {("shots", "detector"): detector, ("keyframes", "method"): keyframes,
                 ("faces", "detector"): face_detector, ("faces", "sample_fps"): face_fps,
                 ("objects", "detector"): object_detector, ("shot_size", "model"): shot_size_model,
                 ("clip", "model"): str(clip_model) if clip_model else None,
                 ("mood", "model"): str(mood_model) if mood_model else None}
    code = run_analyze(videos, _open(archive, db), stages=stages, sets=set_, shorthand=shorthand,
                       force="all" if redo else force, report=report, verbose=verbose)
    if code:
        raise typer.Exit(code)


@app.command()
def show(
    video: Optional[str] = typer.Argument(None, help="Video id, filename, path or fingerprint; omit to list videos."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (the export schema) instead of a table."),
):
    """List the archive's videos, or show one video's shots and transitions."""
    from reelscope.archive.export import video_dict

    arch = _open(archive, db)
    if video is None:
        vids = arch.videos()
        if as_json:
            out.print_json(data=[{"id": v.id, "filename": v.filename, "frame_count": v.frame_count,
                                  "duration": v.duration, "path": v.path} for v in vids])
            return
        t = Table("id", "file", "size", "fps", "duration", "frames")
        for v in vids:
            t.add_row(str(v.id), v.filename, f"{v.width}x{v.height}", f"{v.fps:.3f}", f"{v.duration:.1f}s",
                      str(v.frame_count))
        out.print(t)
        return
    v = _video(arch, video)
    if as_json:
        out.print_json(data=video_dict(v, arch))
        return
    out.print(f"[bold]{v.filename}[/bold]  {v.width}x{v.height}  {v.fps:.3f} fps  {v.frame_count} frames  "
              f"{v.duration:.2f}s  ({len(v.shots)} shots)")
    t = Table("shot", "frames", "start", "length", "in", "out", "keyframe")
    for s in v.shots:
        kf = s.keyframes[0].frame if s.keyframes else ""
        t.add_row(str(s.idx + 1), f"{s.start_frame}-{s.end_frame}", f"{s.start_time:.3f}s",
                  f"{s.end_time - s.start_time:.2f}s", s.transition_in or "", s.transition_out or "", str(kf))
    out.print(t)
    from reelscope.cli_audio import print_audio_emotion
    print_audio_emotion(video_dict(v))
    from reelscope.cli_objects import print_objects
    print_objects(video_dict(v))
    from reelscope.cli_speech import print_speech
    print_speech(video_dict(v, arch))


@app.command()
def export(
    video: Optional[str] = typer.Argument(None, help="Video to export; omit to export the whole archive (JSON only)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file: .json, .edl, .otio, .csv (shot sizes over time), .srt or .vtt (captions from the transcript)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="json, edl, otio, csv, srt, vtt or seed (per-frame objects and faces, the seed system's form; default: from the extension)."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
):
    """Export the archive JSON (versioned schema), a video's shot list as EDL / OpenTimelineIO, or its
    transcript as SRT / WebVTT captions."""
    from reelscope.archive.export import write_json, write_shot_list, write_sizes_csv

    arch = _open(archive, db)
    fmt = (fmt or output.suffix.lstrip(".")).lower()
    if fmt == "json":
        vids = [_video(arch, video)] if video else arch.videos(full=True)
        write_json(vids, output, arch)
    elif fmt in ("edl", "otio", "csv", "seed", "srt", "vtt"):
        if not video:
            err.print(f"[red]error:[/red] {fmt.upper()} export needs one video", highlight=False)
            raise typer.Exit(2)
        v = _video(arch, video)
        if fmt in ("srt", "vtt"):
            from reelscope.archive.captions import write_captions
            from reelscope.archive.speech_io import speech_export

            with arch.session() as s:
                speech = speech_export(s, v.id)
            if speech is None or not speech["available"]:
                why = f" ({speech['reason']})" if speech and speech.get("reason") else ""
                err.print(f"[red]error:[/red] {v.filename}: no transcript stored{why}; analyse it with the "
                          "speech stage (--stages speech)", highlight=False)
                raise typer.Exit(1)
            write_captions(speech, output, fmt)
        elif fmt == "seed":
            from reelscope.archive.export import write_seed
            write_seed(arch, v, output)
        else:
            write_sizes_csv(v, output) if fmt == "csv" else write_shot_list(v, output, fmt)
    else:
        err.print(f"[red]error:[/red] {output}: unknown export format {fmt!r} (use json, edl, otio, csv, srt, vtt or seed)",
                  highlight=False)
        raise typer.Exit(2)
    err.print(f"wrote {output}", highlight=False)


@app.command()
def report(
    video: str = typer.Argument(..., help="Video id, filename, path or fingerprint."),
    output: Path = typer.Option(None, "--output", "-o", help="HTML file (default: <video>.report.html)."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
):
    """Write a self-contained HTML report: keyframe strip, shot-length chart, transitions."""
    from reelscope.report.html import write_report

    arch = _open(archive, db)
    v = _video(arch, video)
    output = output or Path(f"{Path(v.filename).stem}.report.html")
    write_report(arch, v, output)
    err.print(f"wrote {output}", highlight=False)


@app.command()
def stages():
    """List the analysis stages with what they need and provide."""
    from reelscope.pipeline.stage import stages as all_stages

    t = Table("stage", "requires", "provides", "parameters", "description")
    for s in all_stages().values():
        t.add_row(s.name, ", ".join(s.requires), ", ".join(s.provides), json.dumps(s.defaults), s.description)
    out.print(t)


from reelscope.cli_people import label, people  # noqa: E402

from reelscope.cli_serve import serve  # noqa: E402
from reelscope.cli_audio import audio  # noqa: E402
from reelscope.cli_size import dataset_app, train_app  # noqa: E402

app.add_typer(people, name="people")
app.add_typer(label, name="label")
app.command()(serve)
app.command()(audio)
app.add_typer(dataset_app, name="dataset")
app.add_typer(train_app, name="train")
app.command("slideshow")(__import__("reelscope.cli_slideshow", fromlist=["slideshow"]).slideshow)
app.command("summarize")(__import__("reelscope.cli_summary", fromlist=["summarize"]).summarize)
app.add_typer(__import__("reelscope.cli_eval", fromlist=["eval_app"]).eval_app, name="eval")
app.command("search")(__import__("reelscope.cli_search", fromlist=["search"]).search)
app.add_typer(__import__("reelscope.cli_mood", fromlist=["mood_app"]).mood_app, name="mood")  # + `train mood`
app.command("batch")(__import__("reelscope.cli_batch", fromlist=["batch"]).batch)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
