"""Still images: read any image file OpenCV decodes as RGB (optionally at a reduced scale), and
cap an image's longer side. One reader for photos, datasets, mood, slideshows and API uploads.

Every image's pixel count is read from its header first (``image_header``) and an image over
the limit is refused with ImageTooLarge before anything is decoded; the limit is
``max_pixels``, else $REELSCOPE_MAX_IMAGE_PIXELS, else 50 megapixels.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from reelscope.errors import ImageTooLarge, MediaError
from reelscope.media.image_header import ImageHeader, image_header

DEFAULT_MAX_PIXELS = 50_000_000  # 8K UHD is 33 megapixels; a 30000x30000 bomb is 900
PIXELS_ENV = "REELSCOPE_MAX_IMAGE_PIXELS"


def max_image_pixels() -> int:
    """The pixel limit: $REELSCOPE_MAX_IMAGE_PIXELS (accepts 50e6) or 50 megapixels."""
    value = os.environ.get(PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        n = int(float(value))
    except ValueError:
        raise MediaError(PIXELS_ENV, f"not a number of pixels: {value!r}") from None
    if n < 1:
        raise MediaError(PIXELS_ENV, f"must be at least 1 pixel, not {value!r}")
    return n


def check_pixels(name: str | Path, width: int, height: int, max_pixels: int | None = None,
                 setting: str = PIXELS_ENV) -> None:
    """ImageTooLarge if ``width`` x ``height`` is over ``max_pixels`` (default: max_image_pixels())."""
    limit = max_pixels or max_image_pixels()
    if width * height > limit:
        raise ImageTooLarge(name, width, height, limit, setting)


def check_image(src: bytes | str | Path, name: str | Path | None = None,
                max_pixels: int | None = None) -> ImageHeader:
    """The header of an image file or bytes, checked against the pixel limit without decoding.
    MediaError for no image, ImageTooLarge for too many pixels (``name`` is shown in both)."""
    shown = name if name is not None else src
    try:
        head = image_header(src)
    except ValueError as e:
        raise MediaError(shown, f"not an image that can be decoded (corrupt or unsupported format: {e})") from None
    except OSError as e:
        raise MediaError(shown, f"cannot read: {e.strerror or e}") from None
    check_pixels(shown, head.width, head.height, max_pixels)
    return head


def cap_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` scaled down (area filter) so its longer side is at most ``max_side``; never up."""
    h, w = rgb.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def read_image(path: str | Path, max_side: int | None = None, max_pixels: int | None = None) -> np.ndarray:
    """RGB uint8 of an image file (greyscale, CMYK JPEG, PNG with alpha, the first frame of a GIF,
    ...); ``max_side`` caps the longer side, decoding JPEGs at 1/2, 1/4 or 1/8 scale directly
    where that is enough (much faster). Images over ``max_pixels`` (see max_image_pixels) are
    refused from their header. Raises MediaError naming the file and the problem."""
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a directory, not an image")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise MediaError(p, f"cannot read: {e.strerror or e}") from None
    if not size:
        raise MediaError(p, "file is empty (0 bytes)")
    check_image(p, p, max_pixels)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise MediaError(p, f"cannot read: {e.strerror or e}") from None
    return _decode(raw, p, max_side)


def decode_image(data: bytes, name: str | Path, max_side: int | None = None,
                 max_pixels: int | None = None) -> np.ndarray:
    """RGB uint8 of an image held in memory (an upload), with read_image's checks; errors name
    ``name``."""
    if not data:
        raise MediaError(name, "empty file, not an image")
    check_image(data, name, max_pixels)
    return _decode(data, name, max_side)


def _decode(raw: bytes, name: str | Path, max_side: int | None) -> np.ndarray:
    try:
        return _imdecode(np.frombuffer(raw, np.uint8), max_side)
    except cv2.error:  # (some damaged files make a codec throw instead of answering None)
        raise MediaError(name, "not an image that can be decoded (corrupt or unsupported format)") from None


def _imdecode(buf: np.ndarray, max_side: int | None) -> np.ndarray:
    img = None
    if max_side:
        head = cv2.imdecode(buf, cv2.IMREAD_REDUCED_COLOR_8)
        if head is not None:
            factor = max(head.shape[:2]) * 8 / max_side
            flag = (cv2.IMREAD_REDUCED_COLOR_8 if factor >= 8 else cv2.IMREAD_REDUCED_COLOR_4 if factor >= 4
                    else cv2.IMREAD_REDUCED_COLOR_2 if factor >= 2 else cv2.IMREAD_COLOR)
            img = head if flag == cv2.IMREAD_REDUCED_COLOR_8 else cv2.imdecode(buf, flag)
    if img is None:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise cv2.error("no image")
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return cap_side(rgb, max_side) if max_side else rgb
