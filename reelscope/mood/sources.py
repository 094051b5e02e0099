"""Pictures for a slideshow: image files and folders, or frames already in memory.

A :class:`SourceImage` is one picture with what the plan sorts by (time, face prominence) and
where the renderer should look when it crops (``focus``). Archive sources (a video's keyframes,
a character's best moments) live in :mod:`reelscope.archive.slideshow_sources` and produce
the same type. Unreadable files are skipped with a message naming the file and the problem.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from reelscope.errors import MediaError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".jfif", ".pgm", ".ppm",
                  ".gif"}  # a GIF counts as its first frame (OpenCV decodes it)
PREVIEW_SIDE = 512  # the mood predictor and face/saliency helpers see images this large at most


@dataclass
class SourceImage:
    key: str
    name: str
    path: str | None = None  # an image file, or None when ``rgb`` holds the pixels
    rgb: np.ndarray | None = field(default=None, repr=False)
    time: float | None = None
    faces: float = 0.0  # face prominence 0..1
    focus: tuple[float, float] | None = None  # (x, y) 0..1
    thumbnail: str | None = None  # archive media path, for previews
    mood: object | None = None  # a MoodPrediction when already known (e.g. stored for a shot)
    meta: dict = field(default_factory=dict)

    def load(self) -> np.ndarray:
        """Full-size RGB uint8 (MediaError naming the file if it cannot be read)."""
        if self.rgb is not None:
            return self.rgb
        return load_rgb(self.path)

    def preview(self, side: int = PREVIEW_SIDE) -> np.ndarray:
        """RGB at most ``side`` pixels on its longer side (cheap for large JPEGs)."""
        if self.rgb is not None:
            return shrink(self.rgb, side)
        return load_rgb(self.path, side)


def load_rgb(path: str | Path | None, max_side: int | None = None) -> np.ndarray:
    """RGB uint8 of an image file; ``max_side`` reads JPEGs at a reduced scale where possible."""
    if path is None:
        raise MediaError("<image>", "no file and no pixels")
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a directory, not an image")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise MediaError(p, f"cannot read: {e.strerror or e}") from None
    if not raw:
        raise MediaError(p, "file is empty (0 bytes)")
    buf = np.frombuffer(raw, np.uint8)
    img = None
    if max_side:
        # IMREAD_REDUCED_* decodes JPEGs at 1/2, 1/4, 1/8 scale directly (much faster)
        head = cv2.imdecode(buf, cv2.IMREAD_REDUCED_COLOR_8)
        if head is not None:
            factor = max(head.shape[:2]) * 8 / max_side
            flag = (cv2.IMREAD_REDUCED_COLOR_8 if factor >= 8 else cv2.IMREAD_REDUCED_COLOR_4 if factor >= 4
                    else cv2.IMREAD_REDUCED_COLOR_2 if factor >= 2 else cv2.IMREAD_COLOR)
            img = head if flag == cv2.IMREAD_REDUCED_COLOR_8 else cv2.imdecode(buf, flag)
    if img is None:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise MediaError(p, "not an image that can be decoded (corrupt or unsupported format)")
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return shrink(rgb, max_side) if max_side else rgb


def shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def expand_paths(inputs: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Files named directly, plus the images inside named folders (sorted, recursive).
    Returns (files, errors): a missing input is an error line, not an exception."""
    files: list[Path] = []
    errors: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                errors.append(f"{p}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            errors.append(f"{p}: file not found")
    return files, errors


def images_from_paths(inputs: Iterable[str | Path],
                      on_error: Callable[[str], None] | None = None) -> tuple[list[SourceImage], list[str]]:
    """SourceImages for image files and folders (not yet decoded: whoever first loads one
    reports it as ``"PATH: problem"`` and skips it if it cannot be read)."""
    files, errors = expand_paths(inputs)
    for e in errors:
        if on_error:
            on_error(e)
    out: list[SourceImage] = []
    seen: set[str] = set()
    for f in files:
        key = str(f.resolve())
        if key not in seen:
            seen.add(key)
            out.append(SourceImage(key=key, name=f.name, path=str(f)))
    return out, errors


def saliency_focus(rgb: np.ndarray) -> tuple[float, float]:
    """Where the eye goes (spectral-residual saliency, OpenCV contrib): the centroid of the
    most salient fifth of the picture, pulled halfway back to the centre to stay gentle."""
    small = shrink(rgb, 128)
    try:
        sal = cv2.saliency.StaticSaliencySpectralResidual_create()
        ok, m = sal.computeSaliency(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    except (AttributeError, cv2.error):
        return 0.5, 0.5
    if not ok or m is None or not np.isfinite(m).all() or m.max() <= 0:
        return 0.5, 0.5
    m = m.astype(np.float64)
    m = np.where(m >= np.quantile(m, 0.8), m, 0.0)
    ys, xs = np.mgrid[0:m.shape[0], 0:m.shape[1]]
    tot = m.sum()
    cx, cy = (xs * m).sum() / tot / m.shape[1], (ys * m).sum() / tot / m.shape[0]
    return float(0.5 + 0.5 * (cx - 0.5)), float(0.5 + 0.5 * (cy - 0.5))


def face_focus(boxes: np.ndarray, width: int, height: int) -> tuple[float, tuple[float, float] | None]:
    """Face prominence (share of the picture covered by its faces, 0..1) and the centre of the
    faces weighted by their area (None without faces). Boxes: x, y, w, h in pixels."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return 0.0, None
    area = boxes[:, 2] * boxes[:, 3]
    share = float(min(1.0, area.sum() / max(1.0, width * height)))
    cx = float(((boxes[:, 0] + boxes[:, 2] / 2) * area).sum() / area.sum() / width)
    cy = float(((boxes[:, 1] + boxes[:, 3] / 2) * area).sum() / area.sum() / height)
    return share, (cx, cy)
