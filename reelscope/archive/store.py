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
    def save(self, info, artifacts: dict, runs: list[dict]) -> int:
        """Store one video's analysis: ``runs`` are {stage, params, models, started_at, seconds}.

        Results of each stage in ``runs`` replace that stage's previous results for the video.
        All in one transaction; returns the video id.
        """
        from reelscope import __version__

        stage_names = {r["stage"] for r in runs}
        media_dir = self.media_root / info.fingerprint
        staged = self._stage_media(media_dir, artifacts.get("keyframes") or [])
        face_thumbs = self._stage_face_thumbs(media_dir, artifacts.get("faces")) if "faces" in stage_names else {}
        try:
            with self.session() as s, s.begin():
                video = s.scalars(select(db.Video).where(db.Video.fingerprint == info.fingerprint)
                                  .with_for_update()).first()
                frame_count = artifacts.get("frame_count") or (video.frame_count if video else info.frame_count_hint)
                fields = dict(path=info.path, filename=Path(info.path).name, size_bytes=info.size_bytes,
                              container=info.container, codec=info.codec, width=info.width, height=info.height,
                              rotation=info.rotation, fps_num=info.fps.numerator, fps_den=info.fps.denominator,
                              frame_count=frame_count, duration=info.duration,
                              variable_frame_rate=_is_vfr(artifacts.get("frame_times"), info.fps),
                              has_audio=info.has_audio, audio_codec=info.audio_codec, audio_rate=info.audio_rate)
                if video is None:
                    video = db.Video(fingerprint=info.fingerprint, **fields)
                    s.add(video)
                    s.flush()
                else:
                    for k, v in fields.items():
                        setattr(video, k, v)
                    for run in list(video.runs):
                        if run.stage in stage_names:
                            s.delete(run)
                    if "shots" in stage_names:
                        for t in list(video.transitions):
                            s.delete(t)
                        for sh in list(video.shots):
                            s.delete(sh)
                    elif "keyframes" in stage_names:
                        for sh in video.shots:
                            for kf in list(sh.keyframes):
                                s.delete(kf)
                    s.flush()
                shot_rows = self._write_shots(s, video, artifacts) if "shots" in stage_names \
                    else {sh.idx: sh for sh in video.shots}
                if "keyframes" in stage_names:
                    for kf in artifacts.get("keyframes") or []:
                        name, (h, w) = staged[(kf.shot_index, kf.frame)], kf.image.shape[:2]
                        s.add(db.Keyframe(shot_id=shot_rows[kf.shot_index].id, frame=kf.frame, time=kf.time,
                                          method=kf.method, image=f"{info.fingerprint}/keyframes/{name}",
                                          width=w, height=h, sharpness=kf.sharpness))
                if "shot_size" in stage_names:
                    for ss in artifacts.get("shot_sizes") or []:
                        row = shot_rows.get(ss.shot_index)
                        if row is not None:
                            row.size, row.size_confidence, row.size_evidence = ss.label, ss.confidence, ss.evidence
                if "faces" in stage_names:
                    from reelscope.archive.people_io import write_faces
                    write_faces(s, video, artifacts["faces"], face_thumbs, f"{info.fingerprint}/faces")
                from reelscope.archive.writers import writers
                for name, w in writers().items():
                    if name in stage_names:
                        w.clear(s, video)
                        s.flush()
                        w.write(s, video, artifacts, shot_rows)
                now = datetime.now(timezone.utc)
                for r in runs:
                    s.add(db.AnalysisRun(video_id=video.id, stage=r["stage"], status="complete",
                                         params=r.get("params") or {}, models=r.get("models") or {},
                                         reelscope_version=__version__, started_at=r.get("started_at") or now,
                                         finished_at=now, seconds=r.get("seconds")))
                s.flush()
                self._publish_media(media_dir, staged)  # before commit: rows never point at nothing
                self._publish_media(media_dir, face_thumbs, "faces")
                return video.id
        finally:
            shutil.rmtree(media_dir / ".staging", ignore_errors=True)

    def _write_shots(self, s: Session, video: db.Video, artifacts: dict) -> dict[int, db.Shot]:
        times = artifacts.get("frame_times") or []
        n = artifacts.get("frame_count") or len(times)
        fps = video.fps_num / video.fps_den

        def at(frame: int) -> float:
            if frame < len(times):
                return times[frame]
            return (times[-1] + (frame - len(times) + 1) / fps) if times else frame / fps

        for t in artifacts.get("transitions") or []:
            s.add(db.Transition(video_id=video.id, type=t.type.value, start_frame=t.start, end_frame=t.end,
                                boundary_frame=t.boundary, score=t.score, detector=t.detector))
        rows = {}
        for sh in artifacts.get("shots") or []:
            row = db.Shot(video_id=video.id, idx=sh.index, start_frame=sh.start, end_frame=sh.end,
                          start_time=at(sh.start), end_time=at(min(sh.end + 1, n)),
                          transition_in=sh.transition_in.value if sh.transition_in else None,
                          transition_out=sh.transition_out.value if sh.transition_out else None)
            s.add(row)
            rows[sh.index] = row
        s.flush()
        return rows

    def _stage_media(self, media_dir: Path, keyframes) -> dict[tuple[int, int], str]:
        staged = {}
        if not keyframes:
            return staged
        tmp = media_dir / ".staging"
        tmp.mkdir(parents=True, exist_ok=True)
        for kf in keyframes:
            h, w = kf.image.shape[:2]
            name = f"{kf.frame:07d}_{w}x{h}.jpg"
            ok = cv2.imwrite(str(tmp / name), cv2.cvtColor(kf.image, cv2.COLOR_RGB2BGR),
                             [cv2.IMWRITE_JPEG_QUALITY, 88])
            if not ok:
                raise ReelscopeError(f"cannot write thumbnail {tmp / name}")
            staged[(kf.shot_index, kf.frame)] = name
        return staged

    def _stage_face_thumbs(self, media_dir: Path, face_pass) -> dict[int, str]:
        """Character index -> staged thumbnail file name (the crop of its best face)."""
        if face_pass is None:
            return {}
        tmp = media_dir / ".staging"
        tmp.mkdir(parents=True, exist_ok=True)
        tracks = {t.id: t for t in face_pass.tracks}
        out = {}
        for c in face_pass.characters:
            th = c.thumbnail
            t = tracks.get(th.track_id)
            if t is None or th.frame not in t.frames:
                continue
            jpeg = face_pass.crops.get((th.frame, t.det_indices[t.frames.index(th.frame)]))
            if not jpeg:
                continue
            name = f"character_{c.index:03d}_{th.frame:07d}.jpg"
            (tmp / name).write_bytes(jpeg)
            out[c.index] = name
        return out

    @staticmethod
    def _publish_media(media_dir: Path, staged: dict, folder: str = "keyframes") -> None:
        if not staged:
            return
        dest = media_dir / folder
        dest.mkdir(parents=True, exist_ok=True)
        for name in staged.values():
            os.replace(media_dir / ".staging" / name, dest / name)

    def delete(self, ref: str | int) -> None:
        v = self.video(ref)
        with self.session() as s, s.begin():
            s.delete(s.get(db.Video, v.id))
        shutil.rmtree(self.media_root / v.fingerprint, ignore_errors=True)


def _is_vfr(times, fps) -> bool:
    if not times or len(times) < 3:
        return False
    import numpy as np

    d = np.diff(np.asarray(times, dtype=np.float64))
    return bool(np.abs(d - 1 / float(fps)).max() > 0.5 / float(fps))
