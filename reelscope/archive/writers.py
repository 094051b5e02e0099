"""Per-stage archive writers: how a stage's artifacts become rows.

``Archive.save`` writes the core stages (shots, keyframes, shot_size, faces) itself; any other
stage registers a writer here, in a module of ``reelscope.archive`` named for what it stores
(e.g. ``story_io.py``, ``objects_io.py``, ``mood_io.py``) and listed in ``_MODULES``.

A writer has ``clear(session, video)`` (remove what an earlier run of the stage stored for the
video) and ``write(session, video, artifacts, shot_rows)`` (add the new rows). Both run inside
the one transaction of ``Archive.save``, so a failure leaves the archive as it was.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session

_MODULES = ("reelscope.archive.audio_io", "reelscope.archive.story_io", "reelscope.archive.objects_io",
            "reelscope.archive.tags_io", "reelscope.archive.mood_io", "reelscope.archive.clip_io")


@dataclass(frozen=True)
class Writer:
    stage: str
    write: Callable  # (session, video, artifacts: dict, shot_rows: dict[int, Shot]) -> None
    tables: tuple = ()  # ORM classes with a video_id whose rows belong to this stage
    shot_columns: tuple[str, ...] = ()  # Shot columns this stage fills (reset to None on clear)
    curves: bool = False  # the stage owns the Curve rows whose ``stage`` is its name
    tag_source: str | None = None  # the stage owns the Tag rows of this source
    extra_clear: Callable | None = None  # (session, video) -> None, for anything else

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
        for name in _MODULES:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as e:
                if e.name != name:  # a module that exists but fails to import is a bug: say so
                    raise
    return dict(_WRITERS)
