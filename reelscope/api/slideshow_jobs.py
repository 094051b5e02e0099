"""Slideshow jobs: plan (pictures' and music's moods, the timeline), then render, in a small
worker pool, with progress and cooperative cancellation (``JobCancelled`` from jobs.py, raised
from the progress callback).

A job made with ``render=False`` stops after planning (status ``planned``) so a person can
look at the plan; ``start_render`` renders it later, at any size. The mp4 is written to
ARCHIVE/slideshows/<job id>.mp4 (temporary name, then renamed). Uploaded pictures live in a
temporary folder removed when the job ends. Job records are kept in memory.
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

from reelscope.api.jobs import JobCancelled
from reelscope.errors import ReelscopeError

log = logging.getLogger("reelscope.api.slideshows")
FOLDER = "slideshows"  # ARCHIVE/slideshows/<id>.mp4
ENDED = ("done", "failed", "cancelled")
PLANNED_TTL = 3600  # seconds a planned, unrendered slideshow keeps its pictures


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class SlideshowJob:
    id: str
    request: dict  # plan_slideshow arguments (pictures, music, length, ...), JSON-able
    render_options: dict  # size, fps, fit, ken_burns
    render: bool
    source: str  # what the pictures are, for people
    upload: Path | None = None
    status: str = "queued"  # queued | planning | planned | rendering | done | failed | cancelled
    created_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: dict = field(default_factory=lambda: {"phase": None, "done": 0, "total": 0})
    plan: dict | None = None
    output: Path | None = None
    result: dict | None = None
    error: str | None = None
    plan_obj: object | None = field(default=None, repr=False)
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    future: Future | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {"id": self.id, "status": self.status, "source": self.source, "request": self.request,
                "render_options": self.render_options, "created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at, "progress": dict(self.progress), "plan": self.plan,
                "result": self.result, "error": self.error,
                "video_url": f"/api/slideshows/{self.id}/video" if self.status == "done" else None}


class SlideshowJobs:
    def __init__(self, archive, workers: int = 1, keep: int = 50):
        self.archive = archive
        self.keep = keep
        self.folder = Path(archive.location) / FOLDER
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reelscope-slideshow")
        self._jobs: dict[str, SlideshowJob] = {}
        self._lock = threading.Lock()

    def submit(self, request: dict, render_options: dict, render: bool, source: str,
               upload: Path | None = None) -> SlideshowJob:
        job = SlideshowJob(uuid.uuid4().hex[:12], request, render_options, render, source, upload)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        job.future = self._pool.submit(self._run, job)
        return job

    def start_render(self, job: SlideshowJob, render_options: dict | None = None) -> SlideshowJob:
        with self._lock:
            if job.status != "planned":
                raise ReelscopeError(f"slideshow {job.id} is {job.status}: only a planned slideshow can be rendered")
            if render_options:
                job.render_options = {**job.render_options, **render_options}
            job.render, job.status = True, "queued"
        job.future = self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> SlideshowJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[SlideshowJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def cancel(self, job: SlideshowJob) -> SlideshowJob:
        job.cancel_requested.set()
        if job.status == "planned" or (job.status == "queued" and job.future is not None and job.future.cancel()):
            self._finish(job, "cancelled")
        return job

    def shutdown(self) -> None:
        for j in self.list():
            if j.status not in ENDED:
                self.cancel(j)
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ---- the worker ------------------------------------------------------------------------
    def _run(self, job: SlideshowJob) -> None:
        from reelscope.slideshow import plan_slideshow, render_slideshow

        def progress(phase: str, done: int, total: int) -> None:
            job.progress = {"phase": phase, "done": int(done), "total": int(total)}
            if job.cancel_requested.is_set():
                raise JobCancelled()

        try:
            if job.cancel_requested.is_set():
                raise JobCancelled()
            job.started_at = job.started_at or _now()
            if job.plan_obj is None:
                job.status = "planning"
                r = job.request
                job.plan_obj = plan_slideshow(r.get("pictures") or [], r["music"], archive=self.archive,
                                              video=r.get("video_id"), character=r.get("character"),
                                              length=r.get("length"), per_image=r.get("per_image"),
                                              order=r.get("order", "mood"), music_floor=r.get("music_dip", 0.35),
                                              progress=progress)
                job.plan = job.plan_obj.to_dict()
                if job.upload is not None:  # people see their file names, not the server's folder
                    prefix = str(job.upload) + "/"
                    job.plan["errors"] = [e.replace(prefix, "") for e in job.plan["errors"]]
            if not job.render:
                job.status = "planned"
                return
            job.status = "rendering"
            self.folder.mkdir(parents=True, exist_ok=True)
            opts = dict(job.render_options)
            size = opts.pop("size", "720p")
            out = self.folder / f"{job.id}.mp4"
            res = render_slideshow(job.plan_obj, out, size, progress=progress, **opts)
            job.output = out
            job.result = {"width": res.width, "height": res.height, "fps": res.fps, "frames": res.frames,
                          "duration": res.duration, "seconds": round(res.seconds, 2),
                          "bytes": out.stat().st_size}
            self._finish(job, "done")
        except JobCancelled:
            self._finish(job, "cancelled")
        except ReelscopeError as e:
            job.error = str(e)
            self._finish(job, "failed")
        except Exception as e:  # a job reports its failure; the worker goes on with the next
            log.exception("slideshow %s failed", job.id)
            job.error = f"{type(e).__name__}: {e}"
            self._finish(job, "failed")

    def _finish(self, job: SlideshowJob, status: str) -> None:
        job.status, job.finished_at = status, _now()
        job.plan_obj = None  # the pictures (and any decoded frames) are no longer needed
        if job.upload is not None:
            shutil.rmtree(job.upload, ignore_errors=True)
            job.upload = None

    def _forget_old(self) -> None:
        for j in self._jobs.values():  # a plan nobody rendered within the hour lets its pictures go
            if j.status == "planned" and j.started_at and (_now() - j.started_at).total_seconds() > PLANNED_TTL:
                self._finish(j, "cancelled")
        ended = [j for j in sorted(self._jobs.values(), key=lambda j: j.created_at) if j.status in ENDED]
        for j in ended[:max(0, len(self._jobs) - self.keep)]:
            if j.output is not None:
                j.output.unlink(missing_ok=True)
            del self._jobs[j.id]
