"""The reelscope REST API over one archive (FastAPI; OpenAPI docs at /docs).

Thin by design: validation, auth, files and jobs here; every analysis is a call into the
library (reelscope.analysis, reelscope.people.photos, reelscope.archive.gallery).

    app = create_app("my-archive", token="s3cret", allowed_roots=["/srv/videos"])
    uvicorn reelscope.api.app:app_from_env --factory     # settings from the environment

Environment (app_from_env, ``reelscope serve``): REELSCOPE_ARCHIVE, REELSCOPE_DB_URL,
REELSCOPE_API_TOKEN, REELSCOPE_READ_TOKEN_REQUIRED (1/true), REELSCOPE_ALLOWED_ROOTS
(os.pathsep-separated folders), REELSCOPE_MAX_UPLOAD_MB, REELSCOPE_MAX_IMAGE_PIXELS,
REELSCOPE_HEAVY_SLOTS, REELSCOPE_ALLOWED_HOSTS (comma- or space-separated Host names); jobs:
REELSCOPE_JOB_WORKERS, REELSCOPE_JOB_RETENTION_DAYS, REELSCOPE_JOB_KEEP, REELSCOPE_JOB_RESUME (0 to
leave interrupted jobs for a person to resume), REELSCOPE_UPLOAD_GRACE_SECONDS (see
reelscope.api.jobs.JobSettings).
"""
from __future__ import annotations

import os
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Iterable

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from reelscope import __version__
from reelscope.api.jobs import JobRunner, JobSettings
from reelscope.api.openapi import document
from reelscope.api.security import (DEFAULT_HOSTS, BodyLimit, BrowserGuard, HostRule, PathHider, Settings,
                                    is_privileged, parse_roots)
from reelscope.api.state import AppState, http_error
from reelscope.archive import Archive
from reelscope.errors import ImageTooLarge, MediaError, ReelscopeError

MULTIPART_SLACK = 1 << 20  # room for multipart boundaries and form fields around an upload


def create_app(archive_location: str | Path | None, db_url: str | None = None, *, token: str | None = None,
               read_token_required: bool = False, allowed_roots: Iterable[str | Path] = (),
               max_upload_mb: float = 200, job_workers: int | None = None, max_image_pixels: int | None = None,
               heavy_slots: int = 2, allowed_hosts: Iterable[str] | None = None,
               jobs: JobSettings | None = None) -> FastAPI:
    """A FastAPI app over the archive at ``archive_location`` (a folder; ``db_url`` for PostgreSQL).

    ``token``: writes need ``Authorization: Bearer <token>`` (all requests if
    ``read_token_required``); no token means writes are open (bind to localhost then).
    ``allowed_roots``: server-side folders whose videos may be analysed by path and streamed.
    ``max_image_pixels``: images (and video frames) over this many pixels are refused from their
    header with 413 (default $REELSCOPE_MAX_IMAGE_PIXELS or 50 million); ``heavy_slots``: image
    analyses running at once inside requests, further ones get 429 with Retry-After.
    ``allowed_hosts``: Host header names served besides localhost, *.localhost, 127.0.0.1 and ::1
    (``reelscope serve`` adds the address it binds); others get 400 (DNS rebinding). A
    state-changing request from another site (Origin/Referer) gets 403, token or not.
    ``jobs``: the job runner's settings (workers, retention, resume; default from the environment).
    """
    from reelscope.media.image import max_image_pixels as max_image_pixels_default

    settings = Settings(token=token or None, read_token_required=read_token_required,
                        allowed_roots=tuple(Path(r) for r in allowed_roots),
                        max_upload_bytes=int(max_upload_mb * (1 << 20)),
                        max_image_pixels=int(max_image_pixels or max_image_pixels_default()),
                        heavy_slots=heavy_slots,
                        allowed_hosts=(*DEFAULT_HOSTS, *(h for h in (allowed_hosts or ()) if h not in DEFAULT_HOSTS)))
    archive = Archive(archive_location, db_url)
    job_settings = jobs or JobSettings.from_env(workers=job_workers)
    state = AppState(archive, settings, JobRunner(archive, job_settings))
    state.hide_paths = PathHider.for_server(archive.location, settings.allowed_roots)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # interrupted jobs marked, queued ones picked up, orphaned uploads removed, then the workers
        await run_in_threadpool(state.jobs.start)
        yield
        await run_in_threadpool(state.jobs.shutdown)
        archive.close()

    app = _fastapi(title="reelscope", version=__version__, lifespan=lifespan,
                  description="Video archive service: analyse images and videos, browse shots, keyframes and "
                              "characters, name people, search. Write operations need `Authorization: Bearer "
                              "<token>` when the server has a token.")
    app.state.reelscope = state
    app.openapi = lambda: document(app, settings)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + MULTIPART_SLACK)
    app.add_middleware(BrowserGuard, hosts=HostRule(settings.allowed_hosts))  # outermost: before any body

    def shown(request: Request, detail):  # error messages: server paths for token holders only
        return detail if is_privileged(request) else state.hide_paths(detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        headers = exc.headers
        if exc.status_code == 405:  # Allow: every method of the path, not only those of the route tried first
            methods = allowed_methods(app, request.url.path)
            if methods:
                headers = {**(headers or {}), "Allow": ", ".join(methods)}
        if exc.status_code == 422 and isinstance(exc.detail, str):  # one shape for every 422
            return await request_validation_exception_handler(request, RequestValidationError(
                [{"type": "value_error", "loc": ["request"], "msg": shown(request, exc.detail), "input": None}]))
        return await http_exception_handler(
            request, StarletteHTTPException(exc.status_code, shown(request, exc.detail), headers=headers))

    @app.exception_handler(ReelscopeError)
    async def _user_error(request: Request, exc: ReelscopeError) -> JSONResponse:
        if isinstance(exc, MediaError):  # a file that is not usable media (413: too many pixels)
            return JSONResponse({"detail": f"{Path(exc.path).name}: {exc.problem}"},
                                status_code=413 if isinstance(exc, ImageTooLarge) else 415)
        err = http_error(exc)
        return JSONResponse({"detail": shown(request, err.detail)}, status_code=err.status_code)

    @app.exception_handler(StaleDataError)
    @app.exception_handler(IntegrityError)
    async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
        # two writers changed the same rows at once (e.g. merge/split of one character, one new name)
        return JSONResponse({"detail": "changed by someone else at the same time; reload and retry"},
                            status_code=409)

    from reelscope.api import routes_analyze, routes_browse, routes_jobs, routes_people, routes_search

    for r in (routes_browse.open_router, routes_browse.router, routes_analyze.router, routes_jobs.router,
              routes_people.router, routes_search.router):
        app.include_router(r)
    app.include_router(__import__("reelscope.api.routes_story", fromlist=["router"]).router)
    app.include_router(__import__("reelscope.api.routes_slideshow", fromlist=["router"]).router)
    app.include_router(__import__("reelscope.api.routes_objects", fromlist=["router"]).router)
    app.include_router(__import__("reelscope.api.routes_speech", fromlist=["router"]).router)

    from reelscope.web import mount_web  # the web app, served by this process (after /api, /docs)

    mount_web(app)
    return app


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document gives the request path (for 405's Allow header: Starlette
    names only the methods of the first route whose path matched)."""
    table = getattr(app.state, "method_table", None)
    if table is None:
        table = []
        for template, item in app.openapi().get("paths", {}).items():
            for method, op in item.items():
                ints = {q["name"] for q in op.get("parameters", [])
                        if q.get("in") == "path" and q.get("schema", {}).get("type") == "integer"}

                def param(m: re.Match) -> str:
                    return "[0-9]+" if m.group(1) in ints else "(?:.+)" if m.group(1) == "path" else "[^/]+"

                table.append((re.compile(re.sub(r"\\\{(\w+)\\\}", param, re.escape(template)) + "$"), method.upper()))
        app.state.method_table = table
    return sorted({method for rx, method in table if rx.match(path)})


def _fastapi(**kw) -> FastAPI:
    """FastAPI with /docs served from local files (fastapi-offline): these machines may have no CDN."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:  # docs then load Swagger UI from its CDN
        return FastAPI(**kw)
    return FastAPIOffline(**kw)


def settings_from_env() -> dict:
    """create_app keyword arguments from REELSCOPE_* environment variables."""
    env = os.environ
    out: dict = {"token": env.get("REELSCOPE_API_TOKEN") or None,
                 "read_token_required": env.get("REELSCOPE_READ_TOKEN_REQUIRED", "").lower() in ("1", "true", "yes"),
                 "allowed_roots": parse_roots(env.get("REELSCOPE_ALLOWED_ROOTS"))}
    if env.get("REELSCOPE_MAX_UPLOAD_MB"):
        out["max_upload_mb"] = float(env["REELSCOPE_MAX_UPLOAD_MB"])
    if env.get("REELSCOPE_ALLOWED_HOSTS"):
        out["allowed_hosts"] = tuple(h for h in re.split(r"[,\s]+", env["REELSCOPE_ALLOWED_HOSTS"]) if h)
    if env.get("REELSCOPE_HEAVY_SLOTS"):
        out["heavy_slots"] = int(env["REELSCOPE_HEAVY_SLOTS"])
    return out


def app_from_env() -> FastAPI:
    """The app configured only by the environment (for ``uvicorn --factory``)."""
    return create_app(os.environ.get("REELSCOPE_ARCHIVE"), os.environ.get("REELSCOPE_DB_URL"), **settings_from_env())
