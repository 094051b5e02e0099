"""The ONNX runtime (onnxruntime) behind one small session type, cached per (file, threads)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelscope.errors import MissingDependency, ReelscopeError

_LOCK = threading.Lock()
_SESSIONS: dict[tuple[str, int], "OnnxSession"] = {}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple  # ints, or None / a name for a dynamic dimension
    dtype: str


class OnnxSession:
    """``inputs`` / ``outputs`` describe the model; ``run(feeds)`` returns the outputs in order."""

    def __init__(self, path: str | Path, threads: int = 1):
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise MissingDependency("onnxruntime (to run .onnx models)", "pip install onnxruntime") from e
        self.path = Path(path)
        if not self.path.is_file():
            raise ReelscopeError(f"{self.path}: no such ONNX model file")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._s = ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise ReelscopeError(f"{self.path}: cannot load ONNX model ({e})") from None
        self.inputs = [TensorInfo(i.name, tuple(i.shape), i.type) for i in self._s.get_inputs()]
        self.outputs = [TensorInfo(o.name, tuple(o.shape), o.type) for o in self._s.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self._s.run(None, feeds)


def onnx_session(path: str | Path, threads: int = 1) -> OnnxSession:
    """A cached session for the model file at ``path`` (one per file and thread count)."""
    key = (str(Path(path).resolve()), int(threads))
    with _LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = OnnxSession(path, threads)
        return _SESSIONS[key]
