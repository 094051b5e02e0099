"""Browsing the archive: `reelscope show`, `export`, `report` and `stages`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from reelscope.cli.common import ArchiveOpt, DbOpt, err, open_archive, out, video_of

_open, _video = open_archive, video_of


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
    from reelscope.cli.audio import print_audio_emotion
    print_audio_emotion(video_dict(v))
    from reelscope.cli.objects import print_objects
    print_objects(video_dict(v))
    from reelscope.cli.speech import print_speech
    print_speech(video_dict(v, arch))


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


def stages():
    """List the analysis stages with what they need and provide."""
    from reelscope.pipeline.stage import stages as all_stages

    t = Table("stage", "requires", "provides", "parameters", "description")
    for s in all_stages().values():
        t.add_row(s.name, ", ".join(s.requires), ", ".join(s.provides), json.dumps(s.defaults), s.description)
    out.print(t)
