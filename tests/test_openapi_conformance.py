"""The OpenAPI document matches the behaviour: a bounded schemathesis run with every check
(`schemathesis run --checks all`, all phases, fixed seed and examples per operation) against
`reelscope serve` over HTTP must pass clean; plus fast checks of what the document declares
(security per settings, error responses, aware datetimes, one 422 shape)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import encode, scene, shot_frame
from fastapi.testclient import TestClient
from live_server import process_server

import reelscope
from reelscope.api import create_app

TOKEN = "conformance-token"
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 50  # generated cases per operation and phase (with a fixed seed): 1-3 minutes
SEED = int(os.environ.get("REELSCOPE_FUZZ_SEED", "20261203"))  # another seed explores further


def _schemathesis() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    if exe.exists():
        return [str(exe)]
    pytest.importorskip("schemathesis")
    return [sys.executable, "-m", "schemathesis.cli"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An archive with one analysed video (a server folder under --allow), served with a token."""
    root = tmp_path_factory.mktemp("conformance-media")
    w0, w1 = scene(40), scene(41)
    video = encode(root / "fuzz.mp4", [shot_frame(w0 if t < 20 else w1, t) for t in range(40)])
    archive = tmp_path_factory.mktemp("conformance-archive")
    (o,) = reelscope.analyze(video, archive=archive, stages=["shots", "keyframes"])
    assert o.status == "analyzed"
    return archive, root


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_schemathesis_all_checks_pass(served, tmp_path):
    archive, root = served
    report = tmp_path / "report.json"
    with process_server(archive, "--token", TOKEN, "--allow", str(root), "--max-upload-mb", "2") as (url, _proc):
        cmd = [*_schemathesis(), "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--checks", "all",
               "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--generation-database", "none",
               "--workers", "1", "--request-timeout", "120", "--no-color", "--continue-on-failure",
               "-H", f"Authorization: Bearer {TOKEN}", "--report", "json", "--report-json-path", str(report)]
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=1700,
                             env={**os.environ, "NO_COLOR": "1"})
    out = run.stdout + run.stderr
    summary = out[out.rfind("SUMMARY"):] if "SUMMARY" in out else out[-3000:]
    print(summary)  # the run's figures (operations, phases, cases) for BENCHMARKS.md / docs/security.md
    assert run.returncode == 0, out[-12000:]
    assert re.search(r"Tested:\s+(\d+)", summary) and int(re.search(r"Tested:\s+(\d+)", summary).group(1)) >= 35
    cases = re.search(r"(\d+) generated", summary)
    assert cases and int(cases.group(1)) > 500, summary


# ---- fast: what the document declares ---------------------------------------------------------------
def _doc(tmp_path, **kw) -> dict:
    return create_app(tmp_path / "archive", **kw).openapi()


def _ops(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_security_declared_as_configured(tmp_path):
    open_reads = _doc(tmp_path, token="t")
    for method, path, op in _ops(open_reads):
        secured = bool(op.get("security"))
        # writes need the token; so do image analyses? no: they change nothing (reads, open by default)
        write = (method != "get" and not path.startswith("/api/analyze/")) or path == "/api/slideshows/music-folders"
        assert secured == write, (method, path)
        if secured:
            assert {"401", "403"} <= set(op["responses"]), (method, path)
    closed = _doc(tmp_path, token="t", read_token_required=True)
    assert all(bool(op.get("security")) == (path != "/api/health") for _, path, op in _ops(closed))
    tokenless = _doc(tmp_path)
    assert not any(op.get("security") for _, _, op in _ops(tokenless))
    assert "securitySchemes" not in tokenless.get("components", {})


def test_error_responses_documented(tmp_path):
    doc = _doc(tmp_path, token="t")
    for method, path, op in _ops(doc):
        codes = set(op["responses"])
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in ("post", "put", "patch", "delete"):
            assert "403" in codes, (method, path)
        if op.get("parameters") or op.get("requestBody"):
            assert op["responses"]["422"]["content"]["application/json"]["schema"] == \
                {"$ref": "#/components/schemas/HTTPValidationError"}, (method, path)
    for path in ("/api/analyze/image", "/api/identities/photo"):
        assert {"413", "415", "429"} <= set(doc["paths"][path]["post"]["responses"]), path
    assert "Retry-After" in doc["paths"]["/api/analyze/image"]["post"]["responses"]["429"]["headers"]
    created = doc["components"]["schemas"]["VideoSummary"]["properties"]["created_at"]
    assert {"type": "string", "format": "date-time"} in created["anyOf"]


def test_datetimes_aware_and_one_422_shape(tmp_path, short_video):
    app = create_app(tmp_path / "archive")
    reelscope.analyze(short_video, archive=app.state.reelscope.archive, stages=["shots"])
    with TestClient(base_url="http://localhost", app=app) as c:
        (v,) = c.get("/api/videos").json()["items"]
        assert re.search(r"(\+00:00|Z)$", v["created_at"]), v["created_at"]
        for r in (c.get("/api/videos", params={"limit": 0}), c.post("/api/characters/merge", json={"ids": [1]}),
                  c.get("/api/search", params={"size": "HUGE"})):
            assert r.status_code == 422
            detail = r.json()["detail"]
            assert isinstance(detail, list) and all({"loc", "msg", "type"} <= set(e) for e in detail), detail
        # a method the path does not have: 405 naming every method the path has
        r = c.put(f"/api/videos/{v['id']}")
        assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"DELETE", "GET"}
        assert c.get("/api/characters/merge").status_code == 405
