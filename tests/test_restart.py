"""A real ``reelscope serve`` process stopped in the middle of a job, by SIGTERM (a graceful stop)
and by SIGKILL (a crash), then started again over the same archive: the running job is shown
interrupted and runs to the end, the queued ones run, an uploaded video waiting in the queue keeps
its file, and an upload nobody refers to is removed. (bench/bench_restart.py measures the same.)"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import encode, scene, shot_frame
from live_server import ServeProcess

from reelscope.archive import Archive
from reelscope.archive import schema as db

TOKEN = "restart-token"
SLOW = {"stages": ["shots", "faces"], "params": {"faces": {"sample_fps": 25.0}}}


@pytest.fixture(scope="module")
def media(tmp_path_factory, short_video) -> Path:
    """A 12 s clip whose faces stage at 25 fps takes a few seconds, and a short one."""
    d = tmp_path_factory.mktemp("restart-media")
    worlds = [scene(60 + k) for k in range(6)]
    encode(d / "long.mp4", [shot_frame(worlds[t // 50], t) for t in range(300)], options={"preset": "ultrafast"})
    (d / "short.mp4").write_bytes(short_video.read_bytes())
    return d


def wait_for(srv: ServeProcess, job_id: str, ok, timeout: float = 300.0) -> dict:
    t0 = time.monotonic()
    while True:
        job = srv.call(f"/api/jobs/{job_id}")
        if ok(job):
            return job
        assert time.monotonic() - t0 < timeout, job
        time.sleep(0.1)


def stored_status(archive: Path, db_url, job_id: str) -> db.Job:
    with Archive(archive, db_url) as a, a.session() as s:
        return s.get(db.Job, job_id)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_server_stopped_mid_job_resumes_after_restart(tmp_path, media, sig, db_url):
    archive = tmp_path / "archive"
    with ServeProcess(archive, media, TOKEN, db_url=db_url) as srv:
        srv.start()
        running = srv.call("/api/jobs", {"path": str(media / "long.mp4"), **SLOW})
        queued = srv.call("/api/jobs", {"path": str(media / "short.mp4"), "stages": ["shots"]})
        uploaded = srv.upload(media / "short.mp4", {"stages": "shots,keyframes"})  # waits in the queue too
        wait_for(srv, running["id"], lambda j: j["status"] == "running" and j["progress"]["percent"] > 5)
        assert srv.call(f"/api/jobs/{queued['id']}")["status"] == "queued"
        orphan = archive / "uploads" / "upload-orphan"  # what a server killed mid-upload leaves
        orphan.mkdir()
        (orphan / "partial.mp4").write_bytes(b"\0" * 4096)
        old = time.time() - 7200
        os.utime(orphan / "partial.mp4", (old, old))
        os.utime(orphan, (old, old))
        srv.stop(sig)

        row = stored_status(archive, db_url, running["id"])
        if sig == signal.SIGTERM:  # stopped at its next progress report, and says so
            assert row.status == "interrupted" and row.note.startswith("Interrupted at") and row.restarts == 0
        else:  # nobody could write anything: the next server finds it "running"
            assert row.status == "running"
        assert stored_status(archive, db_url, queued["id"]).status == "queued"
        upload_folder = Path(stored_status(archive, db_url, uploaded["id"]).upload)
        assert upload_folder.is_dir()  # a queued upload keeps its file across the restart

        srv.start()
        assert not orphan.exists()  # nothing refers to it: removed at start-up
        job = srv.call(f"/api/jobs/{running['id']}")
        assert job["interrupted_at"] and job["note"].startswith("Interrupted at"), job  # shown as interrupted
        assert job["restarts"] == (1 if sig == signal.SIGKILL else 0)
        seen = set()
        job = wait_for(srv, running["id"], lambda j: seen.add(j["status"]) or j["status"] in ("done", "failed"))
        assert job["status"] == "done" and job["outcome"] == "analyzed" and job["attempts"] == 2, job
        assert seen <= {"interrupted", "running", "done"}
        for other in (queued, uploaded):
            assert wait_for(srv, other["id"], lambda j: j["status"] in ("done", "failed"))["status"] == "done"
        assert upload_folder.is_dir()  # now the file of an archived video
        videos = srv.call("/api/videos")["total"]
        assert videos == 2  # long.mp4, short.mp4 (the upload is the same content as short.mp4)
        srv.stop(signal.SIGTERM)
