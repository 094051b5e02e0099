"""Text detection geometry: from a DB (differentiable binarisation) probability map to text-line
quadrilaterals, and from a quadrilateral to an upright crop of the line.

The detector network (PP-OCRv5's DBNet, run by ``reelscope.vision.ocr``) gives every pixel the
probability that it lies in the *shrunk* core of a text line. Lines are found by thresholding
that map, cutting regions where stacked lines touch (``split_stacked_lines``), taking each
region's minimum-area rectangle, keeping the regions whose mean probability is high enough, and
growing each rectangle back by the margin the training shrank it by (the "unclip" step: an
offset of ``area * ratio / perimeter`` on every side).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# ImageNet statistics the detector and orientation classifier were trained with (per channel, in
# the channel order PaddleOCR feeds: B, G, R).
IMAGENET_MEAN_BGR = np.array([0.406, 0.456, 0.485], np.float32)
IMAGENET_STD_BGR = np.array([0.225, 0.224, 0.229], np.float32)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass(frozen=True)
class DBParams:
    """``thresh``: pixel probability that counts as text; ``box_thresh``: least mean probability
    inside a region; ``unclip_ratio``: how far a region is grown back (PaddleOCR's 1.5);
    ``min_size``: shortest side (detector pixels) of a kept region; ``max_candidates``: regions
    looked at, largest first."""
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    min_size: float = 3.0
    max_candidates: int = 1000


def det_input_size(height: int, width: int, max_side: int, min_side: int = 32) -> tuple[int, int]:
    """The detector's input size for an image: at most ``max_side`` on the long side (never
    enlarged beyond the image unless a side is under ``min_side``), both sides multiples of 32."""
    scale = min(1.0, max_side / max(height, width))
    if min(height, width) * scale < min_side:
        scale = min_side / min(height, width)
    h = max(32, int(round(height * scale / 32)) * 32)
    w = max(32, int(round(width * scale / 32)) * 32)
    return h, w


def det_input(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (1, 3, H, W) float32 batch for the detector: resized, B-G-R planes, ImageNet-normalised."""
    h, w = size
    img = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    x = img[:, :, ::-1].astype(np.float32) * (1 / 255.0)
    x = (x - IMAGENET_MEAN_BGR) / IMAGENET_STD_BGR
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def order_quad(points: np.ndarray) -> np.ndarray:
    """Four corners as (top-left, top-right, bottom-right, bottom-left), float32 (4, 2)."""
    p = np.asarray(points, np.float32).reshape(4, 2)
    by_x = p[np.argsort(p[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    tl, bl = left[np.argsort(left[:, 1], kind="stable")]
    tr, br = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([tl, tr, br, bl], np.float32)


def region_score(prob: np.ndarray, contour: np.ndarray) -> float:
    """Mean probability of ``prob`` inside the polygon ``contour`` ((N, 2) pixel coordinates)."""
    h, w = prob.shape
    pts = np.asarray(contour, np.float32).reshape(-1, 2)
    x0 = int(np.clip(np.floor(pts[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(pts[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(pts[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(pts[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    local = np.round(pts - [x0, y0]).astype(np.int32)
    cv2.fillPoly(mask, [local], 1)
    if not mask.any():
        return 0.0
    return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])


def unclip_rect(rect: tuple, ratio: float) -> tuple:
    """Grow a rotated rectangle ``((cx, cy), (w, h), angle)`` by the DB margin: every side moves
    out by ``d = area * ratio / perimeter``. (For a rectangle the minimum-area rectangle around the
    offset polygon is exactly ``(w + 2d, h + 2d)``; no polygon clipping library is needed.)"""
    (cx, cy), (w, h), angle = rect
    perimeter = 2.0 * (w + h)
    if perimeter <= 0:
        return rect
    d = w * h * ratio / perimeter
    return (cx, cy), (w + 2 * d, h + 2 * d), angle


def db_boxes(prob: np.ndarray, image_size: tuple[int, int], params: DBParams = DBParams()
             ) -> tuple[np.ndarray, np.ndarray]:
    """Text-line quadrilaterals from a probability map.

    ``prob``: (h, w) map in detector pixels; ``image_size``: (height, width) of the image the
    boxes are for (the map is scaled to it). Returns ``(quads (N, 4, 2) float32, scores (N,))``,
    corners ordered as ``order_quad``, clipped to the image, top-to-bottom then left-to-right.
    """
    prob = np.asarray(prob, np.float32)
    if prob.ndim != 2:
        raise ValueError(f"expected an (h, w) probability map, got shape {prob.shape}")
    ph, pw = prob.shape
    H, W = image_size
    sx, sy = W / pw, H / ph
    bitmap = (prob > params.thresh).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if len(contours) > params.max_candidates:
        contours = sorted(contours, key=cv2.contourArea, reverse=True)[:params.max_candidates]
    quads, scores = [], []
    for c in (part for whole in contours for part in split_stacked_lines(whole, bitmap.shape)):
        if len(c) < 3:
            continue
        rect = cv2.minAreaRect(c)
        if min(rect[1]) < params.min_size:
            continue
        score = region_score(prob, c.reshape(-1, 2))
        if score < params.box_thresh:
            continue
        grown = unclip_rect(rect, params.unclip_ratio)
        if min(grown[1]) < params.min_size + 2:
            continue
        q = order_quad(cv2.boxPoints(grown))
        q[:, 0] = np.clip(q[:, 0] * sx, 0, W - 1)
        q[:, 1] = np.clip(q[:, 1] * sy, 0, H - 1)
        if np.linalg.norm(q[1] - q[0]) <= 3 or np.linalg.norm(q[3] - q[0]) <= 3:
            continue
        quads.append(q)
        scores.append(score)
    if not quads:
        return np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32)
    quads_a, scores_a = np.stack(quads), np.asarray(scores, np.float32)
    order = reading_order(quads_a)
    return quads_a[order], scores_a[order]


def split_stacked_lines(contour: np.ndarray, shape: tuple[int, int], valley: float = 0.2,
                        min_rows: int = 3) -> list[np.ndarray]:
    """Two or more text lines stacked so close that their regions touch (a thin bridge of
    probability, e.g. a picture over both lines) become one region; cut it where a run of rows is
    covered by less than ``valley`` of the region's widest row, when at least ``min_rows`` well
    covered rows lie above and below the cut. Returns the contours of the parts (the region itself
    when there is nothing to cut)."""
    x, y, w, h = cv2.boundingRect(contour)
    if h < 2 * min_rows + 1:
        return [contour]
    mask = np.zeros((h, w), np.uint8)
    cv2.drawContours(mask, [contour - [x, y]], -1, 1, thickness=-1)
    cover = mask.sum(1).astype(np.float32)
    peak = float(cover.max())
    low = cover < valley * peak
    full = cover >= 0.5 * peak
    cut = np.zeros(h, bool)
    r = 0
    while r < h:
        if not low[r]:
            r += 1
            continue
        e = r
        while e < h and low[e]:
            e += 1
        if full[:r].sum() >= min_rows and full[e:].sum() >= min_rows:
            cut[r:e] = True
        r = e
    if not cut.any():
        return [contour]
    mask[cut] = 0
    parts, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [p + [x, y] for p in parts]


def reading_order(quads: np.ndarray) -> np.ndarray:
    """Indices of quadrilaterals top-to-bottom, then left-to-right within a row (boxes whose tops
    differ by less than half the smaller height share a row)."""
    if len(quads) == 0:
        return np.zeros(0, int)
    tops = quads[:, :, 1].min(1)
    heights = quads[:, :, 1].max(1) - tops
    lefts = quads[:, :, 0].min(1)
    idx = list(np.argsort(tops, kind="stable"))
    rows: list[list[int]] = []
    for i in idx:
        if rows and abs(tops[i] - tops[rows[-1][0]]) < 0.5 * min(heights[i], heights[rows[-1][0]]):
            rows[-1].append(i)
        else:
            rows.append([i])
    return np.array([i for r in rows for i in sorted(r, key=lambda k: lefts[k])], int)


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The text line inside ``quad`` warped to an upright rectangle; a line much taller than wide
    (vertical text) is turned 90 degrees so it reads left to right."""
    q = order_quad(quad)
    w = int(round(max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3]))))
    h = int(round(max(np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1]))))
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(q, dst)
    crop = cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if h >= 1.5 * w:
        crop = np.ascontiguousarray(np.rot90(crop))
    return crop
