"""Face embeddings: dlib's ResNet face descriptor (128-d, 99.38% on LFW) on aligned face chips.

    emb = FaceEmbedder()
    faces = emb.embed(rgb, faces)          # faces.embeddings (N, 128) float32, unit length
    distance(faces.embeddings[0], faces.embeddings[1])   # Euclidean between unit vectors

Runtime: dlib aligns (``get_face_chip``); the network itself is read from dlib's model file into
torch (``models/dlib_resnet.py``) and runs, exported once, on onnxruntime in batches: ~3-4 ms
of CPU per face instead of ~80-140 ms in dlib, the same descriptors to ~1e-6. ``jitter > 0``
(dlib's random jitter) and a missing torch fall back to dlib.

**One convention everywhere**: embeddings are L2-normalised, and ``distance`` is the Euclidean
distance between normalised vectors (0 = same direction, 2 = opposite; ``d**2 = 2 - 2 cos``).
dlib's raw descriptors have length ~1.3-1.5 (mean 1.38 on MEDS-II), so dlib's published
threshold of 0.6 (on raw vectors, tuned on LFW) is not ours: on unit vectors the same decision
sits near 0.6 / 1.38 = 0.437. On MEDS-II mugshots (bench/results/faces_meds.md) that is far too
loose (11% of impostor pairs accepted); there the equal-error point is ~0.38, and
``SAME_PERSON_THRESHOLD`` = 0.35 accepts 95% of genuine pairs and 0.5% of impostor pairs.
Average-linkage clustering at 0.35 recovered the 50 identities best (BCubed F 0.96-0.97).

Alignment (what the network was trained on): ``dlib.get_face_chip(img, shape, 150, 0.25)``
with ``shape`` a dlib 5-point detection. dlib's 5 points are, in this order: the subject's
left eye outer and inner corner (image right), the subject's right eye outer and inner corner
(image left), and the base of the nose (see ``DLIB5_TEMPLATE``, from dlib's
``get_face_chip_details``). Our detections carry different points (eye centres, nose tip,
mouth corners), so we fit a similarity transform from the same points on dlib's mean face
(``OUR5_TEMPLATE``, measured against dlib's predictors) to the detection's landmarks
and map dlib's 5 template points through it: the chip is then cut exactly as dlib would cut it
for a face whose landmarks are those. Points a detector only estimated (named in
``data[i]["landmarks_estimated"]``) count a quarter in the fit; ``data[i]["nose"] == "base"``
(dlib backends) puts the nose point at the nose base instead of the tip. Without landmarks, dlib's
5-point shape predictor is run inside the box.

dlib keeps landmark points as integers; to keep sub-pixel precision on faces smaller than the
chip, such a face is first cut out with a margin and enlarged so that the chip is extracted at
about 1:1 (outside the image is black, as in dlib). Larger faces go to dlib untouched.
"""
from __future__ import annotations

import cv2
import numpy as np

from reelscope.models.dlib_models import dlib_model
from reelscope.models.registry import DLIB_FACE_RECOGNITION, DLIB_LANDMARKS_5, resolve
from reelscope.vision.detections import Detections

EMBEDDING_DIM = 128
CHIP_SIZE = 150
CHIP_PADDING = 0.25
DLIB_RAW_THRESHOLD = 0.6  # dlib's published same-person threshold, on *raw* (unnormalised) vectors
SAME_PERSON_THRESHOLD = 0.35  # ours, on normalised vectors (MEDS-II: TPR 0.95, FPR 0.005; see module doc)

# dlib's 5-point template on the unit face square (dlib/image_transforms/interpolation.h,
# get_face_chip_details): left eye outer, left eye inner, right eye outer, right eye inner
# (subject's left = image right), nose base.
DLIB5_TEMPLATE = np.array([[0.8595674595992, 0.2134981538014], [0.6460604764104, 0.2289674387677],
                           [0.1205750620789, 0.2137274526848], [0.3340850613712, 0.2290642403242],
                           [0.4901123135679, 0.6277975316475]])
# Our 5 points on the same square: right eye centre (image left), left eye centre, nose tip,
# right mouth corner, left mouth corner. Measured, not assumed: on the 109 MEDS-II faces dlib's
# HOG detector finds, the 68-point predictor's eye centres (points 36-41, 42-47), nose tip (30)
# and mouth corners (48, 54) were mapped into this square by the similarity that takes dlib's
# own 5 points onto DLIB5_TEMPLATE; the medians, made left-right symmetric, are below. (dlib's
# 68-point mean face gives eyes 0.53 apart at y 0.216, nose 0.516, mouth 0.780: its 5-point
# template frames faces slightly differently; this table reproduces the 5-point framing.)
OUR5_TEMPLATE = np.array([[0.2187, 0.2232], [0.7671, 0.2232], [0.4929, 0.4702],
                          [0.2616, 0.8112], [0.7242, 0.8112]])
LANDMARK_NAMES = ("right_eye", "left_eye", "nose", "right_mouth_corner", "left_mouth_corner")

_UNIT = CHIP_SIZE / (1 + 2 * CHIP_PADDING)  # pixels per template unit inside the chip (100)


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB from a grey, single-channel, RGB or RGBA image (uint8/uint16/float)."""
    from reelscope.vision.face_detect import as_rgb
    return as_rgb(image)


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Euclidean distance between L2-normalised embeddings (inputs are normalised here, so raw
    dlib vectors give the same answer). Shapes broadcast: (D,) x (D,) -> float,
    (N, D) x (D,) -> (N,), (N, 1, D) x (1, M, D) -> (N, M)."""
    a = _normalise(np.asarray(a, np.float64))
    b = _normalise(np.asarray(b, np.float64))
    d = np.linalg.norm(a - b, axis=-1)
    return float(d) if np.ndim(d) == 0 else d


def pairwise_distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """(N, M) distances (the ``distance`` convention) between rows of ``a`` and of ``b`` (default a)."""
    a = _normalise(np.asarray(a, np.float64).reshape(-1, np.shape(a)[-1]))
    b = a if b is None else _normalise(np.asarray(b, np.float64).reshape(-1, np.shape(b)[-1]))
    sq = np.clip(2.0 - 2.0 * (a @ b.T), 0.0, None)
    return np.sqrt(sq)


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    return _normalise(np.asarray(x, np.float64)).astype(np.float32)


def _similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """2x3 least-squares similarity (rotation, uniform scale, translation) mapping src -> dst."""
    w = np.ones(len(src)) if w is None else np.asarray(w, np.float64)
    w = w / w.sum()
    ms, md = (w[:, None] * src).sum(0), (w[:, None] * dst).sum(0)
    s, d = src - ms, dst - md
    # complex-number form: d ~ z * s, z = a + ib
    num_a = (w * (s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1])).sum()
    num_b = (w * (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0])).sum()
    den = (w * (s ** 2).sum(1)).sum()
    a, b = (num_a / den, num_b / den) if den > 0 else (0.0, 0.0)
    m = np.array([[a, -b, 0.0], [b, a, 0.0]])
    m[:, 2] = md - m[:, :2] @ ms
    return m


def resnet_session():
    """The face ResNet as a session (models/dlib_resnet.py, exported to onnxruntime): (N, 3, 150,
    150) float32 RGB chips in 0..255 -> (N, 128) raw descriptors. None without torch (then dlib
    runs the network itself, ~20x slower)."""
    try:
        import torch  # noqa: F401
    except ImportError:  # pragma: no cover - torch is installed by scripts/setup.sh
        return None
    from reelscope.models.dlib_resnet import INPUT_SIZE, build_module
    from reelscope.models.export import exported_session

    path = resolve(DLIB_FACE_RECOGNITION)
    example = np.zeros((2, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    return exported_session("dlib-face-resnet-v1", DLIB_FACE_RECOGNITION.files[path.name], lambda: build_module(path),
                            [example], ["chips"], ["descriptors"])


class FaceEmbedder:
    """dlib ResNet face descriptors on dlib-aligned 150x150 chips.

    ``align``: "auto" (the detection's landmarks when it has 5 finite ones, else dlib's
    5-point predictor in the box), "landmarks" (same as auto), or "predictor" (always dlib's
    predictor, ignoring landmarks). ``jitter``: dlib's num_jitters (0 = one pass; 10 averages
    10 jittered copies, ~10x slower, slightly better).
    """

    name = "dlib-resnet-v1"
    dim = EMBEDDING_DIM
    threshold = SAME_PERSON_THRESHOLD

    def __init__(self, *, align: str = "auto", jitter: int = 0, batch: int = 16):
        if align not in ("auto", "landmarks", "predictor"):
            raise ValueError(f"align must be 'auto', 'landmarks' or 'predictor', got {align!r}")
        self.align = align
        self.jitter = int(jitter)
        self.batch = max(1, int(batch))
        self._session = None  # the ResNet's session, on first use

    def params(self) -> dict:
        return {"align": self.align, "jitter": self.jitter}

    def models(self) -> dict[str, dict[str, str]]:
        from reelscope.vision.face_detect import model_info
        # the 5-point predictor aligns faces that come without landmarks
        return {**model_info(DLIB_FACE_RECOGNITION), **model_info(DLIB_LANDMARKS_5)}

    # ---- alignment --------------------------------------------------------------------------
    def _template_to_image(self, det: Detections, i: int) -> np.ndarray | None:
        """2x3 similarity from the unit face square to image pixels, from the landmarks."""
        if self.align == "predictor" or det.landmarks is None or det.landmarks.shape[1] < 5:
            return None
        lm = det.landmarks[i, :5].astype(np.float64)
        if not np.isfinite(lm).all():
            return None
        info = det.data[i]
        estimated = set(info.get("landmarks_estimated", ()) or ())
        w = np.array([0.25 if n in estimated else 1.0 for n in LANDMARK_NAMES])
        template = OUR5_TEMPLATE
        if info.get("nose") == "base":  # dlib backends report the nose base, not the tip
            template = OUR5_TEMPLATE.copy()
            template[2] = DLIB5_TEMPLATE[4]
        m = _similarity(template, lm, w)
        scale = float(np.hypot(m[0, 0], m[1, 0]))
        return m if scale >= 1.0 else None  # a face smaller than ~1 px: fall back to the box

    def _dlib_shape(self, img: np.ndarray, det: Detections, i: int):
        """(crop, dlib.full_object_detection in the crop's pixels) for face i."""
        import dlib

        m = self._template_to_image(det, i)
        if m is not None:
            scale = float(np.hypot(m[0, 0], m[1, 0]))  # image pixels per template unit
            centre = m[:, :2] @ np.array([0.5, 0.5]) + m[:, 2]
        else:
            x, y, w, h = (float(v) for v in det.boxes[i])
            side = max(w, h, 1.0)
            scale = side  # a detector box spans about one template unit
            centre = np.array([x + w / 2, y + h / 2])
        # Small faces: cut a square of 3 template units around the face and enlarge it so the
        # chip is extracted at ~1:1 (dlib's integer points then keep sub-pixel precision).
        # Faces at least chip-sized are cut by dlib from the image itself, exactly as dlib does.
        f = _UNIT / scale
        if f <= 1:
            crop, a = img, np.array([[1.0, 0, 0], [0, 1.0, 0]])
        else:
            x0, y0 = np.floor(centre - 1.5 * scale)
            out = int(round(3 * _UNIT))
            a = np.array([[f, 0, -x0 * f], [0, f, -y0 * f]])
            crop = cv2.warpAffine(img, a, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=0)
        if m is not None:
            pts = DLIB5_TEMPLATE @ m[:, :2].T + m[:, 2]  # dlib's 5 points in the image
            pts = pts @ a[:, :2].T + a[:, 2]  # ... in the crop
            lo, hi = pts.min(0), pts.max(0)
            rect = dlib.rectangle(int(lo[0]), int(lo[1]), int(np.ceil(hi[0])), int(np.ceil(hi[1])))
            shape = dlib.full_object_detection(rect, [dlib.point(int(round(p[0])), int(round(p[1])))
                                                      for p in pts])
        else:
            x, y, w, h = (float(v) for v in det.boxes[i])
            k = a[0, 0]
            bx, by = x * k + a[0, 2], y * k + a[1, 2]
            # dlib rectangles are inclusive: right = left + width - 1
            rect = dlib.rectangle(int(round(bx)), int(round(by)), int(round(bx + max(w, 1) * k)) - 1,
                                  int(round(by + max(h, 1) * k)) - 1)
            shape = dlib_model("shape5")(crop, rect)
        return crop, shape

    def chips(self, rgb: np.ndarray, detections: Detections, size: int = CHIP_SIZE,
              padding: float = CHIP_PADDING) -> np.ndarray:
        """(N, size, size, 3) uint8 RGB aligned face chips (dlib's alignment; the default size
        and padding are what the embedding network takes)."""
        import dlib

        img = as_rgb8(rgb)
        out = np.zeros((len(detections), size, size, 3), np.uint8)
        for i in range(len(detections)):
            if not np.isfinite(detections.boxes[i]).all():
                continue  # nothing to cut: a black chip (its embedding is meaningless but finite)
            crop, shape = self._dlib_shape(img, detections, i)
            out[i] = dlib.get_face_chip(crop, shape, size=size, padding=padding)
        return out

    # ---- embedding ----------------------------------------------------------------------------
    def embed_chips(self, chips: np.ndarray, *, raw: bool = False) -> np.ndarray:
        """(N, 150, 150, 3) aligned RGB chips -> (N, 128) float32 descriptors (unit length,
        or dlib's raw vectors with ``raw=True``)."""
        chips = np.asarray(chips)
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        if self.jitter == 0 and self._session is None:
            self._session = resnet_session() or False
        sess = (self._session or None) if self.jitter == 0 else None
        out = []
        for s in range(0, len(chips), self.batch):
            if sess is not None:
                x = np.ascontiguousarray(chips[s:s + self.batch].transpose(0, 3, 1, 2), np.float32)
                out.append(sess.run({"chips": x})[0])
            else:  # jittered descriptors (dlib's random jitter), or no torch: dlib runs the network
                facerec = dlib_model("facerec")
                batch = [np.ascontiguousarray(c) for c in chips[s:s + self.batch]]
                with facerec.lock:
                    out.append(np.asarray(facerec.model.compute_face_descriptor(batch, self.jitter), np.float32))
        e = np.concatenate(out).astype(np.float32)
        return e if raw else normalise(e)

    def embed(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """``detections`` with ``embeddings`` (N, 128) float32 L2-normalised (a new object; the
        input is not modified)."""
        if len(detections) == 0:
            return detections.with_embeddings(np.zeros((0, EMBEDDING_DIM), np.float32))
        return detections.with_embeddings(self.embed_chips(self.chips(rgb, detections)))
