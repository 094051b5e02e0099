"""Mood-matched slideshows: a job plans (pictures' and music's moods, the timeline), then renders
an mp4; GET the job for progress and the plan (the preview), GET its video to play or download.

Pictures: a video's keyframes or a character's best moments (``video_id`` [+ ``character``]),
server paths under an allowed root (``pictures``), or uploaded images (multipart ``files``).
Music: a folder on the server under an allowed root (``music``; see ``/api/slideshows/music-
folders``). All work is done by reelscope.slideshow; this module validates and hands the job
to the server's one job runner (kind ``slideshow``: reelscope.api.job_tasks), so slideshows are
on the Jobs page too and survive a restart.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from reelscope.api.routes_browse import State
from reelscope.api import schemas as m
from reelscope.api.schemas import MAX_ID, UtcDatetime
from reelscope.api.security import Shown, real, require_read, require_write, under_roots
from reelscope.api.routes_jobs import get_job_or_404, progress_dict
from reelscope.api.state import AppState
from reelscope.api.uploads import UPLOADS, check_image_upload, safe_name, too_large
from reelscope.archive import schema as db
from reelscope.archive.jobs import DONE, PLANNED, aware
from reelscope.errors import ReelscopeError

MAX_FILES = 200
SIZE_PATTERN = r"^(\d{2,4}x\d{2,4}|\d{3,4}p|\d{1,2}:\d{1,2}(@\d{3,4}p?)?)$"


router = APIRouter(prefix="/api", tags=["slideshows"], dependencies=[Depends(require_read)])
Write = [Depends(require_write)]


class RenderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: str = Field("720p", max_length=16, pattern=SIZE_PATTERN,
                      description="1280x720, 720p, 1080p, 9:16 (1080x1920), 9:16@720, 1:1, 4:5, ...")
    fps: int = Field(25, ge=1, le=60)
    fit: Literal["cover", "contain"] = "cover"
    ken_burns: float = Field(0.05, ge=0, le=0.3, description="zoom over one picture (0: still)")


class SlideshowRequest(RenderSettings):
    pictures: list[Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=list, max_length=MAX_FILES, description="image files or folders on the server (under an "
                                                                "allowed root)")
    video_id: int | None = Field(None, ge=1, le=MAX_ID, description="a video of the archive: its shots' keyframes")
    character: str | None = Field(None, min_length=1, max_length=256,
                                  description="with video_id: a character (id, #index or name): their best moments")
    music: str = Field(..., min_length=1, max_length=4096, description="music folder on the server (under an "
                                                                      "allowed root)")
    length: float | None = Field(None, gt=0, le=3600, description="total seconds")
    per_image: float | None = Field(None, gt=0, le=120, description="seconds per picture (default 4)")
    order: Literal["mood", "time", "faces"] = "mood"
    music_dip: float = Field(0.35, ge=0, le=1, description="music level at a cut within one track")
    render: bool = Field(True, description="false: stop after planning (status 'planned'); render later with "
                                           "POST /api/slideshows/{id}/render")


class SlideshowJobOut(BaseModel):
    id: str
    kind: str = "slideshow"
    status: str
    source: str
    request: dict[str, Any]
    render_options: dict[str, Any]
    created_at: UtcDatetime
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    progress: dict[str, Any]
    plan: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    note: str | None = None
    video_url: str | None = None


class MusicFolder(BaseModel):
    path: str
    tracks: int


def _out(job: db.Job) -> dict:
    r, res = job.request or {}, job.result or {}
    progress = progress_dict(job)
    return {"id": job.id, "kind": job.kind, "status": job.status, "source": job.source, "request": r.get("plan") or {},
            "render_options": r.get("render_options") or {}, "created_at": aware(job.created_at),
            "started_at": aware(job.started_at), "finished_at": aware(job.finished_at),
            "progress": {"phase": progress["stage"], **progress}, "plan": res.get("plan"), "result": res.get("render"),
            "error": job.error, "note": job.note,
            "video_url": f"/api/slideshows/{job.id}/video" if job.status == DONE and res.get("output") else None}


def _allowed(st: AppState, path: str, what: str) -> Path:
    if "\x00" in path or not under_roots(path, st.settings.allowed_roots):
        raise HTTPException(403, f"{path}: not under an allowed root of this server")
    p = real(path)
    if not p.exists():
        raise HTTPException(404, f"{path}: no such {what}")
    return p


def _check(st: AppState, req: SlideshowRequest, uploads: bool = False) -> tuple[dict, dict, str]:
    from reelscope.mood.render import parse_size

    try:
        parse_size(req.size)
    except ReelscopeError as e:
        raise HTTPException(400, str(e)) from None
    if not (req.pictures or req.video_id or uploads):
        raise HTTPException(400, "no pictures: give video_id, pictures (server paths) or upload files")
    if req.character and not req.video_id:
        raise HTTPException(400, "character needs video_id")
    music = _allowed(st, req.music, "music folder")
    if not music.is_dir():
        raise HTTPException(400, f"{req.music}: not a folder")
    pictures = [str(_allowed(st, p, "file or folder")) for p in req.pictures]
    source = f"{len(pictures)} server path(s)" if pictures else ""
    if req.video_id:
        try:
            v = st.archive.video(req.video_id)
        except ReelscopeError as e:
            raise HTTPException(404, str(e)) from None
        source = f"{v.filename}: {'character ' + req.character if req.character else 'keyframes'}"
    plan_req = {"pictures": pictures, "video_id": req.video_id, "character": req.character, "music": str(music),
                "length": req.length, "per_image": req.per_image, "order": req.order, "music_dip": req.music_dip}
    render = {"size": req.size, "fps": req.fps, "fit": req.fit, "ken_burns": req.ken_burns}
    return plan_req, render, source


def _bad_form(msg: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body",), "msg": msg, "input": None}])


async def _from_upload(st: AppState, request: Request) -> tuple[dict, dict, str, Path, bool]:
    root = st.archive.location / UPLOADS
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="slideshow-", dir=root))
    try:
        async with request.form(max_files=MAX_FILES, max_fields=8) as form:
            try:
                req = SlideshowRequest.model_validate_json(str(form.get("options") or "{}"))
            except ValidationError as e:  # (a string in the schema: what it holds is checked here, 400)
                problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'options'}: {x['msg']}"
                                     for x in e.errors(include_url=False))
                raise HTTPException(400, f"options: {problems}") from None
            files = [f for f in form.getlist("files") if isinstance(f, StarletteUpload)]
            if not files:
                raise _bad_form("multipart body needs 'files' (the pictures) and 'options' (JSON)")
            budget, names = st.settings.max_upload_bytes, set()
            for i, f in enumerate(files):
                name = safe_name(f.filename, f"image{i}")
                stem, suffix = Path(name).stem, Path(name).suffix
                k = 1
                while name.lower() in names:
                    name, k = f"{stem}-{k}{suffix}", k + 1
                names.add(name.lower())
                data = await f.read(budget + 1)
                budget -= len(data)
                if budget < 0:
                    raise too_large(st.settings.max_upload_bytes)
                # over the pixel limit: 413 now, not in the job (which lists unreadable pictures in the plan)
                check_image_upload(data, name, st.settings.max_image_pixels, only_size=True)
                (folder / name).write_bytes(data)
        plan_req, render, _ = _check(st, req, uploads=True)
        plan_req["pictures"] = plan_req["pictures"] + [str(folder)]
        return plan_req, render, f"{len(files)} uploaded picture(s)", folder, req.render
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


_UPLOAD_SCHEMA = {"type": "object", "required": ["files", "options"], "properties": {
    "files": {"type": "array", "items": {"type": "string", "format": "binary"}, "description": "the pictures"},
    "options": {"type": "string", "description": "JSON: the fields of the JSON request (music, length, size, ...)"}}}
_BODY = {"required": True, "content": {"application/json": {"schema": SlideshowRequest.model_json_schema()},
                                       "multipart/form-data": {"schema": _UPLOAD_SCHEMA}}}


@router.post("/slideshows", response_model=SlideshowJobOut, status_code=202, dependencies=Write,
             openapi_extra={"requestBody": _BODY},
             responses=m.responses(400, 404, 413, 415, s403="a server path outside the allowed roots, a wrong token "
                                                                 "or a cross-site request"))
async def create_slideshow(st: State, show: Shown, request: Request) -> dict:
    """Start a slideshow job: pictures grouped by mood, music of the same mood, one fade curve for
    picture and sound. ``render: false`` stops after the plan (the preview in ``plan``)."""
    ctype = request.headers.get("content-type", "").lower()
    upload = None
    if ctype.startswith("multipart/form-data"):
        plan_req, render, source, upload, do_render = await _from_upload(st, request)
    elif ctype.startswith("application/json"):
        try:
            req = SlideshowRequest.model_validate_json(await request.body())
        except ValidationError as e:
            raise RequestValidationError(e.errors(include_url=False, include_input=False)) from None
        plan_req, render, source = await run_in_threadpool(_check, st, req)
        do_render = req.render
    else:
        raise HTTPException(415, "send application/json, or multipart/form-data with files and options")
    body = {"plan": plan_req, "render_options": render, "render": do_render}
    job = await run_in_threadpool(st.jobs.submit, "slideshow", source, body, upload=upload)
    return show(_out(job))


@router.get("/slideshows", response_model=list[SlideshowJobOut])
def list_slideshows(st: State, show: Shown) -> list[dict]:
    return show([_out(j) for j in st.jobs.list("slideshow")])


@router.get("/slideshows/music-folders", response_model=list[MusicFolder], dependencies=Write)
def music_folders(st: State, depth: Annotated[int, Query(ge=0, le=4)] = 2) -> list[dict]:
    """Folders under the allowed roots that hold music files (to pick ``music`` from). Server
    paths: this listing needs what making a slideshow needs (the token, when the server has one)."""
    from reelscope.mood.music import AUDIO_EXTS

    out = []
    for root in st.settings.allowed_roots:
        root = real(root)
        todo = [(root, 0)]
        while todo and len(out) < 200:
            folder, d = todo.pop(0)
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            n = sum(1 for e in entries if e.is_file() and e.suffix.lower() in AUDIO_EXTS)
            if n:
                out.append({"path": str(folder), "tracks": n})
            if d < depth:
                todo.extend((e, d + 1) for e in entries if e.is_dir() and not e.name.startswith(".")
                            and under_roots(e, st.settings.allowed_roots))
    return out


def _job(st: AppState, job_id: str) -> db.Job:
    return get_job_or_404(st, job_id, "slideshow")


@router.get("/slideshows/{job_id}", response_model=SlideshowJobOut)
def get_slideshow(st: State, show: Shown, job_id: str) -> dict:
    return show(_out(_job(st, job_id)))


@router.post("/slideshows/{job_id}/render", response_model=SlideshowJobOut, status_code=202, dependencies=Write,
             responses=m.responses(400, s409="the slideshow is not planned (or already rendering)"))
def render_slideshow(st: State, show: Shown, job_id: str, settings: RenderSettings | None = None) -> dict:
    """Render a planned slideshow (made with ``render: false``), optionally at another size/fit."""
    job = _job(st, job_id)
    opts = settings.model_dump() if settings is not None else None
    if opts:
        from reelscope.mood.render import parse_size

        try:
            parse_size(opts["size"])
        except ReelscopeError as e:
            raise HTTPException(400, str(e)) from None
    r = dict(job.request or {})
    r["render_options"] = {**(r.get("render_options") or {}), **(opts or {})}
    r["render"] = True
    if job.status != PLANNED or not st.jobs.requeue(job_id, (PLANNED,), request=r):
        raise HTTPException(409, f"slideshow {job_id} is {job.status}: only a planned slideshow can be rendered")
    return show(_out(_job(st, job_id)))


@router.post("/slideshows/{job_id}/cancel", response_model=SlideshowJobOut, dependencies=Write)
def cancel_slideshow(st: State, show: Shown, job_id: str) -> dict:
    _job(st, job_id)
    return show(_out(st.jobs.cancel(job_id)))


@router.get("/slideshows/{job_id}/video", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "the requested byte range",
                                                                 "content": {"video/mp4": {}}},
                       **m.RANGE_ERRORS, 404: {"description": "no such slideshow"},
                       409: {"description": "not rendered yet"}})
def slideshow_video(st: State, job_id: str,
                    download: Annotated[bool, Query(description="as an attachment")] = False) -> FileResponse:
    """The rendered mp4 (byte ranges supported, for seeking)."""
    job = _job(st, job_id)
    out = (job.result or {}).get("output")
    path = st.archive.location / out if out else None
    if job.status != DONE or path is None or not path.is_file():
        raise HTTPException(409, f"slideshow {job_id} is {job.status}, not rendered")
    return FileResponse(path, media_type="video/mp4", filename=f"slideshow-{job.id}.mp4",
                        content_disposition_type="attachment" if download else "inline")
