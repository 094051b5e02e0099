"""Access rules: bearer tokens for writes (and optionally reads), allowed roots for server-side
paths, a request body limit that answers 413 before an oversize upload is read, and the browser
guard: a Host allow-list (against DNS rebinding), an Origin check on every state-changing
request (against cross-site requests, with or without a token), security headers, and server
paths hidden from anonymous readers (docs/security.md)."""
from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Iterable
from urllib.parse import urlsplit

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
    allowed_hosts: tuple[str, ...] = ()  # Host header names served (see HostRule); () = DEFAULT_HOSTS


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


def require_read(request: Request) -> None:
    """Reads are open unless the server was started with read_token_required. (No HTTPBearer
    dependency: reads declare the token in the OpenAPI document only when they need it, see
    reelscope/api/openapi.py.)"""
    s = _settings(request)
    if s.token and s.read_token_required:
        _check(presented_token(request), s.token)


def presented_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(READ_COOKIE)


def is_privileged(request: Request) -> bool:
    """Whether the request presents the server's token (a server without a token has no token
    holders: everyone is an anonymous reader there)."""
    expected = _settings(request).token
    token = presented_token(request)
    return bool(expected and token and secrets.compare_digest(token.encode(), expected.encode()))


class PathHider:
    """Server paths out of what anonymous readers see: any path under a known server folder (the
    archive, the allowed roots, temporary files, home, working directory, Python's prefix)
    becomes its last component."""

    def __init__(self, folders: Iterable[str | Path]):
        prefixes = set()
        for f in folders:
            for p in {os.path.abspath(os.fspath(f)), os.path.realpath(os.fspath(f))}:
                p = p.rstrip("/\\")
                if p and p.count(os.sep) >= 1 and Path(p).parent != Path(p):
                    prefixes.add(p)
        alts = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
        self._re = (re.compile(rf"(?<![\w.\-/\\])(?:{alts})(?=$|[/\\\s'\"`,;:()<>])(?:[/\\][^\s'\"`,;:()<>]*)?")
                    if alts else None)

    @classmethod
    def for_server(cls, archive: Path, roots: Iterable[Path]) -> "PathHider":
        return cls([archive, *roots, tempfile.gettempdir(), Path.home(), Path.cwd(), sys.prefix, sys.base_prefix])

    def text(self, s: str) -> str:
        if self._re is None or ("/" not in s and "\\" not in s):
            return s
        return self._re.sub(lambda m: re.split(r"[/\\]", m.group(0).rstrip("/\\"))[-1] or "…", s)

    def __call__(self, obj: Any) -> Any:
        """``obj`` (JSON-like: dicts, lists, strings) with every server path cut to its name."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {k: self(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self(v) for v in obj]
        return obj


class Viewer:
    """Who is reading: token holders see server paths, anonymous readers get them hidden."""

    def __init__(self, privileged: bool, hider: PathHider):
        self.privileged, self._hider = privileged, hider

    def __call__(self, obj: Any) -> Any:
        return obj if self.privileged else self._hider(obj)

    def path(self, path: str | None) -> str | None:
        """A server path itself: for token holders only."""
        return path if self.privileged else None


def viewer(request: Request) -> Viewer:
    return Viewer(is_privileged(request), request.app.state.reelscope.hide_paths)


Shown = Annotated[Viewer, Depends(viewer)]


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


# ---- the browser guard ------------------------------------------------------------------------
DEFAULT_HOSTS = ("localhost", ".localhost", "127.0.0.1", "::1")  # *.localhost is loopback (RFC 6761)
WILDCARD_BINDS = {"0.0.0.0", "::", "[::]"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
APP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
           "media-src 'self' blob:; font-src 'self'; connect-src 'self'; worker-src 'self'; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI / ReDoc pages: FastAPI writes their start-up as inline scripts; without fastapi-offline
# their assets come from jsDelivr (and ReDoc's fonts from Google)
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
            "font-src 'self' data: https://fonts.gstatic.com; worker-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"))


def _host_port(netloc: str) -> tuple[str, int | None] | None:
    """(lower-case host, port or None) of ``host[:port]`` ('[v6]:port' too); None if malformed."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        end = netloc.find("]")
        rest = netloc[end + 1:] if end > 0 else None
        if rest is None or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            return None
        return netloc[1:end], int(rest[1:]) if rest else None
    host, colon, port = netloc.partition(":")
    if (colon and not re.fullmatch(r"\d{1,5}", port)) or not re.fullmatch(r"[a-z0-9._-]+", host or "-"):
        return None
    return host.rstrip("."), int(port) if port else None


def _host_only(netloc: str) -> str | None:
    hp = _host_port(netloc)
    return hp[0] if hp else None


def _ip(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class HostRule:
    """Host header names the server answers: exact names and IP addresses, ``.example.org`` for a
    domain and its subdomains, ``*`` for any; a wildcard bind address (0.0.0.0, ::) allows every
    IP address (DNS rebinding needs a name) and this machine's own names."""

    def __init__(self, entries: Iterable[str]):
        entries = [e.strip().lower() for e in entries if e and e.strip()]
        self.entries = tuple(entries)
        self.any = "*" in entries
        self.any_ip = any(e in WILDCARD_BINDS for e in entries)
        self.suffixes = tuple(e for e in entries if e.startswith("."))
        self.names: set[str] = set()
        self.ips = set()
        for e in entries:
            if e == "*" or e in WILDCARD_BINDS or e.startswith("."):
                continue
            host = _host_only(e) if not _ip(e) else e
            ip = _ip(host or "")
            if ip is not None:
                self.ips.add(ip)
            elif host:
                self.names.add(host)
        if self.any_ip:
            self.names |= {n.lower().rstrip(".") for n in (socket.gethostname(), socket.getfqdn()) if n}

    def allows(self, host: str) -> bool:
        if self.any:
            return True
        ip = _ip(host)
        if ip is not None:
            return self.any_ip or ip in self.ips
        return host in self.names or any(host.endswith(s) or host == s[1:] for s in self.suffixes)


def _same_origin(source: str, host_header: str) -> bool:
    """Whether an Origin/Referer URL names the server the request was sent to: same host and
    port (80/443 count as no port; the scheme is not compared, as a TLS proxy in front changes it)."""
    try:
        u = urlsplit(source)
        port = u.port
    except ValueError:
        return False
    want = _host_port(host_header)
    if not u.hostname or want is None:
        return False
    norm = {80: None, 443: None}
    return u.hostname.lower().rstrip(".") == want[0] and norm.get(port, port) == norm.get(want[1], want[1])


class BrowserGuard:
    """ASGI middleware: 400 for a Host header not allowed (DNS rebinding), 403 for state-changing
    requests from another site (Origin, else Referer; Sec-Fetch-Site), and security headers
    (CSP, X-Frame-Options DENY, nosniff, Referrer-Policy, COOP/CORP) on every response."""

    def __init__(self, app: ASGIApp, hosts: HostRule):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host_header = headers.get("host", "")
        host = _host_only(host_header)
        if host is None or not self.hosts.allows(host):
            shown = host_header[:100] or "(none)"
            return await self._refuse(send, 400, f"Host {shown!r} is not served here (a DNS rebinding attempt, or "
                                                 "a name the server was not told about: start it with "
                                                 f"--allowed-host {host or 'NAME'})")
        if scope["method"] in STATE_CHANGING:
            problem = self._cross_site(headers, host_header)
            if problem:
                return await self._refuse(send, 403, f"cross-site request refused: {problem}")
        csp = (DOCS_CSP if scope["path"].startswith(DOCS_PATHS) else APP_CSP).encode()

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                have = {k.lower() for k, _ in msg.get("headers", [])}
                extra = [(k, v) for k, v in (*SECURITY_HEADERS, (b"content-security-policy", csp)) if k not in have]
                msg = {**msg, "headers": [*msg.get("headers", []), *extra]}
            await send(msg)

        await self.app(scope, receive, with_headers)

    @staticmethod
    def _cross_site(headers: dict[str, str], host_header: str) -> str | None:
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site in ("cross-site", "same-site"):
            return f"Sec-Fetch-Site is {fetch_site}"
        origin = headers.get("origin")
        if origin is not None:
            if origin == "null" or not _same_origin(origin, host_header):
                return f"Origin {origin[:100]!r} is not this server"
            return None
        referer = headers.get("referer")
        if referer and not _same_origin(referer, host_header):
            return "Referer is another site"
        return None  # no browser sends a cross-site write without Origin: a script, curl, ...

    async def _refuse(self, send: Send, status: int, detail: str) -> None:
        from starlette.responses import JSONResponse

        resp = JSONResponse({"detail": detail}, status_code=status)
        for k, v in (*SECURITY_HEADERS, (b"content-security-policy", APP_CSP.encode())):
            resp.headers[k.decode()] = v.decode()
        await resp({"type": "http"}, _no_receive, send)
