"""Analysis of images: answered at once (faces, names, expressions). Videos are jobs (routes_jobs.py)."""
from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile

from reelscope.api import schemas as m
from reelscope.api.routes_browse import State
from reelscope.api.limits import heavy
from reelscope.api.security import require_read
from reelscope.api.state import AppState
from reelscope.api.uploads import decode_image, read_limited, safe_name
from reelscope.errors import ReelscopeError

router = APIRouter(prefix="/api", tags=["analyze"], dependencies=[Depends(require_read)])
Detector = Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9_]+$",
                                description="face detector: blazeface (default), hog, mmod, mtcnn")]
MAX_IMAGES = 64


def _faces(st: AppState, rgb: np.ndarray, filename: str, frame: int, detector: str) -> dict:
    try:
        dets = st.photo_faces(detector)(rgb)
    except ValueError as e:  # unknown detector name
        raise HTTPException(400, str(e)) from None
    except ReelscopeError as e:  # e.g. a model file that is not installed
        raise HTTPException(503, str(e)) from None
    gallery = st.gallery()
    names = {i.id: i.name for i in gallery.identities()} if len(dets) else {}
    faces, objects = [], []
    with st.archive.session() as s:
        for k in range(len(dets)):
            box = [round(float(v), 1) for v in dets.boxes[k]]
            score = round(float(dets.scores[k]), 4)
            ident, dist = None, None
            e = dets.embeddings[k] if dets.embeddings is not None else None
            if e is not None and np.isfinite(e).all():
                ident, d = gallery.match(e, s)
                dist = round(d, 4) if np.isfinite(d) else None
            ex = dets.data[k].get("expression")
            faces.append({"index": k, "box": box, "score": score, "name": names.get(ident), "identity_id": ident,
                          "distance": dist, "expression": ex.get("label") if isinstance(ex, dict) else ex,
                          "expression_scores": {n: round(v, 4) for n, v in ex["scores"].items()}
                          if isinstance(ex, dict) and ex.get("scores") else None})
            objects.append({"ObjectID": "face", "Bb": box, "score": score})
    h, w = rgb.shape[:2]
    return {"filename": filename, "width": w, "height": h, "faces": faces, "frameIdx": frame, "objects": objects}


@router.post("/analyze/image", response_model=m.ImageResult, dependencies=[Depends(heavy)],
             responses=m.responses(400, 413, 415, 429, 503))
def analyze_image(st: State, file: Annotated[UploadFile, File(description="one image (JPEG, PNG, ...)")],
                  detector: Detector = "blazeface") -> dict:
    """Faces of one image with boxes, names recognised from the gallery and expressions, plus the
    seed system's per-frame form (``frameIdx``, ``objects``: ObjectID, Bb = x, y, w, h, score).
    An image whose header declares more pixels than the server's limit is refused before it is
    decoded (413)."""
    name = safe_name(file.filename, "image")
    rgb = decode_image(read_limited(file.file, st.settings.max_upload_bytes), name, st.settings.max_image_pixels)
    return _faces(st, rgb, name, 0, detector)


@router.post("/analyze/images", response_model=list[m.ImageResult], dependencies=[Depends(heavy)],
             responses=m.responses(400, 413, 415, 429, 503))
def analyze_images(st: State, files: Annotated[list[UploadFile], File(description="several images")],
                   detector: Detector = "blazeface") -> list[dict]:
    """Several images at once; ``frameIdx`` is each image's position. An image that cannot be read
    or is over the pixel limit gets ``error`` (and ``status``: 415 or 413) and no faces; the others
    are analysed. When not one of the files is usable the answer is that status itself (413 if
    every file is over the pixel limit, else 415)."""
    if len(files) > MAX_IMAGES:
        raise HTTPException(400, f"at most {MAX_IMAGES} images per request")
    out, budget = [], st.settings.max_upload_bytes
    for i, f in enumerate(files):
        name = safe_name(f.filename, f"image{i}")
        data = read_limited(f.file, budget)
        budget -= len(data)
        try:
            rgb = decode_image(data, name, st.settings.max_image_pixels)
        except HTTPException as e:
            out.append({"filename": name, "frameIdx": i, "error": e.detail, "status": e.status_code})
            continue
        out.append(_faces(st, rgb, name, i, detector))
    if all(r.get("error") for r in out):
        status = 413 if all(r["status"] == 413 for r in out) else 415
        raise HTTPException(status, f"none of the {len(out)} file(s) is an image that can be analysed: "
                                    f"{out[0]['error']}")
    return out
