"""Jobs in the archive database: the queue of a server's long operations (analysis, summaries,
slideshows, batches). The runner that executes them is reelscope.api.jobs; this module only reads
and writes rows, so every process that opens the archive sees the same jobs.

Claiming is one statement, on both databases::

    UPDATE jobs SET status='running', worker=:me, ...
     WHERE id = (SELECT id FROM jobs WHERE status IN ('queued', ...) ORDER BY created_at LIMIT 1
                 FOR UPDATE SKIP LOCKED)          -- PostgreSQL; SQLite has no row locks and ignores it
       AND status IN ('queued', ...)
    RETURNING id

On PostgreSQL the row lock with SKIP LOCKED lets several workers claim different jobs at once; on
SQLite the single UPDATE holds the database's write lock, so the WHERE on the status makes the
claim atomic. Every later write of a worker names the job *and* the worker (``WHERE id=:id AND
worker=:me AND status='running'``): a job taken away from a worker (found stale and claimed again
elsewhere) is never overwritten by it.

Why not a task-queue library: the well-kept ones that keep their queue in a database serve one
database only (procrastinate, pgqueuer, dramatiq-pg: PostgreSQL) or keep nothing about a task
once it is handed out (huey's SQL storage deletes a message when a consumer reads it, so a task
running when the process dies is lost rather than "interrupted"; APScheduler 3 stores schedules,
not runs, and 4.0 is a pre-release marked not for production). The SQLAlchemy-only queues
(alchemical-queues, taskiq-sqlalchemy, dbworker) are 0.x projects with a handful of users. Each
would still need this table for what the Jobs page shows (progress, ETA, interrupted, cancel,
retention), and the queue part of it is the single UPDATE above.
"""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, func, select, update

from reelscope.archive import schema as db

QUEUED, RUNNING, DONE, FAILED, CANCELLED, INTERRUPTED, PLANNED = (
    "queued", "running", "done", "failed", "cancelled", "interrupted", "planned")
ENDED = (DONE, FAILED, CANCELLED)
ACTIVE = (QUEUED, RUNNING, INTERRUPTED, PLANNED)  # a job in these states may still need its upload


class JobLost(Exception):
    """The job is no longer this worker's (cancelled by force, or found stale and claimed elsewhere)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(t: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time stored here is UTC."""
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


@dataclass(frozen=True)
class WorkerId:
    """Who claimed a job: host, process id and a token that is new for every process start (a
    restarted server in a container may get its old pid back)."""
    host: str
    pid: int
    token: str

    @classmethod
    def mine(cls) -> "WorkerId":
        return cls(socket.gethostname()[:100], os.getpid(), uuid.uuid4().hex[:12])

    @classmethod
    def parse(cls, text: str | None) -> "WorkerId | None":
        try:
            host, pid, token = (text or "").rsplit(":", 2)
            return cls(host, int(pid), token)
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process that its parent has not reaped yet is a zombie: dead for us
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def dead(worker: WorkerId | None, me: WorkerId, heartbeat: datetime | None, stale: float) -> bool:
    """Whether the worker that holds a running job is gone: a process of this host that no longer
    exists (or is an earlier life of this pid), or a heartbeat older than ``stale`` seconds."""
    if worker is not None and worker.host == me.host:
        if worker.pid == me.pid:
            return worker.token != me.token
        if not _process_alive(worker.pid):
            return True
    hb = aware(heartbeat)
    return hb is None or (utcnow() - hb).total_seconds() > stale


def percent(job: db.Job) -> float:
    return round(100.0 * max(0.0, min(1.0, job.fraction or 0.0)), 1)


class JobStore:
    """The jobs table of one archive."""

    def __init__(self, archive):
        self.archive = archive
        self.pg = archive.engine.dialect.name == "postgresql"

    # ---- creating and reading ----------------------------------------------------------------
    def add(self, kind: str, source: str, request: dict, *, upload: str | None = None,
            video_id: int | None = None) -> db.Job:
        now = utcnow()
        job = db.Job(id=uuid.uuid4().hex[:12], kind=kind, status=QUEUED, source=source[:512], request=request,
                     upload=upload, video_id=video_id, done=0, total=0, fraction=0.0, cancel_requested=False,
                     attempts=0, restarts=0, created_at=now)
        with self.archive.session() as s, s.begin():
            s.add(job)
        return job

    def get(self, job_id: str) -> db.Job | None:
        with self.archive.session() as s:
            return s.get(db.Job, job_id)

    def list(self, kind: str | None = None, limit: int | None = None) -> list[db.Job]:
        q = select(db.Job).order_by(db.Job.created_at.desc(), db.Job.id.desc())
        if kind is not None:
            q = q.where(db.Job.kind == kind)
        if limit is not None:
            q = q.limit(limit)
        with self.archive.session() as s:
            return list(s.scalars(q))

    def counts(self) -> dict[str, int]:
        with self.archive.session() as s:
            return {st: n for st, n in s.execute(select(db.Job.status, func.count()).group_by(db.Job.status))}

    def video_paths_under(self, folder: Path | str, limit: int | None = None) -> list[str]:
        """Paths of the archive's videos whose file lies inside ``folder``."""
        q = select(db.Video.path).where(db.Video.path.startswith(str(folder).rstrip(os.sep) + os.sep, autoescape=True))
        with self.archive.session() as s:
            return list(s.scalars(q.limit(limit) if limit else q))

    def active_uploads(self) -> set[str]:
        with self.archive.session() as s:
            return set(s.scalars(select(db.Job.upload).where(db.Job.status.in_(ACTIVE), db.Job.upload.is_not(None))))

    # ---- the worker's side ---------------------------------------------------------------------
    def claim(self, me: WorkerId, statuses: tuple[str, ...] = (QUEUED,), kinds: tuple[str, ...] | None = None
              ) -> db.Job | None:
        """The oldest job in ``statuses``, now running and this worker's; None if there is none."""
        now = utcnow()
        pick = select(db.Job.id).where(db.Job.status.in_(statuses))
        if kinds is not None:
            pick = pick.where(db.Job.kind.in_(kinds))
        pick = pick.order_by(db.Job.created_at, db.Job.id).limit(1).with_for_update(skip_locked=True)
        stmt = (update(db.Job).where(db.Job.id == pick.scalar_subquery(), db.Job.status.in_(statuses))
                .values(status=RUNNING, worker=str(me), heartbeat_at=now, started_at=now, finished_at=None,
                        attempts=db.Job.attempts + 1, stage=None, done=0, total=0, fraction=0.0, eta_seconds=None,
                        progress_at=now, error=None, detail=None)
                .returning(db.Job.id))
        with self.archive.session() as s, s.begin():
            job_id = s.execute(stmt).scalar()
        return self.get(job_id) if job_id else None

    def _mine(self, job_id: str, me: WorkerId):
        return (db.Job.id == job_id, db.Job.worker == str(me), db.Job.status == RUNNING)

    def progress(self, job_id: str, me: WorkerId, stage: str | None, done: int, total: int, fraction: float,
                 eta: float | None) -> bool:
        """Store the progress of a running job; returns whether a cancel was requested. Raises
        JobLost when the job is no longer this worker's."""
        now = utcnow()
        stmt = (update(db.Job).where(*self._mine(job_id, me))
                .values(stage=stage, done=int(done), total=int(total), fraction=float(fraction), eta_seconds=eta,
                        progress_at=now, heartbeat_at=now).returning(db.Job.cancel_requested))
        with self.archive.session() as s, s.begin():
            row = s.execute(stmt).first()
        if row is None:
            raise JobLost(job_id)
        return bool(row[0])

    def heartbeat(self, job_ids: list[str], me: WorkerId) -> dict[str, bool | None]:
        """Mark running jobs alive. Returns job id -> cancel requested, or None for a job that is
        no longer this worker's."""
        if not job_ids:
            return {}
        now = utcnow()
        with self.archive.session() as s, s.begin():
            s.execute(update(db.Job).where(db.Job.id.in_(job_ids), db.Job.worker == str(me),
                                           db.Job.status == RUNNING).values(heartbeat_at=now))
            rows = s.execute(select(db.Job.id, db.Job.worker, db.Job.status, db.Job.cancel_requested)
                             .where(db.Job.id.in_(job_ids))).all()
        found = {r.id: (bool(r.cancel_requested) if r.worker == str(me) and r.status == RUNNING else None)
                 for r in rows}
        return {j: found.get(j) for j in job_ids}

    def finish(self, job_id: str, me: WorkerId, status: str, **fields) -> bool:
        """End this worker's run of a job (``status``: done, failed, cancelled, interrupted, planned)."""
        now = utcnow()
        values = {"status": status, "heartbeat_at": now, "eta_seconds": None, **fields}
        if status in ENDED:
            values["finished_at"] = now
        if status == INTERRUPTED:
            values["interrupted_at"] = now
        with self.archive.session() as s, s.begin():
            n = s.execute(update(db.Job).where(*self._mine(job_id, me)).values(**values)).rowcount
        return n == 1

    # ---- people's side -----------------------------------------------------------------------------
    def cancel(self, job_id: str) -> tuple[db.Job | None, bool]:
        """Cancel a job: one that is not running ends at once (returns it, True); a running one is
        asked to stop at its next progress report (False). Ended jobs stay as they are."""
        now = utcnow()
        with self.archive.session() as s, s.begin():
            n = s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status.in_((QUEUED, INTERRUPTED, PLANNED)))
                          .values(status=CANCELLED, finished_at=now, cancel_requested=True, eta_seconds=None)).rowcount
            if not n:
                s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status == RUNNING)
                          .values(cancel_requested=True))
        return self.get(job_id), bool(n)

    def requeue(self, job_id: str, from_statuses: tuple[str, ...], note: str | None = None,
                request: dict | None = None) -> bool:
        """Queue a job again (resume an interrupted one, render a planned slideshow)."""
        values = {"status": QUEUED, "cancel_requested": False, "finished_at": None, "restarts": 0}
        if note is not None:
            values["note"] = note
        if request is not None:
            values["request"] = request
        with self.archive.session() as s, s.begin():
            return s.execute(update(db.Job).where(db.Job.id == job_id, db.Job.status.in_(from_statuses))
                             .values(**values)).rowcount == 1

    # ---- housekeeping ----------------------------------------------------------------------------
    def recover(self, me: WorkerId, stale: float, max_restarts: int, why: str) -> list[db.Job]:
        """Running jobs whose worker is gone become ``interrupted`` (or ``failed`` once their server
        died ``max_restarts`` times while running them). Returns the jobs changed."""
        now = utcnow()
        changed = []
        with self.archive.session() as s:
            running = list(s.scalars(select(db.Job).where(db.Job.status == RUNNING)))
        for job in running:
            if not dead(WorkerId.parse(job.worker), me, job.heartbeat_at, stale):
                continue
            at = f"{percent(job):g}%" + (f", stage {job.stage}" if job.stage else "")
            restarts = job.restarts + 1
            values = {"status": INTERRUPTED, "interrupted_at": now, "restarts": restarts, "eta_seconds": None,
                      "note": f"Interrupted at {at}: {why}."}
            if restarts >= max_restarts:
                values.update(status=FAILED, finished_at=now,
                              error=f"The server stopped {restarts} times while this job ran (last at {at}); it is "
                                    "not resumed automatically any more.")
            with self.archive.session() as s, s.begin():
                n = s.execute(update(db.Job).where(db.Job.id == job.id, db.Job.status == RUNNING,
                                                   db.Job.worker == job.worker).values(**values)).rowcount
            if n:
                changed.append(self.get(job.id))
        return changed

    def expire_planned(self, ttl: float) -> list[db.Job]:
        """Planned jobs nobody rendered within ``ttl`` seconds are cancelled (their pictures go)."""
        cutoff = utcnow() - timedelta(seconds=ttl)
        with self.archive.session() as s:
            old = list(s.scalars(select(db.Job).where(db.Job.status == PLANNED, db.Job.finished_at.is_(None),
                                                      db.Job.heartbeat_at < cutoff)))
        out = []
        for job in old:
            with self.archive.session() as s, s.begin():
                n = s.execute(update(db.Job).where(db.Job.id == job.id, db.Job.status == PLANNED)
                              .values(status=CANCELLED, finished_at=utcnow(),
                                      note="The plan was not rendered in time; its pictures were removed.")).rowcount
            if n:
                out.append(job)
        return out

    def prune(self, days: float, keep: int) -> list[db.Job]:
        """Delete ended jobs older than ``days`` and all but the newest ``keep`` ended jobs.
        Returns the deleted rows (their outputs are the caller's to remove)."""
        cutoff = utcnow() - timedelta(days=days)
        with self.archive.session() as s:
            ended = list(s.scalars(select(db.Job).where(db.Job.status.in_(ENDED))
                                   .order_by(db.Job.created_at.desc(), db.Job.id.desc())))
        gone = [j for k, j in enumerate(ended)
                if k >= keep or (aware(j.finished_at) or aware(j.created_at)) < cutoff]
        for k in range(0, len(gone), 500):
            with self.archive.session() as s, s.begin():
                s.execute(delete(db.Job).where(db.Job.id.in_([j.id for j in gone[k:k + 500]]),
                                               db.Job.status.in_(ENDED)))
        return gone
