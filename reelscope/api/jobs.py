"""The job runner of ``reelscope serve``: every long operation (analysis, summary, slideshow, and
the kinds registered later) is a row of the archive's jobs table (reelscope.archive.jobs), run
by worker threads of the server process.

Threads, not a separate process: the analysis is library code that releases the GIL where the
time goes (decoding, numpy, onnxruntime, torch), models load once per process and are shared with
the image endpoints, and cancelling is a flag checked at every progress report. Because the
queue is the database, a second server process on the same PostgreSQL archive claims jobs safely
too, and a worker that dies with its process is found at the next start.

Lifecycle: at start-up, jobs left ``running`` by a server that is gone become ``interrupted``
(and run again by themselves unless ``resume`` is off: an analysis continues from its last
stored stage); queued ones simply run; orphaned uploads are removed; old jobs are pruned. On a
graceful stop (SIGTERM) a running job stops at its next progress report and is left
``interrupted``. A job that fails gets one sentence in ``error`` (the traceback goes to ``detail``
and ARCHIVE/logs/jobs.log).
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from reelscope.archive import schema as db
from reelscope.archive.jobs import (ACTIVE, CANCELLED, DONE, ENDED, FAILED, INTERRUPTED, PLANNED, QUEUED, RUNNING,
                                    JobLost, JobStore, WorkerId)
from reelscope.api.uploads import newest_mtime, remove_upload, uploads_root
from reelscope.errors import Cancelled, ReelscopeError

log = logging.getLogger("reelscope.api.jobs")


class JobCancelled(Cancelled):
    """Raised inside a job (from its progress callback) to stop it: someone cancelled it. (The
    library passes ``reelscope.errors.Cancelled`` through, never recording it as a failure.)"""


class JobStopped(Cancelled):
    """Raised inside a job (from its progress callback) to stop it: the server is stopping."""


@dataclass(frozen=True)
class JobSettings:
    workers: int = 1
    retention_days: float = 30.0  # ended jobs older than this are deleted
    keep: int = 1000  # and all but the newest ``keep`` ended jobs
    resume: bool = True  # interrupted jobs run again by themselves
    max_restarts: int = 3  # a job its server died under this many times fails instead (a crash loop)
    heartbeat: float = 5.0  # seconds between "still running" marks
    stale: float = 120.0  # a running job whose worker was silent this long is interrupted
    orphan_grace: float = 600.0  # an upload folder younger than this may belong to a request in flight
    planned_ttl: float = 3600.0  # a planned slideshow keeps its pictures this long
    poll: float = 1.0  # seconds between looks for jobs queued by other processes
    stop_wait: float = 5.0  # at shutdown, seconds a running job has to reach its next progress report
    housekeeping: float = 600.0  # seconds between retention / orphan sweeps

    @classmethod
    def from_env(cls, **over) -> "JobSettings":
        env = os.environ
        kw: dict[str, Any] = {}
        for name, var, conv in (("workers", "REELSCOPE_JOB_WORKERS", int),
                                ("retention_days", "REELSCOPE_JOB_RETENTION_DAYS", float),
                                ("keep", "REELSCOPE_JOB_KEEP", int),
                                ("orphan_grace", "REELSCOPE_UPLOAD_GRACE_SECONDS", float)):
            if env.get(var):
                try:
                    kw[name] = conv(env[var])
                except ValueError:
                    raise ReelscopeError(f"{var}={env[var]!r}: not a number") from None
        if env.get("REELSCOPE_JOB_RESUME"):
            kw["resume"] = env["REELSCOPE_JOB_RESUME"].lower() not in ("0", "false", "no", "off")
        kw.update({k: v for k, v in over.items() if v is not None})
        s = cls(**kw)
        if s.workers < 1 or s.keep < 0 or s.retention_days < 0:
            raise ReelscopeError("job settings: workers must be >= 1, keep and retention days >= 0")
        return s


@dataclass
class Finish:
    """What a job's handler returns."""
    status: str = DONE  # done | planned | failed
    video_id: int | None = None
    result: dict | None = None
    error: str | None = None  # one sentence, for status failed
    detail: str | None = None
    note: str | None = None  # the latest event, for people
    keep_upload: bool = False  # the upload became part of the archive


class EtaClock:
    """Time left from the rate of progress over the last ``window`` seconds (a rate over the whole
    run would carry a slow start, or a resumed job's jump over its stored stages, to the end)."""

    def __init__(self, window: float = 60.0, min_span: float = 2.0):
        self.window, self.min_span = window, min_span
        self.samples: collections.deque = collections.deque()  # (seconds, fraction), 4 a second at most

    def add(self, t: float, fraction: float) -> None:
        if self.samples and t - self.samples[-1][0] < 0.25:
            self.samples[-1] = (self.samples[-1][0], fraction)
        else:
            self.samples.append((t, fraction))
        while len(self.samples) > 2 and t - self.samples[1][0] >= self.window:
            self.samples.popleft()

    def fraction(self) -> float:
        return self.samples[-1][1] if self.samples else 0.0

    def eta(self, t: float) -> float | None:
        """Seconds left at time ``t``; None until ``min_span`` seconds of progress were seen."""
        if not self.samples:
            return None
        (t0, f0), f = self.samples[0], self.samples[-1][1]
        if t - t0 < self.min_span or f - f0 <= 0.005:
            return None
        return round((1.0 - f) * (t - t0) / (f - f0), 1)


class _Running:
    def __init__(self, job: db.Job):
        self.job = job
        self.cancel = threading.Event()
        self.stop = threading.Event()
        self.stage: str | None = None
        self.written = 0.0
        self.clock = EtaClock()


@dataclass
class JobContext:
    """What a handler gets: its row, the archive, the runner (for caches) and a progress callback
    that raises JobCancelled/JobStopped when the job must stop."""
    runner: "JobRunner"
    job: db.Job
    _run: _Running = field(repr=False)

    @property
    def archive(self):
        return self.runner.archive

    @property
    def request(self) -> dict:
        return self.job.request or {}

    def upload_path(self) -> Path | None:
        return Path(self.job.upload) if self.job.upload else None

    def progress(self, stage: str | None, done: int, total: int, fraction: float | None = None) -> None:
        self.runner._progress(self._run, stage, done, total, fraction)

    def check(self) -> None:
        """Raise if the job must stop (for handlers between library calls)."""
        self.runner._check(self._run)


Handler = Callable[[JobContext], Finish]
KINDS: dict[str, Handler] = {}  # kind -> handler (reelscope.api.job_tasks registers the built-in ones)
WORDS = {"analysis": "Analysis", "summary": "Summary", "slideshow": "Slideshow", "batch": "Batch"}


def register(kind: str, words: str | None = None) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        KINDS[kind] = fn
        if words:
            WORDS[kind] = words
        return fn
    return deco


class JobRunner:
    def __init__(self, archive, settings: JobSettings | None = None):
        from reelscope.api import job_tasks  # noqa: F401  (registers the built-in kinds)

        self.archive = archive
        self.settings = settings or JobSettings()
        self.store = JobStore(archive)
        self.me = WorkerId.mine()
        self.cache: dict[str, Any] = {}  # per-job objects worth keeping between runs (a slideshow's plan)
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = False

    # ---- start and stop ------------------------------------------------------------------------
    def start(self) -> None:
        """Recover what the last server left, clean up, and start the workers."""
        if self.started:
            return
        self.started = True
        self._stopping = stopping = threading.Event()  # one per start: threads abandoned at a stop stay stopped
        for job in self.store.recover(self.me, self.settings.stale, self.settings.max_restarts,
                                      "the server stopped while it ran"):
            log.warning("job %s (%s %s) was running when the server stopped: %s", job.id, job.kind, job.source,
                        job.status)
            if job.status == FAILED:
                self._remove_upload(job)
        self.housekeep()
        for k in range(self.settings.workers):
            t = threading.Thread(target=self._work, args=(stopping,), name=f"reelscope-job-{k}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._keep_alive, args=(stopping,), name="reelscope-job-heartbeat",
                             daemon=True)
        t.start()
        self._threads.append(t)

    def shutdown(self, wait: float | None = None) -> None:
        """Stop: running jobs stop at their next progress report and are left interrupted. One that
        does not report within ``wait`` seconds (settings.stop_wait) is marked interrupted here; its
        thread is abandoned (its later writes are refused: the job is no longer running)."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for r in self._running.values():
                r.stop.set()
        deadline = time.monotonic() + (self.settings.stop_wait if wait is None else wait)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._running.values())
        for r in left:
            note = (f"Interrupted at {self._where(r)}: the server was stopped; it goes on when the server "
                    "starts again.")
            try:
                if self.store.finish(r.job.id, self.me, INTERRUPTED, note=note):
                    log.warning("job %s was still running at shutdown: marked interrupted", r.job.id)
            except Exception:  # the database is gone too: the next start finds it running
                log.exception("cannot mark job %s interrupted", r.job.id)
        self._threads = [t for t in self._threads if t.is_alive()]
        self.started = False

    # ---- people's side -------------------------------------------------------------------------
    def submit(self, kind: str, source: str, request: dict, *, upload: Path | str | None = None,
               video_id: int | None = None) -> db.Job:
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        job = self.store.add(kind, source, request, upload=str(Path(upload).resolve()) if upload else None,
                             video_id=video_id)
        self._wake.set()
        return job

    def get(self, job_id: str) -> db.Job | None:
        return self.store.get(job_id)

    def list(self, kind: str | None = None) -> list[db.Job]:
        return self.store.list(kind)

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def cancel(self, job_id: str) -> db.Job | None:
        job, ended = self.store.cancel(job_id)
        if job is None:
            return None
        if ended:
            self._ended(job)
        else:
            with self._lock:
                r = self._running.get(job_id)
            if r is not None:
                r.cancel.set()
        return job

    def requeue(self, job_id: str, from_statuses: tuple[str, ...], note: str | None = None,
                request: dict | None = None) -> bool:
        ok = self.store.requeue(job_id, from_statuses, note, request)
        self._wake.set()
        return ok

    def can_resume(self, job: db.Job) -> bool:
        """An interrupted job can run again (unless its uploaded file is gone), and so can one that
        failed because its server kept dying under it (a file on the server: nothing was removed)."""
        if job.status == INTERRUPTED:
            return not job.upload or Path(job.upload).exists()
        return job.status == FAILED and job.restarts >= self.settings.max_restarts and not job.upload

    # ---- the workers ---------------------------------------------------------------------------
    def runnable(self) -> tuple[str, ...]:
        return (QUEUED, INTERRUPTED) if self.settings.resume else (QUEUED,)

    def _work(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self._wake.clear()
            try:
                job = self.store.claim(self.me, self.runnable(), tuple(KINDS))
            except Exception:  # the database is away for a moment: try again later
                log.exception("cannot claim a job")
                job = None
            if job is None:
                self._wake.wait(self.settings.poll)
                continue
            self._run(job, stopping)

    def _run(self, job: db.Job, stopping: threading.Event) -> None:
        run = _Running(job)
        with self._lock:
            self._running[job.id] = run
            if stopping.is_set():  # claimed just as the server stops: left interrupted at once
                run.stop.set()
        if job.attempts > 1:
            log.info("job %s (%s %s) resumed, attempt %d", job.id, job.kind, job.source, job.attempts)
        try:
            fin = self._execute(run)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
        if fin is None:
            return
        fields: dict = {"note": fin.note} if fin.note else {}
        if fin.status == DONE:
            fields["fraction"] = 1.0
        if fin.status in ENDED:  # before the row says so: who sees the job ended sees its upload gone
            self._ended(job, keep_upload=fin.keep_upload)
        if not self.store.finish(job.id, self.me, fin.status, video_id=fin.video_id, result=fin.result,
                                 error=fin.error, detail=fin.detail, **fields):
            log.warning("job %s was taken from this worker before it ended (%s)", job.id, fin.status)

    def _execute(self, run: _Running) -> Finish | None:
        job = run.job
        ctx = JobContext(self, job, run)
        try:
            self._check(run)
            return KINDS[job.kind](ctx)
        except JobCancelled:
            return Finish(CANCELLED, note=f"Cancelled at {self._where(run)}.")
        except JobStopped:
            return Finish(INTERRUPTED, note=f"Interrupted at {self._where(run)}: the server was stopped; it goes "
                                            "on when the server starts again.")
        except JobLost:
            return None
        except Exception as e:  # a job reports its failure; the worker goes on with the next one
            detail = traceback.format_exc()
            sentence = self.sentence(job, e, run.stage)
            log.error("job %s failed: %s", job.id, sentence)
            self._log(job, sentence, detail)
            return Finish(FAILED, error=sentence, detail=detail)

    @staticmethod
    def _where(run: _Running) -> str:
        return f"{100 * run.clock.fraction():.0f}%" + (f" ({run.stage})" if run.stage else "")

    def sentence(self, job: db.Job, error: BaseException | str, stage: str | None = None) -> str:
        """One sentence saying what failed: '<Kind> of <source> failed[ during <stage>]: <why>.'"""
        if isinstance(error, BaseException):
            msg = str(error).strip().splitlines()[0] if str(error).strip() else ""
            if not isinstance(error, (ReelscopeError, ValueError)):
                msg = f"unexpected {type(error).__name__}" + (f" ({msg})" if msg else "")
        else:
            msg = error.strip().splitlines()[0] if error.strip() else "unknown error"
        folders = [job.upload, os.path.dirname(str((job.request or {}).get("path") or ""))]
        for folder in filter(None, folders):  # people see their file names, not the server's folders
            msg = msg.replace(folder.rstrip("/") + "/", "")
        what = WORDS.get(job.kind, job.kind.capitalize())
        if not msg.startswith(job.source):
            what += f" of {job.source}"
        where = f" during {stage}" if stage and stage not in msg else ""
        text = " ".join(f"{what} failed{where}: {msg}".split())
        return text if text.endswith((".", "!", "?")) else text + "."

    def _log(self, job: db.Job, sentence: str, detail: str) -> None:
        try:
            folder = Path(self.archive.location) / "logs"
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "jobs.log", "a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} job {job.id} ({job.kind}): {sentence}\n{detail}\n")
        except OSError:
            pass

    # ---- progress --------------------------------------------------------------------------------
    def _check(self, run: _Running) -> None:
        if run.cancel.is_set():
            raise JobCancelled()
        if run.stop.is_set():
            raise JobStopped()

    def _progress(self, run: _Running, stage: str | None, done: int, total: int, fraction: float | None) -> None:
        self._check(run)
        if fraction is None:
            fraction = done / total if total else 0.0
        fraction = max(0.0, min(1.0, float(fraction)))
        now = time.monotonic()
        run.clock.add(now, fraction)
        changed = stage != run.stage
        run.stage = stage
        if not changed and now - run.written < 0.5 and done < total:
            return
        run.written = now
        if self.store.progress(run.job.id, self.me, stage, done, total, fraction, run.clock.eta(now)):
            run.cancel.set()
            raise JobCancelled()

    def _keep_alive(self, stopping: threading.Event) -> None:
        last_sweep = last_recover = time.monotonic()
        while not stopping.wait(self.settings.heartbeat):
            with self._lock:
                running = dict(self._running)
            try:
                for job_id, cancel in self.store.heartbeat(list(running), self.me).items():
                    if cancel is None or cancel:  # lost, or cancelled from another process
                        running[job_id].cancel.set()
                if time.monotonic() - last_recover > self.settings.stale / 2:
                    last_recover = time.monotonic()
                    self.store.recover(self.me, self.settings.stale, self.settings.max_restarts,
                                       "its worker stopped answering")
                if time.monotonic() - last_sweep > self.settings.housekeeping:
                    last_sweep = time.monotonic()
                    self.housekeep()
            except Exception:
                log.exception("job housekeeping failed")

    # ---- uploads and retention -------------------------------------------------------------------
    def housekeep(self) -> None:
        """Retention (ended jobs beyond the limits), planned slideshows nobody rendered, orphaned uploads."""
        for job in self.store.expire_planned(self.settings.planned_ttl):
            self._ended(job)
        for job in self.store.prune(self.settings.retention_days, self.settings.keep):
            self._forget(job)
        self.sweep_uploads()

    def _forget(self, job: db.Job) -> None:
        """A pruned job's own outputs go with it (a slideshow's mp4)."""
        out = (job.result or {}).get("output")
        if out:
            try:
                p = (Path(self.archive.location) / out).resolve()
                if Path(self.archive.location).resolve() in p.parents:
                    p.unlink(missing_ok=True)
            except OSError:
                pass
        self.cache.pop(job.id, None)

    def _ended(self, job: db.Job | None, keep_upload: bool = False) -> None:
        if job is None:
            return
        self.cache.pop(job.id, None)
        if not keep_upload:
            self._remove_upload(job)

    def _remove_upload(self, job: db.Job) -> None:
        if job.upload and not self._video_uses(Path(job.upload)):
            remove_upload(self.archive, Path(job.upload))

    def _video_uses(self, folder: Path) -> bool:
        return bool(self.store.video_paths_under(folder, limit=1))

    def referenced_uploads(self) -> set[Path]:
        """Upload folders that a job that may still run, or a video of the archive, refers to."""
        root = uploads_root(self.archive)
        refs = {Path(u) for u in self.store.active_uploads()}
        for path in self.store.video_paths_under(root):
            refs.add(root / Path(path).relative_to(root).parts[0])
        return refs

    def sweep_uploads(self, grace: float | None = None) -> list[Path]:
        """Remove upload folders (and stray files) that no job or video refers to and that are older
        than the grace period (younger ones may belong to a request still uploading)."""
        root = uploads_root(self.archive)
        if not root.is_dir():
            return []
        grace = self.settings.orphan_grace if grace is None else grace
        refs = {p.resolve() for p in self.referenced_uploads()}
        now = time.time()
        removed = []
        for entry in root.iterdir():
            if entry.resolve() in refs or now - newest_mtime(entry) < grace:
                continue
            remove_upload(self.archive, entry)
            removed.append(entry)
        if removed:
            log.info("removed %d orphaned upload(s): %s", len(removed), ", ".join(p.name for p in removed))
        return removed

    def release_upload(self, path: str | None) -> None:
        """A video file that the archive no longer uses (its video was deleted, or re-uploaded into
        another folder): its upload folder goes, unless a job or video still uses it."""
        root = uploads_root(self.archive)
        if not path:
            return
        try:
            rel = Path(path).relative_to(root)
        except ValueError:
            return
        folder = root / rel.parts[0]
        if folder not in {Path(u) for u in self.store.active_uploads()} and not self._video_uses(folder):
            remove_upload(self.archive, folder)


__all__ = ["ACTIVE", "DONE", "ENDED", "FAILED", "PLANNED", "RUNNING", "Finish", "JobCancelled", "JobContext",
           "JobRunner", "JobSettings", "JobStopped", "KINDS", "register"]
