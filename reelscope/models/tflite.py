"""The TFLite runtime (ai-edge-litert) behind one function, for MediaPipe's .tflite models."""
from __future__ import annotations

from reelscope.errors import MissingDependency


def tflite_interpreter(path: str, threads: int, what: str = "MediaPipe models"):
    """A ready (tensors allocated) interpreter for the model file at ``path``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependency(f"ai-edge-litert (TFLite runtime for {what})", "pip install ai-edge-litert") from e
    it = Interpreter(model_path=path, num_threads=threads)
    it.allocate_tensors()
    return it
