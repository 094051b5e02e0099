"""Analysis: images answer at once (faces, names, expressions); videos become jobs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from reelscope.analysis import DEFAULT_STAGES
from reelscope.api import schemas as m
from reelscope.api.routes_browse import State
from reelscope.api.limits import heavy
from reelscope.api.security import Shown, real, require_read, require_write, under_roots
from reelscope.api.state import AppState
from reelscope.api.uploads import check_video, decode_image, read_limited, safe_name, save_video
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
             responses=m.responses(413, 415, 429))
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
             responses=m.responses(400, 413, 429))
def analyze_images(st: State, files: Annotated[list[UploadFile], File(description="several images")],
                   detector: Detector = "blazeface") -> list[dict]:
    """Several images at once; ``frameIdx`` is each image's position. An image that cannot be read
    or is over the pixel limit gets ``error`` (and ``status``: 415 or 413) and no faces; the others
    are analysed."""
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
    return out


# ---- video jobs -------------------------------------------------------------------------------
_UPLOAD_SCHEMA = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "the video"},
    "stages": {"type": "string", "description": f"comma-separated stage names (default {','.join(DEFAULT_STAGES)})"},
    "params": {"type": "string", "description": "JSON object: stage -> parameters"},
    "force": {"type": "boolean", "default": False}}}
_JOB_BODY = {"required": True, "content": {
    "application/json": {"schema": m.JobRequest.model_json_schema()},
    "multipart/form-data": {"schema": _UPLOAD_SCHEMA}}}


def _validate_plan(stages: list[str], params: dict) -> None:
    from reelscope.pipeline.stage import plan

    try:
        order = plan(list(stages))
        unknown = set(params) - {s.name for s in order}
        if unknown:
            raise ValueError(f"parameters given for stages that do not run: {', '.join(sorted(unknown))}")
        for s in order:
            s.resolve_params(params.get(s.name))
    except ValueError as e:
        raise HTTPException(400, str(e)) from None


def _bad_form(msg: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body",), "msg": msg, "input": None}])


async def _job_from_upload(st: AppState, request: Request) -> tuple[m.JobRequest, str, Path]:
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            raise _bad_form("multipart body needs a 'file' field holding the video")
        try:
            stages = [x.strip() for x in str(form.get("stages") or ",".join(DEFAULT_STAGES)).split(",") if x.strip()]
            params = json.loads(str(form.get("params") or "{}"))
            force = str(form.get("force") or "false").lower() in ("1", "true", "yes", "on")
            req = m.JobRequest(path="upload", stages=stages, params=params, force=force)
        except (ValueError, ValidationError) as e:  # JSONDecodeError is a ValueError
            raise _bad_form(f"invalid stages/params: {e}") from None
        _validate_plan(req.stages, req.params)
        path, folder = await run_in_threadpool(save_video, upload.file, upload.filename, st.archive.location,
                                               st.settings.max_upload_bytes)
    return req, str(path), folder


@router.post("/jobs", response_model=m.JobOut, status_code=202, dependencies=[Depends(require_write)],
             openapi_extra={"requestBody": _JOB_BODY},
             responses={403: {"description": "path outside the allowed roots"}, 413: {"description": "too large"},
                        415: {"description": "not a video"}})
async def create_job(st: State, show: Shown, request: Request) -> dict:
    """Analyse a video in the background: upload it (multipart ``file``) or name a file on the
    server (JSON ``path``, which must lie under an allowed root). Poll GET /api/jobs/{id}."""
    ctype = request.headers.get("content-type", "").lower()
    folder = None
    if ctype.startswith("multipart/form-data"):
        req, path, folder = await _job_from_upload(st, request)
        source = Path(path).name
    elif ctype.startswith("application/json"):
        try:
            req = m.JobRequest.model_validate_json(await request.body())
        except ValidationError as e:  # (the raw input may be bytes that are not UTF-8: left out)
            raise RequestValidationError(e.errors(include_url=False, include_input=False)) from None
        if "\x00" in req.path or not under_roots(req.path, st.settings.allowed_roots):
            raise HTTPException(403, f"{req.path}: not under an allowed root of this server")
        _validate_plan(req.stages, req.params)
        file = real(req.path)
        if not file.is_file():
            raise HTTPException(404, f"{req.path}: no such file")
        await run_in_threadpool(check_video, file, req.path)
        path, source = str(file), file.name
    else:
        raise HTTPException(415, "send multipart/form-data (a video upload) or application/json ({\"path\": ...})")
    job = st.jobs.submit(path, source, req.stages, req.params, req.force, cleanup=folder)
    return show(job.as_dict())


@router.get("/jobs", response_model=list[m.JobOut])
def list_jobs(st: State, show: Shown) -> list[dict]:
    return show([j.as_dict() for j in st.jobs.list()])


def _job(st: AppState, job_id: str):
    job = st.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return job


@router.get("/jobs/{job_id}", response_model=m.JobOut)
def get_job(st: State, show: Shown, job_id: str) -> dict:
    return show(_job(st, job_id).as_dict())


@router.post("/jobs/{job_id}/cancel", response_model=m.JobOut, dependencies=[Depends(require_write)])
def cancel_job(st: State, show: Shown, job_id: str) -> dict:
    """Cancel a job: a queued one at once, a running one at its next progress report (nothing is
    written to the archive). Ending jobs are left as they are."""
    return show(st.jobs.cancel(_job(st, job_id)).as_dict())
