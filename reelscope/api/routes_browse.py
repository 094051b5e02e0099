"""Browsing the archive: videos, shots, characters, keyframe/thumbnail media, source files."""
from __future__ import annotations

import mimetypes
import pathlib
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.responses import FileResponse
from sqlalchemy import func, select

from reelscope import __version__
from reelscope.api import schemas as m
from reelscope.api.security import Shown, require_read, require_write, under_roots
from reelscope.api.state import AppState, get_state, http_error
from reelscope.archive import schema as db
from reelscope.archive.export import video_dict
from reelscope.errors import ReelscopeError

VideoId = Annotated[int, Path(ge=1, le=m.MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=10**9)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Text = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]
State = Annotated[AppState, Depends(get_state)]

open_router = APIRouter(prefix="/api", tags=["service"])
router = APIRouter(prefix="/api", tags=["browse"], dependencies=[Depends(require_read)])


@open_router.get("/health", response_model=m.Health)
def health(st: State) -> dict:
    return {"status": "ok", "version": __version__, "database": st.archive.engine.dialect.name,
            "jobs": st.jobs.counts()}


@router.get("/stages", response_model=list[m.StageInfo])
def list_stages() -> list[dict]:
    from reelscope.pipeline.stage import stages  # (the package attribute is shadowed by pipeline/stages/)

    return [{"name": s.name, "requires": list(s.requires), "provides": list(s.provides), "defaults": s.defaults,
             "version": s.version, "description": s.description} for s in stages().values()]


def like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own wildcards escaped (with backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@router.get("/videos", response_model=m.Page[m.VideoSummary])
def list_videos(st: State, show: Shown, offset: Offset = 0, limit: Limit = 50,
                q: Annotated[Text, Query(description="part of the file name (case-insensitive)")] = None) -> dict:
    with st.archive.session() as s:
        cond = db.Video.filename.ilike(like(q), escape="\\") if q else True
        total = s.scalar(select(func.count(db.Video.id)).where(cond)) or 0
        videos = list(s.scalars(select(db.Video).where(cond).order_by(db.Video.id).offset(offset).limit(limit)))
        ids = [v.id for v in videos]
        shots = dict(s.execute(select(db.Shot.video_id, func.count(db.Shot.id))
                               .where(db.Shot.video_id.in_(ids)).group_by(db.Shot.video_id)).all())
        chars = dict(s.execute(select(db.Character.video_id, func.count(db.Character.id))
                               .where(db.Character.video_id.in_(ids)).group_by(db.Character.video_id)).all())
        thumbs = dict(s.execute(select(db.Shot.video_id, func.min(db.Keyframe.image)).join(db.Keyframe)
                                .where(db.Shot.video_id.in_(ids), db.Shot.idx == 0)
                                .group_by(db.Shot.video_id)).all())
    items = [{"id": v.id, "fingerprint": v.fingerprint, "filename": v.filename, "path": show.path(v.path), "width": v.width,
              "height": v.height, "fps": f"{v.fps_num}/{v.fps_den}", "frame_count": v.frame_count,
              "duration": v.duration, "shots": shots.get(v.id, 0), "characters": chars.get(v.id, 0),
              "thumbnail": thumbs.get(v.id), "created_at": v.created_at} for v in videos]
    return {"total": total, "offset": offset, "limit": limit, "items": items}


def load_video(st: AppState, video_id: int) -> db.Video:
    try:
        return st.archive.video(video_id)
    except ReelscopeError as e:
        raise http_error(e) from None


@router.get("/videos/{video_id}", response_model=m.VideoExport,
            summary="One video in the archive export schema (docs/export-schema.md)")
def get_video(st: State, show: Shown, video_id: VideoId) -> dict:
    d = video_dict(load_video(st, video_id), st.archive)
    return show({**d, "path": show.path(d["path"])})


@router.delete("/videos/{video_id}", status_code=204, dependencies=[Depends(require_write)],
               summary="Delete a video and its derived media from the archive (the source file stays, "
                       "unless it was uploaded)")
def delete_video(st: State, video_id: VideoId) -> Response:
    try:
        v = st.archive.video(video_id)
        st.archive.delete(video_id)
    except ReelscopeError as e:
        raise http_error(e) from None
    st.jobs.release_upload(v.path)  # an uploaded video's file goes with it
    return Response(status_code=204)


# what a video's source file is sent as: animated GIF/PNG/WebP are videos too; anything the system's
# MIME table names otherwise (e.g. .ts as a translation file) goes as bytes
SOURCE_TYPES = {"video/*": {}, "image/gif": {}, "image/png": {}, "image/webp": {}, "application/octet-stream": {}}


def source_type(filename: str) -> str:
    t = mimetypes.guess_type(filename)[0] or ""
    return t if t.startswith("video/") or t in SOURCE_TYPES else "application/octet-stream"


def shot_link(video_id: int, t: float) -> str:
    return f"/videos/{video_id}?t={t:.3f}"


@router.get("/videos/{video_id}/shots", response_model=m.Page[m.ShotHit])
def list_shots(st: State, video_id: VideoId, offset: Offset = 0, limit: Limit = 100,
               size: Annotated[m.ShotSize | None, Query(description="shot size")] = None,
               min_duration: Annotated[float | None, Query(ge=0, le=1e9, allow_inf_nan=False)] = None,
               max_duration: Annotated[float | None, Query(ge=0, le=1e9, allow_inf_nan=False)] = None) -> dict:
    shots = []
    for sh in video_dict(load_video(st, video_id))["shots"]:
        dur = sh["end_time"] - sh["start_time"]
        if (size and sh.get("size") != size) or (min_duration is not None and dur < min_duration) \
                or (max_duration is not None and dur > max_duration):
            continue
        shots.append({**sh, "video_id": video_id, "duration": round(dur, 6),
                      "url": shot_link(video_id, sh["start_time"])})
    return {"total": len(shots), "offset": offset, "limit": limit, "items": shots[offset:offset + limit]}


def tracks_of(st: AppState, character_ids: list[int]) -> dict[int, list[dict]]:
    with st.archive.session() as s:
        rows = s.scalars(select(db.FaceTrack).where(db.FaceTrack.character_id.in_(character_ids))
                         .order_by(db.FaceTrack.first_frame))
        out: dict[int, list[dict]] = {}
        for t in rows:
            out.setdefault(t.character_id, []).append(
                {"id": t.id, "shot_index": t.shot_idx, "first_frame": t.first_frame, "last_frame": t.last_frame,
                 "seconds": round(t.seconds, 3)})
    return out


def character_dict(c: db.Character, tracks: list[dict] | None = None) -> dict:
    """A character as in the export schema, plus its video, version (for 409s) and face tracks."""
    return {"id": c.id, "video_id": c.video_id, "index": c.idx, "version": c.version,
            "name": c.identity.name if c.identity else None, "identity_id": c.identity_id, "naming": c.naming,
            "match_distance": None if c.match_distance is None else round(c.match_distance, 4),
            "screen_time": round(c.screen_time, 3), "first_frame": c.first_frame, "last_frame": c.last_frame,
            "first_time": round(c.first_time, 3), "last_time": round(c.last_time, 3), "thumbnail": c.thumbnail,
            "expressions": {k: round(x, 4) for k, x in c.expressions.items()}, "tracks": tracks or []}


@router.get("/videos/{video_id}/characters", response_model=list[m.CharacterDetail])
def list_characters(st: State, video_id: VideoId) -> list[dict]:
    load_video(st, video_id)
    chars = st.gallery().characters(video_id)
    tracks = tracks_of(st, [c.id for c in chars])
    return [character_dict(c, tracks.get(c.id)) for c in chars]


@router.get("/media/{path:path}", response_class=FileResponse,
            responses={200: {"content": {"image/*": {}, "video/*": {}, "application/octet-stream": {}}}},
            summary="A keyframe or thumbnail from the archive's media store (nothing outside it)")
def media(st: State, path: str) -> FileResponse:
    try:
        p = st.archive.media_path(path)
        ok = p.is_file()
    except (ReelscopeError, ValueError, OSError):
        ok = False
    if not ok:
        raise HTTPException(404, f"no media file {path!r}")
    return FileResponse(p, media_type=mimetypes.guess_type(p.name)[0] or "application/octet-stream",
                        headers={"Cache-Control": "private, max-age=300"})  # names can recur after re-analysis


@router.get("/videos/{video_id}/file", response_class=FileResponse,
            summary="The source video, with HTTP Range support (206) so players can seek",
            responses={200: {"content": SOURCE_TYPES}, 206: {"description": "the requested byte range",
                                                            "content": SOURCE_TYPES},
                       **m.RANGE_ERRORS, **m.responses(s403="the source is not under an allowed root")})
def video_file(st: State, video_id: VideoId) -> FileResponse:
    v = load_video(st, video_id)
    uploads = st.archive.location / "uploads"  # videos uploaded through the API live here
    if not under_roots(v.path, (*st.settings.allowed_roots, uploads)):
        raise HTTPException(403, f"the source of video {video_id} is not under an allowed root of this server")
    if not pathlib.Path(v.path).is_file():
        raise HTTPException(404, f"the source file of video {video_id} is no longer available")
    # Starlette's FileResponse answers Range requests (single and multiple ranges, If-Range, 416)
    return FileResponse(v.path, media_type=source_type(v.filename), filename=v.filename,
                        content_disposition_type="inline")
