"""Per-stage archive readers/writers: how a stage's artifacts become rows, and rows artifacts again.

Every stored stage registers a ``Writer`` in a module of ``reelscope.archive`` whose name ends in
``_io`` and says what it stores (``shots_io.py``, ``people_io.py``, ``story_io.py``, ...); the
modules are found by name, so a new stage adds its module and nothing else is edited.

A writer has ``clear(session, video)`` (remove what an earlier run of the stage stored for the
video), ``write(session, video, artifacts, shot_rows)`` (add the new rows) and ``read(session,
video, media_root)`` (the stage's artifacts back from the rows, in the form the stage produced
them or one its consumers accept). ``prepare(staging_dir, artifacts)`` may write media files
(thumbnails) to a staging folder first; they are published under ``media/<fingerprint>/<folder>``
before the transaction commits. ``Archive.save_stage`` runs clear + write + the run row in one
transaction per stage, so a failure leaves the stage as it was and a kill keeps finished stages.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session



@dataclass(frozen=True)
class Writer:
    stage: str
    write: Callable  # (session, video, artifacts: dict, shot_rows: dict[int, Shot]) -> None
    tables: tuple = ()  # ORM classes with a video_id whose rows belong to this stage
    shot_columns: tuple[str, ...] = ()  # Shot columns this stage fills (reset to None on clear)
    curves: bool = False  # the stage owns the Curve rows whose ``stage`` is its name
    tag_source: str | None = None  # the stage owns the Tag rows of this source
    extra_clear: Callable | None = None  # (session, video) -> None, for anything else
    read: Callable | None = None  # (session, video, media_root: Path) -> artifacts dict
    prepare: Callable | None = None  # (staging_dir: Path, artifacts) -> {key: file name} (media to publish)
    media_folder: str = ""  # where prepared media are published, under media/<fingerprint>/
    export: Callable | None = None  # (session, video_id) -> JSON-able section of the video's export
    export_key: str = ""  # its key in the export (default: the stage name)

    def clear(self, s: Session, video) -> None:
        from reelscope.archive import schema as db

        for table in self.tables:
            s.execute(delete(table).where(table.video_id == video.id))
        if self.curves:
            s.execute(delete(db.Curve).where(db.Curve.video_id == video.id, db.Curve.stage == self.stage))
        if self.tag_source:
            s.execute(delete(db.Tag).where(db.Tag.video_id == video.id, db.Tag.source == self.tag_source))
        if self.shot_columns:
            for sh in video.shots:
                for col in self.shot_columns:
                    setattr(sh, col, None)
        if self.extra_clear:
            self.extra_clear(s, video)


_WRITERS: dict[str, Writer] = {}
_loaded = False


def register_writer(writer: Writer) -> Writer:
    _WRITERS[writer.stage] = writer
    return writer


def writers() -> dict[str, Writer]:
    global _loaded
    if not _loaded:
        _loaded = True
        import reelscope.archive as pkg
        for mod in pkgutil.iter_modules(pkg.__path__):
            if mod.name.endswith("_io"):
                importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return dict(_WRITERS)
