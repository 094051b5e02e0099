"""Story data of a video: its curves over time (emotion, audio, importance) and highlight summaries
(list, create = a job that plans + renders, stream the MP4 with Range support, delete). Thin: the
work is reelscope.archive.summaries and reelscope.summaries, run by the server's job runner (kind
``summary``)."""
from __future__ import annotations

import pathlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from reelscope.api import schemas as m
from reelscope.api.routes_browse import State, load_video
from reelscope.api.routes_jobs import job_dict
from reelscope.api.security import Shown, require_read, require_write, under_roots
from reelscope.api.state import AppState, http_error
from reelscope.archive import schema as db
from reelscope.errors import ReelscopeError

router = APIRouter(prefix="/api", tags=["story"], dependencies=[Depends(require_read)])
VideoId = Annotated[int, Path(ge=1, le=m.MAX_ID)]
SummaryId = Annotated[int, Path(ge=1, le=m.MAX_ID)]


class CurveOut(BaseModel):
    name: str
    stage: str
    t0: float
    step: float = Field(description="seconds between values: values[i] is at t0 + i * step")
    unit: str
    values: list[float | None]
    data: dict[str, Any] | None = Field(None, description="extras (with ?data=true), e.g. per-shot signals")


class Segment(BaseModel, extra="allow"):
    shot: int
    start_time: float
    end_time: float
    start_frame: int
    end_frame: int
    score: float


class SummaryOut(BaseModel):
    id: int
    video_id: int
    created_at: m.UtcDatetime | None
    target_seconds: float
    seconds: float
    segments: list[Segment]
    params: dict[str, Any]
    media: str | None = Field(None, description="the rendered MP4, relative to the media store")
    url: str | None = Field(None, description="where to stream it")


class SummaryRequest(BaseModel, extra="forbid"):
    length: str = Field("15%", max_length=32, pattern=r"^[0-9.]+(%|s|m|m[0-9.]+s?)?$",
                        description="seconds (60s, 1m30s) or a share of the video (15%)")
    crossfade: float = Field(0.3, ge=0, le=2)
    diversity: float = Field(0.5, ge=0, le=1, description="value kept by each further shot of one scene")
    max_height: int = Field(720, ge=90, le=2160)
    render: bool = True


def _out(row: db.Summary) -> dict:
    from reelscope.archive.summaries import summary_dict

    d = summary_dict(row)
    d["url"] = f"/api/summaries/{row.id}/file" if row.media else None
    return d


@router.get("/videos/{video_id}/curves", response_model=list[CurveOut])
def list_curves(st: State, video_id: VideoId,
                names: Annotated[str | None, Query(max_length=400, pattern=r"^[a-z0-9_.,]*$",
                                                   description="comma-separated curve names (default: all)")] = None,
                data: bool = False) -> list[dict]:
    load_video(st, video_id)
    wanted = {n for n in (names or "").split(",") if n}
    with st.archive.session() as s:
        rows = list(s.scalars(select(db.Curve).where(db.Curve.video_id == video_id).order_by(db.Curve.name)))
    return [{"name": c.name, "stage": c.stage, "t0": c.t0, "step": c.step, "unit": c.unit or "", "values": c.values,
             "data": (c.data or {}) if data else None} for c in rows if not wanted or c.name in wanted]


@router.get("/videos/{video_id}/summaries", response_model=list[SummaryOut])
def list_video_summaries(st: State, video_id: VideoId) -> list[dict]:
    from reelscope.archive.summaries import list_summaries

    load_video(st, video_id)
    return [_out(r) for r in list_summaries(st.archive, video_id)]


def _source_allowed(st: AppState, v: db.Video) -> None:
    uploads = st.archive.location / "uploads"
    if not under_roots(v.path, (*st.settings.allowed_roots, uploads)):
        raise HTTPException(403, f"the source of video {v.id} is not under an allowed root of this server")
    if not pathlib.Path(v.path).is_file():
        raise HTTPException(404, f"the source file of video {v.id} is no longer available")


@router.post("/videos/{video_id}/summaries", response_model=m.JobOut, status_code=202,
             dependencies=[Depends(require_write)],
             summary="Make a highlight summary from the stored importance: a job (GET /api/jobs/{id}); its "
                     "result names the summary",
             responses={**m.responses(400), 409: {"description": "the importance stage has not run for this video"},
                        403: {"description": "the source is not under an allowed root"}})
def make_summary(st: State, show: Shown, video_id: VideoId, req: SummaryRequest) -> dict:
    from reelscope.archive.summaries import stored_importance
    from reelscope.story.summary import parse_length

    v = load_video(st, video_id)
    try:
        stored_importance(st.archive, v)
    except ReelscopeError as e:
        raise HTTPException(409, str(e)) from None
    try:
        parse_length(req.length, v.duration)
    except ValueError as e:
        raise HTTPException(400, str(e)) from None
    if req.render:
        _source_allowed(st, v)
    body = {"video_id": v.id, "length": req.length, "render": req.render, "crossfade": req.crossfade,
            "max_height": req.max_height, "options": {"decay": req.diversity}}
    job = st.jobs.submit("summary", f"{v.filename}: summary of {req.length}", body, video_id=v.id)
    return job_dict(job, st.jobs, show)


def _summary(st: AppState, summary_id: int) -> db.Summary:
    from reelscope.archive.summaries import get_summary

    try:
        return get_summary(st.archive, summary_id)
    except ReelscopeError as e:
        raise http_error(e) from None


@router.get("/summaries/{summary_id}", response_model=SummaryOut)
def get_summary_route(st: State, summary_id: SummaryId) -> dict:
    return _out(_summary(st, summary_id))


@router.get("/summaries/{summary_id}/file", response_class=FileResponse,
            summary="The rendered summary (MP4, H.264/AAC) with HTTP Range support",
            responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "the requested byte range",
                                                                 "content": {"video/mp4": {}}},
                       **m.RANGE_ERRORS})
def summary_file(st: State, summary_id: SummaryId) -> FileResponse:
    row = _summary(st, summary_id)
    if not row.media:
        raise HTTPException(404, f"summary {summary_id} has not been rendered")
    p = st.archive.media_path(row.media)
    if not p.is_file():
        raise HTTPException(404, f"the file of summary {summary_id} is missing from the media store")
    return FileResponse(p, media_type="video/mp4", filename=f"summary-{summary_id}.mp4",
                        content_disposition_type="inline")


@router.delete("/summaries/{summary_id}", status_code=204, dependencies=[Depends(require_write)])
def delete_summary_route(st: State, summary_id: SummaryId) -> Response:
    from reelscope.archive.summaries import delete_summary

    _summary(st, summary_id)
    delete_summary(st.archive, summary_id)
    return Response(status_code=204)
