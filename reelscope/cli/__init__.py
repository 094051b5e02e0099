"""The reelscope command line (Typer): the app and the registration of every command group.

One module per command group: ``analyze`` (analyze), ``browse`` (show, export, report, stages),
``people`` (people, label), ``serve``, ``audio``, ``size`` (dataset, train shot-size), ``slideshow``,
``summary`` (summarize), ``eval``, ``search``, ``mood`` (mood, train mood), ``batch``; ``common``
holds the shared consoles and options, ``objects`` and ``speech`` what ``show`` prints of those stages.
"""
from __future__ import annotations

import typer

from reelscope.cli import analyze, audio, batch, browse, eval, mood, people, search, serve, size, slideshow, summary

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Turn video into structured, searchable knowledge: shots, keyframes, faces, archive, reports.")

app.command()(analyze.analyze)
app.command()(browse.show)
app.command()(browse.export)
app.command()(browse.report)
app.command()(browse.stages)
app.add_typer(people.people, name="people")
app.add_typer(people.label, name="label")
app.command()(serve.serve)
app.command()(audio.audio)
app.add_typer(size.dataset_app, name="dataset")
app.add_typer(size.train_app, name="train")  # `train mood` is added by cli.mood
app.command("slideshow")(slideshow.slideshow)
app.command("summarize")(summary.summarize)
app.add_typer(eval.eval_app, name="eval")
app.command("search")(search.search)
app.add_typer(mood.mood_app, name="mood")
app.command("batch")(batch.batch)


def main() -> None:  # pragma: no cover
    app()
