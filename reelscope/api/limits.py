"""Bounds on concurrent heavy work inside requests: image analyses decode and run face models in
the request, so at most ``slots`` run at once and further ones are answered 429 at once with a
Retry-After (the mean duration of recent analyses), not queued behind them."""
from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager
from typing import AsyncIterator, Iterator

from fastapi import HTTPException, Request


class Busy:
    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError(f"heavy request slots must be at least 1, not {slots}")
        self.slots = slots
        self._sem = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._mean = 1.0  # seconds, exponentially weighted over finished analyses
        self.refused = 0

    def retry_after(self) -> int:
        return max(1, min(60, math.ceil(self._mean)))

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block; HTTP 429 with Retry-After when all are taken."""
        if not self._sem.acquire(blocking=False):
            with self._lock:
                self.refused += 1
            wait = self.retry_after()
            raise HTTPException(429, f"the server is busy with {self.slots} image analyses at once; retry in {wait} s",
                                headers={"Retry-After": str(wait)})
        start = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - start
            with self._lock:
                self._mean = 0.8 * self._mean + 0.2 * took
            self._sem.release()


async def heavy(request: Request) -> AsyncIterator[None]:
    """Dependency of routes that analyse images in the request (one slot of the app's Busy)."""
    with request.app.state.reelscope.busy.slot():
        yield
