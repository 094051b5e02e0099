"""CLI for image and music mood (registered on the main app as `mood`; adds `train mood`).

    reelscope mood images PATHS... [--model mood.json] [--no-faces] [--json]
    reelscope mood music DIR [--archive A] [--no-cache] [--force] [--json] [--beats]
    reelscope mood eval LABELS.json|DIR [--model mood.json] [--json]
    reelscope train mood LABELS.json|DIR [--out mood-model.json] [--features colour+faces] [--folds 5]

Images are files (jpg, png, ...), or `video.mp4#120` for frame 120 of a video or GIF (a video
without `#` gives its middle frame). Bad files print `error: PATH: problem`, are skipped, and
make the command exit 1.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from reelscope.cli.common import ArchiveOpt, DbOpt, err, fail, open_archive, out
from reelscope.cli.size import train_app

mood_app = typer.Typer(help="Image and music mood on one 8-mood circle (happy, excited, intense, tense, sad, "
                            "gloomy, calm, relaxed).", no_args_is_help=True)


def _bar():
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                    transient=True, disable=not err.is_terminal)


def _predictor(model: Optional[Path], faces: bool):
    from reelscope.errors import ReelscopeError
    from reelscope.mood.image_mood import ImageMoodPredictor
    try:
        return ImageMoodPredictor(model=model, faces=faces)
    except (ReelscopeError, ValueError) as e:
        fail(str(e))


@mood_app.command("images")
def images_cmd(paths: List[str] = typer.Argument(..., help="Image files, or VIDEO#FRAME for a frame of a video/GIF."),
               model: Optional[Path] = typer.Option(None, help="A model from `reelscope train mood` (default: "
                                                               "colour + faces formula)."),
               faces: bool = typer.Option(True, "--faces/--no-faces", help="Use faces and expressions."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON (with the evidence).")):
    """The mood of each image, with confidence and (valence, arousal)."""
    pred = _predictor(model, faces)
    with _bar() as bar:
        task = bar.add_task("images", total=len(paths))
        results = pred.predict_paths(paths, progress=lambda d, t: bar.update(task, completed=d))
    failed = [(p, r) for p, r in results if isinstance(r, str)]
    for _, msg in failed:
        err.print(f"[red]error:[/red] {msg}", highlight=False)
    ok = [(p, r) for p, r in results if not isinstance(r, str)]
    if as_json:
        out.print_json(data=[{"path": p, **r.to_dict()} for p, r in ok])
    else:
        t = Table(title=f"predictor: {pred.name}")
        t.add_column("image", overflow="fold", min_width=24)
        for col in ("mood", "confidence", "valence", "arousal", "faces"):
            t.add_column(col)
        for p, r in ok:
            t.add_row(p, r.mood, f"{r.confidence:.2f}", f"{r.valence:+.2f}", f"{r.arousal:+.2f}",
                      str(r.evidence.get("faces", {}).get("count", 0)))
        out.print(t)
    if failed:
        raise typer.Exit(1)


@mood_app.command("music")
def music_cmd(folder: Path = typer.Argument(..., help="A folder of music (ogg, mp3, wav, flac, ...), or one file."),
              archive: Optional[Path] = ArchiveOpt, db: Optional[str] = DbOpt,
              cache: bool = typer.Option(True, "--cache/--no-cache", help="Keep analyses in the archive's music table."),
              force: bool = typer.Option(False, help="Re-analyse tracks already in the cache."),
              beats: bool = typer.Option(False, help="Include beat times in --json output."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Tempo, beat strength, energy, brightness, mode and mood of each track (cached by content)."""
    from reelscope.archive.mood_io import ArchiveMusicCache
    from reelscope.errors import ReelscopeError
    from reelscope.mood.music import analyze_folder

    arch = open_archive(archive, db) if cache else None
    music_cache = ArchiveMusicCache(arch) if arch is not None else None
    errors: list = []
    try:
        with _bar() as bar:
            task = bar.add_task("music", total=None)
            tracks = analyze_folder(folder, cache=music_cache, force=force, errors=errors,
                                    progress=lambda d, t, name: bar.update(task, completed=d, total=t,
                                                                           description=name[:40]))
    except ReelscopeError as e:
        for _, msg in errors:
            err.print(f"[red]error:[/red] {msg}", highlight=False)
        fail(str(e))
    finally:
        if arch is not None:
            arch.close()
    for _, msg in errors:
        err.print(f"[red]error:[/red] {msg}", highlight=False)
    if as_json:
        out.print_json(data=[a.to_dict(beats=beats) for a in tracks])
    else:
        t = Table()
        t.add_column("track", overflow="fold", min_width=24)
        for col in ("duration", "tempo", "beat", "energy", "brightness", "key", "mood", "conf", "cached"):
            t.add_column(col)
        for a in tracks:
            tempo = "-" if a.tempo is None else f"{a.tempo:.0f}" + (f" ({a.tempo_alternative:.0f})"
                                                                   if a.tempo_alternative else "")
            t.add_row(a.filename, f"{a.duration:.1f}s", tempo, f"{a.beat_strength:.2f}", f"{a.energy:.2f}",
                      f"{a.brightness:.0f} Hz", a.key or "-", a.mood, f"{a.confidence:.2f}",
                      "yes" if a.cached else "")
        out.print(t)
    if errors:
        raise typer.Exit(1)


@mood_app.command("eval")
def eval_cmd(labels: Path = typer.Argument(..., help="Labels JSON or a folder of mood-named folders."),
             model: Optional[Path] = typer.Option(None, help="A trained model (default: the formula)."),
             faces: bool = typer.Option(True, "--faces/--no-faces"),
             data: Optional[Path] = typer.Option(None, help="Root for items with root 'data' (default "
                                                            "$REELSCOPE_TEST_DATA or ../shared/data)."),
             as_json: bool = typer.Option(False, "--json")):
    """Agreement of a predictor with labelled images: accuracy and circular error (45° steps)."""
    from reelscope.errors import ReelscopeError
    from reelscope.mood.mood_train import evaluate, load_labels
    try:
        items = load_labels(labels, data)
    except ReelscopeError as e:
        fail(str(e))
    r = evaluate(_predictor(model, faces), items)
    if as_json:
        out.print_json(data=r)
        return
    for row in r["items"]:
        if "error" in row:
            err.print(f"[red]error:[/red] {row['error']}", highlight=False)
    out.print(f"{r['n']} images: accuracy {r['accuracy']:.1%}, mean circular error {r['circular_error']:.2f} steps, "
              f"within one step {r['within_one']:.1%}", highlight=False)


@train_app.command("mood")
def train_mood_cmd(labels: Path = typer.Argument(..., help="Labels JSON or a folder of mood-named folders."),
                   output: Path = typer.Option(Path("mood-model.json"), "--out", "-o", help="Model file to write."),
                   features: Optional[str] = typer.Option(None, help="colour, colour+faces, colour+effnet or "
                                                          "colour+faces+effnet (default colour+faces; +effnet needs a few hundred labels)."),
                   folds: int = typer.Option(5, help="Cross-validation folds (stratified)."),
                   c: float = typer.Option(0.5, "--C", help="Inverse L2 regularisation of the logistic regression."),
                   data: Optional[Path] = typer.Option(None, help="Root for items with root 'data'."),
                   seed: int = typer.Option(0),
                   as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")):
    """Train a mood head on labelled images: k-fold CV agreement, then a model on all of them."""
    from reelscope.errors import ReelscopeError
    from reelscope.mood.mood_train import load_labels, train_mood
    try:
        items = load_labels(labels, data)
        with _bar() as bar:
            task = bar.add_task("features", total=len(items))
            r = train_mood(items, output, features, folds=folds, C=c, seed=seed,
                           progress=lambda stage, d, t: bar.update(task, completed=d, total=t))
    except (ReelscopeError, ValueError) as e:
        fail(str(e))
    for ref, msg in r["skipped"]:
        err.print(f"[red]skipped:[/red] {msg}", highlight=False)
    if as_json:
        out.print_json(data=r)
        return
    cv = r["cv"]
    out.print(f"{cv['folds']}-fold CV on {r['images']} images ({r['feature_set']}): accuracy {cv['accuracy']:.1%}, "
              f"mean circular error {cv['circular_error']:.2f} steps, within one step {cv['within_one']:.1%}",
              highlight=False)
    out.print("images per mood: " + ", ".join(f"{k} {v}" for k, v in r["counts"].items()), highlight=False)
    out.print(f"model: {r['model']}", highlight=False)


__all__ = ["mood_app"]
