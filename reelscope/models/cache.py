"""One model cache per process, and the thread count every runtime uses.

Every model (a TFLite interpreter, an onnxruntime session, a torch module, a TFJS graph, a dlib
object) is loaded once per process through ``MODELS.get(kind, file, options, load)``: two
detectors built with the same options (the faces stage's BlazeFace and the shot_size rules'
BlazeFace) share the loaded model, whatever module asks for it.

Threads: ``configure_threads(n)`` is called once per process (the CLI and ``analysis.analyze``
do it; a library user may call it first); every runtime then uses ``threads()`` intra-op threads
per call: torch's process-wide count is set there, onnxruntime sessions and TFLite interpreters
are created with it. Nothing changes thread counts around calls. The default is half the cores
(at least 1, at most 4), overridden by ``$REELSCOPE_THREADS``: the analysis decodes in another
thread and runs its heavy frame stages side by side, so single-threaded calls keep the cores
busy without oversubscribing them (on a shared 2-core machine, 2 intra-op threads made dlib's
face network 2-3x slower per face than 1).
"""
from __future__ import annotations

import os
import threading
import warnings
from typing import Any, Callable, Hashable

_threads: int | None = None
_threads_lock = threading.Lock()


def default_threads() -> int:
    """Half the cores, at least 1, at most 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def configure_threads(n: int | None = None) -> int:
    """Set the intra-op thread count for every runtime of this process (torch's included); call
    once, early. ``n`` None or 0: ``$REELSCOPE_THREADS`` if set, else ``default_threads()``.
    Returns the count in force. The first call decides: a later call asking for another count
    explicitly warns and keeps it (models already loaded use it)."""
    global _threads
    if not n and _threads is not None:  # asking for the default once it is set: nothing to change
        return _threads
    if not n:
        env = os.environ.get("REELSCOPE_THREADS", "").strip()
        if env and not env.isdigit():
            raise ValueError(f"REELSCOPE_THREADS must be a positive integer, got {env!r}")
        n = int(env) if env else default_threads()
    n = max(1, int(n))
    with _threads_lock:
        if _threads is not None:
            if _threads != n:
                warnings.warn(f"threads already configured to {_threads} for this process; {n} ignored",
                              RuntimeWarning, stacklevel=2)
            return _threads
        _threads = n
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed by scripts/setup.sh
        return n
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def threads() -> int:
    """The configured intra-op thread count (configured with the default on first use)."""
    return _threads if _threads is not None else configure_threads()


class ModelCache:
    """Loaded models keyed by (kind, file, options); thread-safe, each model loaded once.

    ``get`` holds a per-key lock while loading, so two threads asking for the same model wait
    for one load, and different models load in parallel."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: dict[tuple, Any] = {}
        self._loading: dict[tuple, threading.Lock] = {}

    @staticmethod
    def key(kind: str, file: Any = None, options: dict | tuple | None = None) -> tuple:
        opts = tuple(sorted(options.items())) if isinstance(options, dict) else tuple(options or ())
        return (str(kind), None if file is None else str(file), opts)

    def get(self, kind: str, file: Any, options: dict | tuple | None, load: Callable[[], Any]) -> Any:
        key = self.key(kind, file, options)
        with self._lock:
            if key in self._items:
                return self._items[key]
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            model = load()
            with self._lock:
                self._items[key] = model
                self._loading.pop(key, None)
            return model

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def loaded(self) -> list[tuple]:
        """The keys of the models loaded so far."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


MODELS = ModelCache()

__all__ = ["MODELS", "ModelCache", "configure_threads", "threads", "default_threads"]
