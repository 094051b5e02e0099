"""CLI: ``reelscope eval ...`` — evaluation against published protocols (registered on the main app)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from reelscope.cli.common import err, fail, out

eval_app = typer.Typer(help="Evaluate against published benchmarks and protocols.", no_args_is_help=True)


@eval_app.command("summary")
def summary(
    annotations: Path = typer.Argument(..., help="TVSum annotations (ydata-anno.tsv or .tsv.gz)."),
    splits: Optional[Path] = typer.Option(None, help="Splits JSON (e.g. tvsum_splits.json): results per fold too."),
    pred: Optional[Path] = typer.Option(None, help="Predictions JSON: {video_k or YouTube id: [scores per frame "
                                                   "(or any length, stretched)]}."),
    budget: float = typer.Option(0.15, min=0.01, max=1.0, help="Summary length as a share of the video."),
    mode: str = typer.Option("avg", help="F1 over user summaries: avg (TVSum) or max (SumMe)."),
    random_trials: int = typer.Option(20, min=0, help="Random summaries per video for the random baseline (0: none)."),
    seed: int = typer.Option(0, help="Seed of the random baseline and of tie-breaking in user summaries."),
    human: bool = typer.Option(True, help="Report human agreement (rank correlation, leave-one-out F1)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full results (per video) as JSON."),
):
    """Keyshot F1 (avg/max over users) and Kendall tau / Spearman rho (Otani et al. 2019), with the
    human and random baselines, on TVSum-style annotations."""
    from reelscope.errors import ReelscopeError
    from reelscope.eval.summary import evaluate_dataset
    from reelscope.eval.tvsum import load_splits, load_tvsum

    if mode not in ("avg", "max"):
        fail(f"--mode must be avg or max, not {mode!r}")
    try:
        videos = load_tvsum(annotations)
        folds = load_splits(splits) if splits else None
        predictions = None
        if pred:
            try:
                predictions = json.loads(pred.read_text())
            except (OSError, ValueError) as e:
                fail(f"{pred}: cannot read predictions ({e})")
            if not isinstance(predictions, dict):
                fail(f"{pred}: predictions must be a JSON object of video -> scores")
    except ReelscopeError as e:
        fail(str(e))
    from rich.progress import Progress

    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("evaluating", total=len(videos))
        res = evaluate_dataset(videos, predictions, folds, budget=budget, mode=mode, random_trials=random_trials,
                               seed=seed, human=human, progress=lambda d, t: bar.update(task, completed=d))
    t = Table("", "F1", "Kendall τ", "Spearman ρ", "videos", title=f"summary evaluation · {annotations.name} · "
                                                                   f"budget {budget:.0%} · F1 {mode}")
    if "human" in res:
        h = res["human"]
        t.add_row("human (leave-one-out)", f"{h['f1']:.3f} (max {h['f1_max']:.3f})", f"{h['tau']:.3f}",
                  f"{h['rho']:.3f}", str(h["videos"]))
        m = res["human_vs_mean_of_others"]
        t.add_row("human vs mean of others", "", f"{m['tau']:.3f}", f"{m['rho']:.3f}", str(m["videos"]))
    for name in ("random", "prediction"):
        if name in res:
            r = res[name]
            t.add_row(name, f"{r['f1']:.3f}", f"{r['tau']:.3f}", f"{r['rho']:.3f}", str(r["videos"]))
    out.print(t)
    if folds:
        ft = Table("fold", *[k for k in ("human", "random", "prediction") if k in res], title="per fold: F1 / τ / ρ")
        for f in res["folds"]:
            ft.add_row(str(f["fold"]), *[f"{f[k]['f1']:.3f} / {f[k]['tau']:.3f} / {f[k]['rho']:.3f}"
                                         for k in ("human", "random", "prediction") if k in res and k in f])
        out.print(ft)
    if predictions is not None and "prediction" not in res:
        err.print("warning: no prediction matched a video key (video_1.. or YouTube ids)", highlight=False)
    if json_out:
        tmp = json_out.with_name(json_out.name + ".part")
        tmp.write_text(json.dumps(res, indent=1))
        tmp.replace(json_out)
        err.print(f"wrote {json_out}", highlight=False)
