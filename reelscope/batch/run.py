"""Run the analysis over many videos: ``local`` (a process pool on this machine) or ``ray`` (Ray tasks
on actors that keep their loaded models, on one machine or a cluster).

Both engines call the same per-video analysis (``reelscope.analysis.analyze``) inside the workers,
and each worker writes its results to the archive itself, stage by stage. That makes a batch
resumable and idempotent for free: a video or stage that is already stored (with its stage
version) is read back and skipped, a stage is written in one transaction that replaces it as a
whole, so a task that Ray retries, a worker that is killed, or a driver that is rerun never stores
a stage twice. Failures are recorded in the archive (``analysis_failures``) with their error.

Why our own driver and not e.g. Ray Data: videos are few and large, each is analysed start to end
by one worker (the engine's own decode thread overlaps its inference), and the archive is the
state: a pool of long-lived workers fed one path at a time is all the scheduling needed.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reelscope.batch.sources import Source


class BatchError(ValueError):
    pass


@dataclass
class BatchItem:
    path: str
    status: str  # analyzed | skipped | failed
    error: str | None = None
    seconds: float = 0.0
    duration: float = 0.0  # seconds of video
    worker: str = ""
    computed: list[str] = field(default_factory=list)


@dataclass
class BatchSummary:
    items: list[BatchItem] = field(default_factory=list)
    wall: float = 0.0
    engine: str = "local"
    workers: int = 1

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def video_seconds(self) -> float:
        return sum(i.duration for i in self.items if i.status == "analyzed")

    @property
    def throughput(self) -> float:
        """Video seconds analysed per wall second (= video-hours per hour)."""
        return self.video_seconds / self.wall if self.wall > 0 else 0.0


# ---- the work of one video, in whichever process runs it ----------------------------------------
_ARCHIVES: dict = {}


def _archive(location: str, db_url: str | None):
    from reelscope.archive import Archive

    key = (location, db_url)
    if key not in _ARCHIVES:
        _ARCHIVES[key] = Archive(location, db_url)
    return _ARCHIVES[key]


def configure_worker(threads: int) -> None:
    """Called once in each worker process: its share of the CPU threads."""
    from reelscope.models.cache import configure_threads

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ["REELSCOPE_THREADS"] = str(threads)  # read by the model cache when it configures threads
    configure_threads(threads)


def analyze_item(path: str, location: str, db_url: str | None, stages, params: dict, force) -> dict:
    from reelscope.analysis import analyze

    arch = _archive(location, db_url)
    (o,) = analyze([path], arch, stages=stages, params=params, force=force)
    return {"path": path, "status": o.status, "error": o.error, "seconds": o.seconds, "duration": o.duration,
            "worker": f"{os.uname().nodename}:{os.getpid()}", "computed": o.computed}


def _merge_params(base: dict, extra: dict) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for k, v in (extra or {}).items():
        out.setdefault(k, {}).update(v)
    return out


# ---- engines ------------------------------------------------------------------------------------
def run_batch(sources: list[Source], location: str | Path, db_url: str | None = None, *, stages=None,
              params: dict | None = None, force=False, workers: int = 1, engine: str = "local",
              address: str | None = None, threads: int | None = None,
              progress: Callable[[BatchItem, int, int], None] | None = None) -> BatchSummary:
    """Analyse every source; ``progress(item, done, total)`` after each video."""
    from reelscope.pipeline.stage import expand, plan

    if engine not in ("local", "ray"):
        raise BatchError(f"unknown batch engine {engine!r} (use local or ray)")
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    params = params or {}
    jobs = []
    for src in sources:
        st = src.stages or stages
        plan(expand(st))  # a bad stage name fails before any work
        jobs.append((src.path, st, _merge_params(params, src.params)))
    location = str(Path(location).resolve())
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    summary = BatchSummary(engine=engine, workers=workers)
    t0 = time.perf_counter()

    def done(d: dict) -> None:
        item = BatchItem(d["path"], d["status"], d.get("error"), d.get("seconds", 0.0), d.get("duration", 0.0),
                         d.get("worker", ""), d.get("computed") or [])
        summary.items.append(item)
        summary.wall = time.perf_counter() - t0
        if progress:
            progress(item, len(summary.items), len(jobs))

    if engine == "local":
        _run_local(jobs, location, db_url, force, workers, threads, done)
    else:
        _run_ray(jobs, location, db_url, force, workers, threads, address, done)
    summary.wall = time.perf_counter() - t0
    return summary


def _failed(path: str, error: str) -> dict:
    return {"path": path, "status": "failed", "error": f"{path}: {error}"}


def _run_local(jobs, location, db_url, force, workers, threads, done) -> None:
    if workers == 1:  # in this process: no pool to start, the model cache stays warm across videos
        configure_worker(threads)
        for path, st, prm in jobs:
            done(analyze_item(path, location, db_url, st, prm, force))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: the parent may hold threads (decode, ONNX/torch pools) that fork would copy
    # in a broken state
    ctx = mp.get_context("spawn")
    pending = list(jobs)
    rounds = 0
    while pending:
        rounds += 1
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=configure_worker,
                                 initargs=(threads,)) as pool:
            futs = {pool.submit(analyze_item, p, location, db_url, st, prm, force): (p, st, prm)
                    for p, st, prm in pending}
            broken = []
            for fut in as_completed(futs):
                job = futs[fut]
                try:
                    done(fut.result())
                except BrokenProcessPool:
                    broken.append(job)  # a worker died (killed, out of memory): run it again below
                except Exception as e:  # noqa: BLE001 - one video's failure never stops the batch
                    done(_failed(job[0], f"{type(e).__name__}: {e}"))
        if broken and rounds >= 3:
            for p, _, _ in broken:  # the pool keeps dying on these: give up on them, say so
                done(_failed(p, "the worker process died while analysing it (3 times)"))
            return
        pending = broken


def _run_ray(jobs, location, db_url, force, workers, threads, address, done) -> None:
    try:
        import ray
    except ImportError:
        from reelscope.errors import MissingDependency
        raise MissingDependency("Ray (the ray batch engine)", "pip install 'ray>=2.9'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, ignore_reinit_error=True)
    try:
        _check_archive_for_cluster(ray, location, db_url)
        gpus = float(ray.cluster_resources().get("GPU", 0.0))
        opts = {"num_cpus": threads, "max_restarts": 3, "max_task_retries": 3}
        if gpus:  # inference on GPUs where the cluster has them: a share of one per worker
            opts["num_gpus"] = min(1.0, gpus / workers)
        actor_cls = ray.remote(Analyzer)
        actors = [actor_cls.options(**opts).remote(location, db_url, threads) for _ in range(workers)]
        pool = ray.util.ActorPool(actors)
        for path, st, prm in jobs:
            pool.submit(lambda a, j: a.analyze.remote(*j), (path, st, prm, force))
        while pool.has_next():
            try:
                done(pool.get_next_unordered())
            except ray.exceptions.RayError as e:
                done(_failed("?", f"a Ray worker failed: {e}"))
        for a in actors:
            ray.kill(a)
    finally:
        if started:
            ray.shutdown()


class Analyzer:
    """A Ray actor: one worker process holding its archive connection and its loaded models (the
    per-process model cache), analysing one video per call."""

    def __init__(self, location: str, db_url: str | None, threads: int):
        configure_worker(threads)
        self.location, self.db_url = location, db_url

    def analyze(self, path: str, stages, params: dict, force) -> dict:
        try:
            return analyze_item(path, self.location, self.db_url, stages, params, force)
        except Exception as e:  # noqa: BLE001 - reported as this video's failure
            return _failed(path, f"{type(e).__name__}: {e}")


def _check_archive_for_cluster(ray, location: str, db_url: str | None) -> None:
    """Workers on several machines cannot share a SQLite file: the archive must be PostgreSQL."""
    url = db_url or os.environ.get("REELSCOPE_DB_URL") or ""
    if url.startswith("postgresql"):
        return
    hosts = {n.get("NodeManagerAddress") for n in ray.nodes() if n.get("Alive")}
    if len(hosts) > 1:
        raise BatchError(f"the Ray cluster has {len(hosts)} machines but the archive at {location} is SQLite, "
                         "which only works on one machine: give a PostgreSQL archive (--db postgresql://...)")
