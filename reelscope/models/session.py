"""One small session protocol over the runtimes: onnxruntime, TFLite (ai-edge-litert), torch and
the TFJS graph executor (models/tfjs.py).

    sess = onnx_session(path)                    # or tflite_session(path), tfjs_session(json),
    sess.inputs, sess.outputs                    #    torch_session(kind, file, build)
    y0, y1 = sess.run({"x": array})              # numpy in, numpy out, in ``outputs`` order
    sess.run(feeds, ["name"])                    # only these outputs (where the runtime can)

Every factory goes through the process's model cache (``models.cache.MODELS``): one session per
(runtime, file, options), shared by whoever asks. Sessions use ``models.cache.threads()`` intra-op
threads unless told otherwise; torch's count is process-wide and set once by
``configure_threads``. ``run`` is safe to call from several threads (TFLite interpreters, which
are not, run under a lock).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from reelscope.errors import MissingDependency, ReelscopeError
from reelscope.models.cache import MODELS, threads as process_threads


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple  # ints, or None / a name for a dynamic dimension
    dtype: str


class Session(Protocol):
    runtime: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    def run(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        """The requested outputs (default: all, in ``outputs`` order) for ``feeds`` (input name -> array)."""


def _names(sess, outputs: Sequence[str] | None) -> list[str]:
    return [o.name for o in sess.outputs] if outputs is None else list(outputs)


class OnnxSession:
    runtime = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise MissingDependency("onnxruntime (to run .onnx models)", "pip install onnxruntime") from e
        self.path = Path(path)
        if not self.path.is_file():
            raise ReelscopeError(f"{self.path}: no such ONNX model file")
        self.threads = int(threads or process_threads())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._s = ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise ReelscopeError(f"{self.path}: cannot load ONNX model ({e})") from None
        self.inputs = [TensorInfo(i.name, tuple(i.shape), i.type) for i in self._s.get_inputs()]
        self.outputs = [TensorInfo(o.name, tuple(o.shape), o.type) for o in self._s.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        return self._s.run(None if outputs is None else list(outputs), feeds)


class TfliteSession:
    runtime = "tflite"

    def __init__(self, path: str | Path, threads: int | None = None, what: str = "MediaPipe models"):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise MissingDependency(f"ai-edge-litert (TFLite runtime for {what})", "pip install ai-edge-litert") from e
        self.path = Path(path)
        self.threads = int(threads or process_threads())
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ReelscopeError(f"{self.path}: cannot load TFLite model ({e})") from None
        self._in = self.interpreter.get_input_details()
        self._out = self.interpreter.get_output_details()
        self.inputs = [TensorInfo(d["name"], tuple(int(x) for x in d["shape"]), str(np.dtype(d["dtype"])))
                       for d in self._in]
        self.outputs = [TensorInfo(d["name"], tuple(int(x) for x in d["shape"]), str(np.dtype(d["dtype"])))
                        for d in self._out]
        self._in_index = {d["name"]: d["index"] for d in self._in}
        self._out_index = {d["name"]: d["index"] for d in self._out}
        self.lock = threading.Lock()

    def run(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        with self.lock:
            for name, arr in feeds.items():
                self.interpreter.set_tensor(self._in_index[name], arr)
            self.interpreter.invoke()
            return [self.interpreter.get_tensor(self._out_index[n]) for n in _names(self, outputs)]  # copies


class TorchSession:
    """A torch ``nn.Module`` (eval mode) taking its inputs positionally in ``inputs`` order."""

    runtime = "torch"

    def __init__(self, module, inputs: Sequence[TensorInfo], outputs: Sequence[TensorInfo]):
        self.module = module
        self.inputs, self.outputs = list(inputs), list(outputs)

    def run(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            res = self.module(*(torch.from_numpy(np.ascontiguousarray(feeds[i.name])) for i in self.inputs))
        res = res if isinstance(res, (tuple, list)) else (res,)
        by_name = {o.name: r.numpy() for o, r in zip(self.outputs, res)}
        return [by_name[n] for n in _names(self, outputs)]


class TfjsSession:
    """A TFJS graph model run by our torch executor."""

    runtime = "tfjs"

    def __init__(self, model):
        self.model = model
        self.inputs = [TensorInfo(k, tuple(v), "float32") for k, v in model.inputs.items()]
        self.outputs = [TensorInfo(k, (), "float32") for k in model.outputs]

    def run(self, feeds: dict[str, np.ndarray], outputs: Sequence[str] | None = None,
            consts: dict[str, Any] | None = None) -> list[np.ndarray]:
        names = _names(self, outputs)
        out = self.model.run(feeds, names, consts=consts)
        return [out[n] for n in names]


def onnx_session(path: str | Path, threads: int | None = None) -> OnnxSession:
    """The cached onnxruntime session for the model file at ``path``."""
    n = int(threads or process_threads())
    return MODELS.get("onnx", Path(path).resolve(), {"threads": n}, lambda: OnnxSession(path, n))


def tflite_session(path: str | Path, threads: int | None = None, what: str = "MediaPipe models") -> TfliteSession:
    """The cached TFLite interpreter (as a session) for the model file at ``path``."""
    n = int(threads or process_threads())
    return MODELS.get("tflite", Path(path).resolve(), {"threads": n}, lambda: TfliteSession(path, n, what))


def tfjs_session(path: str | Path, weights_dir: str | Path | None = None) -> TfjsSession:
    """The cached TFJS graph model at ``path`` (model.json; weights beside it or in ``weights_dir``)."""
    from reelscope.models.tfjs import GraphModel

    return MODELS.get("tfjs", Path(path).resolve(), {"weights": str(weights_dir or "")},
                      lambda: TfjsSession(GraphModel(path, weights_dir=weights_dir)))


def torch_session(kind: str, file: str | Path | None, build: Callable[[], Any], inputs: Sequence[TensorInfo],
                  outputs: Sequence[TensorInfo], options: dict | None = None) -> TorchSession:
    """The cached torch module ``build()`` makes (``kind`` + ``file`` + ``options`` name it)."""
    return MODELS.get(f"torch:{kind}", file, options, lambda: TorchSession(build(), inputs, outputs))


__all__ = ["Session", "TensorInfo", "OnnxSession", "TfliteSession", "TorchSession", "TfjsSession",
           "onnx_session", "tflite_session", "tfjs_session", "torch_session"]
