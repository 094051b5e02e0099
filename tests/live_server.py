"""Real servers for the HTTP tests: uvicorn in a thread over an app made in the test, or the
`reelscope serve` command in its own process (for memory figures and command-line options; and
ServeProcess, stopped by a signal and started again, for the restart tests)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
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
    log = tempfile.TemporaryFile(mode="w+")  # (a pipe nobody reads would fill up and stall the server)
    proc = subprocess.Popen(cmd, env=full_env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise AssertionError(f"reelscope serve exited: {log.read()[-2000:]}")
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
        log.close()


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


class ServeProcess:
    """`reelscope serve` in its own process that a test stops with a signal and starts again over the
    same archive (the restart tests, bench/bench_restart.py)."""

    def __init__(self, archive: Path, allow: Path, token: str, db_url: str | None = None,
                 log: Path | None = None, env: dict | None = None):
        self.archive, self.allow, self.token, self.db_url = archive, allow, token, db_url
        self.log = log or archive.parent / "serve.log"
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> float:
        """Start the server; returns the seconds until /api/health answered."""
        self.port = free_port()
        cmd = [sys.executable, "-m", "reelscope.cli", "serve", "--archive", str(self.archive), "--host", "127.0.0.1",
               "--port", str(self.port), "--allow", str(self.allow), "--token", self.token]
        if self.db_url:
            cmd += ["--db", self.db_url]
        env = {**os.environ, **self.env,
               "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
        for k in ("REELSCOPE_API_TOKEN", "REELSCOPE_DB_URL", "REELSCOPE_ALLOWED_HOSTS"):
            if k not in self.env:
                env.pop(k, None)
        t0 = time.monotonic()
        with open(self.log, "a") as log:
            log.write(f"---- start {' '.join(cmd)}\n")
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reelscope serve exited with {self.proc.returncode}: see {self.log}")
            try:
                if self.call("/api/health", timeout=2)["status"] == "ok":
                    return time.monotonic() - t0
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() - t0 > timeout:
                self.kill()
                raise RuntimeError(f"reelscope serve did not answer within {timeout:.0f} s: see {self.log}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> float:
        """Send ``sig``; returns the seconds until the process had exited."""
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        return time.monotonic() - t0

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def call(self, path: str, body: dict | None = None, method: str | None = None, timeout: float = 30.0):
        req = urllib.request.Request(self.url + path, method=method or ("POST" if body is not None else "GET"),
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")

    def upload(self, path: Path, fields: dict[str, str]) -> dict:
        """POST /api/jobs with a multipart upload of ``path``."""
        body, ctype = multipart(fields, [("file", path.name, path.read_bytes())])
        req = urllib.request.Request(self.url + "/api/jobs", method="POST", data=body,
                                     headers={"Authorization": f"Bearer {self.token}", "Content-Type": ctype})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def __enter__(self) -> "ServeProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
