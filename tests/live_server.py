"""Real servers for the HTTP tests: uvicorn in a thread over an app made in the test, or the
`reelscope serve` command in its own process (for memory figures and command-line options)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def thread_server(app, host: str = "127.0.0.1") -> Iterator[str]:
    """uvicorn serving ``app`` in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, name="test-uvicorn", daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not srv.started:
        assert thread.is_alive() and time.monotonic() - t0 < 30, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        srv.should_exit = True
        thread.join(15)


@contextmanager
def process_server(archive: Path, *options: str, env: dict | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`reelscope serve --archive ARCHIVE OPTIONS` on 127.0.0.1 in its own process; yields (url, process)."""
    port = free_port()
    full_env = {**os.environ, **(env or {}),
                "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for k in ("REELSCOPE_API_TOKEN", "REELSCOPE_DB_URL", "REELSCOPE_ALLOWED_HOSTS"):
        if not env or k not in env:
            full_env.pop(k, None)
    cmd = [sys.executable, "-c", "from reelscope.cli import app; app()", "serve", "--archive", str(archive),
           "--port", str(port), *options]
    proc = subprocess.Popen(cmd, env=full_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"reelscope serve exited: {proc.stdout.read()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                assert time.monotonic() - t0 < 60, "reelscope serve did not start"
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM, Linux), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def request(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
            timeout: float = 120) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of one HTTP request; error statuses are
    answers, not exceptions."""
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def multipart(fields: dict[str, str] | None = None,
              files: list[tuple[str, str, bytes]] = ()) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type; files are (field, filename, bytes)."""
    boundary = "reelscope-test-boundary-7f3a"
    out = []
    for k, v in (fields or {}).items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for field, name, data in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                   f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"
