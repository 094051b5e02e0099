"""Graphs we build in torch (from dlib, Keras or TFJS weights), exported once to ONNX and run on
onnxruntime.

onnxruntime fuses convolutions with their activations, drops the layout transposes a converted
graph is full of, and runs small single-threaded batches several times faster than eager torch
(bench: dlib's face ResNet 4 ms per face against 22 ms eager, NanoDet 416 ~2x). The export is
torch's TorchScript-based ``torch.onnx.export`` (offline; needs the ``onnx`` package), done once
per machine: the file is kept under ``models_dir()/exported`` named by a digest of the source
weights' sha256, the input shapes, torch's version and ``EXPORT_VERSION`` (bumped when the
building code changes), written atomically so concurrent processes are safe. Where the export
cannot be made (no ``onnx``, an unwritable folder, an exporter error) the torch module itself is
the session: slower, same numbers.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from reelscope.models.cache import MODELS, threads as process_threads
from reelscope.models.session import OnnxSession, TensorInfo, TorchSession

EXPORT_VERSION = "1"
log = logging.getLogger("reelscope.models")


def exported_dir() -> Path:
    from reelscope.models.registry import models_dir

    return models_dir() / "exported"


def _digest(kind: str, source: str, inputs: Sequence[tuple[str, tuple]], extra: str) -> str:
    import torch

    text = "|".join([kind, source, repr(list(inputs)), torch.__version__, EXPORT_VERSION, extra])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def export_onnx(module, examples: Sequence[np.ndarray], path: Path, input_names: Sequence[str],
                output_names: Sequence[str], dynamic_batch: bool) -> None:
    """Export ``module`` (eval mode) traced on ``examples`` to ``path`` (atomically)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    axes = {n: {0: "batch"} for n in [*input_names, *output_names]} if dynamic_batch else None
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about constant shapes: shapes are fixed here
            torch.onnx.export(module, tuple(torch.from_numpy(np.ascontiguousarray(e)) for e in examples), tmp,
                              dynamo=False, input_names=list(input_names), output_names=list(output_names),
                              dynamic_axes=axes, opset_version=17, do_constant_folding=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def exported_session(kind: str, source_sha256: str, build: Callable[[], Any],
                     examples: Sequence[np.ndarray], input_names: Sequence[str], output_names: Sequence[str],
                     *, dynamic_batch: bool = True, extra: str = "", threads: int | None = None):
    """The cached session running ``build()`` (a torch module) for inputs shaped like ``examples``:
    onnxruntime on the exported graph when possible, else the torch module. ``source_sha256``
    identifies the weights the module is built from; ``extra`` anything else that changes the
    graph (e.g. an input size baked into it)."""
    n = int(threads or process_threads())
    shapes = [(name, tuple(e.shape[1:] if dynamic_batch else e.shape)) for name, e in zip(input_names, examples)]
    options = {"threads": n, "shapes": tuple(shapes), "extra": extra}

    def load():
        digest = _digest(kind, source_sha256, shapes, extra)
        path = exported_dir() / f"{kind}-{digest}.onnx"
        module = None
        if not path.is_file():
            module = build()
            try:
                export_onnx(module, examples, path, input_names, output_names, dynamic_batch)
            except Exception as e:  # no onnx package, read-only folder, exporter limits: run in torch
                log.warning("%s: ONNX export failed (%s); running the torch module instead", kind, e)
                return _torch(module, examples, input_names, output_names)
        try:
            return OnnxSession(path, n)
        except Exception as e:  # a damaged file: remove it (the next process exports again)
            log.warning("%s: cannot load the exported %s (%s); running the torch module instead", kind, path, e)
            try:
                path.unlink()
            except OSError:
                pass
            return _torch(module if module is not None else build(), examples, input_names, output_names)

    return MODELS.get(f"exported:{kind}", source_sha256, options, load)


def _torch(module, examples, input_names, output_names) -> TorchSession:
    ins = [TensorInfo(n, tuple(e.shape), str(e.dtype)) for n, e in zip(input_names, examples)]
    return TorchSession(module, ins, [TensorInfo(n, (), "float32") for n in output_names])


__all__ = ["exported_session", "export_onnx", "exported_dir", "EXPORT_VERSION"]
