"""Uploaded files: size-limited, type-checked by content (never by name), videos kept in a
temporary folder inside the archive until their job ends."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
from fastapi import HTTPException

from reelscope.errors import ImageTooLarge, MediaError
from reelscope.media import image as media_image

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


def media_http_error(e: MediaError, shown: str) -> HTTPException:
    """413 for an image (or video frame) over the pixel limit, else 415, naming ``shown`` (the
    client's file name, never a server path)."""
    return HTTPException(413 if isinstance(e, ImageTooLarge) else 415, f"{shown}: {e.problem}")


def decode_image(data: bytes, name: str, max_pixels: int | None = None) -> np.ndarray:
    """RGB pixels of an uploaded image (reelscope.media.image.decode_image): 413 when its header
    declares more than ``max_pixels`` (checked before decoding), 415 if it is not an image."""
    try:
        return media_image.decode_image(data, name, max_pixels=max_pixels)
    except MediaError as e:
        raise media_http_error(e, name) from None


def check_image_upload(data: bytes, name: str, max_pixels: int | None = None, *, only_size: bool = False) -> None:
    """413/415 like decode_image, from the header alone (for uploads decoded later by a job);
    ``only_size``: just the 413 (the job reports pictures it cannot read)."""
    try:
        media_image.check_image(data, name, max_pixels)
    except ImageTooLarge as e:
        raise media_http_error(e, name) from None
    except MediaError as e:
        if not only_size:
            raise media_http_error(e, name) from None


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
    """415 unless ``path`` is a video with a decodable frame (reelscope.media.info.probe); 413
    when its frames are over the pixel limit."""
    from reelscope.media.info import probe

    try:
        info = probe(path)
    except MediaError as e:
        raise media_http_error(e, shown) from None
    if info.container in STILL_IMAGE_FORMATS or info.container.endswith("_pipe"):
        raise HTTPException(415, f"{shown}: a still image ({info.container}), not a video: "
                                 "use POST /api/analyze/image")


# ---- the uploads folder (kept tidy by the job runner: reelscope.api.jobs) ------------------------
def uploads_root(archive) -> Path:
    return Path(archive.location).resolve() / UPLOADS


def remove_upload(archive, path: Path) -> None:
    """Delete an upload folder (or file) inside ARCHIVE/uploads; anything else is left alone."""
    root = uploads_root(archive)
    p = Path(path)
    try:
        if p.absolute().parent.resolve() != root:  # (a link inside uploads/ is removed, not followed)
            return
    except OSError:
        return
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def newest_mtime(path: Path) -> float:
    """The latest modification time of an upload folder or of the files in it (a file being written
    keeps it fresh)."""
    try:
        t = path.lstat().st_mtime
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                t = max(t, child.lstat().st_mtime)
        return t
    except OSError:
        return 0.0
