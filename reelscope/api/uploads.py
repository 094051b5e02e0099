"""Uploaded files: size-limited, type-checked by content (never by name), videos kept in a
temporary folder inside the archive until their job ends."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from fastapi import HTTPException

from reelscope.errors import MediaError

UPLOADS = "uploads"  # ARCHIVE/uploads/<temporary folder>/<file>
STILL_IMAGE_FORMATS = {"image2", "webp", "ico"}  # FFmpeg demuxers of single images (animated GIFs are videos)


def safe_name(filename: str | None, default: str = "upload") -> str:
    """A plain file name from a client-supplied one: no folders, no odd characters."""
    name = Path((filename or "").replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ]+", "_", name).strip(" .")[:200]
    return name or default


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"upload too large (limit {limit / (1 << 20):.0f} MiB)")


def read_limited(f: BinaryIO, limit: int) -> bytes:
    data = f.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit)
    return data


def decode_image(data: bytes, name: str) -> np.ndarray:
    """RGB pixels of an uploaded image; 415 if the bytes are not an image OpenCV decodes."""
    if not data:
        raise HTTPException(415, f"{name}: empty file, not an image")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise HTTPException(415, f"{name}: not an image (JPEG, PNG, WebP, BMP, TIFF, ...) that can be decoded")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def save_video(src: BinaryIO, filename: str | None, archive_location: Path, limit: int) -> tuple[Path, Path]:
    """Copy an uploaded video into a fresh temporary folder of the archive and check that it is a
    decodable video. Returns (file, folder); the caller removes the folder when done with it."""
    root = archive_location / UPLOADS
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    path = folder / safe_name(filename, "video")
    try:
        written = 0
        with open(path, "wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise too_large(limit)
                out.write(chunk)
        check_video(path, safe_name(filename, "video"))
        return path, folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def check_video(path: Path, shown: str) -> None:
    """415 unless ``path`` is a video with a decodable frame (reelscope.media.info.probe)."""
    from reelscope.media.info import probe

    try:
        info = probe(path)
    except MediaError as e:
        raise HTTPException(415, f"{shown}: {e.problem}") from None
    if info.container in STILL_IMAGE_FORMATS or info.container.endswith("_pipe"):
        raise HTTPException(415, f"{shown}: a still image ({info.container}), not a video: "
                                 "use POST /api/analyze/image")
