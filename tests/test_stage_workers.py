"""The engine's stage workers (pipeline.consumers.Worker): heavy frame stages work on threads of
their own beside the decoding; their errors reach the engine, their threads stop."""
from __future__ import annotations

import time

import pytest


def test_worker_runs_in_order_counts_time_and_raises():
    from reelscope.pipeline.consumers import Worker

    seen = []
    w = Worker(lambda i: (time.sleep(0.01), seen.append(i)))
    for i in range(6):
        w.submit(i)
    w.join()
    assert seen == list(range(6)) and w.busy >= 0.05

    def fail(i):
        if i == 2:
            raise ValueError("bad frame 2")

    w = Worker(fail, maxsize=1)
    with pytest.raises(ValueError, match="bad frame 2"):
        for i in range(50):
            w.submit(i)
            time.sleep(0.002)
        w.join()
    w.close()
    stopped = Worker(lambda i: time.sleep(1.0))
    stopped.submit(0)
    t0 = time.perf_counter()
    stopped.close()  # the queued work is dropped, the running call finishes
    assert time.perf_counter() - t0 < 2.0
    with pytest.raises(RuntimeError, match="stopped"):
        stopped.submit(1)


def _worker_stage(name: str, fail_at: int | None):
    """A frame stage whose work runs on a Worker (consumers.WorkerConsumer, as the faces, objects,
    shot_size and tags stages do)."""
    from reelscope.media.decode import FrameSpec
    from reelscope.pipeline.consumers import WorkerConsumer
    from reelscope.pipeline.stage import Stage

    class Mean(WorkerConsumer):
        def __init__(self, ctx, params):
            super().__init__((FrameSpec("luma", 32, 18),), step=2)
            self.means: dict[int, float] = {}
            self.start_worker(f"test-{name}")

        def work(self, index, t, images):
            if index == fail_at:
                raise ValueError(f"cannot read frame {index}")
            time.sleep(0.002)
            self.means[index] = float(images[self.specs[0]].mean())

        def done(self, ctx, frame_count):
            return {name: dict(self.means), "_run": {"params": {"sampled_frames": len(self.means)}}}

    return Stage(name, requires=("video",), provides=(name,), consumer=Mean, stored=False)


class _NoStore:
    def stored(self):
        return {}

    def load(self, stage):
        raise KeyError(stage)

    def save(self, stage, artifacts, run):
        raise AssertionError("nothing is stored")


def test_engine_runs_worker_stages_side_by_side_and_stops_them_on_failure(short_video):
    import threading

    from reelscope.media.info import probe
    from reelscope.pipeline.engine import Decision, StageError, run_video
    from reelscope.pipeline.stage import Context

    info = probe(short_video)
    a, b = _worker_stage("mean_a", None), _worker_stage("mean_b", None)
    ctx = Context(path=str(short_video), info=info)
    res = run_video(ctx, Decision([a, b], [], []), {"mean_a": {}, "mean_b": {}}, _NoStore())
    assert res.passes == 1  # one decode fed both
    assert sorted(ctx.artifacts["mean_a"]) == list(range(0, info.frame_count_hint, 2))
    assert ctx.artifacts["mean_a"] == ctx.artifacts["mean_b"]
    runs = {r["stage"]: r for r in res.runs}
    assert runs["mean_a"]["seconds"] >= 0.002 * len(ctx.artifacts["mean_a"])  # the worker's own time
    # a failure inside a worker names its stage, and every worker thread of the pass stops
    bad = _worker_stage("mean_bad", 4)
    with pytest.raises(StageError) as e:
        run_video(Context(path=str(short_video), info=info), Decision([a, bad], [], []),
                  {"mean_a": {}, "mean_bad": {}}, _NoStore())
    assert e.value.stage == "mean_bad" and "cannot read frame 4" in str(e.value)
    assert not [t for t in threading.enumerate() if t.name.startswith("reelscope-test-mean")]
