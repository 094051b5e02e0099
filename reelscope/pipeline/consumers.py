"""Building blocks for frame stages: sampling rules and frame sizes (see ``pipeline.stage.FrameConsumer``)."""
from __future__ import annotations

from typing import Collection, Sequence

from reelscope.media.decode import FrameSpec
from reelscope.media.info import VideoInfo


def analysis_spec(info: VideoInfo, max_width: int, kind: str = "rgb", even: bool = False) -> FrameSpec:
    """A frame size at most ``max_width`` wide (display orientation), keeping the aspect ratio."""
    w = min(int(max_width), info.width)
    h = info.height * w / info.width
    h = max(2, int(round(h / 2)) * 2) if even else max(2, int(round(h)))
    return FrameSpec(kind, w, h)


def frame_step(info: VideoInfo, sample_fps: float) -> int:
    """Frames between samples for ``sample_fps`` samples per second (1 = every frame)."""
    fps = float(info.fps)
    return max(1, int(round(fps / sample_fps))) if sample_fps > 0 else 1


class Consumer:
    """A frame consumer with one of three sampling rules: every frame (default), every ``step``-th
    frame, or the frames in ``frames``. Subclasses implement ``feed`` and ``finish``."""
    quality = False  # True: needs full-quality decoding (thumbnails), not the fast deblock-free one

    def __init__(self, specs: Sequence[FrameSpec], *, step: int | None = None,
                 frames: Collection[int] | None = None):
        self.specs = tuple(specs)
        self.step = step
        self.frames = frames
        self.last = (max(frames) if frames else -1) if frames is not None else None

    def wants(self, index: int, time: float) -> bool:
        if self.frames is not None:
            return index in self.frames
        if self.step:
            return index % self.step == 0
        return True


class Worker:
    """Runs a frame stage's per-frame work on a thread of its own, behind a bounded queue, so a
    heavy stage works while the engine decodes and feeds the other stages (its model runtimes
    release the GIL while they compute).

    ``submit(*args)`` queues ``fn(*args)``, blocking while ``maxsize`` items wait (the decoder
    cannot run ahead of the stage by more than that). ``join()`` waits for the queued work and
    stops the thread; ``close()`` stops it without doing the rest (the engine calls it when the
    pass fails). An exception raised by ``fn`` stops the work and is raised again by the next
    ``submit`` or by ``join``. ``busy``: seconds spent in ``fn``, the stage's own work."""

    def __init__(self, fn, *, maxsize: int = 4, name: str = "reelscope-stage"):
        import queue
        import threading

        self.fn = fn
        self.busy = 0.0
        self.error: BaseException | None = None
        self._cancelled = False
        self._q: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import time

        while True:
            item = self._q.get()
            if item is None:
                return
            if self.error is None and not self._cancelled:
                t0 = time.perf_counter()
                try:
                    self.fn(*item)
                except BaseException as e:  # handed to the engine's thread
                    self.error = e
                self.busy += time.perf_counter() - t0

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def submit(self, *args) -> None:
        self._raise()
        if not self._thread.is_alive():
            raise RuntimeError("the stage's worker was stopped")
        self._q.put(args)

    def join(self) -> None:
        """Wait for the queued work, stop the thread, raise its error if any."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        self._raise()

    def close(self) -> None:
        """Stop without doing the queued work (nothing is raised)."""
        self._cancelled = True
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()


class WorkerConsumer(Consumer):
    """A consumer whose per-frame work runs on its own ``Worker`` thread. Subclasses implement
    ``work(index, time, images)`` (``images``: spec -> array, as ``frame[spec]``) and
    ``done(ctx, frame_count) -> artifacts``; ``finish`` waits for the queued frames, then calls
    ``done`` on the engine's thread. ``busy_seconds`` (the stage's seconds in the run record) is
    the time spent in ``work`` and ``done``."""

    def start_worker(self, name: str, maxsize: int = 4) -> None:
        """Call at the end of ``__init__``."""
        self.worker = Worker(self.work, maxsize=maxsize, name=f"reelscope-{name}")

    def work(self, index: int, time: float, images: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def done(self, ctx, frame_count: int) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def busy_seconds(self) -> float:
        return self.worker.busy

    def feed(self, frame) -> None:
        self.worker.submit(frame.index, frame.time, {s: frame[s] for s in self.specs})

    def close(self) -> None:
        self.worker.close()

    def finish(self, ctx, frame_count: int) -> dict:
        import time

        self.worker.join()
        t0 = time.perf_counter()
        out = self.done(ctx, frame_count)
        self.worker.busy += time.perf_counter() - t0
        return out
