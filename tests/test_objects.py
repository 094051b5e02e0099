"""Objects: the TFJS graph executor, the COCO detectors (real frames), YOLOX-style ONNX loading (a
tiny model built here), tracking, the evaluator, the npm carrier, the stage, archive and exports."""
from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from reelscope.errors import MissingDependency
from reelscope.models.registry import CENTERNET_MBV3, NANODET_G, ModelFileError, ModelSpec, resolve, sha256_of
from reelscope.vision.detections import Detections, iou

FIX = Path(__file__).parent / "fixtures" / "objects"


def _have(spec: ModelSpec) -> None:
    """The npm-carried models come with scripts/setup.sh; without npm on the machine, skip."""
    try:
        for f in spec.files:
            resolve(spec, f)
    except MissingDependency:
        if shutil.which("npm") is None:
            pytest.skip(f"{spec.name}: npm carrier not fetched and npm not installed")
        raise


# ---- the TFJS executor -------------------------------------------------------------------------
def _tf_conv_ref(x, w, stride, same=True, depthwise=False):
    """Plain numpy NHWC convolution with TensorFlow's SAME padding (the extra pixel after)."""
    n, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    oh, ow = (-(-h // stride), -(-wd // stride)) if same else ((h - kh) // stride + 1, (wd - kw) // stride + 1)
    ph = max((oh - 1) * stride + kh - h, 0) if same else 0
    pw = max((ow - 1) * stride + kw - wd, 0) if same else 0
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = np.zeros((n, oh, ow, c * w.shape[3] if depthwise else w.shape[3]), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            if depthwise:
                out[:, i, j] = np.einsum("nhwc,hwcm->ncm", patch, w).reshape(n, -1)
            else:
                out[:, i, j] = np.einsum("nhwc,hwco->no", patch, w)
    return out


def _tf_resize_ref(x, oh, ow, half):
    def axis(n, out):
        src = (np.arange(out) + 0.5) * n / out - 0.5 if half else np.arange(out) * n / out
        lo = np.floor(src)
        f = src - lo
        return np.clip(lo, 0, n - 1).astype(int), np.clip(lo + 1, 0, n - 1).astype(int), f
    y0, y1, fy = axis(x.shape[1], oh)
    x0, x1, fx = axis(x.shape[2], ow)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bot = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return top * (1 - fy)[None, :, None, None] + bot * fy[None, :, None, None]


def _write_tiny_tfjs(folder: Path, rng) -> dict:
    """A hand-written TFJS graph model exercising the executor's main ops; returns its weights."""
    w1 = rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float16).astype(np.float32)
    b_q = rng.integers(0, 256, 4).astype(np.uint8)
    b1 = b_q.astype(np.float32) * np.float32(0.01) + np.float32(-1.0)
    dw = rng.normal(0, 0.5, (3, 3, 4, 1)).astype(np.float32)
    enc = lambda s: __import__("base64").b64encode(s.encode()).decode()  # noqa: E731
    ints = lambda *v: {"list": {"i": [str(i) for i in v]}}  # noqa: E731
    weights = [("w1", w1.astype(np.float16).tobytes(), [3, 3, 3, 4], "float32", {"dtype": "float16"}),
               ("b1", b_q.tobytes(), [4], "float32", {"dtype": "uint8", "scale": 0.01, "min": -1.0}),
               ("dw", dw.tobytes(), [3, 3, 4, 1], "float32", None),
               ("size_a", np.array([5, 6], np.int32).tobytes(), [2], "int32", None),
               ("size_b", np.array([6, 8], np.int32).tobytes(), [2], "int32", None),
               ("axes", np.array([1, 2], np.int32).tobytes(), [2], "int32", None),
               ("flat", np.array([1, -1], np.int32).tobytes(), [2], "int32", None),
               ("cat_axis", np.array(1, np.int32).tobytes(), [], "int32", None),
               ("b", np.array([0, 1, 0, 0], np.int32).tobytes(), [4], "int32", None),
               ("e", np.array([0, 3, 0, 0], np.int32).tobytes(), [4], "int32", None),
               ("s", np.array([1, 1, 1, 1], np.int32).tobytes(), [4], "int32", None)]
    nodes = [{"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "1"}, {"size": "9"},
                                                                                     {"size": "11"}, {"size": "3"}]}}}}]
    nodes += [{"name": n, "op": "Const", "attr": {}} for n, *_ in weights]
    nodes += [
        {"name": "c1", "op": "_FusedConv2D", "input": ["x", "w1", "b1"],
         "attr": {"strides": ints(1, 2, 2, 1), "padding": {"s": enc("SAME")}, "data_format": {"s": enc("NHWC")},
                  "fused_ops": {"list": {"s": [enc("BiasAdd"), enc("Relu")]}}, "num_args": {"i": "1"}}},
        {"name": "d1", "op": "DepthwiseConv2dNative", "input": ["c1", "dw"],
         "attr": {"strides": ints(1, 1, 1, 1), "padding": {"s": enc("SAME")}}},
        {"name": "p1", "op": "MaxPool", "input": ["d1"],
         "attr": {"ksize": ints(1, 3, 3, 1), "strides": ints(1, 2, 2, 1), "padding": {"s": enc("SAME")}}},
        {"name": "ra", "op": "ResizeBilinear", "input": ["p1", "size_a"], "attr": {"half_pixel_centers": {"b": True}}},
        {"name": "rb", "op": "ResizeBilinear", "input": ["p1", "size_b"], "attr": {"half_pixel_centers": {"b": False}}},
        {"name": "fa", "op": "Reshape", "input": ["ra", "flat"]},
        {"name": "fb", "op": "Reshape", "input": ["rb", "flat"]},
        {"name": "cat", "op": "ConcatV2", "input": ["fa", "fb", "cat_axis"]},
        {"name": "mean", "op": "Mean", "input": ["d1", "axes"], "attr": {"keep_dims": {"b": True}}},
        {"name": "sig", "op": "Sigmoid", "input": ["mean"]},
        {"name": "sl", "op": "StridedSlice", "input": ["d1", "b", "e", "s"],
         "attr": {"begin_mask": {"i": "13"}, "end_mask": {"i": "13"}}},
    ]
    (folder / "tiny.bin").write_bytes(b"".join(w[1] for w in weights))
    manifest = [{"paths": ["tiny.bin"], "weights": [
        {"name": n, "shape": shp, "dtype": dt, **({"quantization": q} if q else {})} for n, _, shp, dt, q in weights]}]
    (folder / "tiny.json").write_text(json.dumps({"format": "graph-model", "modelTopology": {"node": nodes},
                                                  "weightsManifest": manifest}))
    return {"w1": w1, "b1": b1, "dw": dw}


def test_tfjs_executor_matches_numpy(tmp_path):
    from reelscope.models.tfjs import GraphModel

    rng = np.random.default_rng(3)
    w = _write_tiny_tfjs(tmp_path, rng)
    x = rng.normal(0, 1, (1, 9, 11, 3)).astype(np.float32)
    m = GraphModel(tmp_path / "tiny.json")
    assert m.inputs == {"x": [1, 9, 11, 3]}
    out = m.run({"x": x}, ["cat", "sig", "sl", "d1"])
    c1 = np.maximum(_tf_conv_ref(x.astype(np.float64), w["w1"], 2) + w["b1"], 0)
    d1 = _tf_conv_ref(c1, w["dw"], 1, depthwise=True)
    np.testing.assert_allclose(out["d1"], d1, rtol=1e-4, atol=1e-4)
    pad = np.pad(d1, ((0, 0), (1, 1), (0, 1), (0, 0)), constant_values=-np.inf)  # 5x6 -> 3x3, SAME
    p1 = np.stack([np.stack([pad[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(1, 2)) for j in range(3)], 1)
                   for i in range(3)], 1)
    ref = np.concatenate([_tf_resize_ref(p1, 5, 6, True).reshape(1, -1), _tf_resize_ref(p1, 6, 8, False).reshape(1, -1)], 1)
    np.testing.assert_allclose(out["cat"], ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["sig"], 1 / (1 + np.exp(-d1.mean(axis=(1, 2), keepdims=True))), rtol=1e-5)
    np.testing.assert_allclose(out["sl"], d1[:, 1:3], rtol=1e-5, atol=1e-6)


def test_tfjs_executor_errors(tmp_path):
    from reelscope.models.tfjs import GraphModel, TfjsError

    _write_tiny_tfjs(tmp_path, np.random.default_rng(0))
    doc = json.loads((tmp_path / "tiny.json").read_text())
    doc["modelTopology"]["node"].append({"name": "z", "op": "NonMaxSuppressionV5", "input": ["x"]})
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(TfjsError, match="unsupported ops NonMaxSuppressionV5"):
        GraphModel(tmp_path / "bad.json")
    (tmp_path / "tiny.bin").write_bytes((tmp_path / "tiny.bin").read_bytes()[:-9])
    with pytest.raises(TfjsError, match="truncated"):
        GraphModel(tmp_path / "tiny.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(TfjsError, match="not a TFJS graph model"):
        GraphModel(tmp_path / "junk.json")


@pytest.mark.parametrize("name", ["nanodet", "centernet"])
def test_tfjs_executor_matches_tensorflow_js(name):
    """Outputs of the real graphs equal those TensorFlow.js computed (tests/fixtures/objects/
    make_tfjs_reference.py) on the same inputs."""
    from reelscope.models.tfjs import GraphModel

    spec = {"nanodet": NANODET_G, "centernet": CENTERNET_MBV3}[name]
    _have(spec)
    ref = json.loads((FIX / "tfjs_reference.json").read_text())[name]
    inp = {"nanodet": ("input_1", (1, 3, 416, 416), -2.0, 2.0),
           "centernet": ("tower_0/images", (1, 512, 512, 3), 0.0, 255.0)}[name]
    x = np.random.default_rng(0).uniform(inp[2], inp[3], inp[1]).astype(np.float32)
    json_file = next(f for f in spec.files if f.endswith(".json"))
    out = GraphModel(resolve(spec, json_file)).run({inp[0]: x}, list(ref))
    for o, r in ref.items():
        v = out[o]
        assert list(v.shape) == r["shape"]
        np.testing.assert_allclose(v.reshape(-1)[r["positions"]], r["values"], rtol=1e-3, atol=2e-3)
        assert float(np.abs(v.astype(np.float64)).sum()) == pytest.approx(r["abs_sum"], rel=1e-4)


# ---- detectors on real frames --------------------------------------------------------------------
def _frame(path: Path, index: int) -> np.ndarray:
    from reelscope.media.decode import FrameSpec, iter_frames
    from reelscope.media.info import probe

    spec = FrameSpec("rgb")
    return next(iter(iter_frames(path, [spec], rotation=probe(path).rotation, only={index})))[spec]


def _labels(video: str, frame: int) -> list[dict]:
    from reelscope.eval.objects import load_labels

    return next(f for f in load_labels(FIX / "labels.json") if f["video"] == video and f["frame"] == frame)["objects"]


@pytest.mark.parametrize("name", ["nanodet", "centernet"])
def test_detector_finds_the_people_in_a_real_frame(data, name):
    from reelscope.vision.objects import make_object_detector

    _have({"nanodet": NANODET_G, "centernet": CENTERNET_MBV3}[name])
    img = _frame(data("video/chaplin.mp4"), 60)
    det = make_object_detector(name, min_score=0.3)
    found = det.detect(img, frame=60)
    assert found.frame == 60
    persons = found.select(found.class_ids == 0)
    truth = np.array([o["box"] for o in _labels("video/chaplin.mp4", 60)], np.float32)
    ov = iou(truth, persons.boxes)
    assert (ov.max(axis=1) >= 0.5).all(), f"both labelled people found: {found.boxes} vs {truth}"
    matched = persons.scores[ov.argmax(axis=1)]
    assert matched.max() >= 0.6 and matched.min() >= 0.3  # one sure, the other (seen from behind) weaker
    assert all(d["label"] == "person" for d in persons.data)
    # the same frame at twice the size: the same people, boxes in the larger frame's pixels
    import cv2

    big = det.detect(cv2.resize(img, (img.shape[1] * 2, img.shape[0] * 2)))
    assert (iou(truth * 2, big.select(big.class_ids == 0).boxes).max(axis=1) >= 0.5).all()


@pytest.mark.parametrize("name", ["nanodet", "centernet"])
def test_detector_is_quiet_on_flat_frames(name):
    from reelscope.vision.objects import make_object_detector

    _have({"nanodet": NANODET_G, "centernet": CENTERNET_MBV3}[name])
    det = make_object_detector(name, min_score=0.05)
    for value in (128, 0):
        found = det.detect(np.full((360, 640, 3), value, np.uint8))
        assert not len(found) or found.scores.max() < 0.3, (value, found.scores, found.data)
    assert len(det.detect(np.zeros((4, 640, 3), np.uint8))) == 0  # too small: nothing, no error


def test_detector_options_and_errors():
    from reelscope.vision.objects import make_object_detector

    with pytest.raises(ValueError, match="unknown object detector"):
        make_object_detector("yolo-v99")
    with pytest.raises(ValueError, match="min_score"):
        make_object_detector("nanodet", min_score=2)
    with pytest.raises(ValueError, match="unknown COCO class"):
        make_object_detector("nanodet", classes=["unicorn"])
    assert make_object_detector("nanodet", classes=["person", "Cell_Phone"]).classes == [0, 67]


def test_letterbox_and_class_nms():
    from reelscope.vision.objects import class_nms, letterbox

    img = np.full((90, 160, 3), 200, np.uint8)
    canvas, s = letterbox(img, (64, 64), 114.0)
    assert s == pytest.approx(0.4) and canvas.shape == (64, 64, 3)
    assert canvas[:36, :64].mean() == pytest.approx(200) and canvas[37:].mean() == pytest.approx(114)
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [1, 1, 10, 10], [50, 50, 5, 5]], np.float32)
    keep = class_nms(boxes, np.array([0.9, 0.8, 0.7, 0.6]), np.array([0, 0, 2, 0]), 0.5)
    assert sorted(keep.tolist()) == [0, 2, 3]  # the overlapping box of another class survives


# ---- YOLOX-style ONNX: a tiny model built here, run by onnxruntime -------------------------------
def _tiny_yolox(path: Path, decoded: bool = False) -> Path:
    """(1, 3, 64, 64) -> (1, 84, 85): objectness of the stride-8 cells = mean brightness / 255 of
    the cell, boxes 16x16 px at the cell centre (raw grid offsets, or already decoded), class 2."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n8, n = 64, 84
    if decoded:
        gy, gx = np.divmod(np.arange(n8), 8)
        xy = np.stack([(gx + 0.5) * 8, (gy + 0.5) * 8], 1)
        rest = np.zeros((n - n8, 2))
        reg = np.concatenate([np.concatenate([xy, rest]), np.full((n, 2), 16.0)], 1)
    else:
        reg = np.tile([0.5, 0.5, np.log(2.0), np.log(2.0)], (n, 1))
    cls = np.zeros((n, 80))
    cls[:, 2] = 1.0
    inits = [numpy_helper.from_array(reg[None].astype(np.float32), "reg"),
             numpy_helper.from_array(cls[None].astype(np.float32), "cls"),
             numpy_helper.from_array(np.zeros((1, n - n8, 1), np.float32), "zeros"),
             numpy_helper.from_array(np.array([1, n8, 1], np.int64), "shape8"),
             numpy_helper.from_array(np.array(255.0, np.float32), "k255")]
    nodes = [helper.make_node("ReduceMean", ["images"], ["grey"], axes=[1], keepdims=1),
             helper.make_node("AveragePool", ["grey"], ["cells"], kernel_shape=[8, 8], strides=[8, 8]),
             helper.make_node("Div", ["cells", "k255"], ["obj8"]),
             helper.make_node("Reshape", ["obj8", "shape8"], ["obj8r"]),
             helper.make_node("Concat", ["obj8r", "zeros"], ["obj"], axis=1),
             helper.make_node("Concat", ["reg", "obj", "cls"], ["output"], axis=2)]
    graph = helper.make_graph(nodes, "tiny_yolox", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, n, 85])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("decoded", [False, True])
def test_onnx_yolox_tiny_model(tmp_path, decoded):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from reelscope.vision.objects import make_object_detector

    path = _tiny_yolox(tmp_path / "tiny.onnx", decoded)
    det = make_object_detector(str(path), min_score=0.5)
    assert det.input_size == (64, 64) and det.name == "onnx:tiny.onnx"
    img = np.zeros((128, 160, 3), np.uint8)  # letterboxed at scale 0.4 onto 64x64 grey 114
    img[40:60, 60:80] = 255  # -> canvas cell (3, 2): x 24..32, y 16..24
    found = det.detect(img)
    assert len(found) == 1 and found.data[0]["label"] == "car" and found.scores[0] > 0.9
    np.testing.assert_allclose(found.boxes[0], [50, 30, 40, 40], atol=0.5)  # 16 px canvas box / 0.4
    assert det.models()["onnx/tiny.onnx"]["sha256"] == sha256_of(path)
    assert det.params()["decode"] == "auto"


def test_onnx_detector_bad_files(tmp_path):
    pytest.importorskip("onnxruntime")
    from reelscope.errors import ReelscopeError
    from reelscope.vision.objects import make_object_detector

    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ReelscopeError, match="cannot load ONNX model"):
        make_object_detector(str(tmp_path / "junk.onnx"))
    with pytest.raises(ReelscopeError, match="no such ONNX model"):
        make_object_detector(str(tmp_path / "missing.onnx"))


# ---- tracking ------------------------------------------------------------------------------------
class _Shot:
    def __init__(self, index, start, end):
        self.index, self.start, self.end = index, start, end


def _dets(frame, boxes, classes, scores=None):
    return Detections(np.array(boxes, np.float32), np.array(scores or [0.8] * len(boxes)), np.array(classes),
                      frame=frame)


def test_tracking_links_the_same_object_and_keeps_classes_apart():
    from reelscope.vision.object_tracks import track_objects

    frames = []
    for k, f in enumerate(range(0, 120, 12)):
        x = 10 + 25 * k  # a person walking right fast (little overlap between samples)
        frames.append(_dets(f, [[x, 50, 40, 100], [x + 5, 60, 30, 40], [300, 20, 60, 40]], [0, 26, 2]))
    frames[4] = _dets(48, [[300, 20, 60, 40]], [2])  # the walker and the bag are missed once
    tracks = track_objects(frames, [_Shot(0, 0, 59), _Shot(1, 60, 200)], sample_step=12)
    by = {}
    for t in tracks:
        by.setdefault((t.shot_index, t.label), []).append(t)
    assert set(by) == {(0, "person"), (0, "handbag"), (0, "car"), (1, "person"), (1, "handbag"), (1, "car")}
    assert all(len(v) == 1 for v in by.values())  # one track each: the gap and the speed are bridged
    person0 = by[(0, "person")][0]
    assert person0.frames == [0, 12, 24, 36] and person0.first_frame == 0 and person0.last_frame == 36
    assert person0.duration_frames == 48 and by[(1, "car")][0].frames == [60, 72, 84, 96, 108]
    assert [t.id for t in tracks] == list(range(len(tracks)))


def test_tracking_crossing_people_and_long_gaps():
    from reelscope.vision.object_tracks import track_objects

    frames = [_dets(f, [[100 + 10 * k, 0, 50, 100], [300 - 10 * k, 0, 50, 100]], [0, 0])
              for k, f in enumerate(range(0, 60, 6))]
    tracks = track_objects(frames, (), sample_step=6)
    assert len(tracks) == 2
    assert sorted(t.boxes[0, 0] for t in tracks) == [100, 300]
    for t in tracks:  # each keeps moving the same way: no swap at the crossing
        assert np.all(np.diff(t.boxes[:, 0]) * np.sign(t.boxes[-1, 0] - t.boxes[0, 0]) > 0)
    far = track_objects([_dets(0, [[0, 0, 10, 10]], [0]), _dets(100, [[0, 0, 10, 10]], [0])], (), sample_step=10)
    assert len(far) == 2  # not seen for 10 samples: a new track
    with pytest.raises(ValueError, match="outside every shot"):
        track_objects([_dets(500, [[0, 0, 1, 1]], [0])], [_Shot(0, 0, 10)])


# ---- evaluator -----------------------------------------------------------------------------------
def test_evaluator_ap_precision_recall_and_ignore():
    from reelscope.eval.objects import average_precision, evaluate

    gt = [{"label": "person", "box": [0, 0, 10, 10]}, {"label": "person", "box": [20, 0, 10, 10]},
          {"label": "person", "box": [50, 50, 40, 40], "ignore": True}]
    perfect = [{"label": "person", "box": [0, 0, 10, 10], "score": 0.9},
               {"label": "person", "box": [21, 0, 10, 10], "score": 0.8}]
    r = evaluate([(gt, perfect)])
    assert r.classes["person"].ap == pytest.approx(1.0) and r.precision == 1.0 and r.recall == 1.0
    noisy = perfect + [{"label": "person", "box": [100, 100, 5, 5], "score": 0.95},  # FP ranked first
                       {"label": "person", "box": [0, 0, 10, 10], "score": 0.85},  # duplicate: FP
                       {"label": "person", "box": [55, 55, 10, 10], "score": 0.99},  # inside ignore: not counted
                       {"label": "car", "box": [0, 0, 10, 10], "score": 0.5}]  # a class nobody labelled
    r = evaluate([(gt, noisy)], score_threshold=0.5)
    # ranks: FP, TP (r .5, p .5), FP, TP (r 1, p .5) -> AP = .5 * .5 + .5 * .5
    assert r.classes["person"].ap == pytest.approx(0.5)
    assert (r.tp, r.fp, r.fn, r.fp_unlabelled_classes) == (2, 3, 0, 1)
    assert r.as_dict()["classes"]["person"]["n_gt"] == 2
    assert average_precision(np.array([0.9]), np.array([True]), 4) == pytest.approx(0.25)
    empty = evaluate([([], [])])
    assert np.isnan(empty.map)


def test_labels_fixture_is_valid():
    from reelscope.eval.objects import load_labels
    from reelscope.vision.coco import COCO_CLASSES

    frames = load_labels(FIX / "labels.json")
    assert len(frames) >= 30
    objs = [o for f in frames for o in f["objects"] if not o.get("ignore")]
    assert len(objs) >= 100 and {o["label"] for o in objs} <= set(COCO_CLASSES)
    for f in frames:
        for o in f["objects"]:
            x, y, w, h = o["box"]
            assert 0 <= x and 0 <= y and x + w <= f["width"] + 1 and y + h <= f["height"] + 1, (f["video"], o)


# ---- the npm carrier -----------------------------------------------------------------------------
def test_npm_carrier_unpack_verify_and_resolve(tmp_path, monkeypatch):
    from reelscope.models.fetch import present, unpack

    payload = b'{"format": "graph-model"}'
    spec = ModelSpec(name="tiny-npm", task="test", files={"m.json": __import__("hashlib").sha256(payload).hexdigest()},
                     licence="MIT", npm="@someone/pkg@1.2.3", carrier_path="models")
    tgz = tmp_path / "pkg.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, data in (("package/models/m.json", payload), ("package/LICENSE", b"MIT"),
                           ("package/models/other.bin", b"x" * 100)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("REELSCOPE_NPM_CACHE", str(tmp_path / "npm"))
    monkeypatch.setenv("REELSCOPE_MODELS", str(tmp_path / "models"))
    assert not present(spec)
    target = tmp_path / "npm" / "someone-pkg-1.2.3"
    paths = unpack(tgz, [spec], target)
    assert paths == [target / "package" / "models" / "m.json"]
    assert (target / "package" / "LICENSE").is_file() and not (target / "package" / "models" / "other.bin").exists()
    assert resolve(spec) == paths[0] and present(spec)
    bad = ModelSpec(name="bad", task="test", files={"m.json": "0" * 64}, licence="MIT", npm="@x/y@1",
                    carrier_path="models")
    with pytest.raises(ModelFileError, match="sha256"):
        unpack(tgz, [bad], tmp_path / "bad")
    assert not (tmp_path / "bad" / "package").exists()  # nothing half-written


# ---- the stage, the archive and the exports --------------------------------------------------------
class _BrightBlob:
    """A stand-in detector for the stage's plumbing: one 'car' box around the pixels brighter than
    200 when there are any (score 0.9), else nothing. Deterministic and instant."""

    def detect(self, rgb, frame=None):
        ys, xs = np.nonzero(rgb.max(axis=2) > 200)
        if not len(xs):
            return Detections.empty(frame)
        return Detections(np.array([[xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]]),
                          np.array([0.9]), np.array([2]), data=[{"label": "car"}], frame=frame)


def test_analyze_objects_samples_scales_and_filters_tracks(tmp_path):
    from conftest import encode

    from reelscope.media.info import probe
    from reelscope.pipeline.stages.objects import analyze_objects

    frames = []
    for t in range(50):  # 25 fps, 2 s; a white square in frames 0-29 only, plus one stray flash at 40
        f = np.zeros((108, 192, 3), np.uint8)
        if t < 30:
            f[20:40, 30 + t:50 + t] = 255
        if t == 40:
            f[80:90, 150:160] = 255
        frames.append(f)
    path = encode(tmp_path / "blob.mp4", frames, options={"crf": "10"})
    info = probe(path)
    res = analyze_objects(str(path), info, [_Shot(0, 0, 49)], _BrightBlob(), sample_fps=5.0, max_width=96)
    assert res.step == 5 and res.sampled == 10 and res.scale == 2.0
    assert sorted(res.times) == list(range(0, 50, 5))
    assert [d.frame for d in res.frames] == [0, 5, 10, 15, 20, 25, 40]
    box = res.frames[1].boxes[0]  # frame 5, in video pixels although analysed at half size
    np.testing.assert_allclose(box, [35, 20, 20, 20], atol=2.5)
    assert [len(t) for t in res.tracks] == [6, 1]
    kept = analyze_objects(str(path), info, [_Shot(0, 0, 49)], _BrightBlob(), sample_fps=5.0, max_width=96,
                           min_track_len=2)
    assert [len(t) for t in kept.tracks] == [6] and [d.frame for d in kept.frames] == [0, 5, 10, 15, 20, 25]
    assert kept.tracks[0].det_indices == [0] * 6  # re-indexed into the filtered frames


@pytest.mark.slow
def test_objects_stage_round_trip(tmp_path, data, db_url):
    from typer.testing import CliRunner

    from reelscope.analysis import analyze
    from reelscope.archive import Archive
    from reelscope.archive import schema as db
    from reelscope.archive.export import video_dict
    from reelscope.cli import app

    _have(NANODET_G)
    clip = data("video/chaplin.mp4")
    arch = Archive(tmp_path / "a", db_url)
    (o,) = analyze([clip], arch, stages=["shots", "objects"], params={"objects": {"sample_fps": 1.0}})
    assert o.status == "analyzed", o.error
    with arch.session() as s:
        tracks = s.query(db.ObjectTrack).filter_by(video_id=o.video_id).all()
        n_det = s.query(db.ObjectDetection).filter_by(video_id=o.video_id).count()
    people = [t for t in tracks if t.label == "person"]
    assert len(people) >= 2 and max(t.detections for t in people) >= 6  # two people through the shot
    assert n_det == sum(t.detections for t in tracks)
    v = video_dict(arch.video(o.video_id))
    tr = v["objects"]["tracks"]
    assert {t["label"] for t in tr} >= {"person"}
    first = tr[0]["detections"][0]
    assert set(first) == {"frame", "time", "box", "score"}
    assert all(d["frame"] % 25 == 0 for t in tr for d in t["detections"])  # 1 frame/s of a 25 fps clip
    run = next(r for r in v["analysis_runs"] if r["stage"] == "objects")
    assert "nanodet-g-416/nanodet.bin" in run["models"] and run["params"]["detector_params"]["detector"] == "nanodet"
    analyze([clip], arch, stages=["shots", "objects"], params={"objects": {"sample_fps": 1.0}}, force=True)
    with arch.session() as s:  # re-analysis replaces the rows
        assert s.query(db.ObjectDetection).filter_by(video_id=o.video_id).count() == n_det
    arch.close()
    runner = CliRunner()
    args = ["--archive", str(tmp_path / "a")] + (["--db", db_url] if db_url else [])
    res = runner.invoke(app, ["export", "chaplin.mp4", "-o", str(tmp_path / "seed.json"), "--format", "seed", *args])
    assert res.exit_code == 0, res.output
    seed = json.loads((tmp_path / "seed.json").read_text())
    assert seed and all(set(f) >= {"frameIdx", "objects"} for f in seed)
    obj = seed[0]["objects"][0]
    assert set(obj) >= {"ObjectID", "Bb", "score", "class"} and len(obj["Bb"]) == 4
    assert any(x["ObjectID"] == "person" for f in seed for x in f["objects"])
    res = runner.invoke(app, ["show", "chaplin.mp4", *args])
    assert res.exit_code == 0 and "objects:" in res.output and "person" in res.output


def _synthetic_archive(location: Path, db_url=None):
    """An archive holding one video with a named character's face inside a person box at frame
    12 and a car at frames 0 and 12; returns (archive, video id, car track id)."""
    from reelscope.archive import Archive
    from reelscope.archive import schema as db

    arch = Archive(location, db_url)
    emb = np.zeros(128, "<f4").tobytes()
    with arch.session() as s, s.begin():
        v = db.Video(fingerprint="f" * 32, path="/x.mp4", filename="x.mp4", size_bytes=1, container="mp4", codec="h264",
                     width=640, height=360, rotation=0, fps_num=24, fps_den=1, frame_count=48, duration=2.0,
                     variable_frame_rate=False, has_audio=False)
        ident = db.Identity(name="Anna")
        s.add_all([v, ident])
        s.flush()
        ch = db.Character(video_id=v.id, idx=0, naming="named", identity_id=ident.id, screen_time=1.0, first_frame=0,
                          last_frame=12, first_time=0.0, last_time=0.5, expressions={}, embedding=emb)
        s.add(ch)
        s.flush()
        ft = db.FaceTrack(video_id=v.id, character_id=ch.id, shot_idx=0, first_frame=12, last_frame=12, seconds=0.5,
                          embedding=emb)
        s.add(ft)
        s.flush()
        s.add(db.Face(video_id=v.id, track_id=ft.id, frame=12, time=0.5, x=110, y=20, w=30, h=30, score=0.9))
        s.add(db.AnalysisRun(video_id=v.id, stage="objects", params={}, models={}, reelscope_version="test"))
        ot = db.ObjectTrack(video_id=v.id, shot_idx=0, label="person", class_id=0, first_frame=12, last_frame=12,
                            score=0.8, detections=1)
        car = db.ObjectTrack(video_id=v.id, shot_idx=0, label="car", class_id=2, first_frame=0, last_frame=12,
                             score=0.7, detections=2)
        s.add_all([ot, car])
        s.flush()
        s.add_all([db.ObjectDetection(video_id=v.id, track_id=ot.id, frame=12, time=0.5, label="person", class_id=0,
                                      x=100, y=10, w=60, h=200, score=0.8),
                   db.ObjectDetection(video_id=v.id, track_id=car.id, frame=0, time=0.0, label="car", class_id=2,
                                      x=300, y=200, w=100, h=50, score=0.7),
                   db.ObjectDetection(video_id=v.id, track_id=car.id, frame=12, time=0.5, label="car", class_id=2,
                                      x=310, y=200, w=100, h=50, score=0.7)])
        ids = (v.id, car.id)
    return arch, *ids


def test_seed_form_person_takes_the_face_name(tmp_path):
    """The seed's rule in the per-frame export: a person box holding a named face is that name."""
    from reelscope.archive.objects_io import seed_frames

    arch, vid, car_id = _synthetic_archive(tmp_path / "a")
    with arch.session() as s:
        seed = seed_frames(s, vid)
    assert [f["frameIdx"] for f in seed] == [0, 12]
    assert seed[0]["objects"] == [{"ObjectID": "car", "Bb": [300.0, 200.0, 100.0, 50.0], "score": 0.7, "class": "car",
                                   "track": car_id}]
    ids = {o["class"]: o["ObjectID"] for o in seed[1]["objects"]}
    assert ids == {"person": "Anna", "car": "car", "face": "Anna"}
    with arch.session() as s:
        assert [o["class"] for f in seed_frames(s, vid, faces=False) for o in f["objects"]] == ["car", "person", "car"]
    arch.close()


def test_objects_api(tmp_path, db_url):
    from fastapi.testclient import TestClient

    from reelscope.api.app import create_app

    arch, vid, car_id = _synthetic_archive(tmp_path / "a", db_url)
    arch.close()
    with TestClient(base_url="http://localhost", app=create_app(tmp_path / "a", db_url)) as c:
        r = c.get(f"/api/videos/{vid}/objects")
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == 2 and page["labels"] == {"person": 1, "car": 1}
        assert [t["label"] for t in page["items"]] == ["car", "person"] and page["items"][0]["boxes"] is None
        r = c.get(f"/api/videos/{vid}/objects", params={"label": "car", "boxes": "true"})
        (car,) = r.json()["items"]
        assert car["id"] == car_id and [b["frame"] for b in car["boxes"]] == [0, 12]
        assert car["boxes"][1]["box"] == [310.0, 200.0, 100.0, 50.0] and car["last_time"] == 0.5
        assert c.get(f"/api/videos/{vid}/objects", params={"min_score": 0.75}).json()["total"] == 1
        frames = c.get(f"/api/videos/{vid}/objects/frames", params={"limit": 1, "offset": 1}).json()
        assert frames["total"] == 2 and frames["items"][0]["frameIdx"] == 12
        assert {o["ObjectID"] for o in frames["items"][0]["objects"]} == {"Anna", "car"}
        assert c.get(f"/api/videos/{vid}/objects", params={"label": "Car!"}).status_code == 422
        assert c.get("/api/videos/999/objects").status_code == 404
        v = c.get(f"/api/videos/{vid}").json()
        assert [t["label"] for t in v["objects"]["tracks"]] == ["car", "person"]
