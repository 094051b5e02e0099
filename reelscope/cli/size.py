"""CLI for shot-size datasets and training (registered on the main app as `dataset` and `train`).

    reelscope dataset build VIDEOS... --out DIR [--classify] [--detector fast]
    reelscope dataset add-labels LABELS.json --out DIR [--root DATA]
    reelscope dataset list DIR [--label CU] [--source auto]
    reelscope dataset relabel DIR ITEM LABEL [--user NAME]
    reelscope dataset accept DIR [ITEM...] [--label CU]
    reelscope dataset sheet DIR LABEL -o sheet.jpg
    reelscope dataset ecu DIR [--ratio 0.5] [--grid 5]
    reelscope train shot-size DATASET [--folds 10] [--no-generated] [--out model.pt]
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from reelscope.cli.common import err, fail, out

dataset_app = typer.Typer(help="Shot-size training datasets: build from videos, review/relabel, generate ECUs.",
                          no_args_is_help=True)
train_app = typer.Typer(help="Train models on reelscope datasets.", no_args_is_help=True)


@train_app.callback()
def _train_group():
    """Train models on reelscope datasets (a group, even with one command)."""


def _guard(fn, *a, **k):
    from reelscope.errors import ReelscopeError

    try:
        return fn(*a, **k)
    except (ReelscopeError, ValueError, KeyError, FileNotFoundError) as e:
        fail(str(e).strip("'\""))


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return w, h
    except ValueError:
        fail(f"--size must be WIDTHxHEIGHT, e.g. 224x224, got {text!r}")


def _default_classifier():
    """The shot_size stage's default (rules) classifier."""
    try:
        from reelscope.shots.shot_size import make_shot_size_classifier
    except ImportError as e:
        fail(f"no default shot-size classifier available for --classify ({e})")
    return make_shot_size_classifier("rules")


@dataset_app.command("build")
def build(videos: List[Path] = typer.Argument(..., help="Videos: the middle frame of each shot becomes an item."),
          out_dir: Path = typer.Option(..., "--out", "-o", help="Dataset folder (created; reruns resume)."),
          size: str = typer.Option("224x224", help="Dataset image size WIDTHxHEIGHT."),
          fit: str = typer.Option("stretch", help="Resize: stretch (whole frame), pad (letterbox) or crop (centre)."),
          detector: str = typer.Option("fast", help="Shot boundary detector: fast, transnetv2, hybrid."),
          classify: bool = typer.Option(False, "--classify", help="Pre-label with the default shot-size classifier."),
          model: Optional[Path] = typer.Option(None, help="Pre-label with a trained model file instead."),
          keep_frames: int = typer.Option(640, help="Also keep frames at up to this long side for ECU crops (0: no)."),
          ):
    """Build (or extend) a dataset from videos: middle frame per shot, optionally pre-labelled."""
    from reelscope.shots.size_dataset import build_dataset

    clf = None
    if model is not None:
        from reelscope.shots.size_train import load_trained
        clf = _guard(load_trained, model)
    elif classify:
        clf = _default_classifier()
    failed = []

    def on_error(path, e):
        failed.append(path)
        err.print(f"[red]error:[/red] {e}", highlight=False)

    s = _guard(build_dataset, videos, out_dir, _size(size), classifier=clf, detector=detector, fit=fit,
               keep_frames=keep_frames, on_error=on_error,
               progress=lambda p, d, n: err.print(f"[{d}/{n}] {p}", highlight=False))
    err.print(f"{out_dir}: {s['added']} items added, {s['skipped_videos']} videos already done, "
              f"{s['items']} items in all", highlight=False)
    _print_counts(out_dir)
    if failed:
        raise typer.Exit(1)


@dataset_app.command("add-labels")
def add_labels(labels: Path = typer.Argument(..., help='JSON list of {"video", "frame", "label", "shot"?} (a by-eye set).'),
               out_dir: Path = typer.Option(..., "--out", "-o", help="Dataset folder."),
               root: Optional[Path] = typer.Option(None, help="Folder relative video paths start from (default: the JSON's folder)."),
               size: str = typer.Option("224x224", help="Dataset image size WIDTHxHEIGHT."),
               user: str = typer.Option("by-eye", "--user", help="Who labelled them.")):
    """Add labelled frames listed in a JSON file (source 'human')."""
    from reelscope.shots.size_dataset import add_frames

    entries = _guard(lambda: json.loads(labels.read_text()))
    s = _guard(add_frames, entries, out_dir, _size(size), root=root or labels.parent, by=user)
    err.print(f"{out_dir}: {s['added']} items added ({s['missing']} frames not found), {s['items']} in all",
              highlight=False)
    _print_counts(out_dir)


def _print_counts(out_dir: Path) -> None:
    from reelscope.shots.size_dataset import FOLDERS, counts

    c = counts(out_dir)
    t = Table("label", "human", "auto", "generated", "total")
    for f in FOLDERS:
        if f in c:
            d = c[f]
            t.add_row(f, str(d.get("human", 0)), str(d.get("auto", 0)), str(d.get("generated", 0)), str(sum(d.values())))
    err.print(t)


@dataset_app.command("list")
def list_cmd(dataset: Path = typer.Argument(..., help="Dataset folder."),
             label: Optional[str] = typer.Option(None, help="Only this label (or 'unlabelled', 'rejected')."),
             source: Optional[str] = typer.Option(None, help="Only this source: auto, human, generated."),
             as_json: bool = typer.Option(False, "--json")):
    """List items (id, label, source, video, frame); counts per label without --label."""
    from reelscope.shots.size_dataset import list_items

    items = _guard(list_items, dataset, label, source)
    if as_json:
        out.print_json(data=items)
        return
    if label is None and source is None:
        _print_counts(dataset)
        return
    t = Table("id", "label", "source", "conf", "video", "frame", "file")
    for it in items:
        conf = "" if it.get("confidence") is None else f"{it['confidence']:.2f}"
        t.add_row(it["id"], it["label"] or "-", it["source"], conf, Path(it["video"] or "").name, str(it["frame"]), it["file"])
    out.print(t)


@dataset_app.command("relabel")
def relabel_cmd(dataset: Path = typer.Argument(..., help="Dataset folder."),
                item: str = typer.Argument(..., help="Item id, file name or unique id prefix."),
                label: str = typer.Argument(..., help="ECU, CU, MS, FS, LS, unlabelled or rejected."),
                user: str = typer.Option("", "--user", help="Who is labelling (recorded in the manifest).")):
    """Move an item to another label (recorded: who, when, previous label)."""
    from reelscope.shots.size_dataset import relabel

    it = _guard(relabel, dataset, item, label, by=user or None)
    err.print(f"{it['id']}: {it['history'][-1]['previous'] or 'unlabelled'} -> {it['label'] or 'unlabelled'}",
              highlight=False)


@dataset_app.command("accept")
def accept_cmd(dataset: Path = typer.Argument(..., help="Dataset folder."),
               items: Optional[List[str]] = typer.Argument(None, help="Items to confirm; omit for all auto labels."),
               label: Optional[str] = typer.Option(None, help="Only auto labels of this class."),
               user: str = typer.Option("", "--user")):
    """Confirm classifier-proposed labels as reviewed (source 'human')."""
    from reelscope.shots.size_dataset import accept

    n = _guard(accept, dataset, items or None, label=label, by=user or None)
    err.print(f"{n} items confirmed", highlight=False)


@dataset_app.command("sheet")
def sheet_cmd(dataset: Path = typer.Argument(..., help="Dataset folder."),
              label: str = typer.Argument(..., help="Label folder to show."),
              output: Path = typer.Option(..., "--output", "-o", help="JPEG to write.")):
    """A contact sheet of one label's items with their ids, for review by eye."""
    from reelscope.shots.size_dataset import contact_sheet

    n = _guard(contact_sheet, dataset, label, output)
    err.print(f"{output}: {n} items", highlight=False)


@dataset_app.command("ecu")
def ecu_cmd(dataset: Path = typer.Argument(..., help="Dataset folder."),
            ratio: float = typer.Option(0.5, help="Crop size as a fraction of the frame's width and height."),
            grid: int = typer.Option(5, help="Grid of candidate crop centres (N x N)."),
            face_detector: str = typer.Option("blazeface", help="Face detector: blazeface, hog, mmod, mtcnn."),
            saliency: str = typer.Option("spectral_residual", help="Fallback saliency: spectral_residual or fine_grained."),
            overwrite: bool = typer.Option(False, help="Regenerate crops that exist.")):
    """Generate ECU crops (ECU/gen_*.jpg, source 'generated') from the dataset's CU items."""
    from reelscope.shots.size_dataset import generate_ecus

    s = _guard(generate_ecus, dataset, ratio=ratio, grid=grid, detector=face_detector, saliency=saliency,
               overwrite=overwrite)
    err.print(f"{dataset}: {s['generated']} ECUs generated ({s['face']} from faces, {s['saliency']} from saliency), "
              f"{s['skipped']} already there, {s['removed']} stale removed", highlight=False)


@train_app.command("shot-size")
def train_shot_size_cmd(dataset: Path = typer.Argument(..., help="Dataset folder (manifest or ECU/CU/MS/FS/LS folders)."),
                        folds: int = typer.Option(10, help="Cross-validation folds (stratified)."),
                        generated: bool = typer.Option(True, "--generated/--no-generated",
                                                       help="Add generated ECU crops to training folds."),
                        output: Optional[Path] = typer.Option(Path("shot-size-model.pt"), "--out", "-o",
                                                              help="Where to save the model trained on all data."),
                        backbone: Optional[str] = typer.Option(None, help="effnet-lite0 (default if installed) or cnn."),
                        epochs: int = typer.Option(0, help="Epochs (0: the backbone's default)."),
                        seed: int = typer.Option(0),
                        report: Optional[Path] = typer.Option(None, help="Also write the full report as JSON."),
                        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")):
    """Train a shot-size classifier: k-fold CV accuracy + confusion matrix, then a model on all data."""
    from reelscope.shots.size_train import format_confusion, train_shot_size

    r = _guard(train_shot_size, dataset, folds=folds, epochs=epochs, use_generated=generated, seed=seed,
               out=output, backbone=backbone,
               progress=lambda stage, d, n: err.print(f"{stage} fold {d}/{n}", highlight=False))
    if report:
        report.write_text(json.dumps(r, indent=1))
    if as_json:
        out.print_json(data=r)
        return
    cv = r["cv"]
    real = sum(v["real"] for v in r["counts"].values())
    gen = sum(v["generated"] for v in r["counts"].values())
    used = f"+ {gen} generated ECUs in training folds" if generated else "generated ECUs not used"
    out.print(f"{cv['folds']}-fold CV on {real} images ({used}), backbone {r['backbone']}", highlight=False)
    out.print(f"accuracy {cv['accuracy']:.1%} (fold mean {cv['fold_accuracy_mean']:.1%} ± {cv['fold_accuracy_std']:.1%}), "
              f"balanced {cv['balanced_accuracy']:.1%}", highlight=False)
    out.print("recall " + "  ".join(f"{c} {'-' if v is None else f'{v:.0%}'}" for c, v in cv["recall"].items()),
              highlight=False)
    out.print(format_confusion(cv["confusion"]), highlight=False)
    if r.get("model"):
        out.print(f"model: {r['model']} ({r['model_bytes'] / 1024:.0f} KiB, sha256 {r['model_sha256']})", highlight=False)
    out.print(f"{r['seconds']:.1f}s", highlight=False)
