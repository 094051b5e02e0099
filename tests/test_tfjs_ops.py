"""The TFJS executor's ops against numpy renderings of the TensorFlow ops' semantics, and the graph
details MoveNet MultiPose needs (0-d constants, signature outputs by tensor name)."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from reelscope.models.tfjs import GraphModel, TfjsError
from reelscope.models.tfjs_ops import OPS


def _node(op: str, **attr) -> dict:
    enc = {}
    for k, v in attr.items():
        if isinstance(v, bool):
            enc[k] = {"b": v}
        elif isinstance(v, int):
            enc[k] = {"i": str(v)}
        elif isinstance(v, str) and v.startswith("DT_"):
            enc[k] = {"type": v}
        elif isinstance(v, str):
            enc[k] = {"s": base64.b64encode(v.encode()).decode()}
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            enc[k] = {"list": {"s": [base64.b64encode(x.encode()).decode() for x in v]}}
        elif isinstance(v, list):
            enc[k] = {"list": {"i": [str(x) for x in v]}}
    return {"name": f"test/{op}", "op": op, "attr": enc}


def _run(op: str, *args, **attr):
    ts = [torch.from_numpy(np.array(a)) if not isinstance(a, torch.Tensor) else a for a in args]
    out = OPS[op](None, _node(op, **attr), *ts)
    return [o.numpy() for o in out] if isinstance(out, (list, tuple)) else out.numpy()


# ---- StridedSlice: numpy indexing is what tf.Tensor.__getitem__ turns into StridedSlice ----------------
def _tf_strided_args(index: tuple):
    """(begin, end, strides, masks) as TensorFlow's ``_slice_helper`` builds them for ``index``."""
    begin, end, strides = [], [], []
    masks = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    for i, it in enumerate(index):
        bit = 1 << i
        if it is Ellipsis:
            begin.append(0), end.append(0), strides.append(1)
            masks["ellipsis_mask"] |= bit
        elif it is None:
            begin.append(0), end.append(0), strides.append(1)
            masks["new_axis_mask"] |= bit
        elif isinstance(it, slice):
            begin.append(0 if it.start is None else it.start)
            end.append(0 if it.stop is None else it.stop)
            strides.append(1 if it.step is None else it.step)
            if it.start is None:
                masks["begin_mask"] |= bit
            if it.stop is None:
                masks["end_mask"] |= bit
        else:
            begin.append(it), end.append(it + 1), strides.append(1)
            masks["shrink_axis_mask"] |= bit
    return np.array(begin), np.array(end), np.array(strides), masks


@pytest.mark.parametrize("index", [
    (slice(1, 3),), (slice(None), 2), (Ellipsis, None), (None, slice(None), None, slice(1, None)),
    (slice(None, None, -1),), (slice(4, 0, -2), Ellipsis, 1), (Ellipsis, slice(None, None, -1), None),
    (1, None, Ellipsis, slice(-3, None)), (-1,), (slice(None), slice(None), None, slice(None)),
    (slice(-100, 100), slice(None, None, 2)), (None, Ellipsis, -2, None), (slice(3, 1),),
])
def test_strided_slice_matches_numpy_indexing(index):
    x = np.arange(5 * 4 * 6, dtype=np.float32).reshape(5, 4, 6)
    b, e, s, masks = _tf_strided_args(index)
    got = _run("StridedSlice", x, b, e, s, **masks)
    want = x[index]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_strided_slice_movenet_masks():
    """The exact slices MoveNet uses: new axes with begin/end masks ((1, 6) -> (1, 6, 1))."""
    x = np.arange(6, dtype=np.float32).reshape(1, 6)
    got = _run("StridedSlice", x, np.zeros(3, int), np.zeros(3, int), np.ones(3, int),
               begin_mask=3, end_mask=3, new_axis_mask=4)
    np.testing.assert_array_equal(got, x[:, :, None])
    y = np.arange(40 * 64, dtype=np.float32).reshape(40, 64)
    got = _run("StridedSlice", y, np.zeros(4, int), np.zeros(4, int), np.ones(4, int),
               begin_mask=3, end_mask=3, new_axis_mask=12)
    np.testing.assert_array_equal(got, y[:, :, None, None])
    with pytest.raises(TfjsError, match="out of range"):
        _run("StridedSlice", y, np.array([40]), np.array([41]), np.array([1]), shrink_axis_mask=1)


# ---- element-wise and reductions ---------------------------------------------------------------------
def test_abs_reciprocal_addn_logical():
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(0, 2, (3, 4)).astype(np.float32) for _ in range(3))
    np.testing.assert_array_equal(_run("Abs", a), np.abs(a))
    np.testing.assert_array_equal(_run("Abs", np.array([-3, 0, 2])), np.array([3, 0, 2]))
    np.testing.assert_allclose(_run("Reciprocal", a), 1 / a, rtol=1e-6)
    np.testing.assert_allclose(_run("AddN", a, b, c), a + b + c, rtol=1e-6)
    np.testing.assert_allclose(_run("AddN", a), a)
    p, q = a > 0, b > 0
    np.testing.assert_array_equal(_run("LogicalAnd", p, q), p & q)
    np.testing.assert_array_equal(_run("LogicalAnd", p, np.array(True)), p)  # broadcasts like TF
    np.testing.assert_array_equal(_run("LogicalOr", p, q), p | q)
    np.testing.assert_array_equal(_run("LogicalNot", p), ~p)


def test_select_v1_rows_and_v2_broadcast():
    rng = np.random.default_rng(1)
    t, e = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    cond = t > e
    np.testing.assert_array_equal(_run("Select", cond, t, e), np.where(cond, t, e))
    rows = np.array([True, False, True])  # Select (v1): a vector condition picks whole rows
    np.testing.assert_array_equal(_run("Select", rows, t, e), np.where(rows[:, None], t, e))
    np.testing.assert_array_equal(_run("SelectV2", np.array([True, False, True, False]), t, e),
                                  np.where(np.array([True, False, True, False]), t, e))


def test_range_and_size():
    np.testing.assert_array_equal(_run("Range", np.array(0), np.array(10), np.array(3)), np.arange(0, 10, 3))
    np.testing.assert_array_equal(_run("Range", np.array(5), np.array(0), np.array(-2)), np.arange(5, 0, -2))
    r = _run("Range", np.array(0.5, np.float32), np.array(2.0, np.float32), np.array(0.5, np.float32), Tidx="DT_FLOAT")
    np.testing.assert_allclose(r, np.arange(0.5, 2.0, 0.5))
    assert r.dtype == np.float32
    assert _run("Range", np.array(3), np.array(3), np.array(1)).shape == (0,)
    with pytest.raises(TfjsError, match="delta 0"):
        _run("Range", np.array(0), np.array(3), np.array(0))
    s = _run("Size", np.zeros((3, 5, 2)))
    assert s.shape == () and int(s) == 30  # a 0-d scalar, as tf.size
    assert int(_run("Size", np.zeros((0, 4)))) == 0


def test_gather_nd_matches_numpy():
    rng = np.random.default_rng(2)
    params = rng.normal(size=(4, 5, 6)).astype(np.float32)
    full = rng.integers(0, [4, 5, 6], size=(7, 3))  # index every axis -> scalars
    np.testing.assert_array_equal(_run("GatherNd", params, full), params[full[:, 0], full[:, 1], full[:, 2]])
    part = rng.integers(0, [4, 5], size=(2, 3, 2))  # index two axes -> rows of the last
    got = _run("GatherNd", params, part)
    assert got.shape == (2, 3, 6)
    np.testing.assert_array_equal(got, params[part[..., 0], part[..., 1]])
    one = _run("GatherNd", params, np.array([[3], [0]]))
    np.testing.assert_array_equal(one, params[[3, 0]])
    with pytest.raises(TfjsError, match="depth"):
        _run("GatherNd", params, np.zeros((2, 4), int))


def test_matmul_and_fused_matmul():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(4, 5)).astype(np.float32)
    bias = rng.normal(size=(5,)).astype(np.float32)
    np.testing.assert_allclose(_run("MatMul", a, b), a @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_run("MatMul", a.T.copy(), b.T.copy(), transpose_a=True, transpose_b=True), a @ b,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_run("_FusedMatMul", a, b, bias, fused_ops=["BiasAdd"]), a @ b + bias,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_run("_FusedMatMul", a, b, bias, fused_ops=["BiasAdd", "Relu"]),
                               np.maximum(a @ b + bias, 0), rtol=1e-5, atol=1e-6)
    batch = rng.normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(_run("BatchMatMulV2", batch, b), batch @ b, rtol=1e-5, atol=1e-6)


# ---- graph-level: scalars keep rank 0, signature outputs by tensor name ------------------------------
def _write_scalar_graph(folder):
    """x (2, 3) -> Tile(x, Pack(one, two)) with one/two 0-d int constants, output via Identity."""
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                                                     "shape": {"shape": {"dim": [{"size": "2"}, {"size": "3"}]}}}},
        {"name": "one", "op": "Const", "attr": {"dtype": {"type": "DT_INT32"}}},
        {"name": "two", "op": "Const", "attr": {"dtype": {"type": "DT_INT32"}}},
        {"name": "mult", "op": "Pack", "input": ["one", "two"], "attr": {"axis": {"i": "0"}, "N": {"i": "2"}}},
        {"name": "tile", "op": "Tile", "input": ["x", "mult"]},
        {"name": "n", "op": "Size", "input": ["tile"]},
        {"name": "Identity", "op": "Identity", "input": ["tile"]},
    ]
    weights = [{"name": "one", "shape": [], "dtype": "int32"}, {"name": "two", "shape": [], "dtype": "int32"}]
    (folder / "g.bin").write_bytes(np.array([1, 2], "<i4").tobytes())
    (folder / "g.json").write_text(json.dumps({
        "format": "graph-model", "modelTopology": {"node": nodes},
        "signature": {"outputs": {"output_0": {"name": "Identity:0", "dtype": "DT_FLOAT"}}},
        "weightsManifest": [{"paths": ["g.bin"], "weights": weights}]}))


def test_scalar_constants_stay_scalars_and_default_outputs(tmp_path):
    _write_scalar_graph(tmp_path)
    m = GraphModel(tmp_path / "g.json")
    assert m.outputs == ["Identity"]  # the signature's tensor, not its key "output_0"
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = m.run({"x": x})
    assert list(out) == ["Identity"]
    np.testing.assert_array_equal(out["Identity"], np.tile(x, (1, 2)))
    assert m.run({"x": x}, ["mult"])["mult"].shape == (2,)  # two 0-d constants packed: rank 1
    assert int(m.run({"x": x}, ["n"])["n"]) == 12
