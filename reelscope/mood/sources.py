"""Pictures for a slideshow: image files and folders, or frames already in memory.

A :class:`SourceImage` is one picture with what the plan sorts by (time, face prominence) and
where the renderer should look when it crops (``focus``). Archive sources (a video's keyframes,
a character's best moments) live in :mod:`reelscope.mood.moments` and produce
the same type. Unreadable files are skipped with a message naming the file and the problem.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from reelscope.errors import MediaError
from reelscope.media.image import cap_side, read_image

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
            return cap_side(self.rgb, side)
        return load_rgb(self.path, side)


def load_rgb(path: str | Path | None, max_side: int | None = None) -> np.ndarray:
    """RGB uint8 of an image file (``reelscope.media.image.read_image``)."""
    if path is None:
        raise MediaError("<image>", "no file and no pixels")
    return read_image(path, max_side)


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
    small = cap_side(rgb, 128)
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
