"""The reelscope web app: static HTML, CSS and ES modules (no build step, no CDN), served by the
API process and talking only to the REST API under /api.

``mount_web(app)`` serves ``static/index.html`` for the app's pages (client-side routing in
``static/js/main.js``) and the files under ``static/`` at ``/static``.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
INDEX = STATIC / "index.html"
# The pages the client-side router knows (static/js/main.js); every one answers index.html.
PAGES = ("/", "/videos/{video_id:int}", "/characters", "/search", "/jobs", "/slideshow")


def _index() -> FileResponse:
    # no-cache: a new release's index.html (and the module URLs it names) is picked up at once
    return FileResponse(INDEX, media_type="text/html", headers={"Cache-Control": "no-cache"})


def mount_web(app: FastAPI) -> None:
    """Serve the web app from ``app``: its pages and ``/static``. Call after the API routes."""
    # ES modules need a JavaScript MIME type; some systems' mime tables map .js to text/plain
    mimetypes.add_type("text/javascript", ".js")
    mimetypes.add_type("image/svg+xml", ".svg")
    for path in PAGES:
        app.add_api_route(path, _index, methods=["GET", "HEAD"], include_in_schema=False,
                          name=f"web:{path}", response_class=FileResponse)
    app.mount("/static", StaticFiles(directory=STATIC), name="web-static")
