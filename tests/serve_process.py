"""A real ``reelscope serve`` process for tests and benchmarks that stop it with a signal (the
restart tests in test_restart.py, bench/bench_restart.py): start it, call its API, signal it."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
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
        boundary = "reelscope-test-boundary"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                     f"Content-Type: video/mp4\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(self.url + "/api/jobs", method="POST", data=body,
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def __enter__(self) -> "ServeProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
