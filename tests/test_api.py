"""The REST API through HTTP (FastAPI TestClient on a temporary archive): images answered at once,
videos as jobs (progress, cancel), browsing, media and source files (Range), naming, search, and the
access rules (tokens, allowed roots, upload size and type). The OpenAPI schema is checked
against the behaviour by tests/test_openapi_conformance.py."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import encode, scene, shot_frame
from fastapi.testclient import TestClient
from sqlalchemy import update

import reelscope
from reelscope.api import create_app
from reelscope.archive import schema as db

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MEDS = "faces/meds2_nist_sd32"




# db_url (SQLite, and PostgreSQL when CI starts a server) comes from conftest.py


@pytest.fixture
def make_client(tmp_path, synth_dir, db_url):
    clients = []

    def make(**kw) -> TestClient:
        kw = {"token": TOKEN, "allowed_roots": [synth_dir], "max_upload_mb": 5, **kw}
        c = TestClient(base_url="http://localhost", app=create_app(tmp_path / "archive", db_url, **kw))
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def wait_job(c: TestClient, job_id: str, until=("done", "failed", "cancelled"), timeout=120.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["status"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s: {job}")


def upload_job(c: TestClient, path: Path, **form) -> dict:
    with open(path, "rb") as f:
        r = c.post("/api/jobs", files={"file": (path.name, f, "video/mp4")}, data=form, headers=AUTH)
    assert r.status_code == 202, r.text
    return r.json()


def path_job(c: TestClient, path: Path | str, **body) -> dict:
    r = c.post("/api/jobs", json={"path": str(path), **body}, headers=AUTH)
    assert r.status_code == 202, r.text
    return r.json()


# ---- service -----------------------------------------------------------------------------------
def test_health_stages_and_docs(client):
    assert client.get("/api/health").json()["status"] == "ok"
    assert {"shots", "keyframes", "faces"} <= {s["name"] for s in client.get("/api/stages").json()}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn." not in docs.text  # Swagger UI served locally (offline)
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/videos/{video_id}", "/api/jobs", "/api/analyze/image", "/api/search"} <= set(paths)


# ---- videos as jobs, then browsing -------------------------------------------------------------
def test_upload_video_job_then_browse(client, short_video):
    job = upload_job(client, short_video, stages="shots,keyframes")
    assert job["status"] in ("queued", "running", "done") and job["source"] == short_video.name
    job = wait_job(client, job["id"])
    assert job["status"] == "done", job
    assert job["outcome"] == "analyzed" and job["progress"]["done"] == job["progress"]["total"] > 0
    vid = job["video_id"]
    # the upload became an archive entry: it is kept under ARCHIVE/uploads and plays on the video page
    (kept,) = list((client.app.state.reelscope.archive.location / "uploads").iterdir())
    assert client.get(f"/api/videos/{job['video_id']}/file", headers={"Range": "bytes=0-9"}).status_code == 206

    page = client.get("/api/videos", params={"q": "SHORT"}).json()
    assert page["total"] == 1 and page["items"][0]["id"] == vid and page["items"][0]["shots"] == 2
    assert client.get("/api/videos", params={"q": "nothing-like-it"}).json()["total"] == 0
    assert client.get("/api/videos", params={"q": "%"}).json()["total"] == 0  # wildcards are literal

    doc = client.get(f"/api/videos/{vid}").json()  # the export schema
    assert doc["frame_count"] == 60 and doc["fps"] == "25/1" and len(doc["shots"]) == 2
    assert doc["shots"][1]["start_frame"] == 30 and doc["transitions"][0]["type"] == "cut"

    shots = client.get(f"/api/videos/{vid}/shots", params={"limit": 1, "offset": 1}).json()
    assert shots["total"] == 2 and [s["index"] for s in shots["items"]] == [1]
    assert shots["items"][0]["url"] == f"/videos/{vid}?t=1.200"
    assert client.get(f"/api/videos/{vid}/shots", params={"min_duration": 5}).json()["total"] == 0
    assert client.get(f"/api/videos/{vid}/shots", params={"size": "CU"}).json()["total"] == 0  # no sizes yet
    with client.app.state.reelscope.archive.session() as s, s.begin():  # as the shot_size stage would store
        s.execute(update(db.Shot).where(db.Shot.video_id == vid, db.Shot.idx == 1).values(size="CU"))
    assert [x["index"] for x in client.get(f"/api/videos/{vid}/shots", params={"size": "CU"}).json()["items"]] == [1]
    hits = client.get("/api/search", params={"size": "CU"}).json()["items"]
    assert [(h["shot_index"], h["frame"], h["size"], h["matched"]) for h in hits] == [(1, 30, "CU", ["size"])]
    assert client.get("/api/search", params={"size": "LS"}).json()["total"] == 0
    assert client.get(f"/api/videos/{vid}/shots", params={"size": "HUGE"}).status_code == 422

    kf = doc["shots"][0]["keyframes"][0]
    r = client.get(f"/api/media/{kf['image']}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"

    hits = client.get("/api/search", params={"q": "short", "start": 1.5}).json()["items"]
    assert [(h["kind"], h["shot_index"]) for h in hits] == [("shot", 1)]
    assert hits[0]["time"] == 1.5 and hits[0]["frame"] == 37 and "?t=1.500" in hits[0]["url"]
    assert client.get(f"/api/videos/{vid}/characters").json() == []
    assert client.get("/api/videos/999").status_code == 404

    assert client.delete(f"/api/videos/{vid}").status_code == 401
    assert client.delete(f"/api/videos/{vid}", headers=AUTH).status_code == 204
    assert client.get(f"/api/videos/{vid}").status_code == 404
    assert client.get(f"/api/media/{kf['image']}").status_code == 404


def test_path_job_bad_requests(client, short_video, bad_files):
    assert client.post("/api/jobs", json={"path": str(short_video), "stages": ["nope"]},
                       headers=AUTH).status_code == 400
    assert client.post("/api/jobs", json={"path": str(short_video), "params": {"clip": {}}},
                       headers=AUTH).status_code == 400  # parameters for a stage that does not run
    assert client.post("/api/jobs", json={"path": str(short_video), "params": {"shots": {"bogus": 1}}},
                       headers=AUTH).status_code == 400
    assert client.post("/api/jobs", json={"stages": []}, headers=AUTH).status_code == 422
    assert client.post("/api/jobs", content=b"x", headers={**AUTH, "content-type": "text/plain"}).status_code == 415
    assert client.post("/api/jobs", json={"path": str(bad_files["missing"])}, headers=AUTH).status_code == 404
    r = client.post("/api/jobs", json={"path": str(bad_files["text"])}, headers=AUTH)
    assert r.status_code == 415 and "text.mp4" in r.json()["detail"]
    job = wait_job(client, path_job(client, short_video)["id"])
    assert job["status"] == "done" and job["outcome"] == "analyzed"
    again = wait_job(client, path_job(client, short_video)["id"])  # stored with these settings: skipped
    assert again["outcome"] == "skipped" and again["video_id"] == job["video_id"]
    assert [j["id"] for j in client.get("/api/jobs").json()] == [again["id"], job["id"]]
    assert client.get("/api/jobs/nope").status_code == 404


# ---- access rules ------------------------------------------------------------------------------
def test_server_paths_outside_allowed_roots_are_refused(client, short_video, synth_dir, tmp_path):
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(short_video.read_bytes())
    link = synth_dir / f"link-to-outside-{tmp_path.name}.mp4"
    os.symlink(outside, link)
    for p in (outside, synth_dir / ".." / tmp_path.name / "outside.mp4", link, "/etc/passwd", "relative.mp4"):
        r = client.post("/api/jobs", json={"path": str(p)}, headers=AUTH)
        assert r.status_code == 403, (p, r.text)
    # a video analysed from outside the roots is in the archive, but its file is never served
    (o,) = reelscope.analyze(outside, archive=client.app.state.reelscope.archive, stages=["fast"])
    assert client.get(f"/api/videos/{o.video_id}").status_code == 200
    assert client.get(f"/api/videos/{o.video_id}/file").status_code == 403


def test_media_path_traversal_refused(client, short_video):
    wait_job(client, path_job(client, short_video)["id"])
    (kf,) = client.get("/api/videos/1").json()["shots"][0]["keyframes"]
    assert client.get(f"/api/media/{kf['image']}").status_code == 200
    fp = kf["image"].split("/")[0]
    for bad in ("../reelscope.db", "%2e%2e/reelscope.db", "..%2freelscope.db", f"{fp}/../../reelscope.db",
                f"{fp}/keyframes/../../../reelscope.db", "/etc/passwd", "%2Fetc%2Fpasswd", "", fp,
                "a%00b", "..", "....//reelscope.db"):
        r = client.get(f"/api/media/{bad}")
        assert r.status_code == 404, (bad, r.status_code)
        assert b"SQLite" not in r.content


def test_range_request_on_source_file(client, short_video):
    vid = wait_job(client, path_job(client, short_video)["id"])["video_id"]
    raw = short_video.read_bytes()
    r = client.get(f"/api/videos/{vid}/file", headers={"Range": "bytes=100-1123"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 100-1123/{len(raw)}" and r.content == raw[100:1124]
    r = client.get(f"/api/videos/{vid}/file", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == raw[-10:]
    r = client.get(f"/api/videos/{vid}/file")
    assert r.status_code == 200 and r.content == raw and r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "video/mp4"
    assert client.get(f"/api/videos/{vid}/file", headers={"Range": f"bytes={len(raw) + 5}-"}).status_code == 416


def test_write_needs_token_and_read_token_option(make_client, short_video):
    c = make_client()
    assert c.post("/api/jobs", json={"path": str(short_video)}).status_code == 401
    assert c.post("/api/jobs", json={"path": str(short_video)},
                  headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert c.post("/api/undo").status_code == 401
    assert c.post("/api/characters/1/name", json={"name": "X"}).status_code == 401
    assert c.post("/api/undo", headers=AUTH).status_code == 400  # nothing to undo: past the token check
    assert c.get("/api/videos").status_code == 200  # reads are open by default
    locked = make_client(read_token_required=True)
    assert locked.get("/api/videos").status_code == 401
    assert locked.get("/api/videos", headers=AUTH).status_code == 200
    locked.cookies.set("reelscope_token", TOKEN)  # how the web app's <img>/<video> elements authenticate
    assert locked.get("/api/videos").status_code == 200
    assert locked.get("/api/health").status_code == 200
    open_ = make_client(token=None)  # no token configured: writes are open (a localhost setup)
    assert open_.post("/api/undo").status_code == 400


def test_upload_size_and_type_checked(make_client, bad_files, short_video):
    c = make_client(max_upload_mb=1)
    big = np.random.default_rng(0).integers(0, 255, 3 << 20, dtype=np.uint8).tobytes()
    r = c.post("/api/jobs", files={"file": ("big.mp4", big, "video/mp4")}, headers=AUTH)
    assert r.status_code == 413
    r = c.post("/api/analyze/image", files={"file": ("big.jpg", big[: (1 << 20) + 10], "image/jpeg")})
    assert r.status_code == 413  # just over the limit: the body check lets it through, the file check not
    r = c.post("/api/jobs", files={"file": ("text.mp4", bad_files["text"].read_bytes(), "video/mp4")},
               headers=AUTH)
    assert r.status_code == 415 and "text.mp4" in r.json()["detail"]
    r = c.post("/api/jobs", files={"file": ("half.mp4", bad_files["truncated"].read_bytes(), "video/mp4")},
               headers=AUTH)
    assert r.status_code == 202  # a video by its header; its truncation shows when decoding: the job fails
    job = wait_job(c, r.json()["id"])
    assert job["status"] == "failed" and "half.mp4" in job["error"] and "truncated" in job["error"]
    r = c.post("/api/analyze/image", files={"file": ("photo.jpg", b"not a jpeg at all", "image/jpeg")})
    assert r.status_code == 415
    assert c.post("/api/analyze/image", files={"file": ("v.jpg", short_video.read_bytes(), "image/jpeg")}
                  ).status_code == 415
    assert c.post("/api/jobs", data={"stages": "shots"}, files={"other": ("x", b"x")},
                  headers=AUTH).status_code == 422
    assert not list((c.app.state.reelscope.archive.location / "uploads").iterdir())  # nothing left behind
    assert len(c.get("/api/jobs").json()) == 1


# ---- cancel --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """A 60 s synthetic clip: long enough for the faces stage at 25 fps to take several seconds."""
    worlds = [scene(30 + k) for k in range(6)]
    frames = [shot_frame(worlds[t // 250], t) for t in range(1500)]
    return encode(tmp_path_factory.mktemp("long") / "long.mp4", frames, options={"preset": "ultrafast"})


def test_cancel_running_and_queued_jobs(make_client, long_video, short_video):
    c = make_client(allowed_roots=[long_video.parent, short_video.parent])
    slow = {"stages": ["shots", "faces"], "params": {"faces": {"sample_fps": 25.0}}}
    running = path_job(c, long_video, **slow)
    queued = path_job(c, short_video)  # one worker: waits behind the long job
    r = c.post(f"/api/jobs/{queued['id']}/cancel", headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    job = wait_job(c, running["id"], until=("running",))
    while job["progress"]["done"] == 0 and job["status"] == "running":
        time.sleep(0.02)
        job = c.get(f"/api/jobs/{running['id']}").json()
    assert job["status"] == "running", job  # still going: the cancel below interrupts it
    assert c.post(f"/api/jobs/{running['id']}/cancel").status_code == 401
    c.post(f"/api/jobs/{running['id']}/cancel", headers=AUTH)
    job = wait_job(c, running["id"], timeout=30)
    assert job["status"] == "cancelled" and job["video_id"] is None
    assert job["progress"]["done"] < job["progress"]["total"] or job["progress"]["stage"] != "faces"
    assert c.get("/api/videos").json()["total"] == 0  # nothing half-written
    assert wait_job(c, queued["id"])["status"] == "cancelled"
    done = wait_job(c, path_job(c, short_video)["id"])  # the worker goes on
    assert done["status"] == "done"


# ---- real media: faces in images, naming, search --------------------------------------------------
@pytest.mark.slow
def test_image_faces_and_identity_photos(client, data):
    ref, same = data(f"{MEDS}/S001-01-t10_01.jpg"), data(f"{MEDS}/S001-02-t10_01.jpg")
    r = client.post("/api/analyze/image", files={"file": (ref.name, ref.read_bytes(), "image/jpeg")})
    assert r.status_code == 200, r.text
    res = r.json()
    (face,) = res["faces"]
    x, y, w, h = face["box"]
    assert 0 <= x < x + w <= res["width"] and 0 <= y < y + h <= res["height"] and w > 100 and h > 100
    assert face["name"] is None and face["expression"] in face["expression_scores"]
    assert res["frameIdx"] == 0 and res["objects"] == [{"ObjectID": "face", "Bb": face["box"], "score": face["score"]}]

    r = client.post("/api/identities/photo", data={"name": "Subject One"},
                    files={"file": (ref.name, ref.read_bytes(), "image/jpeg")}, headers=AUTH)
    assert r.status_code == 200 and r.json()["name"] == "Subject One" and r.json()["references"] == 1
    r = client.post("/api/analyze/images", files=[("files", (same.name, same.read_bytes(), "image/jpeg")),
                                                  ("files", ("notes.jpg", b"plain text", "image/jpeg")),
                                                  ("files", (ref.name, ref.read_bytes(), "image/jpeg"))])
    assert r.status_code == 200
    a, bad, b = r.json()
    assert [a["frameIdx"], bad["frameIdx"], b["frameIdx"]] == [0, 1, 2]
    assert a["faces"][0]["name"] == "Subject One" and a["faces"][0]["distance"] < 0.35
    assert bad["error"] and bad["faces"] == [] and b["faces"][0]["name"] == "Subject One"
    assert client.post("/api/analyze/image", params={"detector": "nope"},
                       files={"file": (ref.name, ref.read_bytes(), "image/jpeg")}).status_code == 400


@pytest.mark.slow
def test_name_character_through_api_shows_in_export_and_search(make_client, data):
    clip = data("faces/intel_sample_videos/head-pose-face-detection-female.gif")
    c = make_client(allowed_roots=[clip.parent])
    job = wait_job(c, path_job(c, clip, stages=["shots", "keyframes", "faces"])["id"])
    assert job["status"] == "done", job
    vid = job["video_id"]
    chars = c.get(f"/api/videos/{vid}/characters").json()
    assert chars and chars[0]["tracks"] and chars[0]["thumbnail"]
    top = max(chars, key=lambda ch: ch["screen_time"])
    assert c.get(f"/api/media/{top['thumbnail']}").status_code == 200

    assert c.post(f"/api/characters/{top['id']}/name", json={"name": "Anna"}).status_code == 401
    r = c.post(f"/api/characters/{top['id']}/name", json={"name": "Anna"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["name"] == "Anna" and r.json()["naming"] == "named"
    doc = c.get(f"/api/videos/{vid}").json()
    assert [ch["name"] for ch in doc["characters"] if ch["id"] == top["id"]] == ["Anna"]
    assert [i["name"] for i in c.get("/api/identities").json()] == ["Anna"]
    r = c.post(f"/api/characters/{top['id']}/name", json={"name": "Anna B", "expected_version": 1}, headers=AUTH)
    assert r.status_code == 409  # someone (we) changed it since version 1

    hits = c.get("/api/search", params={"q": "anna"}).json()["items"]
    person = [h for h in hits if h["kind"] == "character"]
    assert person and person[0]["character_id"] == top["id"] and person[0]["url"].startswith(f"/videos/{vid}?t=")
    shots = [h for h in hits if h["kind"] == "shot"]
    assert shots and shots[0]["name"] == "Anna" and shots[0]["matched"] == ["name"]
    first = min(h["time"] for h in shots)
    assert abs(first - top["first_time"]) < 0.5
    expr = max(top["expressions"], key=top["expressions"].get)
    hits = c.get("/api/search", params={"character": "Anna", "expression": expr}).json()["items"]
    assert hits and all(h["expression"] == expr for h in hits)
    assert c.get("/api/search", params={"character": "Nobody"}).json()["total"] == 0
    assert c.get("/api/search", params={"q": "anna", "start": 1e6}).json()["total"] == 0

    assert c.post("/api/undo", headers=AUTH).json()["action"] == "name"
    doc = c.get(f"/api/videos/{vid}").json()
    assert all(ch["name"] is None for ch in doc["characters"])
    assert c.post("/api/characters/merge", json={"ids": [top["id"]]}, headers=AUTH).status_code == 422
    assert c.post("/api/characters/merge", json={"ids": [top["id"], 99999]}, headers=AUTH).status_code == 400
    assert c.post("/api/characters/99999/split", json={"tracks": [1]}, headers=AUTH).status_code == 404
    assert c.post("/api/characters/99999/name", json={"name": "X"}, headers=AUTH).status_code == 404
    assert c.post(f"/api/characters/{top['id']}/name", json={"name": "  "}, headers=AUTH).status_code == 400


# ---- `reelscope serve` ---------------------------------------------------------------------------
def test_serve_command_builds_the_app(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from reelscope.cli.serve import app as serve_app

    ran = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: ran.update(app=app, host=host, port=port))
    monkeypatch.setenv("REELSCOPE_API_TOKEN", "from-env")
    monkeypatch.setenv("REELSCOPE_MAX_UPLOAD_MB", "7")
    res = CliRunner().invoke(serve_app, ["--archive", str(tmp_path / "a"), "--port", "8123", "--allow", str(tmp_path)])
    assert res.exit_code == 0, res.output
    st = ran["app"].state.reelscope
    assert (ran["host"], ran["port"]) == ("127.0.0.1", 8123)
    assert st.settings.token == "from-env" and st.settings.max_upload_bytes == 7 << 20
    assert st.settings.allowed_roots == (tmp_path,) and st.archive.location == tmp_path / "a"
    res = CliRunner().invoke(serve_app, ["--archive", str(tmp_path / "a"), "--allow", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a folder" in res.output
    monkeypatch.setenv("REELSCOPE_MAX_IMAGE_PIXELS", "50e6")  # (serve sets it for the library; restored after)
    res = CliRunner().invoke(serve_app, ["--archive", str(tmp_path / "a"), "--max-image-megapixels", "12.5",
                                         "--heavy-slots", "3"])
    assert res.exit_code == 0, res.output
    st = ran["app"].state.reelscope
    assert st.settings.max_image_pixels == 12_500_000 and st.busy.slots == 3
    assert os.environ["REELSCOPE_MAX_IMAGE_PIXELS"] == "12500000"
