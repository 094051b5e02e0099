"""Shot size (ECU / CU / MS / FS / LS) of a frame or a shot, by simple rules over measured evidence.

Works out of the box, offline: every model is a MediaPipe .tflite file carried by the
mediapipe wheel (never imported; registry entries in reelscope/models/registry.py), run with
ai-edge-litert. About 40-50 ms a frame at 640x360 on a 2-core CPU (bench/results/shot_size.md).

Evidence, measured on the active picture (letterbox / pillarbox bars removed), coordinates
as fractions of its width / height:
- faces (BlazeFace): boxes and scores; the largest accepted face's height is the main scale;
- body pose (MediaPipe BlazePose detector + full landmark model): which parts lie inside the
  picture (head, shoulders, waist, knees, feet) and the body's extent, crown to feet;
- person segmentation (MediaPipe selfie segmentation): person regions, i.e. where a body
  ends (cut by the bottom edge or standing inside the picture) and how tall it is;
- saliency and sharpness spread (OpenCV spectral residual, Laplacian energy, Canny edges).

The rules (``decide``; thresholds in ``Rules``, calibrated on the by-eye labels of
tests/fixtures/shot_size/labels.json, see bench/results/shot_size.md):
1. Faces (BlazeFace run down to score 0.3) are accepted when BlazeFace is sure (>= 0.75); a
   huge face (>= 0.65 of the height: extreme close-ups score only 0.4-0.65) when its eyes
   are inside the picture and >= 0.3 picture heights apart; otherwise with score >= 0.5 when
   it sits on a person region (or on a pose's nose), and, if big (>= 0.25 of the height),
   only with score >= 0.6 on a person region that reaches the bottom edge and is wider than
   the face (false big faces appear on small figures, hands and legs in low-resolution frames).
2. With a face of height h (fraction of the picture) and b = the body visible below the chin,
   in face heights ((1 - chin) / h):
   ECU  h >= 0.8, or the face is cut by an edge and h >= 0.65;
   CU   b < 1.5 (head and shoulders), or h >= 0.3 and b < 2;
   MS   the body ends at the bottom edge less than 8 face heights below the crown (waist,
        knees, chest-up), judged on the person region under the face, else on the pose's
        feet, else on b >= 8; a small figure (region < 0.55 of the height) whose lower body
        is hidden is LS;
   FS / LS  the whole body is in the picture: FS if it spans >= 0.55 of the height, else LS.
3. No face but a person-shaped region (at least 0.7x as tall as wide in pixels, 5-60% of
   the picture; 1% with a pose on it): cut by the bottom edge: a standing body (2.5x taller
   than wide, >= 0.8 of the height) is FS, else MS if >= 0.5 tall, else LS; inside the
   picture: FS if >= 0.55 tall, else LS. No region but a trusted pose: feet visible -> FS /
   LS by extent, waist or knees -> MS, head and shoulders -> CU.
4. No person: a sharp detail on a plain or blurred background (90th / 50th percentile of
   the local Laplacian energy >= 20 and edge density < 0.09) is an ECU (insert shots of
   hands, shoes, objects); anything else is scenery, LS (detail spread everywhere = deep
   focus = a wide view). Confidence is low here (0.1 for a blank picture).
Confidence: 0.27..0.9, the rule's base times how far the deciding measure is from its
threshold. ``classify_shot`` votes over several frames of a shot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import cv2
import numpy as np

from reelscope.models.registry import POSE_DETECTION, POSE_LANDMARK_FULL, SELFIE_SEGMENTATION, resolve
from reelscope.models.cache import MODELS, threads
from reelscope.models.session import tflite_session
from reelscope.vision.face_detect import as_rgb, model_info
from reelscope.vision.face_detect_blazeface import ssd_anchors, weighted_nms

LABELS = ("ECU", "CU", "MS", "FS", "LS")


# ---- picture area ---------------------------------------------------------------------------

def active_area(rgb: np.ndarray, *, dark: float = 24.0, flat: float = 6.0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the picture inside letterbox / pillarbox bars: edge rows and
    columns that are dark (mean luma < ``dark``) and flat (std < ``flat``) are stripped, as
    long as at least half of each side remains (a dark scene is not a bar)."""
    h, w = rgb.shape[:2]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)

    def bars(means: np.ndarray, stds: np.ndarray) -> tuple[int, int]:
        bar = (means < dark) & (stds < flat)
        n = len(bar)
        lo = int(np.argmin(bar)) if not bar.all() else n
        hi = int(np.argmin(bar[::-1])) if not bar.all() else n
        if lo + hi > n // 2:
            return 0, n
        return lo, n - hi

    y0, y1 = bars(grey.mean(1), grey.std(1))
    x0, x1 = bars(grey[y0:y1].mean(0), grey[y0:y1].std(0))
    return x0, y0, x1, y1


# ---- body pose (MediaPipe BlazePose) ----------------------------------------------------------

# landmark indices (MediaPipe Pose, 33 points; subject's left/right)
NOSE, EYES, EARS, MOUTH = 0, (2, 5), (7, 8), (9, 10)
SHOULDERS, ELBOWS, WRISTS, HIPS = (11, 12), (13, 14), (15, 16), (23, 24)
KNEES, ANKLES, FEET = (25, 26), (27, 28), (29, 30, 31, 32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * np.clip(x, -100.0, 100.0))


def _session(path, threads: int | None):
    return tflite_session(path, threads, "MediaPipe pose and segmentation")


@dataclass
class Person:
    """One person: 33 landmarks (x, y) in pixels of the analysed image (extrapolated by the
    model where the body leaves the image), their visibility and presence (0..1), the
    detector's score and the landmark model's pose flag."""
    landmarks: np.ndarray  # (33, 2)
    visibility: np.ndarray  # (33,)
    presence: np.ndarray  # (33,)
    score: float
    flag: float
    roi: tuple[float, float, float, float]  # centre x, y, side, rotation (radians)


class _PoseModels:
    """The detector and landmark sessions (TFLite), loaded once per process (models.cache)."""

    def __init__(self, threads: int | None):
        self.det = _session(resolve(POSE_DETECTION), threads)
        self.lmk = _session(resolve(POSE_LANDMARK_FULL), threads)
        self.det_in = self.det.inputs[0].name
        outs = sorted(self.det.outputs, key=lambda o: -int(o.shape[-1]))
        self.det_out = [outs[0].name, outs[1].name]  # regressors, logits
        self.anchors = ssd_anchors(224, (8, 16, 32, 32, 32), 1.0)
        if int(outs[0].shape[1]) != len(self.anchors):
            raise ValueError(f"pose detector: {tuple(outs[0].shape)} outputs for {len(self.anchors)} anchors")
        self.lmk_in = self.lmk.inputs[0].name
        by_shape = {tuple(o.shape): o.name for o in self.lmk.outputs}
        self.lmk_out = [by_shape[(1, 195)], by_shape[(1, 1)]]  # points, pose flag


class PoseEstimator:
    """People in an image: MediaPipe's pose detection graph rewritten around the two .tflite
    files (the graph itself is C++ calculators): the detector finds people (a face box plus
    4 keypoints: hip centre, a point on the full-body circle, shoulder centre, a point on the
    upper-body circle) on the image letterboxed into 224x224; each person's region of interest
    is a square centred on the hip centre, side 2.5 x the full-body radius, rotated so the
    body is upright; the landmark model turns that 256x256 crop into 33 landmarks
    (+ visibility, presence logits), mapped back into the image."""

    def __init__(self, *, min_score: float = 0.5, max_people: int = 2, threads: int | None = None):
        self.min_score = float(min_score)
        self.max_people = int(max_people)
        self.threads = int(threads) if threads else None

    def _models(self) -> _PoseModels:
        n = self.threads or threads()
        return MODELS.get("mediapipe-pose", POSE_DETECTION.name, {"threads": n}, lambda: _PoseModels(n))

    def models(self) -> dict[str, dict[str, str]]:
        return {**model_info(POSE_DETECTION), **model_info(POSE_LANDMARK_FULL)}

    def detect(self, rgb: np.ndarray) -> list[Person]:
        rgb = as_rgb(rgb)
        h, w = rgb.shape[:2]
        if min(h, w) < 16:
            return []
        m = self._models()
        size = 224
        s = size / max(h, w)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        px, py = (size - nw) // 2, (size - nh) // 2
        tensor = np.full((size, size, 3), -1.0, np.float32)
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        tensor[py:py + nh, px:px + nw] = small.astype(np.float32) * (2.0 / 255.0) - 1.0
        reg, logits = m.det.run({m.det_in: tensor[None]}, m.det_out)
        reg, scores = reg[0], _sigmoid(logits[0, :, 0])
        keep = np.flatnonzero(scores >= self.min_score)
        if not len(keep):
            return []
        reg, scores, anchors = reg[keep], scores[keep].astype(np.float32), m.anchors[keep]
        centre = reg[:, 0:2] / size + anchors
        wh = reg[:, 2:4] / size
        pts = reg[:, 4:12].reshape(-1, 4, 2) / size + anchors[:, None, :]
        to_px = np.float32(size / s)
        pad = np.array([px / size, py / size], np.float32)
        boxes = np.concatenate([(centre - wh / 2 - pad) * to_px, wh * to_px], axis=1).astype(np.float32)
        pts = ((pts - pad) * to_px).astype(np.float32)
        boxes, scores, pts = weighted_nms(boxes, scores, pts, 0.3)
        people = []
        for i in np.argsort(-scores)[: self.max_people]:
            people.append(self._landmarks(m, rgb, pts[i], float(scores[i])))
        return people

    @staticmethod
    def _landmarks(m: _PoseModels, rgb: np.ndarray, kp: np.ndarray, score: float) -> Person:
        hip, full = kp[0], kp[1]
        side = 2.0 * float(np.linalg.norm(full - hip)) * 1.25
        rot = np.pi / 2 - np.arctan2(-(full[1] - hip[1]), full[0] - hip[0])
        rot = (rot + np.pi) % (2 * np.pi) - np.pi
        side = max(side, 4.0)
        c, sn = np.cos(rot), np.sin(rot)
        a = (side / 256.0) * np.array([[c, -sn], [sn, c]], np.float32)
        b = hip - a @ np.array([128.0, 128.0], np.float32)
        to_img = np.hstack([a, b[:, None]]).astype(np.float32)  # crop pixel -> image pixel
        crop = cv2.warpAffine(rgb, to_img, (256, 256), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        points, flags = m.lmk.run({m.lmk_in: (crop.astype(np.float32) / 255.0)[None]}, m.lmk_out)
        raw = points[0].reshape(39, 5)
        flag = float(np.ravel(flags)[0])
        xy = raw[:33, :2] @ a.T + b
        return Person(xy.astype(np.float32), _sigmoid(raw[:33, 3]).astype(np.float32),
                      _sigmoid(raw[:33, 4]).astype(np.float32), score, flag,
                      (float(hip[0]), float(hip[1]), side, float(rot)))



# ---- person segmentation (MediaPipe selfie segmentation) --------------------------------------

class PersonSegmenter:
    """A person-probability mask (0..1) of an image: MediaPipe's selfie segmentation, the
    landscape model (256x144 input) for wide images, the general one (256x256) otherwise;
    the image is stretched to the input (no letterbox), values in 0..1. Despite its name it
    separates people from background at any distance down to ~1/6 of the frame height,
    which is what body extent needs; the mask is returned at the model's resolution."""

    def __init__(self, *, threads: int | None = None):
        self.threads = int(threads) if threads else None

    def _model(self, name: str):
        return _session(resolve(SELFIE_SEGMENTATION, name), self.threads)

    def models(self) -> dict[str, dict[str, str]]:
        return model_info(SELFIE_SEGMENTATION)

    def mask(self, rgb: np.ndarray) -> np.ndarray:
        rgb = as_rgb(rgb)
        h, w = rgb.shape[:2]
        name = "selfie_segmentation_landscape.tflite" if w > 1.2 * h else "selfie_segmentation.tflite"
        sess = self._model(name)
        mh, mw = (int(v) for v in sess.inputs[0].shape[1:3])
        x = cv2.resize(rgb, (mw, mh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        out = sess.run({sess.inputs[0].name: x[None]})[0]
        return np.clip(out[0, :, :, 0].astype(np.float32), 0.0, 1.0)


def person_blobs(mask: np.ndarray, *, threshold: float = 0.5, min_area: float = 0.004) -> list[dict[str, float]]:
    """Connected person regions of a probability mask, largest first: box (x0, y0, x1, y1) as
    fractions of the picture, ``area`` (fraction of the picture), ``mean`` probability inside,
    ``id`` (the region's value in the returned label image)."""
    binary = (mask >= threshold).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    mh, mw = mask.shape
    blobs = []
    for k in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[k])
        if area < min_area * mh * mw:
            continue
        blobs.append({"x0": x / mw, "y0": y / mh, "x1": (x + bw) / mw, "y1": (y + bh) / mh,
                      "area": area / (mh * mw), "mean": float(mask[lab == k].mean()), "id": k})
    blobs.sort(key=lambda b: -b["area"])
    return blobs, lab


# ---- evidence ---------------------------------------------------------------------------------

PARTS = {"head": (NOSE,) + EYES + EARS, "shoulders": SHOULDERS, "waist": HIPS, "knees": KNEES, "feet": ANKLES + FEET}


def body_parts(p: Person, w: int, h: int, min_vis: float = 0.5) -> dict[str, Any]:
    """Which body parts of ``p`` lie inside the w x h picture (visibility >= ``min_vis``), and
    its extent from the crown (estimated: the eyes sit half way down the head, 1.6
    eye-to-mouth distances below the top) to the feet, in picture heights (the model
    extrapolates landmarks outside the picture)."""
    lm, vis = p.landmarks, p.visibility
    inside = (lm[:, 0] >= 0) & (lm[:, 0] < w) & (lm[:, 1] >= 0) & (lm[:, 1] < h) & (vis >= min_vis)
    parts = {k: bool(inside[list(idx)].any()) for k, idx in PARTS.items()}
    eyes, mouth = lm[list(EYES)].mean(0), lm[list(MOUTH)].mean(0)
    shoulders, hips, feet = lm[list(SHOULDERS)].mean(0), lm[list(HIPS)].mean(0), lm[list(ANKLES + FEET)].mean(0)
    up = shoulders - hips
    n = float(np.linalg.norm(up))
    up = up / n if n > 1e-6 else np.array([0.0, -1.0], np.float32)
    crown = eyes + up * 1.6 * float(np.linalg.norm(mouth - eyes))
    return {"parts": parts, "extent": round(float(np.linalg.norm(feet - crown)) / h, 3),
            "crown_y": round(float(crown[1]) / h, 3), "feet_y": round(float(feet[1]) / h, 3),
            "nose": [round(float(lm[NOSE, 0]) / w, 3), round(float(lm[NOSE, 1]) / h, 3)],
            "score": round(p.score, 3), "flag": round(p.flag, 3)}


def saliency_evidence(rgb: np.ndarray) -> dict[str, float]:
    """Saliency and sharpness spread on a grey copy at most 256 px wide (never upscaled):
    ``salient_area`` (fraction of the picture above the spectral-residual map's mean + 1 std,
    blurred), ``salient_height`` / ``salient_width`` (extent of the largest salient blob),
    ``focus`` (90th / 50th percentile of the Laplacian energy of 8x8 cells: high when a sharp
    subject stands on a blurred, shallow-focus background, as in close views; low when detail
    is everywhere, as in deep-focus wide views) and ``edge_density`` (Canny edges per pixel:
    the texture scale; fine texture everywhere is distant scenery) and ``contrast`` (grey std:
    near 0 for a blank, black or white, picture)."""
    h, w = rgb.shape[:2]
    tw = min(256, w)
    small = cv2.resize(rgb, (tw, max(8, round(h * tw / max(w, 1)))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    ok, sal = cv2.saliency.StaticSaliencySpectralResidual_create().computeSaliency(
        cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    sal = (cv2.GaussianBlur(np.asarray(sal, np.float32), (0, 0), 4 * tw / 256) if ok
           else np.zeros(grey.shape, np.float32))
    mask = (sal > sal.mean() + sal.std()).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    sal_h = sal_w = 0.0
    if n > 1:
        big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        sal_h, sal_w = stats[big, cv2.CC_STAT_HEIGHT] / grey.shape[0], stats[big, cv2.CC_STAT_WIDTH] / grey.shape[1]
    lap = cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F) ** 2
    ch, cw = grey.shape[0] // 8, grey.shape[1] // 8
    cells = lap[:ch * 8, :cw * 8].reshape(ch, 8, cw, 8).mean(axis=(1, 3))
    focus = float(np.percentile(cells, 90) / max(np.percentile(cells, 50), 1e-3)) if cells.size else 0.0
    return {"salient_area": round(float(mask.mean()), 4), "salient_height": round(float(sal_h), 4),
            "salient_width": round(float(sal_w), 4), "focus": round(min(focus, 1e4), 2),
            "edge_density": round(float((cv2.Canny(grey, 50, 150) > 0).mean()), 4),
            "contrast": round(float(grey.std()), 2)}


def _r(x: float) -> float:
    return round(float(x), 3)


def measure(rgb: np.ndarray, face_detector, pose: PoseEstimator | None, segmenter: PersonSegmenter | None,
            *, max_width: int = 640) -> dict[str, Any]:
    """All the evidence about one frame, JSON-able; coordinates are fractions of the active
    picture (bars removed), y downwards."""
    img = as_rgb(rgb)
    if img.shape[1] > max_width:
        s = max_width / img.shape[1]
        img = cv2.resize(img, (max_width, max(1, round(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = active_area(img)
    pic = np.ascontiguousarray(img[y0:y1, x0:x1])
    h, w = pic.shape[:2]
    ev: dict[str, Any] = {"picture": [x0, y0, x1, y1], "size": [w, h]}
    faces = face_detector.detect(pic)
    lms = faces.landmarks if faces.landmarks is not None and len(faces.landmarks) == len(faces) else [None] * len(faces)
    ev["faces"] = [{"x": _r(b[0] / w), "y": _r(b[1] / h), "w": _r(b[2] / w), "h": _r(b[3] / h), "score": _r(s),
                    **({"eyes": [[_r(e[0] / w), _r(e[1] / h)] for e in lm[:2]]} if lm is not None else {})}
                   for b, s, lm in zip(faces.boxes, faces.scores, lms)]
    people = pose.detect(pic) if pose is not None else []
    ev["pose"] = [body_parts(p, w, h) for p in people]
    blobs, on = [], None
    if segmenter is not None:
        mask = segmenter.mask(pic)
        blobs, lab = person_blobs(mask)
        blobs = blobs[:8]
        on = []
        for f in ev["faces"]:  # which blob (if any) each face centre lies on
            cx = min(int((f["x"] + f["w"] / 2) * mask.shape[1]), mask.shape[1] - 1)
            cy = min(int((f["y"] + f["h"] / 2) * mask.shape[0]), mask.shape[0] - 1)
            k = int(lab[max(cy, 0), max(cx, 0)])
            on.append(next((i for i, b in enumerate(blobs) if b["id"] == k), None))
    ev["blobs"] = [{k: _r(v) for k, v in b.items() if k != "id"} for b in blobs]
    ev["face_blob"] = on
    ev["saliency"] = saliency_evidence(pic)
    return ev


# ---- the rules ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    """Thresholds of the decision rules (fractions of the picture height unless named
    otherwise); calibrated by eye-labelled frames (bench/bench_shot_size.py)."""
    face_score: float = 0.75  # a face this sure is taken as is; a less sure one needs corroboration,
    min_face_score: float = 0.5  # and at least this score
    ecu_min_score: float = 0.4  # a huge face (>= ecu_cut_face) scoring this is an ECU when its
    ecu_eye_distance: float = 0.3  # eyes are inside the picture and this far apart (x picture height)
    big_face: float = 0.25  # a less sure face this tall must sit on a person region that
    big_face_min_score: float = 0.6  # reaches the bottom edge, 1.2 face widths wide, and score this
    big_face_body_width: float = 1.2
    ecu_face: float = 0.8  # ECU: the face is taller than this ...
    ecu_cut_face: float = 0.65  # ... or cut by an edge and taller than this
    cu_below: float = 1.5  # CU: less than this many face heights of body below the chin ...
    cu_face: float = 0.3  # ... or a face this tall with less than cu_below_max below it
    cu_below_max: float = 2.0
    full_body: float = 8.0  # crown to feet in face heights when the feet are in the picture
    full_body_lifted: float = 5.0  # ... or this, when the person region ends above the bottom edge
    fs_extent: float = 0.55  # FS: a whole body spans at least this; less is LS
    bottom: float = 0.97  # a region reaching this far down is cut by the bottom edge
    pose_flag: float = 0.9  # pose landmarks are trusted at this pose flag and detector score
    pose_score: float = 0.5
    region_area: float = 0.05  # a person region without a face: this large (or 0.01 with a pose)
    region_min_area: float = 0.01
    region_aspect: float = 0.7  # and at least this tall for its width (pixels), at most 60% of the picture
    region_max_area: float = 0.6
    ms_region: float = 0.5  # a region cut by the bottom edge and this tall is a medium shot ...
    standing_aspect: float = 2.5  # ... unless it is this much taller than wide (pixels) and spans
    standing_height: float = 0.8  # this much of the height: a standing body, feet at the edge (FS)
    detail_focus: float = 20.0  # no person: a sharp detail on a blurred or plain background
    detail_edges: float = 0.09  # (focus ratio at least this, edge density below this) is an ECU
    blank_contrast: float = 3.0  # a picture whose grey levels vary less than this (std) is blank

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _margin(value: float, threshold: float, scale: float) -> float:
    """0 at the threshold, 1 at ``scale`` away from it."""
    return float(min(1.0, abs(value - threshold) / scale))


def _conf(base: float, margin: float) -> float:
    return round(base * (0.6 + 0.4 * margin), 3)


def _accepted_faces(ev: dict[str, Any], r: Rules) -> list[tuple[int, str]]:
    """Indices of the faces taken as real, with what confirmed each."""
    out = []
    blob_of = ev.get("face_blob") or [None] * len(ev["faces"])
    for k, f in enumerate(ev["faces"]):
        b = ev["blobs"][blob_of[k]] if blob_of[k] is not None else None
        if f["score"] >= r.face_score:
            out.append((k, "score"))
        elif f["h"] >= r.ecu_cut_face:  # huge: an extreme close-up, or a false face on a hand or legs
            eyes = f.get("eyes")
            if eyes and f["score"] >= r.ecu_min_score and all(0 <= e[0] <= 1 and 0 <= e[1] <= 1 for e in eyes):
                w, h = ev["size"]
                if np.hypot((eyes[1][0] - eyes[0][0]) * w, (eyes[1][1] - eyes[0][1]) * h) >= r.ecu_eye_distance * h:
                    out.append((k, "eyes far apart"))
        elif f["score"] < r.min_face_score:
            continue
        elif f["h"] >= r.big_face:  # big and unsure: often a false face on a small figure or a hand
            if (f["score"] >= r.big_face_min_score and b is not None and b["y1"] >= r.bottom
                    and b["x1"] - b["x0"] >= r.big_face_body_width * f["w"]):
                out.append((k, "person region"))
        elif b is not None:
            out.append((k, "person region"))
        elif any(p["flag"] >= 0.5 and f["x"] - .15 * f["w"] <= p["nose"][0] <= f["x"] + 1.15 * f["w"]
                 and f["y"] - .15 * f["h"] <= p["nose"][1] <= f["y"] + 1.15 * f["h"] for p in ev["pose"]):
            out.append((k, "pose"))
    return out


def decide(ev: dict[str, Any], rules: Rules = Rules()) -> tuple[str, float, str, dict[str, Any]]:
    """(label, confidence, rule, measures) from the evidence of ``measure``."""
    r = rules
    good_pose = [p for p in ev["pose"] if p["flag"] >= r.pose_flag and p["score"] >= r.pose_score]
    faces = _accepted_faces(ev, r)
    if faces:
        k, why = max(faces, key=lambda kw: ev["faces"][kw[0]]["h"] * ev["faces"][kw[0]]["w"])
        f = ev["faces"][k]
        fh, top, bottom = f["h"], f["y"], f["y"] + f["h"]
        cut = f["x"] <= 0.01 or top <= 0.01 or f["x"] + f["w"] >= 0.99 or bottom >= 0.99
        below = (1.0 - bottom) / fh
        m: dict[str, Any] = {"face_height": fh, "face_cut": cut, "face_confirmed_by": why,
                             "body_below_chin_faces": round(below, 2), "faces": len(ev["faces"])}
        if fh >= r.ecu_face or (cut and fh >= r.ecu_cut_face):
            return "ECU", _conf(0.9, _margin(fh, r.ecu_cut_face if cut else r.ecu_face, 0.2)), "face fills the frame", m
        if below < r.cu_below or (fh >= r.cu_face and below < r.cu_below_max):
            return "CU", _conf(0.9, _margin(below, r.cu_below, 1.0)), "head and shoulders", m
        bi = (ev.get("face_blob") or [None] * len(ev["faces"]))[k]
        blob = ev["blobs"][bi] if bi is not None else None
        own = [p for p in good_pose if f["x"] - .3 * f["w"] <= p["nose"][0] <= f["x"] + 1.3 * f["w"]
               and f["y"] - .3 * f["h"] <= p["nose"][1] <= f["y"] + 1.3 * f["h"]]
        if blob is not None:  # the person region under the face: where does the body end?
            body = (blob["y1"] - top) / fh
            full = body >= r.full_body or (blob["y1"] < r.bottom and body >= r.full_body_lifted)
            feet, src = blob["y1"], "person region"
            m["body_faces"] = round(body, 2)
        elif own:
            full, feet, src = own[0]["parts"]["feet"] and own[0]["feet_y"] < 1.05, own[0]["feet_y"], "pose"
            m["parts"] = own[0]["parts"]
        else:
            full, feet, src = below >= r.full_body, min(1.0, bottom + 8.5 * fh), "face size"
        if not full and blob is not None and blob["y1"] < r.bottom and blob["y1"] - blob["y0"] < r.fs_extent:
            m["region_height"] = round(blob["y1"] - blob["y0"], 3)  # small and occluded (behind a table, in a crowd)
            conf = _conf(0.6, _margin(m["region_height"], r.fs_extent, 0.25))
            return "LS", conf, "small figure, lower body hidden", m
        if not full:
            return "MS", _conf(0.8, _margin(below, r.cu_below, 1.5)), f"body cut above the feet ({src})", m
        extent = feet - (top - 0.3 * fh)
        m["body_extent"] = round(extent, 3)
        label = "FS" if extent >= r.fs_extent else "LS"
        return label, _conf(0.8, _margin(extent, r.fs_extent, 0.25)), f"whole body ({src})", m

    def posed(b):
        return any(b["x0"] <= p["nose"][0] <= b["x1"] and b["y0"] <= p["nose"][1] <= b["y1"] for p in good_pose)

    pw, ph = ev["size"]

    def aspect(b):  # height / width in pixels
        return (b["y1"] - b["y0"]) * ph / max(1e-6, (b["x1"] - b["x0"]) * pw)

    def person_like(b):
        return aspect(b) >= r.region_aspect and b["area"] <= r.region_max_area \
            and (b["area"] >= r.region_area or (b["area"] >= r.region_min_area and posed(b)))

    regions = [b for b in ev["blobs"] if person_like(b)]
    if regions:  # a person without a visible face (from behind, in profile, blurred)
        b = regions[0]
        height = b["y1"] - b["y0"]
        m = {"region_height": round(height, 3), "region_aspect": round(aspect(b), 2), "region_area": b["area"],
             "faces": 0}
        if b["y1"] >= r.bottom and aspect(b) >= r.standing_aspect and height >= r.standing_height:
            return "FS", _conf(0.6, _margin(aspect(b), r.standing_aspect, 1.0)), "standing body, feet at the edge", m
        if b["y1"] >= r.bottom:
            label = "MS" if height >= r.ms_region else "LS"
            return label, _conf(0.6, _margin(height, r.ms_region, 0.3)), "person region cut by the bottom edge", m
        label = "FS" if height >= r.fs_extent else "LS"
        return label, _conf(0.6, _margin(height, r.fs_extent, 0.25)), "whole person region", m
    if good_pose:
        p = max(good_pose, key=lambda p: p["extent"])
        parts, m = p["parts"], {"parts": p["parts"], "body_extent": p["extent"], "faces": 0}
        if parts["feet"] and p["feet_y"] < 1.05:
            label = "FS" if p["extent"] >= r.fs_extent else "LS"
            return label, _conf(0.6, _margin(p["extent"], r.fs_extent, 0.25)), "whole body (pose)", m
        if parts["waist"] or parts["knees"]:
            return "MS", 0.5, "waist or knees in the picture (pose)", m
        if parts["head"] and parts["shoulders"]:
            return "CU", 0.5, "head and shoulders (pose)", m
    s = ev["saliency"]
    m = {"focus_ratio": s["focus"], "edge_density": s["edge_density"], "salient_height": s["salient_height"],
         "faces": len(ev["faces"])}
    if s.get("contrast", 255.0) < r.blank_contrast:
        return "LS", 0.1, "no person: blank picture", m
    if s["focus"] >= r.detail_focus and s["edge_density"] < r.detail_edges:
        conf = _conf(0.5, _margin(s["focus"], r.detail_focus, 40))
        return "ECU", conf, "no person: a detail on a plain background", m
    return "LS", _conf(0.45, _margin(s["focus"], r.detail_focus, 15)), "no person: scenery", m


# ---- classifiers ------------------------------------------------------------------------------

@dataclass
class ShotSize:
    """A shot size: ``label`` (ECU | CU | MS | FS | LS), ``confidence`` (0..1), ``evidence``
    (JSON-able: what was measured and which rule decided), ``shot_index`` (set per shot by
    the pipeline stage; None for a single image)."""
    label: str
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict)
    shot_index: int | None = None

    def __iter__(self):  # label, confidence = classifier.classify(rgb)
        return iter((self.label, self.confidence))


def _summary(ev: dict[str, Any], rule: str, measures: dict[str, Any]) -> dict[str, Any]:
    """The evidence kept with a decision: the rule; the accepted main face's height (None when
    no face was accepted) and the detected faces; the main body's extent and visible parts
    (pose); the main person region (segmentation); saliency; the measures the rule used."""
    faces = sorted(ev["faces"], key=lambda f: -f["w"] * f["h"])
    body = None
    poses = [p for p in ev["pose"] if p["flag"] >= 0.5]
    if poses:
        p = max(poses, key=lambda p: p["score"])
        body = {"source": "pose", "extent": p["extent"], "visible": p["parts"], "pose_score": p["score"],
                "pose_flag": p["flag"]}
    region = None
    if ev["blobs"]:
        b = ev["blobs"][0]
        region = {"top": b["y0"], "bottom": b["y1"], "height": round(b["y1"] - b["y0"], 3),
                  "width": round(b["x1"] - b["x0"], 3), "area": b["area"]}
    return {"rule": rule, "face_height": measures.get("face_height"),
            "faces_detected": [{"height": f["h"], "score": f["score"]} for f in faces[:3]],
            "body": body, "person_region": region, "saliency": ev["saliency"],
            "measures": measures, "picture": ev["picture"], "size": ev["size"]}


class ShotSizeClassifier:
    """The default shot-size classifier: rules (``Rules``) over faces (``face_detector``,
    default BlazeFace), body pose and person segmentation (MediaPipe, optional with
    ``pose`` / ``segmentation``) and saliency. No training, no download.

        clf = ShotSizeClassifier()
        size = clf.classify(rgb)                 # ShotSize(label, confidence, evidence)
        size = clf.classify_shot([f25, f50, f75])  # several frames of one shot, voted
    """

    name = "rules"

    def __init__(self, *, rules: Rules | None = None, face_detector: str | Any = "blazeface", pose: bool = True,
                 segmentation: bool = True, max_width: int = 640, threads: int | None = None):
        from reelscope.vision.face_detect import make_face_detector
        self.rules = rules or Rules()
        self.max_width = int(max_width)
        self.threads = int(threads) if threads else None
        # min_score 0.3: extreme close-ups (a face cut by the edges) score 0.4-0.65; the rules
        # accept a face scoring under 0.75 only with corroboration (see _accepted_faces)
        self.face_detector = (make_face_detector(face_detector, threads=self.threads, min_score=0.3)
                              if isinstance(face_detector, str) else face_detector)
        self.pose = PoseEstimator(threads=self.threads) if pose else None
        self.segmenter = PersonSegmenter(threads=self.threads) if segmentation else None

    def params(self) -> dict[str, Any]:
        return {"classifier": self.name, "face_detector": getattr(self.face_detector, "name", str(self.face_detector)),
                "pose": self.pose is not None, "segmentation": self.segmenter is not None,
                "max_width": self.max_width, "rules": self.rules.as_dict()}

    def models(self) -> dict[str, dict[str, str]]:
        out = dict(getattr(self.face_detector, "models", lambda: {})())
        for m in (self.pose, self.segmenter):
            if m is not None:
                out.update(m.models())
        return out

    def evidence(self, rgb: np.ndarray) -> dict[str, Any]:
        """Everything measured on one frame (see ``measure``)."""
        return measure(rgb, self.face_detector, self.pose, self.segmenter, max_width=self.max_width)

    def classify(self, rgb: np.ndarray) -> ShotSize:
        ev = self.evidence(rgb)
        label, conf, rule, m = decide(ev, self.rules)
        return ShotSize(label, conf, _summary(ev, rule, m))

    def classify_shot(self, frames: Sequence[np.ndarray]) -> ShotSize:
        """One size for a shot from several of its frames (e.g. at 25/50/75% of its length):
        each frame votes for its label with its confidence; the label with the largest sum
        wins (ties: the most votes, then the middle frame's label). Confidence = the winner's
        sum / number of frames, so disagreement lowers it."""
        if not len(frames):
            raise ValueError("classify_shot needs at least one frame")
        return vote([self.classify(f) for f in frames])


def vote(sizes: Sequence[ShotSize]) -> ShotSize:
    """Combine per-frame sizes of one shot (see ``ShotSizeClassifier.classify_shot``)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for s in sizes:
        sums[s.label] = sums.get(s.label, 0.0) + s.confidence
        counts[s.label] = counts.get(s.label, 0) + 1
    middle = sizes[len(sizes) // 2].label
    label = max(sums, key=lambda k: (round(sums[k], 6), counts[k], k == middle))
    best = max((s for s in sizes if s.label == label), key=lambda s: s.confidence)
    evidence = dict(best.evidence)
    evidence["frames"] = [{"label": s.label, "confidence": s.confidence, "rule": s.evidence.get("rule")} for s in sizes]
    evidence["votes"] = {k: round(v, 3) for k, v in sums.items()}
    return ShotSize(label, round(min(1.0, sums[label] / len(sizes)), 3), evidence)


class TrainedShotSizeClassifier:
    """A model trained by ``reelscope train shot-size`` behind the same interface: per-frame
    class probabilities are averaged over a shot's frames."""

    def __init__(self, path: str, sha256: str | None = None):
        from reelscope.shots.size_train import load_trained
        self.model = load_trained(path, sha256)
        self.name = "trained"

    def params(self) -> dict[str, Any]:
        return {"classifier": self.name, **self.model.params()}

    def models(self) -> dict[str, dict[str, str]]:
        return self.model.models()

    def _from_probs(self, probs: np.ndarray, n: int) -> ShotSize:
        k = int(np.argmax(probs))
        scores = {c: round(float(p), 4) for c, p in zip(self.model.classes, probs)}
        return ShotSize(self.model.classes[k], round(float(probs[k]), 3),
                        {"rule": "trained model", "model": self.model.path, "sha256": self.model.sha256,
                         "scores": scores, "frames_used": n})

    def classify(self, rgb: np.ndarray) -> ShotSize:
        return self._from_probs(self.model.predict_proba([rgb])[0], 1)

    def classify_shot(self, frames: Sequence[np.ndarray]) -> ShotSize:
        if not len(frames):
            raise ValueError("classify_shot needs at least one frame")
        return self._from_probs(self.model.predict_proba(list(frames)).mean(axis=0), len(frames))


def make_shot_size_classifier(model: str = "rules", **options):
    """``"rules"`` (default, ``ShotSizeClassifier(**options)``) or the path of a model file
    written by ``reelscope train shot-size`` (``TrainedShotSizeClassifier``)."""
    if model in ("rules", "", None):
        return ShotSizeClassifier(**options)
    return TrainedShotSizeClassifier(str(model), options.get("sha256"))


__all__ = ["LABELS", "ShotSize", "ShotSizeClassifier", "TrainedShotSizeClassifier", "make_shot_size_classifier",
           "Rules", "decide", "measure", "vote", "active_area", "PoseEstimator", "PersonSegmenter", "Person",
           "person_blobs", "body_parts", "saliency_evidence"]
