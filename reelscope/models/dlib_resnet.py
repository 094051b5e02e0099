"""dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) read into torch.

dlib runs this network with its own CPU convolutions (no BLAS in the wheels we install): ~80-140 ms
per face on this machine. The same network in torch costs a fraction of that, and batches. The
file is dlib's own serialization of the network below (dlib's ``dnn_face_recognition_ex.cpp``):

    input 150x150 RGB, (pixel - channel mean) / 256
    con 32 7x7 /2 (no padding) - affine - relu - max_pool 3x3 /2 (no padding)
    3 x res(32), res_down(64) + 3 x res(64), res_down(128) + 2 x res(128),
    res_down(256) + 2 x res(256), res_down(256)
    mean over the image - fc 256 -> 128 (no bias)

    res(N):      relu(x + affine(con3x3(relu(affine(con3x3(x))))))
    res_down(N): relu(avg_pool2x2/2(x) + affine(con3x3(relu(affine(con3x3/2(x))))))

dlib's convolutions with stride 2 have no padding (3x3 stride 1: padding 1), and dlib adds two
tensors of different shapes as if the smaller were padded with zeros at the end (channels, rows,
columns): the shortcut of a ``res_down`` block has fewer channels, and at 8x8 -> 3x3 the pooled
shortcut (4x4) is larger than the convolved path.

Reading the file: dlib writes integers as a control byte (low nibble: byte count, bit 7: sign)
followed by little-endian bytes, strings as a length then the bytes, and a tensor as a version
(2), its four dimensions and raw little-endian float32 data. Each layer's parameters follow its
name (``con_4``, ``affine_``, ``fc_2`` ...) in the order the data flows through the network
(dlib serializes the sub-network before the layer on top of it). The reader finds the layer names
in order, reads the parameter tensors that follow them, and checks the sequence against the
architecture above, so a different network fails loudly instead of computing nonsense.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelscope.errors import ReelscopeError

INPUT_SIZE = 150
# (filters, blocks, the first one downsampling) per level, input side first
LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
_NAMES = (b"input_rgb_image_sized", b"con_4", b"affine_", b"relu_", b"max_pool_2", b"avg_pool_2",
          b"add_prev_", b"fc_2")


class DlibModelError(ReelscopeError):
    """A dlib network file that is not the face recognition ResNet this module knows."""


@dataclass
class _Layer:
    kind: str
    params: np.ndarray | None = None  # the layer's parameter tensor, flat float32
    ints: tuple[int, ...] = ()  # the integers that follow the parameters (con_: filters, nr, nc, strides, pads)
    floats: tuple[float, ...] = ()  # input layer: channel means


class _Reader:
    def __init__(self, data: bytes, path: Path):
        self.d, self.p, self.path = data, 0, path

    def int(self) -> int:
        c = self.d[self.p]
        n = c & 0x0F
        if n > 8 or self.p + 1 + n > len(self.d):
            raise DlibModelError(f"{self.path}: bad integer at byte {self.p}")
        v = int.from_bytes(self.d[self.p + 1:self.p + 1 + n], "little")
        self.p += 1 + n
        return -v if c & 0x80 else v

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0 ** exponent

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibModelError(f"{self.path}: tensor version {version} at byte {self.p} (expected 2)")
        dims = [self.int() for _ in range(4)]
        n = int(np.prod(dims))
        end = self.p + 4 * n
        if n < 0 or end > len(self.d):
            raise DlibModelError(f"{self.path}: tensor of {dims} runs past the end of the file (truncated?)")
        arr = np.frombuffer(self.d, "<f4", count=n, offset=self.p).astype(np.float32)
        self.p = end
        return arr

    def next_name(self) -> bytes | None:
        """Skip to the next known layer name (a length byte pair then the name); None at the end."""
        best = None
        end = min(len(self.d), self.p + 4096)  # layer names sit within a few hundred bytes of each other
        for name in _NAMES:
            i = self.d.find(bytes([1, len(name)]) + name, self.p, end)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, name)
        if best is None:
            return None
        self.p = best[0] + 2 + len(best[1])
        return best[1]


def read_layers(path: str | Path) -> list[_Layer]:
    """The layers of a dlib network file, input side first."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DlibModelError(f"{path}: cannot read ({e.strerror or e})") from None
    r = _Reader(data, path)
    out: list[_Layer] = []
    while (name := r.next_name()) is not None:
        kind = name.decode()
        if kind == "input_rgb_image_sized":
            out.append(_Layer(kind, floats=(r.float(), r.float(), r.float()), ints=(r.int(), r.int())))
        elif kind == "con_4":
            params = r.tensor()
            out.append(_Layer(kind, params, ints=tuple(r.int() for _ in range(7))))
        elif kind == "fc_2":
            outputs, inputs = r.int(), r.int()
            out.append(_Layer(kind, r.tensor(), ints=(outputs, inputs)))
        elif kind == "affine_":
            out.append(_Layer(kind, r.tensor()))
        else:
            out.append(_Layer(kind))
    return out


def expected_kinds() -> list[str]:
    """The layer sequence of the face recognition ResNet, input side first."""
    seq = ["input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2"]
    for _, blocks, down in LEVELS:
        for b in range(blocks):
            body = ["con_4", "affine_", "relu_", "con_4", "affine_"]
            seq += body + (["avg_pool_2"] if down and b == 0 else []) + ["add_prev_", "relu_"]
    return seq + ["avg_pool_2", "fc_2"]  # avg_pool_everything is an avg_pool_ over the whole image


def _torch():
    import torch
    return torch


def build_module(path: str | Path):
    """The network as a torch ``nn.Module`` (eval mode): (B, 3, 150, 150) float RGB in 0..255 ->
    (B, 128) raw descriptors (dlib's, not normalised)."""
    torch = _torch()
    import torch.nn.functional as F

    path = Path(path)
    layers = read_layers(path)
    kinds = [la.kind for la in layers]
    if kinds != expected_kinds():
        raise DlibModelError(f"{path}: not dlib's face recognition ResNet v1 ({len(kinds)} layers: "
                             f"{' '.join(kinds[:6])} ...)")
    inp = layers[0]
    if inp.ints != (INPUT_SIZE, INPUT_SIZE):
        raise DlibModelError(f"{path}: input size {inp.ints}, expected {INPUT_SIZE}x{INPUT_SIZE}")
    convs = [la for la in layers if la.kind == "con_4"]
    affines = [la for la in layers if la.kind == "affine_"]
    fc = layers[-1]

    def conv(la: _Layer, cin: int) -> torch.nn.Conv2d:
        nf, nr, nc, sy, sx, py, px = la.ints
        if la.params.size != nf * cin * nr * nc + nf:
            raise DlibModelError(f"{path}: convolution with {la.params.size} parameters, expected "
                                 f"{nf}x{cin}x{nr}x{nc} + {nf}")
        m = torch.nn.Conv2d(cin, nf, (nr, nc), (sy, sx), (py, px))
        w = la.params[: nf * cin * nr * nc].reshape(nf, cin, nr, nc)
        m.weight.data = torch.from_numpy(w.copy())
        m.bias.data = torch.from_numpy(la.params[nf * cin * nr * nc:].copy())
        return m

    def affine(c: torch.nn.Conv2d, la: _Layer) -> torch.nn.Conv2d:
        """Fold the per-channel affine (gamma, beta) that follows convolution ``c`` into it."""
        k = c.out_channels
        if la.params.size != 2 * k:
            raise DlibModelError(f"{path}: affine layer with {la.params.size} parameters, expected 2x{k}")
        g, b = torch.from_numpy(la.params[:k].copy()), torch.from_numpy(la.params[k:].copy())
        c.weight.data *= g.reshape(-1, 1, 1, 1)
        c.bias.data = c.bias.data * g + b
        return c

    ci, ai = iter(convs), iter(affines)

    def unit(cin: int) -> torch.nn.Conv2d:
        return affine(conv(next(ci), cin), next(ai))

    class Block(torch.nn.Module):
        def __init__(self, cin: int, down: bool):
            super().__init__()
            self.down = down
            self.c1 = unit(cin)
            self.c2 = unit(self.c1.out_channels)

        def forward(self, x):
            y = self.c2(F.relu(self.c1(x)))
            s = F.avg_pool2d(x, 2, 2) if self.down else x
            if s.shape != y.shape:  # dlib adds as if the smaller tensor were zero-padded at the end
                c, h, w = (max(a, b) for a, b in zip(s.shape[1:], y.shape[1:]))
                s = F.pad(s, (0, w - s.shape[3], 0, h - s.shape[2], 0, c - s.shape[1]))
                y = F.pad(y, (0, w - y.shape[3], 0, h - y.shape[2], 0, c - y.shape[1]))
            return F.relu(s + y)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor(inp.floats, dtype=torch.float32).reshape(1, 3, 1, 1))
            self.stem = unit(3)
            blocks, cin = [], self.stem.out_channels
            for n, count, down in LEVELS:
                for b in range(count):
                    blocks.append(Block(cin, down and b == 0))
                    cin = n
            self.blocks = torch.nn.Sequential(*blocks)
            outputs, inputs = fc.ints
            if fc.params.size != outputs * inputs or inputs != cin:
                raise DlibModelError(f"{path}: final layer {inputs}->{outputs} does not fit ({fc.params.size})")
            self.fc = torch.nn.Linear(inputs, outputs, bias=False)
            self.fc.weight.data = torch.from_numpy(fc.params.reshape(inputs, outputs).T.copy())

        def forward(self, x):
            x = (x - self.mean) * (1.0 / 256.0)
            x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
            x = self.blocks(x)
            return self.fc(x.mean(dim=(2, 3)))

    net = Net().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


__all__ = ["build_module", "read_layers", "expected_kinds", "DlibModelError", "INPUT_SIZE"]
