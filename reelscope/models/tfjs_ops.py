"""TensorFlow ops for the TFJS graph executor (``models/tfjs.py``), written against torch.

Each op is ``fn(model, node, *inputs) -> tensor | list of tensors`` with TensorFlow semantics:
NHWC convolutions and pools, 'SAME' padding split with the extra pixel after, ResizeBilinear
with both TF conventions (half-pixel centres or the legacy corner mapping), FloorDiv/FloorMod
rounding toward minus infinity. Convolution kernels are converted to torch layout once per
model and kept in ``model.cache``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from reelscope.models.tfjs import TfjsError, _attr, _ref

_TORCH_DTYPES = {"DT_FLOAT": torch.float32, "DT_HALF": torch.float32, "DT_INT32": torch.int64,
                 "DT_INT64": torch.int64, "DT_BOOL": torch.bool, "DT_UINT8": torch.int64}


def _ints(t) -> list[int]:
    return [int(v) for v in (t.reshape(-1).tolist() if isinstance(t, torch.Tensor) else t)]


def _same(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _pads(node, x_hw, k_hw, strides, dilations) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding of an NHWC window op."""
    mode = _attr(node, "padding", "VALID")
    if mode == "VALID":
        return 0, 0, 0, 0
    if mode == "SAME":
        t, b = _same(x_hw[0], k_hw[0], strides[0], dilations[0])
        lft, r = _same(x_hw[1], k_hw[1], strides[1], dilations[1])
        return t, b, lft, r
    if mode == "EXPLICIT":
        p = _attr(node, "explicit_paddings", [])
        return p[2], p[3], p[4], p[5]
    raise TfjsError(f"node {node['name']!r}: unknown padding {mode!r}")


def _nhwc(node) -> bool:
    fmt = _attr(node, "data_format", "NHWC")
    if fmt not in ("NHWC", "NCHW"):
        raise TfjsError(f"node {node['name']!r}: data format {fmt!r} is not supported")
    return fmt == "NHWC"


def _kernel(model, node, w, depthwise: bool):
    """The torch (O, I/groups, kH, kW) kernel for a TF HWIO (or H W C M depthwise) filter."""
    key = ("kernel", node["name"])
    const = model.nodes.get(_ref(node["input"][1])[0], {}).get("op") == "Const"
    if const and key in model.cache:
        return model.cache[key]
    if depthwise:
        kh, kw, c, m = w.shape
        k = w.reshape(kh, kw, c * m).permute(2, 0, 1).unsqueeze(1).contiguous()
    else:
        k = w.permute(3, 2, 0, 1).contiguous()
    if const:
        model.cache[key] = k
    return k


def _activate(x, name: str, node, extra):
    if name == "Relu":
        return F.relu(x)
    if name == "Relu6":
        return x.clamp(0, 6)
    if name == "LeakyRelu":
        return F.leaky_relu(x, _attr(node, "leakyrelu_alpha", 0.2))
    if name == "Elu":
        return F.elu(x)
    if name == "Sigmoid":
        return torch.sigmoid(x)
    if name == "Prelu":
        return torch.where(x >= 0, x, x * extra)
    raise TfjsError(f"node {node['name']!r}: fused activation {name!r} is not supported")


def _conv(model, node, x, w, *extra, depthwise=False, fused=False):
    nhwc = _nhwc(node)
    s = _attr(node, "strides", [1, 1, 1, 1])
    d = _attr(node, "dilations", [1, 1, 1, 1])
    strides, dil = (s[1:3], d[1:3]) if nhwc else (s[2:4], d[2:4])
    xt = x.permute(0, 3, 1, 2) if nhwc else x
    k = _kernel(model, node, w, depthwise)
    t, b, lft, r = _pads(node, xt.shape[2:], k.shape[2:], strides, dil)
    ops = _attr(node, "fused_ops", []) if fused else []
    bias = extra[0] if ops and ops[0] == "BiasAdd" else None
    if t == b and lft == r:
        pad = (t, lft)
    else:
        xt, pad = F.pad(xt, (lft, r, t, b)), (0, 0)
    y = F.conv2d(xt, k, bias, tuple(strides), pad, tuple(dil), groups=xt.shape[1] if depthwise else 1)
    if ops and ops[0] == "FusedBatchNorm":
        scale, offset, mean, var = (e.reshape(1, -1, 1, 1) for e in extra[:4])
        y = (y - mean) * torch.rsqrt(var + _attr(node, "epsilon", 1e-3)) * scale + offset
        bias_used = 4
    else:
        bias_used = 1 if bias is not None else 0
    for name in ops[1:]:
        alpha = extra[bias_used].reshape(1, -1, 1, 1) if name == "Prelu" else None
        y = _activate(y, name, node, alpha)
    return y.permute(0, 2, 3, 1) if nhwc else y


def _pool(node, x, kind: str):
    nhwc = _nhwc(node)
    k, s = _attr(node, "ksize"), _attr(node, "strides")
    k, s = (k[1:3], s[1:3]) if nhwc else (k[2:4], s[2:4])
    xt = x.permute(0, 3, 1, 2) if nhwc else x
    t, b, lft, r = _pads(node, xt.shape[2:], k, s, (1, 1))
    if kind == "max":
        y = F.max_pool2d(F.pad(xt, (lft, r, t, b), value=-math.inf), k, s)
    else:  # TF's average excludes the padding from each window's count
        ones = F.pad(torch.ones_like(xt[:, :1]), (lft, r, t, b))
        y = F.avg_pool2d(F.pad(xt, (lft, r, t, b)), k, s) / F.avg_pool2d(ones, k, s)
    return y.permute(0, 2, 3, 1) if nhwc else y


def _resize_axis(x, axis: int, out: int, align: bool, half: bool, nearest: bool):
    n = x.shape[axis]
    i = torch.arange(out, dtype=torch.float64)
    if align and out > 1:
        src = i * ((n - 1) / (out - 1))
    elif half:
        src = (i + 0.5) * (n / out) - (0.0 if nearest else 0.5)
    else:
        src = i * (n / out)
    if nearest:
        idx = (torch.round(src) if align else torch.floor(src)).long().clamp(0, n - 1)
        return x.index_select(axis, idx)
    lo = torch.floor(src)
    frac = (src - lo).float()
    lo_i = lo.long().clamp(0, n - 1)
    hi_i = (lo.long() + 1).clamp(0, n - 1)
    shape = [1] * x.dim()
    shape[axis] = out
    frac = frac.reshape(shape)
    return x.index_select(axis, lo_i) * (1 - frac) + x.index_select(axis, hi_i) * frac


def _resize(node, x, size, nearest=False):
    h, w = _ints(size)
    align, half = _attr(node, "align_corners", False), _attr(node, "half_pixel_centers", False)
    if not nearest and (align or half):  # torch's bilinear is TF's for these two conventions
        y = F.interpolate(x.float().permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=bool(align))
        return y.permute(0, 2, 3, 1)
    y = _resize_axis(x.float(), 1, h, align, half, nearest)
    return _resize_axis(y, 2, w, align, half, nearest)


def _strided_slice(node, x, begin, end, strides):
    """TF StridedSlice with every mask: begin/end masks, ellipsis (one), new axes, shrunk axes and
    negative strides (Python slice semantics, which clamp out-of-range bounds as TF does)."""
    begin, end, strides = _ints(begin), _ints(end), _ints(strides)
    bm, em, ellipsis, new_axis, shrink = (_attr(node, k, 0) for k in (
        "begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"))
    if bin(ellipsis).count("1") > 1:
        raise TfjsError(f"node {node['name']!r}: StridedSlice with more than one ellipsis")
    # the sparse spec -> one entry per output-producing item: ("new",), ("all",), ("take", i), ("range", ...)
    n_real = sum(1 for i in range(len(begin)) if not (new_axis >> i) & 1 and not (ellipsis >> i) & 1)
    items: list[tuple] = []
    dim = 0
    for i in range(len(begin)):
        if (ellipsis >> i) & 1:
            k = x.dim() - n_real
            items += [("all",)] * k
            dim += k
        elif (new_axis >> i) & 1:
            items.append(("new",))
        else:
            if dim >= x.dim():
                raise TfjsError(f"node {node['name']!r}: StridedSlice spec has more axes than the input ({x.dim()})")
            n, st = x.shape[dim], strides[i]
            if st == 0:
                raise TfjsError(f"node {node['name']!r}: StridedSlice stride 0")
            if (shrink >> i) & 1:
                b = 0 if (bm >> i) & 1 else begin[i]
                b = b + n if b < 0 else b
                if not 0 <= b < n:
                    raise TfjsError(f"node {node['name']!r}: StridedSlice index {begin[i]} out of range for size {n}")
                items.append(("take", b))
            else:
                b = None if (bm >> i) & 1 else begin[i]
                e = None if (em >> i) & 1 else end[i]
                items.append(("range", list(range(*slice(b, e, st).indices(n))), st, slice(b, e, st)))
            dim += 1
    items += [("all",)] * (x.dim() - dim)  # axes the spec does not name are kept whole
    index, later, out_axis = [], [], 0
    for it in items:
        if it[0] == "new":
            index.append(None)
            out_axis += 1
        elif it[0] == "all":
            index.append(slice(None))
            out_axis += 1
        elif it[0] == "take":
            index.append(it[1])
        else:
            _, idx, st, sl = it
            if st > 0:
                index.append(sl)
            else:  # torch has no negative steps: select the indices afterwards
                index.append(slice(None))
                later.append((out_axis, idx))
            out_axis += 1
    y = x[tuple(index)]
    for axis, idx in later:
        y = y.index_select(axis, torch.tensor(idx, dtype=torch.long))
    return y


def _gather_nd(model, node, params, indices):
    """``out[i..] = params[indices[i.., 0], ..., indices[i.., K-1], ...]`` (shape indices.shape[:-1] +
    params.shape[K:])."""
    idx = indices.long()
    k = idx.shape[-1]
    if k > params.dim():
        raise TfjsError(f"node {node['name']!r}: GatherNd index depth {k} > params rank {params.dim()}")
    if k == 0:
        return params.expand(tuple(idx.shape[:-1]) + tuple(params.shape))
    return params[tuple(idx[..., j] for j in range(k))]


def _select(model, node, cond, a, b):
    """Select (v1): a rank-1 condition picks whole rows of higher-rank operands; otherwise (and
    SelectV2) the three broadcast."""
    if node["op"] == "Select" and cond.dim() == 1 and a.dim() > 1:
        cond = cond.reshape((-1,) + (1,) * (a.dim() - 1))
    if a.dtype != b.dtype and (a.is_floating_point() or b.is_floating_point()):
        a, b = a.float(), b.float()
    return torch.where(cond.bool(), a, b)


def _range(model, node, start, limit, delta):
    vals = [v.item() for v in (start, limit, delta)]
    floating = _attr(node, "Tidx") in ("DT_FLOAT", "DT_DOUBLE", "DT_HALF") or any(
        v.is_floating_point() for v in (start, limit, delta))
    if vals[2] == 0:
        raise TfjsError(f"node {node['name']!r}: Range with delta 0")
    return torch.arange(*vals, dtype=torch.float32 if floating else torch.int64)


def _matmul(model, node, a, b, *extra, fused=False):
    ta = _attr(node, "transpose_a", False) or _attr(node, "adj_x", False)
    tb = _attr(node, "transpose_b", False) or _attr(node, "adj_y", False)
    a = a.transpose(-1, -2) if ta else a
    b = b.transpose(-1, -2) if tb else b
    y = torch.matmul(a.float(), b.float())
    ops = _attr(node, "fused_ops", []) if fused else []
    used = 0
    if ops and ops[0] == "BiasAdd":
        y = y + extra[0]
        used, ops = 1, ops[1:]
    for name in ops:
        y = _activate(y, name, node, extra[used] if name == "Prelu" else None)
    return y


def _add_n(model, node, *xs):
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _reduce(fn):
    def op(model, node, x, axes):
        ax = [a % x.dim() for a in _ints(axes)] if x.dim() else []
        keep = bool(_attr(node, "keep_dims", False))
        if not ax:
            return x
        return fn(x, ax, keep)
    return op


def _gather(model, node, params, indices, axis=None):
    ax = _ints(axis)[0] if axis is not None else 0
    ax %= params.dim()
    flat = params.index_select(ax, indices.reshape(-1).long())
    return flat.reshape(tuple(params.shape[:ax]) + tuple(indices.shape) + tuple(params.shape[ax + 1:]))


def _sparse_to_dense(model, node, indices, shape, values, default):
    shape = _ints(shape)
    out = torch.full(shape, default.item(), dtype=values.dtype if values.numel() else default.dtype)
    if indices.numel():
        idx = indices.reshape(-1, len(shape)) if len(shape) > 1 else indices.reshape(-1, 1)
        out[tuple(idx.long().t())] = values.to(out.dtype) if values.dim() else values.item()
    return out


def _split_v(model, node, x, sizes, axis):
    ax, sizes = _ints(axis)[0] % x.dim(), _ints(sizes)
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[ax] - (sum(sizes) + 1)
    return list(torch.split(x, sizes, ax))


def _pad(model, node, x, paddings, value=None):
    p = _ints(paddings)
    flat = []
    for i in reversed(range(len(p) // 2)):
        flat += [p[2 * i], p[2 * i + 1]]
    return F.pad(x, flat, value=0.0 if value is None else value.item())


def _binary(fn):
    return lambda model, node, a, b: fn(a, b)


def _cast(model, node, x):
    return x.to(_TORCH_DTYPES.get(_attr(node, "DstT"), torch.float32))


def _concat(model, node, *args):
    *xs, axis = args
    ax = _ints(axis)[0]
    if any(x.is_floating_point() for x in xs):
        xs = [x.float() for x in xs]
    return torch.cat(xs, ax)


def _topk(model, node, x, k):
    v, i = torch.topk(x, _ints(k)[0], dim=-1, largest=True, sorted=True)
    return [v, i]


OPS = {
    "Identity": lambda m, n, x: x, "StopGradient": lambda m, n, x: x,
    "Conv2D": lambda m, n, x, w: _conv(m, n, x, w),
    "_FusedConv2D": lambda m, n, x, w, *e: _conv(m, n, x, w, *e, fused=True),
    "DepthwiseConv2dNative": lambda m, n, x, w: _conv(m, n, x, w, depthwise=True),
    "FusedDepthwiseConv2dNative": lambda m, n, x, w, *e: _conv(m, n, x, w, *e, depthwise=True, fused=True),
    "MaxPool": lambda m, n, x: _pool(n, x, "max"), "AvgPool": lambda m, n, x: _pool(n, x, "avg"),
    "ResizeBilinear": lambda m, n, x, s: _resize(n, x, s),
    "ResizeNearestNeighbor": lambda m, n, x, s: _resize(n, x, s, nearest=True),
    "BiasAdd": lambda m, n, x, b: x + (b.reshape(1, -1, 1, 1) if not _nhwc(n) else b),
    "Add": _binary(torch.add), "AddV2": _binary(torch.add), "Sub": _binary(torch.sub),
    "Mul": _binary(torch.mul), "RealDiv": _binary(torch.true_divide), "Div": _binary(torch.true_divide),
    "Maximum": _binary(torch.maximum), "Minimum": _binary(torch.minimum), "Pow": _binary(torch.pow),
    "SquaredDifference": _binary(lambda a, b: (a - b) ** 2),
    "FloorDiv": _binary(lambda a, b: torch.div(a, b, rounding_mode="floor")),
    "FloorMod": _binary(torch.remainder),
    "Equal": _binary(torch.eq), "Greater": _binary(torch.gt), "Less": _binary(torch.lt),
    "GreaterEqual": _binary(torch.ge), "LessEqual": _binary(torch.le),
    "Relu": lambda m, n, x: F.relu(x), "Relu6": lambda m, n, x: x.clamp(0, 6),
    "LeakyRelu": lambda m, n, x: F.leaky_relu(x, _attr(n, "alpha", 0.2)),
    "Sigmoid": lambda m, n, x: torch.sigmoid(x), "Tanh": lambda m, n, x: torch.tanh(x),
    "Exp": lambda m, n, x: torch.exp(x), "Sqrt": lambda m, n, x: torch.sqrt(x),
    "Rsqrt": lambda m, n, x: torch.rsqrt(x), "Neg": lambda m, n, x: -x, "Square": lambda m, n, x: x * x,
    "Softmax": lambda m, n, x: torch.softmax(x, -1),
    "Mean": _reduce(lambda x, ax, k: x.float().mean(ax, keepdim=k)),
    "Sum": _reduce(lambda x, ax, k: x.sum(ax, keepdim=k)),
    "Max": _reduce(lambda x, ax, k: x.amax(ax, keepdim=k)),
    "Min": _reduce(lambda x, ax, k: x.amin(ax, keepdim=k)),
    "Cast": _cast,
    "Reshape": lambda m, n, x, s: x.reshape(_ints(s)),
    "Squeeze": lambda m, n, x: x.squeeze(tuple(_attr(n, "squeeze_dims", []) or range(x.dim()))),
    "ExpandDims": lambda m, n, x, d: x.unsqueeze(_ints(d)[0] if _ints(d)[0] >= 0 else x.dim() + 1 + _ints(d)[0]),
    "Transpose": lambda m, n, x, p: x.permute(_ints(p)),
    "Shape": lambda m, n, x: torch.tensor(list(x.shape), dtype=torch.int64),
    "Pack": lambda m, n, *xs: torch.stack(xs, _attr(n, "axis", 0)),
    "Unpack": lambda m, n, x: list(torch.unbind(x, _attr(n, "axis", 0))),
    "ConcatV2": _concat,
    "SplitV": _split_v,
    "Split": lambda m, n, ax, x: list(torch.chunk(x, _attr(n, "num_split"), _ints(ax)[0])),
    "Slice": lambda m, n, x, b, s: x[tuple(slice(bb, None if ss < 0 else bb + ss) for bb, ss in zip(_ints(b), _ints(s)))],
    "StridedSlice": lambda m, n, x, b, e, s: _strided_slice(n, x, b, e, s),
    "Pad": _pad, "PadV2": _pad,
    "TopKV2": _topk,
    "GatherV2": _gather,
    "SparseToDense": _sparse_to_dense,
    "Fill": lambda m, n, d, v: torch.full(_ints(d), v.item(), dtype=v.dtype),
    "ZerosLike": lambda m, n, x: torch.zeros_like(x),
    "Tile": lambda m, n, x, r: x.repeat(_ints(r)),
    "ArgMax": lambda m, n, x, ax: torch.argmax(x, _ints(ax)[0]),
    "Abs": lambda m, n, x: torch.abs(x),
    "Reciprocal": lambda m, n, x: torch.reciprocal(x.float()),
    "MatMul": _matmul, "BatchMatMul": _matmul, "BatchMatMulV2": _matmul,
    "_FusedMatMul": lambda m, n, a, b, *e: _matmul(m, n, a, b, *e, fused=True),
    "GatherNd": _gather_nd,
    "AddN": _add_n,
    "LogicalAnd": _binary(torch.logical_and), "LogicalOr": _binary(torch.logical_or),
    "LogicalNot": lambda m, n, x: torch.logical_not(x),
    "Range": _range,
    "Select": _select, "SelectV2": _select,
    "Size": lambda m, n, x: torch.tensor(x.numel(), dtype=torch.int64),
}
