"""Still images: read any image file OpenCV decodes as RGB (optionally at a reduced scale), and
cap an image's longer side. One reader for photos, datasets, mood and slideshows."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reelscope.errors import MediaError


def cap_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` scaled down (area filter) so its longer side is at most ``max_side``; never up."""
    h, w = rgb.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def read_image(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """RGB uint8 of an image file (greyscale, CMYK JPEG, PNG with alpha, the first frame of a GIF,
    ...); ``max_side`` caps the longer side, decoding JPEGs at 1/2, 1/4 or 1/8 scale directly
    where that is enough (much faster). Raises MediaError naming the file and the problem."""
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
    return cap_side(rgb, max_side) if max_side else rgb
