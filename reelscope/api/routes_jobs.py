"""Jobs: every long operation of the server (analyses, summaries, slideshows) on one list, with
overall progress and ETA; start an analysis (upload a video or name a file on the server),
cancel, resume. The runner is reelscope.api.jobs; the rows live in the archive."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from reelscope.analysis import DEFAULT_STAGES
from reelscope.api import schemas as m
from reelscope.api.jobs import JobRunner
from reelscope.api.routes_browse import State
from reelscope.api.security import Shown, real, require_read, require_write, under_roots
from reelscope.api.state import AppState
from reelscope.api.uploads import check_video, save_video
from reelscope.archive import schema as db
from reelscope.archive.jobs import ACTIVE, DONE, INTERRUPTED, RUNNING, aware, percent, utcnow

router = APIRouter(prefix="/api", tags=["jobs"], dependencies=[Depends(require_read)])
Write = [Depends(require_write)]
NOT_FOUND = m.responses(s404="no such job")


# ---- how a job looks from outside ---------------------------------------------------------------
def progress_dict(job: db.Job, now: datetime | None = None) -> dict:
    eta = None
    if job.status == RUNNING and job.eta_seconds is not None and job.progress_at is not None:
        eta = round(max(0.0, job.eta_seconds - ((now or utcnow()) - aware(job.progress_at)).total_seconds()), 1)
    return {"stage": job.stage, "done": int(job.done or 0), "total": int(job.total or 0),
            "percent": 100.0 if job.status == DONE else percent(job), "eta_seconds": eta}


def result_url(job: db.Job) -> str | None:
    if job.status != DONE:
        return None
    r = job.result or {}
    if job.kind == "analysis" and job.video_id:
        return f"/videos/{job.video_id}"
    if job.kind == "summary" and r.get("summary_id"):
        return f"/api/summaries/{r['summary_id']}/file" if r.get("media") else f"/api/summaries/{r['summary_id']}"
    if job.kind == "slideshow" and r.get("output"):
        return f"/api/slideshows/{job.id}/video"
    return None


def job_dict(job: db.Job, runner: JobRunner, show: Shown) -> dict:
    """A job as the API shows it to ``show``'s reader: server paths hidden from anonymous readers,
    tracebacks (``detail``) for token holders only (anyone can read ARCHIVE/logs/jobs.log who can
    read the server's files)."""
    r = job.request or {}
    analysis = job.kind == "analysis"
    result = dict(job.result or {})
    out = {"id": job.id, "kind": job.kind, "status": job.status, "source": job.source,
           "stages": list(r.get("stages") or []) if analysis else [],
           "params": (r.get("params") or {}) if analysis else {}, "force": bool(r.get("force")) if analysis else False,
           "created_at": aware(job.created_at), "started_at": aware(job.started_at),
           "finished_at": aware(job.finished_at), "interrupted_at": aware(job.interrupted_at),
           "progress": progress_dict(job), "video_id": job.video_id,
           "outcome": result.get("outcome") if analysis else None,
           "result": {k: v for k, v in result.items() if k != "plan"} or None, "url": result_url(job),
           "error": job.error, "detail": job.detail if show.privileged else None, "note": job.note,
           "attempts": job.attempts, "restarts": job.restarts,
           "can_cancel": job.status in ACTIVE, "can_resume": runner.can_resume(job)}
    return show(out)


def get_job_or_404(st: AppState, job_id: str, kind: str | None = None) -> db.Job:
    job = st.jobs.get(job_id) if len(job_id) <= 32 else None
    if job is None or (kind is not None and job.kind != kind):
        raise HTTPException(404, f"no {kind or 'job'} {job_id!r}")
    return job


# ---- analysis jobs ----------------------------------------------------------------------------------
_UPLOAD_SCHEMA = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "the video"},
    "stages": {"type": "string", "description": f"comma-separated stage names (default {','.join(DEFAULT_STAGES)})"},
    "params": {"type": "string", "description": "JSON object: stage -> parameters"},
    "force": {"type": "boolean", "default": False}}}
_JOB_BODY = {"required": True, "content": {
    "application/json": {"schema": m.JobRequest.model_json_schema()},
    "multipart/form-data": {"schema": _UPLOAD_SCHEMA}}}


def _validate_plan(stages: list[str], params: dict) -> None:
    from reelscope.pipeline.stage import expand, plan

    try:
        order = plan(expand(list(stages)))
        unknown = set(params) - {s.name for s in order}
        if unknown:
            raise ValueError(f"parameters given for stages that do not run: {', '.join(sorted(unknown))}")
        for s in order:
            s.resolve_params(params.get(s.name))
    except ValueError as e:
        raise HTTPException(400, str(e)) from None


def _one_line(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors(include_url=False))
    return str(e).splitlines()[0] if str(e) else type(e).__name__


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
            # (the form's fields are strings in the schema: what they hold is checked here, 400)
            raise HTTPException(400, f"invalid stages/params: {_one_line(e)}") from None
        _validate_plan(req.stages, req.params)
        path, folder = await run_in_threadpool(save_video, upload.file, upload.filename, st.archive.location,
                                               st.settings.max_upload_bytes)
    return req, str(path), folder


@router.post("/jobs", response_model=m.JobOut, status_code=202, dependencies=Write,
             openapi_extra={"requestBody": _JOB_BODY},
             responses=m.responses(400, 404, 413, 415, s403="a server path outside the allowed roots, a wrong token "
                                                                 "or a cross-site request"))
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
    body = {"path": path, "stages": list(req.stages), "params": req.params, "force": req.force}
    job = await run_in_threadpool(st.jobs.submit, "analysis", source, body, upload=folder)
    return job_dict(job, st.jobs, show)


# ---- every kind ---------------------------------------------------------------------------------------
@router.get("/jobs", response_model=list[m.JobOut])
def list_jobs(st: State, show: Shown,
              kind: Annotated[m.JobKind | None, Query(description="only jobs of this kind")] = None) -> list[dict]:
    """Every job the archive keeps (all kinds), newest first."""
    return [job_dict(j, st.jobs, show) for j in st.jobs.list(kind)]


@router.get("/jobs/{job_id}", response_model=m.JobOut, responses=NOT_FOUND)
def get_job(st: State, show: Shown, job_id: str) -> dict:
    return job_dict(get_job_or_404(st, job_id), st.jobs, show)


@router.post("/jobs/{job_id}/cancel", response_model=m.JobOut, dependencies=Write, responses=NOT_FOUND)
def cancel_job(st: State, show: Shown, job_id: str) -> dict:
    """Cancel a job: a queued, interrupted or planned one at once, a running one at its next
    progress report. Ended jobs are left as they are."""
    get_job_or_404(st, job_id)
    return job_dict(st.jobs.cancel(job_id), st.jobs, show)


@router.post("/jobs/{job_id}/resume", response_model=m.JobOut, status_code=202, dependencies=Write,
             responses={**NOT_FOUND, 409: {"description": "the job cannot be resumed"}})
def resume_job(st: State, show: Shown, job_id: str) -> dict:
    """Run an interrupted job again (or one that failed because the server kept stopping under it):
    an analysis goes on from its last stored stage."""
    job = get_job_or_404(st, job_id)
    if not st.jobs.can_resume(job) or not st.jobs.requeue(job_id, (INTERRUPTED, "failed"),
                                                           note="Resumed by hand."):
        why = "its uploaded file is gone: upload the video again" if job.upload and job.status != DONE \
            else f"it is {job.status}"
        raise HTTPException(409, f"job {job_id} cannot be resumed: {why}")
    return job_dict(st.jobs.get(job_id), st.jobs, show)

