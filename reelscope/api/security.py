"""Access rules: bearer tokens for writes (and optionally reads), allowed roots for server-side
paths, and a request body limit that answers 413 before an oversize upload is read."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_COOKIE = "reelscope_token"  # lets <img>/<video> elements of the web app read when reads need a token


@dataclass(frozen=True)
class Settings:
    token: str | None = None
    read_token_required: bool = False
    allowed_roots: tuple[Path, ...] = field(default_factory=tuple)
    max_upload_bytes: int = 200 << 20
    max_image_pixels: int = 50_000_000  # images (and video frames) over this are refused from their header: 413
    heavy_slots: int = 2  # image analyses running at once inside requests; more get 429


_bearer = HTTPBearer(auto_error=False, description="the server's API token (REELSCOPE_API_TOKEN)")


def _settings(request: Request) -> Settings:
    return request.app.state.reelscope.settings


def _check(token: str | None, expected: str) -> None:
    if not token:
        raise HTTPException(401, "this operation needs an API token: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not secrets.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(403, "invalid API token")


def require_write(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    """Write operations need the token whenever one is configured."""
    s = _settings(request)
    if s.token:
        _check(creds.credentials if creds else None, s.token)


def require_read(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    """Reads are open unless the server was started with read_token_required."""
    s = _settings(request)
    if s.token and s.read_token_required:
        _check(creds.credentials if creds else request.cookies.get(READ_COOKIE), s.token)


def parse_roots(value: str | None) -> tuple[Path, ...]:
    return tuple(Path(p) for p in (value or "").split(os.pathsep) if p.strip())


def real(path: str | Path) -> Path:
    """The real path (symlinks resolved); ValueError/OSError for paths that cannot exist."""
    return Path(os.path.realpath(os.fspath(path)))


def under_roots(path: str | Path, roots: tuple[Path, ...]) -> bool:
    """True if ``path``, with symlinks resolved, lies inside one of ``roots``."""
    try:
        p = real(path)
        return any(p == r or p.is_relative_to(r) for r in (real(x) for x in roots))
    except (ValueError, OSError):
        return False


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes with 413: by Content-Length up front, and by
    counting for bodies sent without one. (Starlette has no such limit of its own.)"""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return msg

        async def tracking(msg: Message) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted, tracking)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        from starlette.responses import JSONResponse

        mb = self.limit / (1 << 20)
        resp = JSONResponse({"detail": f"request body too large (limit {mb:.0f} MiB)"}, status_code=413)
        await resp({"type": "http"}, _no_receive, send)


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI passes HTTPExceptions from body parsing through as they are."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")


async def _no_receive() -> Message:  # pragma: no cover - a JSONResponse never reads the request
    return {"type": "http.disconnect"}
