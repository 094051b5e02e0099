"""Face detection backends: geometry helpers, input handling, and real-media checks.

Real media: MEDS-II mugshots (one person each), Caminandes (an animated film without
humans), openmpf video_01 (several people)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from reelscope.errors import MissingDependency
from reelscope.models import registry
from reelscope.vision.detections import Detections
from reelscope.vision.face_detect import (FACE_TEMPLATE_5, as_rgb, face_detector_names, make_face_detector,
                                          mouth_corners_from_centre, mouth_corners_from_nose, suppress_nested)
from reelscope.vision.face_detect_blazeface import square_tiles, ssd_anchors, weighted_nms
from reelscope.vision.face_detect_mtcnn import build_nets, nms_xyxy

FACE_SPECS = [registry.BLAZEFACE_SHORT, registry.BLAZEFACE_FULL, registry.DLIB_MMOD_FACE, registry.DLIB_LANDMARKS_5,
              registry.MTCNN]
# Frontal mugshots, several sizes (600x480, 480x384, 240x240, 960x768) that every backend finds
MEDS = ["S001-01-t10_01.jpg", "S010-01-t10_01.jpg", "S050-01-t10_01.jpg", "S021-01-t10_01.jpg"]
# Caminandes frames without a human (or cartoon) face turned to the camera: car, blur, back views
CAMINANDES_FRAMES = [110, 210, 220]


def need(backend: str):
    """A detector of ``backend``, or skip when its runtime or model files are not installed."""
    det = make_face_detector(backend)
    try:
        for spec in det.specs:
            for name in spec.files:
                registry.resolve(spec, name)
        if backend in ("hog", "mmod"):
            import dlib  # noqa: F401
        if backend == "mtcnn":
            import torch  # noqa: F401
        if backend == "blazeface":
            import ai_edge_litert  # noqa: F401
    except (MissingDependency, ImportError) as e:
        pytest.skip(str(e))
    return det


def read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def caminandes_frames(path, indices):
    from reelscope.media.decode import FrameSpec, iter_frames
    want = set(indices)
    out = []
    for f in iter_frames(path, [FrameSpec("rgb")]):
        if f.index in want:
            out.append(f[FrameSpec("rgb")])
        if f.index >= max(want):
            break
    return out


def same_face(a, b, tol: float = 0.12) -> bool:
    """xywh boxes with centres within ``tol`` of a's width and sizes within 25% (detectors
    that scan a scale pyramid, as HOG and MTCNN do, change box size in steps)."""
    ca, cb = a[:2] + a[2:] / 2, b[:2] + b[2:] / 2
    return bool(np.abs(ca - cb).max() < tol * a[2] and 0.8 < b[2] / a[2] < 1.25 and 0.8 < b[3] / a[3] < 1.25)


def check_one_face(d: Detections, shape):
    assert len(d) == 1, f"expected 1 face, got {len(d)}: {d.boxes}"
    h, w = shape[:2]
    x, y, bw, bh = d.boxes[0]
    assert 0 <= x and 0 <= y and x + bw <= w + 1e-3 and y + bh <= h + 1e-3
    assert bw > 20 and bh > 20
    assert 0 < d.scores[0] <= 1 and d.class_ids[0] == 0
    lm = d.landmarks[0]
    assert lm.shape == (5, 2)
    pad = 0.1 * bw  # dlib's tight boxes can cut the mouth corners by a few pixels
    assert ((lm[:, 0] >= x - pad) & (lm[:, 0] <= x + bw + pad)).all(), (lm, d.boxes[0])
    assert ((lm[:, 1] >= y - pad) & (lm[:, 1] <= y + bh + pad)).all(), (lm, d.boxes[0])
    # order: subject's right eye (image left) first; eyes above nose above mouth
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
    eyes_y, mouth_y = lm[:2, 1].mean(), lm[3:, 1].mean()
    assert eyes_y < lm[2, 1] < mouth_y
    eye_dist = np.linalg.norm(lm[1] - lm[0])
    assert 0.2 * bw < eye_dist < 0.8 * bw


# ---- pure helpers --------------------------------------------------------------------------------
def test_ssd_anchors_match_mediapipe_counts():
    short = ssd_anchors(128, (8, 16, 16, 16), 1.0)
    full = ssd_anchors(192, (4,), 0.0)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # 16x16 grid with 2 anchors a cell, then 8x8 with 6, in row-major order
    assert np.allclose(short[0], [0.5 / 16, 0.5 / 16]) and np.allclose(short[1], short[0])
    assert np.allclose(short[2], [1.5 / 16, 0.5 / 16])
    assert np.allclose(short[512], [0.5 / 8, 0.5 / 8]) and np.allclose(short[517], short[512])
    assert np.allclose(full[48], [0.5 / 48, 1.5 / 48])


def test_weighted_nms_averages_overlaps_keeps_best_score():
    boxes = np.array([[10, 10, 20, 20], [12, 10, 20, 20], [100, 100, 10, 10]], np.float32)
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    pts = np.zeros((3, 6, 2), np.float32)
    pts[1] += 10
    b, s, p = weighted_nms(boxes, scores, pts, 0.3)
    assert len(b) == 2
    assert s.tolist() == pytest.approx([0.9, 0.7])
    assert b[0, 0] == pytest.approx((10 * 0.9 + 12 * 0.6) / 1.5)
    assert p[0, 0, 0] == pytest.approx(10 * 0.6 / 1.5)
    e = weighted_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 6, 2), np.float32))
    assert len(e[0]) == 0


def test_suppress_nested_prefers_the_larger_face_unless_clearly_worse():
    big, inner, apart = [0, 0, 100, 100], [20, 20, 30, 30], [200, 0, 30, 30]
    boxes = np.array([big, inner, apart], np.float32)
    assert suppress_nested(boxes, np.array([0.8, 0.85, 0.6])).tolist() == [0, 2]
    assert suppress_nested(boxes, np.array([0.6, 0.9, 0.6])).tolist() == [1, 2]
    half = np.array([big, [80, 0, 40, 40]], np.float32)  # half inside: two faces
    assert suppress_nested(half, np.array([0.9, 0.6])).tolist() == [0, 1]


def test_square_tiles_cover_wide_and_tall_images():
    assert square_tiles(640, 480) == [(0, 0, 480), (160, 0, 480)]
    assert square_tiles(640, 360) == [(0, 0, 360), (280, 0, 360)]
    assert square_tiles(360, 1000) == [(0, 0, 360), (0, 320, 360), (0, 640, 360)]
    assert square_tiles(500, 480) == []


def test_mouth_corner_estimates_follow_the_face_frame():
    t = FACE_TEMPLATE_5
    mouth = t[3:].mean(0)
    c = mouth_corners_from_centre(t[None, :2], mouth[None])[0]
    assert np.allclose(c, t[3:], atol=0.6)
    # rotated 90 degrees (face lying on its side): corners rotate with the eyes
    rot = np.array([[0, -1], [1, 0]], np.float32)
    eyes, nose = t[:2] @ rot.T, t[2] @ rot.T
    est = mouth_corners_from_nose(eyes[None], nose[None], nose_depth=1.15)[0]
    assert np.allclose(est, t[3:] @ rot.T, atol=2.5)


def test_as_rgb_converts_grey_rgba_float_and_rejects_nonsense():
    grey = np.full((30, 40), 7, np.uint8)
    assert as_rgb(grey).shape == (30, 40, 3) and as_rgb(grey)[0, 0].tolist() == [7, 7, 7]
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 0] = 200
    assert as_rgb(rgba).shape == (30, 40, 3) and as_rgb(rgba)[0, 0, 0] == 200
    assert as_rgb(np.ones((5, 6, 3), np.float32))[0, 0].tolist() == [255, 255, 255]
    assert as_rgb(np.full((5, 6), 65535, np.uint16)).max() == 255
    assert as_rgb(np.zeros((5, 6, 1), np.uint8)).shape == (5, 6, 3)
    with pytest.raises(ValueError, match="HxW"):
        as_rgb(np.zeros((5, 6, 2), np.uint8))
    with pytest.raises(ValueError):
        as_rgb(np.zeros(10, np.uint8))


def test_mtcnn_modules_load_weights_strictly():
    pnet, rnet, onet = build_nets()
    for net, name in ((pnet, "pnet.pt"), (rnet, "rnet.pt"), (onet, "onet.pt")):
        try:
            path = registry.resolve(registry.MTCNN, name)
        except MissingDependency as e:
            pytest.skip(str(e))
        import torch
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    import torch
    with torch.inference_mode():
        reg, prob = pnet(torch.zeros(1, 3, 12, 12))
        assert reg.shape == (1, 4, 1, 1) and prob.shape == (1, 1, 1)
        reg, prob = rnet(torch.zeros(2, 3, 24, 24))
        assert reg.shape == (2, 4) and prob.shape == (2,)
        reg, pts, prob = onet(torch.zeros(2, 3, 48, 48))
        assert pts.shape == (2, 10) and ((prob >= 0) & (prob <= 1)).all()


def test_nms_xyxy_min_mode_suppresses_contained_boxes():
    boxes = np.array([[0, 0, 100, 100], [10, 10, 40, 40]], np.float32)
    assert nms_xyxy(boxes, np.array([0.9, 0.8]), 0.7).tolist() == [0, 1]
    assert nms_xyxy(boxes, np.array([0.9, 0.8]), 0.7, "min").tolist() == [0]


def test_registry_face_models_resolve_with_checksums():
    for spec in FACE_SPECS:
        assert spec.name in registry.REGISTRY
        assert spec.licence and spec.carrier and spec.install_hint
        for name, sha in spec.files.items():
            assert len(sha) == 64
            try:
                path = registry.resolve(spec, name)
            except MissingDependency as e:
                pytest.skip(str(e))
            assert path.name == name and registry.sha256_of(path) == sha


def test_factory_names_params_and_models():
    assert set(face_detector_names()) == {"blazeface", "hog", "mmod", "mtcnn"}
    with pytest.raises(ValueError, match="unknown face detector"):
        make_face_detector("nope")
    with pytest.raises(TypeError):
        make_face_detector("hog", model="full")
    with pytest.raises(ValueError):
        make_face_detector("blazeface", model="medium")
    with pytest.raises(ValueError):
        make_face_detector("mtcnn", min_face=5)
    d = make_face_detector("blazeface", model="full", min_score=0.6)
    assert d.name == "blazeface" and d.params()["model"] == "full" and d.params()["min_score"] == 0.6
    assert list(d.models()) == ["blazeface-full-range/face_detection_full_range_sparse.tflite"]
    info = make_face_detector("mmod").models()
    assert {"licence", "sha256", "version"} <= set(next(iter(info.values())))
    assert any(k.startswith("dlib-landmarks-5/") for k in info)
    assert repr(make_face_detector("hog")).startswith("make_face_detector('hog'")


# ---- every backend on synthetic input --------------------------------------------------------------
FAST = ["blazeface", "hog", "mtcnn"]


@pytest.mark.parametrize("backend", FAST)
def test_blank_tiny_and_odd_inputs_give_no_faces(backend):
    det = need(backend)
    for img in (np.zeros((240, 320, 3), np.uint8), np.full((240, 320), 255, np.uint8),
                np.zeros((19, 400, 3), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((0, 0, 3), np.uint8)):
        d = det.detect(img)
        assert len(d) == 0 and d.landmarks.shape == (0, 5, 2)
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (5, 5), 0)
    assert len(det.detect(noise)) == 0
    assert det.detect(np.zeros((50, 50, 3), np.uint8), frame=7).frame == 7


@pytest.mark.slow
def test_mmod_blank_image():
    det = need("mmod")
    assert len(det.detect(np.zeros((120, 160, 3), np.uint8))) == 0


# ---- real media -------------------------------------------------------------------------------
def meds(data, name):
    return read_rgb(data(f"faces/meds2_nist_sd32/{name}"))


def test_blazeface_finds_one_face_per_mugshot(data):
    det = need("blazeface")
    for name in MEDS:
        img = meds(data, name)
        check_one_face(det.detect(img), img.shape)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hog", "mtcnn", "mmod"])
def test_backend_finds_one_face_per_mugshot(data, backend):
    det = need(backend)
    for name in MEDS[:2] if backend == "mmod" else MEDS:
        img = meds(data, name)
        check_one_face(det.detect(img), img.shape)


@pytest.mark.parametrize("backend", ["blazeface", pytest.param("hog", marks=pytest.mark.slow),
                                     pytest.param("mtcnn", marks=pytest.mark.slow)])
def test_landmarks_keep_image_left_eye_first_when_mirrored(data, backend):
    det = need(backend)
    img = meds(data, MEDS[0])
    a, b = det.detect(img), det.detect(np.ascontiguousarray(img[:, ::-1]))
    check_one_face(a, img.shape)
    check_one_face(b, img.shape)
    w = img.shape[1]
    # the mirror image's face is where the original's was, mirrored; so are its landmarks,
    # but re-ordered: the image-left eye is still first
    assert b.boxes[0, 0] == pytest.approx(w - a.boxes[0, 0] - a.boxes[0, 2], abs=0.08 * float(a.boxes[0, 2]))
    mirrored = np.stack([w - a.landmarks[0][:, 0], a.landmarks[0][:, 1]], axis=1)[[1, 0, 2, 4, 3]]
    assert np.abs(b.landmarks[0] - mirrored).max() < 0.12 * a.boxes[0, 2]


@pytest.mark.parametrize("backend", ["blazeface", pytest.param("hog", marks=pytest.mark.slow),
                                     pytest.param("mtcnn", marks=pytest.mark.slow)])
def test_grey_rgba_and_float_inputs_find_the_face(data, backend):
    det = need(backend)
    img = meds(data, MEDS[1])
    ref = det.detect(img)
    check_one_face(ref, img.shape)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    for variant in (grey, grey[:, :, None], rgba, img.astype(np.float32) / 255):
        d = det.detect(variant)
        check_one_face(d, img.shape)
        assert same_face(ref.boxes[0], d.boxes[0]), (ref.boxes[0], d.boxes[0])


@pytest.mark.parametrize("backend", ["blazeface", pytest.param("hog", marks=pytest.mark.slow),
                                     pytest.param("mtcnn", marks=pytest.mark.slow)])
def test_huge_image_is_downscaled_and_mapped_back(data, backend):
    det = need(backend)
    img = meds(data, MEDS[0])  # 600x480
    ref = det.detect(img)
    big = cv2.resize(img, (480 * 6, 600 * 6), interpolation=cv2.INTER_LINEAR)  # 2880x3600 > max_side 1280
    d = det.detect(big)
    check_one_face(d, big.shape)
    assert same_face(ref.boxes[0], d.boxes[0] / 6), (ref.boxes[0], d.boxes[0] / 6)
    assert np.abs(d.landmarks[0] / 6 - ref.landmarks[0]).max() < 0.12 * ref.boxes[0, 2]
    # a small max_side still finds a big face, in the full image's pixels
    small = make_face_detector(backend, max_side=320).detect(big)
    check_one_face(small, big.shape)
    assert same_face(ref.boxes[0], small.boxes[0] / 6, tol=0.2), (ref.boxes[0], small.boxes[0] / 6)


def test_blazeface_variants_on_close_and_far_faces(data):
    need("blazeface")
    img = meds(data, MEDS[0])
    box = make_face_detector("blazeface").detect(img).boxes[0]
    x, y, w, h = box.astype(int)
    close = np.ascontiguousarray(img[y:y + h, x:x + w])  # the face fills the frame
    assert len(make_face_detector("blazeface", model="short").detect(close)) == 1
    assert len(make_face_detector("blazeface").detect(close)) == 1
    # far: the mugshot shrunk to a 40 px face on a grey 640x360 frame
    frame = np.full((360, 640, 3), 120, np.uint8)
    s = 40 / w
    small = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    frame[100:100 + small.shape[0], 300:300 + small.shape[1]] = small
    for kw in ({}, {"model": "full"}, {"tiles": False}):
        d = make_face_detector("blazeface", **kw).detect(frame)
        assert len(d) == 1, kw
        cx = d.boxes[0, 0] + d.boxes[0, 2] / 2
        assert 300 < cx < 300 + small.shape[1]
    assert len(make_face_detector("blazeface", model="short").detect(frame)) == 0  # too far for short range


@pytest.mark.parametrize("backend", ["blazeface", pytest.param("hog", marks=pytest.mark.slow),
                                     pytest.param("mtcnn", marks=pytest.mark.slow),
                                     pytest.param("mmod", marks=pytest.mark.slow)])
def test_no_faces_in_caminandes(data, backend):
    det = need(backend)
    frames = caminandes_frames(data("video/clip_02_caminandes.mp4"),
                               CAMINANDES_FRAMES[:1] if backend == "mmod" else CAMINANDES_FRAMES)
    assert frames
    for img in frames:
        d = det.detect(img)
        assert len(d) == 0, (backend, d.boxes, d.scores)


def test_blazeface_finds_the_people_in_video_01(data):
    from reelscope.media.decode import FrameSpec, iter_frames
    det = need("blazeface")
    counts = []
    for f in iter_frames(data("faces/openmpf_face_videos/video_01.mp4"), [FrameSpec("rgb")]):
        if f.index % 15 == 0:
            d = det.detect(f[FrameSpec("rgb")], frame=f.index)
            assert d.frame == f.index
            counts.append(len(d))
    assert len(counts) == 6
    assert min(counts) >= 3 and max(counts) <= 6, counts  # 3 to 5 people face the camera
