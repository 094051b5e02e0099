"""The Archive: a database plus a media store (thumbnails), written transactionally.

Layout of an archive folder::

    ARCHIVE/reelscope.db          SQLite database (unless a database URL is given)
    ARCHIVE/reelscope.db.lock     file lock held while a process migrates the schema
    ARCHIVE/media/<fingerprint>/  thumbnails and other derived media of one video

Everything one analysis of one video produces is written in a single transaction; media
files are written first (to names that depend only on their content's identity) so a
crash leaves at worst unreferenced files, never rows that point at nothing.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import cv2
from sqlalchemy import create_engine, event, inspect, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload, sessionmaker

from reelscope.archive import schema as db
from reelscope.errors import ReelscopeError

DEFAULT_LOCATION = "reelscope-archive"


def default_location() -> Path:
    return Path(os.environ.get("REELSCOPE_ARCHIVE", DEFAULT_LOCATION))


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL waits for other processes' locks
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


_MIGRATE_LOCK = threading.Lock()  # Alembic's migration context is process-global
PG_MIGRATE_KEY = 0x7265656C73636F70  # pg_advisory_xact_lock key of schema migrations ("reelscop")


def _revision(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` between processes (created if missing), held for the block."""
    with open(path, "a+b") as f:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            f.seek(0)
            while True:
                try:
                    msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s: keep waiting
                    continue
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Between processes on SQLite: a file lock beside the database (``reelscope.db.lock``). (On
    PostgreSQL the migration transaction takes an advisory lock itself; in-memory SQLite has one
    process only.)"""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with _file_lock(Path(database).with_name(Path(database).name + ".lock")):
        yield


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest revision (Alembic). Safe when several processes
    open one new archive at once: the upgrade runs under a lock between processes (a file lock
    beside a SQLite database, ``pg_advisory_xact_lock`` on PostgreSQL) and is skipped by whoever
    finds the schema current once it holds the lock."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with _MIGRATE_LOCK:
        with engine.connect() as conn:  # the usual case: current already, no lock needed
            if _revision(conn) == head:
                return
        with _schema_lock(engine), engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # held until this transaction ends
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATE_KEY})")
            if _revision(conn) == head:  # another process migrated while we waited
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


class Archive:
    def __init__(self, location: str | Path | None = None, db_url: str | None = None):
        self.location = Path(location) if location else default_location()
        self.location.mkdir(parents=True, exist_ok=True)
        self.media_root = self.location / "media"
        self.media_root.mkdir(exist_ok=True)
        url = db_url or os.environ.get("REELSCOPE_DB_URL") or f"sqlite:///{(self.location / 'reelscope.db').resolve()}"
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        self.url = url
        self.engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            migrate(self.engine)
        except Exception as e:
            raise ReelscopeError(f"cannot open archive database {self.engine.url!r}: {e}") from e
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session() as s:
            yield s

    # ---- reading ------------------------------------------------------------------------
    @staticmethod
    def _full():
        return (selectinload(db.Video.runs), selectinload(db.Video.transitions),
                selectinload(db.Video.shots).selectinload(db.Shot.keyframes),
                selectinload(db.Video.characters).joinedload(db.Character.identity),
                selectinload(db.Video.audio_segments), selectinload(db.Video.curves), selectinload(db.Video.shot_tags),
                selectinload(db.Video.object_tracks).selectinload(db.ObjectTrack.detection_rows))

    def videos(self, full: bool = False) -> list[db.Video]:
        """All videos; ``full`` also loads runs, shots, keyframes and transitions."""
        with self.session() as s:
            q = select(db.Video).order_by(db.Video.id)
            return list(s.scalars(q.options(*self._full()) if full else q))

    def video(self, ref: str | int) -> db.Video:
        """A video by id, fingerprint, filename or path, with runs, shots, keyframes, transitions."""
        with self.session() as s:
            q = select(db.Video).options(*self._full())
            found = None
            if isinstance(ref, int) or str(ref).isdigit():
                found = s.scalars(q.where(db.Video.id == int(ref))).first()
            if found is None:
                ref = str(ref)
                for cond in (db.Video.fingerprint == ref, db.Video.path == str(Path(ref).resolve()),
                             db.Video.filename == Path(ref).name):
                    found = s.scalars(q.where(cond)).first()
                    if found is not None:
                        break
            if found is None:
                raise ReelscopeError(f"no video {ref!r} in the archive at {self.location}")
            return found

    def find(self, fingerprint: str) -> db.Video | None:
        with self.session() as s:
            return s.scalars(select(db.Video).options(selectinload(db.Video.runs))
                             .where(db.Video.fingerprint == fingerprint)).first()

    def completed(self, fingerprint: str) -> dict[str, dict]:
        """Stage name -> params of the completed runs stored for a video."""
        v = self.find(fingerprint)
        return {r.stage: r.params for r in v.runs if r.status == "complete"} if v else {}

    def media_path(self, relative: str) -> Path:
        p = (self.media_root / relative).resolve()
        if self.media_root.resolve() not in p.parents:
            raise ReelscopeError(f"media path {relative!r} is outside the archive's media store")
        return p

    # ---- writing ------------------------------------------------------------------------
    def ensure_video(self, info, frame_count: int | None = None) -> int:
        """The video's row (created, or its file facts refreshed) committed on its own, so every
        stage can commit after it. Two processes creating the same video at once end with one row."""
        from sqlalchemy.exc import IntegrityError

        fields = dict(path=info.path, filename=Path(info.path).name, size_bytes=info.size_bytes,
                      container=info.container, codec=info.codec, width=info.width, height=info.height,
                      rotation=info.rotation, fps_num=info.fps.numerator, fps_den=info.fps.denominator,
                      duration=info.duration, has_audio=info.has_audio, audio_codec=info.audio_codec,
                      audio_rate=info.audio_rate)
        for attempt in range(3):
            try:
                with self.session() as s, s.begin():
                    video = s.scalars(select(db.Video).where(db.Video.fingerprint == info.fingerprint)).first()
                    if video is None:
                        video = db.Video(fingerprint=info.fingerprint, frame_count=frame_count or info.frame_count_hint,
                                         **fields)
                        s.add(video)
                    else:
                        for k, v in fields.items():
                            if getattr(video, k) != v:
                                setattr(video, k, v)
                    s.flush()
                    return video.id
            except IntegrityError:  # another process created it between our read and insert
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def stored_runs(self, video_id: int) -> dict[str, db.AnalysisRun]:
        with self.session() as s:
            return {r.stage: r for r in s.scalars(select(db.AnalysisRun).where(
                db.AnalysisRun.video_id == video_id, db.AnalysisRun.status == "complete"))}

    def save_stage(self, video_id: int, stage: str, artifacts: dict, run: dict) -> None:
        """Replace one stage's results for a video, with its run row, in one transaction.

        ``run``: {params, models, started_at, seconds}. Media the stage's writer prepares are
        written to a staging folder first and published just before the commit."""
        from reelscope import __version__
        from reelscope.archive.writers import writers

        w = writers().get(stage)
        with self.session() as s:
            fingerprint = s.scalars(select(db.Video.fingerprint).where(db.Video.id == video_id)).one()
        media_dir = self.media_root / fingerprint
        staging = media_dir / f".staging-{stage}-{os.getpid()}-{threading.get_ident()}"
        staged = {}
        try:
            if w is not None and w.prepare is not None:
                staging.mkdir(parents=True, exist_ok=True)
                staged = w.prepare(staging, artifacts) or {}
            with self.session() as s, s.begin():
                # lock the video row: two writers of one video take turns stage by stage
                video = s.scalars(select(db.Video).where(db.Video.id == video_id).with_for_update()).one()
                for r in s.scalars(select(db.AnalysisRun).where(db.AnalysisRun.video_id == video_id,
                                                                db.AnalysisRun.stage == stage)):
                    s.delete(r)
                s.flush()
                if w is not None:
                    w.clear(s, video)
                    s.flush()
                    s.expire(video)
                    shot_rows = {sh.idx: sh for sh in s.scalars(select(db.Shot).where(db.Shot.video_id == video_id))}
                    w.write(s, video, {**artifacts, "_media": staged}, shot_rows)
                now = datetime.now(timezone.utc)
                s.add(db.AnalysisRun(video_id=video_id, stage=stage, status="complete",
                                     params=_jsonable(run.get("params") or {}), models=run.get("models") or {},
                                     reelscope_version=__version__, started_at=run.get("started_at") or now,
                                     finished_at=now, seconds=run.get("seconds")))
                s.flush()
                if staged:  # before commit: rows never point at nothing
                    dest = media_dir / w.media_folder
                    dest.mkdir(parents=True, exist_ok=True)
                    for name in staged.values():
                        os.replace(staging / name, dest / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def load_stage(self, video_id: int, stage: str) -> dict:
        """A stored stage's artifacts, read back by its reader."""
        from reelscope.archive.writers import writers

        w = writers().get(stage)
        if w is None or w.read is None:
            raise ReelscopeError(f"stage {stage!r} has no archive reader")
        with self.session() as s:
            video = s.get(db.Video, video_id)
            return w.read(s, video, self.media_root)

    def save(self, info, artifacts: dict, runs: list[dict]) -> int:
        """Store one video's analysis: ``runs`` are {stage, params, models, started_at, seconds}, each
        committed on its own (``save_stage``) after the video row; returns the video id."""
        vid = self.ensure_video(info, artifacts.get("frame_count"))
        for r in runs:
            self.save_stage(vid, r["stage"], artifacts, r)
        return vid

    # ---- failures ---------------------------------------------------------------------------
    def record_failure(self, path: str, error: str, *, fingerprint: str | None = None, stage: str | None = None,
                       detail: str | None = None, stages: list | None = None, params: dict | None = None) -> None:
        from sqlalchemy.exc import IntegrityError

        path = str(Path(path).resolve())
        for attempt in range(2):
            try:
                with self.session() as s, s.begin():
                    row = s.scalars(select(db.AnalysisFailure).where(db.AnalysisFailure.path == path)).first()
                    if row is None:
                        s.add(db.AnalysisFailure(path=path, fingerprint=fingerprint, stage=stage, error=error,
                                                 detail=detail, stages=stages, params=_jsonable(params or {})))
                    else:
                        row.fingerprint, row.stage, row.error, row.detail = fingerprint, stage, error, detail
                        row.stages, row.params, row.attempts = stages, _jsonable(params or {}), row.attempts + 1
                return
            except IntegrityError:
                if attempt:
                    raise

    def clear_failure(self, path: str) -> None:
        with self.session() as s, s.begin():
            s.execute(sa_delete(db.AnalysisFailure).where(db.AnalysisFailure.path == str(Path(path).resolve())))

    def failures(self) -> list[db.AnalysisFailure]:
        with self.session() as s:
            return list(s.scalars(select(db.AnalysisFailure).order_by(db.AnalysisFailure.updated_at)))

    def delete(self, ref: str | int) -> None:
        v = self.video(ref)
        with self.session() as s, s.begin():
            s.delete(s.get(db.Video, v.id))
        shutil.rmtree(self.media_root / v.fingerprint, ignore_errors=True)


def _jsonable(x):
    """Parameters as JSON can hold them (tuples -> lists, numpy scalars -> numbers)."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x
