"""Shared CLI pieces: consoles, archive options, one-line errors."""
from __future__ import annotations

from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

ArchiveOpt = typer.Option(None, "--archive", "-a",
                          help="Archive folder (default: $REELSCOPE_ARCHIVE or ./reelscope-archive).")
DbOpt = typer.Option(None, "--db", help="Database URL (e.g. postgresql://user@host/db); default: SQLite inside the archive.")


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def open_archive(archive: Optional[Path], db: Optional[str]):
    from reelscope.archive import Archive
    from reelscope.errors import ReelscopeError

    try:
        return Archive(archive, db)
    except ReelscopeError as e:
        fail(str(e))


def video_of(arch, ref: str):
    from reelscope.errors import ReelscopeError

    try:
        return arch.video(ref)
    except ReelscopeError as e:
        fail(str(e))
