"""A YOLOX-style ONNX object detector (optional; onnxruntime).

    make_object_detector("yolox-nano")            # the registry's YOLOX-Nano (fetch it first)
    make_object_detector("/models/yolox_s.onnx")  # any export with the same contract

The contract is the one of YOLOX's own ONNX exports (Megvii, Apache-2.0):

- input: one float32 tensor (1, 3, H, W), H and W read from the model (``input_size`` when they
  are dynamic); the image letterboxed top-left onto a canvas of grey 114, BGR channel order,
  raw 0..255 values (``bgr``, ``pad``, ``mean``/``std`` change that for other exports);
- output: (1, N, 5 + C) rows of (x, y, w, h, objectness, C class scores), objectness and
  class scores already sigmoid-ed. Either raw grid outputs (the export default): N equals the
  anchor count of strides 8, 16, 32 and ``xy = (raw + cell) * stride``, ``wh = exp(raw) *
  stride``; or already decoded (exported with ``--decode_in_inference``): centres and sizes in
  input pixels. ``decode="auto"`` tells them apart (raw centre offsets stay within a few cells;
  decoded centres spread over the input).

Score = objectness x best class score; class-wise NMS as in every detector (vision/objects.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reelscope.models.registry import YOLOX_NANO, resolve
from reelscope.vision.objects import ObjectDetector

STRIDES = (8, 16, 32)


def grid(h: int, w: int, strides=STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """(cells (N, 2) as x, y cell indices, strides (N,)) for YOLOX's anchor order."""
    cells, sizes = [], []
    for s in strides:
        gy, gx = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
        cells.append(np.stack([gx.ravel(), gy.ravel()], 1))
        sizes.append(np.full(gx.size, s))
    return np.concatenate(cells).astype(np.float32), np.concatenate(sizes).astype(np.float32)


class OnnxYoloxDetector(ObjectDetector):
    name = "yolox"

    def __init__(self, path: str | Path | None = None, *, input_size: tuple[int, int] | None = None,
                 bgr: bool = True, pad: float = 114.0, mean: tuple[float, float, float] | None = None,
                 std: tuple[float, float, float] | None = None, decode: str = "auto", **common):
        super().__init__(**common)
        if decode not in ("auto", "grid", "none"):
            raise ValueError(f"decode must be auto, grid or none, got {decode!r}")
        self.spec = YOLOX_NANO if path is None else None
        self.specs = (YOLOX_NANO,) if path is None else ()
        self.path = Path(resolve(YOLOX_NANO)) if path is None else Path(path)
        if path is not None:
            self.name = f"onnx:{self.path.name}"
        else:
            self.name = "yolox-nano"
        self.bgr, self.pad, self.decode = bool(bgr), float(pad), decode
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)
        sess = self._session()
        if len(sess.inputs) != 1 or len(sess.inputs[0].shape) != 4:
            raise ValueError(f"{self.path}: expected one (1, 3, H, W) input, got "
                             f"{[(i.name, i.shape) for i in sess.inputs]}")
        shape = sess.inputs[0].shape
        fixed = tuple(int(d) for d in shape[2:] if isinstance(d, int) and d > 0)
        if len(fixed) == 2:
            self.input_size = fixed
        elif input_size is not None:
            self.input_size = (int(input_size[0]), int(input_size[1]))
        else:
            self.input_size = (640, 640)
        if self.input_size[0] % 32 or self.input_size[1] % 32:
            raise ValueError(f"{self.path}: input size {self.input_size} is not a multiple of 32")
        self._grid = grid(*self.input_size)

    def _session(self):
        from reelscope.models.session import onnx_session

        return onnx_session(self.path, self.threads)

    def _params(self):
        return {"path": str(self.path), "bgr": self.bgr, "pad": self.pad, "decode": self.decode,
                "mean": None if self.mean is None else self.mean.tolist(),
                "std": None if self.std is None else self.std.tolist()}

    def models(self):
        if self.spec is not None:
            return super().models()
        from reelscope.models.registry import sha256_of

        return {f"onnx/{self.path.name}": {"licence": "given by the user", "sha256": sha256_of(self.path),
                                           "version": str(self.path)}}

    def _decoded(self, rows: np.ndarray) -> bool:
        if self.decode != "auto":
            return self.decode == "none"
        if len(rows) != len(self._grid[0]):
            return True  # not YOLOX's anchor count: the export decoded (and maybe filtered) itself
        return float(np.median(np.abs(rows[:, 0]))) > 4.0  # raw offsets stay near 0..1

    def _raw(self, canvas):
        x = canvas
        if self.mean is not None:
            x = x - self.mean
        if self.std is not None:
            x = x / self.std
        if self.bgr:
            x = x[:, :, ::-1]
        sess = self._session()
        out = sess.run({sess.inputs[0].name: np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32)})[0]
        rows = np.asarray(out, np.float32).reshape(-1, out.shape[-1])
        if rows.shape[1] < 6:
            raise ValueError(f"{self.path}: output rows have {rows.shape[1]} values; expected x, y, w, h, obj, classes")
        cls = rows[:, 5:]
        best = cls.argmax(1)
        score = rows[:, 4] * cls[np.arange(len(rows)), best]
        keep = np.flatnonzero(score >= self.min_score)
        xy, wh = rows[keep, :2], rows[keep, 2:4]
        if not self._decoded(rows):
            cells, strides = self._grid
            xy = (xy + cells[keep]) * strides[keep, None]
            wh = np.exp(np.clip(wh, -10, 10)) * strides[keep, None]
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
        return boxes, score[keep], best[keep]
