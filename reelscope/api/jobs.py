"""Video analysis jobs: reelscope.analysis.analyze in a small worker pool, with progress and
cooperative cancellation.

Cancelling a running job makes its progress callback raise ``JobCancelled``; the analysis
writes a video in one transaction at its very end, so a cancelled job leaves nothing behind.
Job records live in memory (one server process); the results live in the archive.
"""
from __future__ import annotations

import logging
import shutil
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from reelscope.errors import Cancelled

log = logging.getLogger("reelscope.api.jobs")


class JobCancelled(Cancelled):
    """Raised inside the analysis (from its progress callback) to stop a cancelled job."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Job:
    id: str
    path: str
    source: str
    stages: list[str]
    params: dict[str, dict]
    force: bool
    cleanup: Path | None = None  # upload folder: removed when the job ends without a new archive entry
    status: str = "queued"
    created_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: dict = field(default_factory=lambda: {"stage": None, "done": 0, "total": 0})
    video_id: int | None = None
    outcome: str | None = None
    error: str | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    future: Future | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        keys = ("id", "status", "source", "stages", "params", "force", "created_at", "started_at", "finished_at",
                "video_id", "outcome", "error")
        return {**{k: getattr(self, k) for k in keys}, "progress": dict(self.progress)}


class JobManager:
    def __init__(self, archive, workers: int = 1, keep: int = 1000):
        self.archive = archive
        self.keep = keep
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reelscope-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, path: str, source: str, stages: list[str], params: dict, force: bool = False,
               cleanup: Path | None = None) -> Job:
        job = Job(uuid.uuid4().hex[:12], path, source, list(stages), params, force, cleanup)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        job.future = self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for j in self.list():
            out[j.status] = out.get(j.status, 0) + 1
        return out

    def cancel(self, job: Job) -> Job:
        """Cancel a queued job at once; a running one stops at its next progress report."""
        job.cancel_requested.set()
        if job.status == "queued" and job.future is not None and job.future.cancel():
            self._finish(job, "cancelled")
        return job

    def shutdown(self) -> None:
        for j in self.list():
            if j.status in ("queued", "running"):
                self.cancel(j)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ---- the worker ----------------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        from reelscope.analysis import analyze

        if job.cancel_requested.is_set():
            return self._finish(job, "cancelled")
        job.status, job.started_at = "running", _now()

        def progress(_path: str, stage: str, done: int, total: int) -> None:
            job.progress = {"stage": stage, "done": int(done), "total": int(total)}
            if job.cancel_requested.is_set():
                raise JobCancelled()

        try:
            (o,) = analyze([job.path], self.archive, stages=job.stages, params=job.params, force=job.force,
                           progress=progress)
            if o.status == "failed":
                job.error = o.error
                return self._finish(job, "failed")
            job.video_id, job.outcome = o.video_id, o.status
            self._finish(job, "done")
        except JobCancelled:
            self._finish(job, "cancelled")
        except Exception as e:  # a job reports its failure; the worker goes on with the next
            log.exception("job %s failed", job.id)
            job.error = f"{type(e).__name__}: {e}"
            self._finish(job, "failed")

    def _finish(self, job: Job, status: str) -> None:
        job.status, job.finished_at = status, _now()
        # an upload that became an archive entry stays (ARCHIVE/uploads/...): the video page plays it
        keep = status == "done" and job.video_id is not None and job.outcome == "analyzed"
        if job.cleanup is not None and not keep:
            shutil.rmtree(job.cleanup, ignore_errors=True)

    def _forget_old(self) -> None:
        ended = [j for j in sorted(self._jobs.values(), key=lambda j: j.created_at)
                 if j.status in ("done", "failed", "cancelled")]
        for j in ended[:max(0, len(self._jobs) - self.keep)]:
            del self._jobs[j.id]
