"""The job runner over the archive database (SQLite, and PostgreSQL when CI starts one): jobs
outlive the app that queued them, jobs left running by a dead server are interrupted and resumed,
a crash loop ends, concurrent claims never run a job twice, retention, orphaned uploads, the
upload of a deleted or re-uploaded video, and a failure told in one sentence.

The same through a real ``reelscope serve`` process killed with SIGTERM and SIGKILL is in
test_restart.py."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from reelscope.api import create_app
from reelscope.api.jobs import EtaClock, JobSettings
from reelscope.archive import Archive
from reelscope.archive import schema as db
from reelscope.archive.jobs import JobStore, WorkerId, utcnow

TOKEN = "jobs-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def dead_worker() -> WorkerId:
    return WorkerId(WorkerId.mine().host, dead_pid(), "gone")


def app(archive: Path, db_url, synth_dir, **jobs) -> TestClient:
    """A client; the runner (and its start-up recovery) runs only inside ``with``."""
    return TestClient(create_app(archive, db_url, token=TOKEN, allowed_roots=[synth_dir], max_upload_mb=5,
                                 jobs=JobSettings(**{"poll": 0.2, **jobs})), base_url="http://localhost")


def wait(c: TestClient, job_id: str, until=("done", "failed", "cancelled"), timeout=120.0) -> dict:
    t0 = time.monotonic()
    while True:
        job = c.get(f"/api/jobs/{job_id}", headers=AUTH).json()
        if job["status"] in until:
            return job
        assert time.monotonic() - t0 < timeout, job
        time.sleep(0.05)


def upload(c: TestClient, path: Path, **form) -> dict:
    with open(path, "rb") as f:
        r = c.post("/api/jobs", files={"file": (path.name, f, "video/mp4")}, data=form, headers=AUTH)
    assert r.status_code == 202, r.text
    return r.json()


def uploads_of(c: TestClient) -> set[str]:
    root = c.app.state.reelscope.archive.location / "uploads"
    return {p.name for p in root.iterdir()} if root.exists() else set()


# ---- restarts ------------------------------------------------------------------------------------
def test_queued_jobs_outlive_the_app_and_running_ones_are_interrupted(tmp_path, db_url, synth_dir, short_video):
    archive = tmp_path / "archive"
    c1 = app(archive, db_url, synth_dir)  # no lifespan: nothing runs, as if the server died at once
    first = c1.post("/api/jobs", json={"path": str(short_video), "stages": ["shots"]}, headers=AUTH).json()
    second = c1.post("/api/jobs", json={"path": str(short_video), "stages": ["shots", "keyframes"]},
                     headers=AUTH).json()
    assert first["status"] == second["status"] == "queued" and first["kind"] == "analysis"
    store = c1.app.state.reelscope.jobs.store
    claimed = store.claim(dead_worker())  # the oldest: now "running" under a server that is gone
    assert claimed.id == first["id"] and claimed.attempts == 1
    store.progress(claimed.id, WorkerId.parse(claimed.worker), "shots", 10, 40, 0.25, None)
    c1.app.state.reelscope.archive.close()

    with app(archive, db_url, synth_dir, resume=False) as c2:  # a new server over the same archive
        job = c2.get(f"/api/jobs/{first['id']}").json()
        assert job["status"] == "interrupted" and job["restarts"] == 1 and job["can_resume"], job
        assert job["note"].startswith("Interrupted at 25%, stage shots") and job["interrupted_at"]
        assert job["progress"]["percent"] == 25.0 and job["progress"]["eta_seconds"] is None
        ran = wait(c2, second["id"])
        assert ran["status"] == "done" and ran["attempts"] == 1  # the queued one simply ran
        assert c2.get(f"/api/jobs/{first['id']}").json()["status"] == "interrupted"  # resume is off
        assert c2.post(f"/api/jobs/{first['id']}/resume").status_code == 401
        r = c2.post(f"/api/jobs/{first['id']}/resume", headers=AUTH)
        assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "done")
        job = wait(c2, first["id"])
        assert job["status"] == "done" and job["attempts"] == 2 and job["video_id"] == ran["video_id"], job
        assert job["outcome"] == "skipped"  # its shots were stored by the other job meanwhile
        assert job["progress"]["percent"] == 100 and job["note"] == "Resumed by hand."
        r = c2.post(f"/api/jobs/{first['id']}/resume", headers=AUTH)
        assert r.status_code == 409 and "done" in r.json()["detail"]
        assert [j["id"] for j in c2.get("/api/jobs").json()] == [second["id"], first["id"]]


def test_interrupted_jobs_resume_by_themselves_and_a_crash_loop_ends(tmp_path, db_url, synth_dir, short_video):
    archive = tmp_path / "archive"
    c1 = app(archive, db_url, synth_dir, max_restarts=3)
    store = c1.app.state.reelscope.jobs.store
    ids = [c1.post("/api/jobs", json={"path": str(short_video), "stages": ["shots"]}, headers=AUTH).json()["id"]
           for _ in range(2)]
    for _ in ids:
        store.claim(dead_worker())
    with Archive(archive, db_url) as a, a.session() as s, s.begin():  # the second one killed its server twice
        s.execute(update(db.Job).where(db.Job.id == ids[1]).values(restarts=2))
    c1.app.state.reelscope.archive.close()

    with app(archive, db_url, synth_dir, max_restarts=3) as c2:
        job = wait(c2, ids[0])
        assert job["status"] == "done" and job["restarts"] == 1 and job["attempts"] == 2, job
        assert job["note"].startswith("Interrupted at 0%: the server stopped while it ran")
        loop = c2.get(f"/api/jobs/{ids[1]}", headers=AUTH).json()
        assert loop["status"] == "failed" and loop["restarts"] == 3 and loop["attempts"] == 1, loop
        assert loop["error"].startswith("The server stopped 3 times while this job ran")
        assert loop["can_resume"]  # a file on the server: a person may try again
        assert wait(c2, c2.post(f"/api/jobs/{ids[1]}/resume", headers=AUTH).json()["id"])["status"] == "done"


def test_claims_are_exclusive(tmp_path, db_url):
    """Many workers (two stores: two 'processes') claiming at once: every job runs exactly once."""
    a1, a2 = Archive(tmp_path / "archive", db_url), Archive(tmp_path / "archive", db_url)
    try:
        stores = [JobStore(a1), JobStore(a2)]
        made = {stores[0].add("analysis", f"v{k}.mp4", {"k": k}).id for k in range(40)}
        got: list[str] = []
        lock = threading.Lock()

        def worker(store: JobStore) -> None:
            me = WorkerId.mine()
            while (job := store.claim(me)) is not None:
                with lock:
                    got.append(job.id)
                assert store.finish(job.id, me, "done")

        threads = [threading.Thread(target=worker, args=(stores[k % 2],)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(got) == sorted(made)  # each once, none lost
        assert stores[1].counts() == {"done": 40}
    finally:
        a1.close()
        a2.close()


def test_a_lost_job_is_not_overwritten(tmp_path, db_url):
    with Archive(tmp_path / "archive", db_url) as a:
        store = JobStore(a)
        job = store.add("analysis", "x.mp4", {})
        old, new = WorkerId.mine(), WorkerId.mine()
        store.claim(old)
        assert store.recover(new, stale=0.0, max_restarts=5, why="test")[0].status == "interrupted"
        assert store.claim(new) is None  # interrupted: claimed only where resuming is on
        assert store.claim(new, ("queued", "interrupted")).id == job.id
        with pytest.raises(Exception) as e:
            store.progress(job.id, old, "shots", 1, 2, 0.5, None)
        assert type(e.value).__name__ == "JobLost"
        assert not store.finish(job.id, old, "failed", error="stale worker")
        assert store.heartbeat([job.id], old) == {job.id: None} and store.heartbeat([job.id], new) == {job.id: False}
        assert store.get(job.id).worker == str(new) and store.get(job.id).status == "running"


# ---- retention and uploads -----------------------------------------------------------------------------
def test_retention_prunes_old_and_surplus_ended_jobs(tmp_path, db_url, synth_dir):
    archive = tmp_path / "archive"
    c1 = app(archive, db_url, synth_dir)
    store = c1.app.state.reelscope.jobs.store
    out = archive / "slideshows"
    out.mkdir(parents=True)
    ids = []
    for k in range(6):
        ids.append(store.add("slideshow", f"show {k}", {}).id)
        (out / f"{ids[-1]}.mp4").write_bytes(b"mp4")
    active = store.add("analysis", "still queued", {}).id
    now = utcnow()
    with Archive(archive, db_url) as a, a.session() as s, s.begin():
        for k, job_id in enumerate(ids):  # ended: 0 and 1 long ago, 2..5 recently (5 newest)
            age = timedelta(days=40) if k < 2 else timedelta(minutes=10 - k)
            s.execute(update(db.Job).where(db.Job.id == job_id).values(
                status="done", created_at=now - age, finished_at=now - age,
                result={"output": f"slideshows/{job_id}.mp4"}))
        s.execute(update(db.Job).where(db.Job.id == active).values(created_at=now - timedelta(days=90)))
    c1.app.state.reelscope.archive.close()

    with app(archive, db_url, synth_dir, retention_days=30, keep=3, resume=False) as c2:
        c2.app.state.reelscope.jobs.shutdown()  # keep the queued one queued
        left = {j["id"] for j in c2.get("/api/jobs").json()}
        assert left == {active, *ids[3:]}, left  # too old: 0, 1; beyond the newest three ended: 2
        assert sorted(p.stem for p in out.iterdir()) == sorted(ids[3:])  # their outputs went with them
    with pytest.raises(Exception):
        JobSettings.from_env(keep=-1)


def test_orphaned_uploads_removed_at_start_and_with_their_video(tmp_path, db_url, synth_dir, short_video,
                                                                  edit_video):
    archive = tmp_path / "archive"
    with app(archive, db_url, synth_dir) as c1:
        done = wait(c1, upload(c1, short_video, stages="shots")["id"])
        assert done["status"] == "done" and done["outcome"] == "analyzed"
        kept = uploads_of(c1)
        assert len(kept) == 1  # the video plays from its upload
        again = wait(c1, upload(c1, short_video, stages="shots")["id"])  # already there: skipped
        assert again["outcome"] == "skipped" and uploads_of(c1) == kept
        forced = wait(c1, upload(c1, short_video, stages="shots", force="true")["id"])
        assert forced["outcome"] == "analyzed" and forced["video_id"] == done["video_id"]
        now = uploads_of(c1)
        assert len(now) == 1 and now != kept  # the video lives in the new upload; the old one went
        store = c1.app.state.reelscope.jobs.store
        queued_upload = archive / "uploads" / "upload-queued"
        queued_upload.mkdir()
        (queued_upload / "clip.mp4").write_bytes(edit_video.read_bytes())
    waiting = store.add("analysis", "clip.mp4", {"path": str(queued_upload / "clip.mp4"), "stages": ["shots"]},
                        upload=str(queued_upload.resolve()))
    orphan = archive / "uploads" / "upload-orphan"  # a server killed during an upload leaves this
    orphan.mkdir()
    (orphan / "half.mp4").write_bytes(b"\0" * 1000)
    young = archive / "uploads" / "upload-young"  # may be a request still uploading
    young.mkdir()
    (young / "part.mp4").write_bytes(b"\0" * 10)
    stray = archive / "uploads" / "stray.bin"
    stray.write_bytes(b"x")
    old = time.time() - 3600
    for p in (orphan, orphan / "half.mp4", queued_upload, queued_upload / "clip.mp4", stray):
        os.utime(p, (old, old))

    with app(archive, db_url, synth_dir, resume=False) as c2:
        assert not orphan.exists() and not stray.exists()
        assert young.exists() and queued_upload.exists() and now <= uploads_of(c2)
        assert wait(c2, waiting.id)["status"] == "done" and queued_upload.exists()  # now a video's file
        assert c2.delete(f"/api/videos/{done['video_id']}", headers=AUTH).status_code == 204
        assert not (now & uploads_of(c2))  # deleting an uploaded video deletes its upload
        assert queued_upload.exists()


def test_failed_job_is_one_sentence_and_keeps_no_upload(tmp_path, db_url, synth_dir, bad_files):
    with app(tmp_path / "archive", db_url, synth_dir) as c:
        job = wait(c, upload(c, bad_files["truncated"], stages="shots")["id"])
        assert job["status"] == "failed" and not job["can_resume"] and not job["can_cancel"]
        err = job["error"]
        assert err.startswith("Analysis") and "truncated" in err and err.endswith(".") and "\n" not in err
        assert str(tmp_path) not in err and "uploads" not in err  # the file's name, not the server's folder
        assert job["progress"]["percent"] < 100
        assert not uploads_of(c)  # a failed upload is not kept
        anonymous = c.get(f"/api/jobs/{job['id']}").json()  # reads are open; tracebacks are not
        assert anonymous["error"] == err and anonymous["detail"] is None
        r = c.post(f"/api/jobs/{job['id']}/resume", headers=AUTH)
        assert r.status_code == 409 and "upload the video again" in r.json()["detail"]
        assert c.get("/api/jobs/nope").status_code == 404 and c.get("/api/jobs/" + "x" * 40).status_code == 404
        assert c.get("/api/jobs", params={"kind": "summary"}).json() == []
        assert c.get("/api/health").json()["jobs"] == {"failed": 1}


def test_unexpected_error_names_the_stage_and_keeps_the_traceback(tmp_path, db_url, synth_dir, short_video):
    """A bug (not a bad file) still reads as one sentence; the traceback is in ``detail`` and the log."""
    with app(tmp_path / "archive", db_url, synth_dir) as c:
        runner = c.app.state.reelscope.jobs
        job = runner.store.add("summary", "short.mp4: summary of 3s", {"video_id": 1})  # no such video/request
        runner._wake.set()
        got = wait(c, job.id)
        assert got["status"] == "failed" and got["error"].startswith("Summary of short.mp4: summary of 3s failed")
        assert got["error"].count("\n") == 0 and "Traceback" in got["detail"]
        log = (tmp_path / "archive" / "logs" / "jobs.log").read_text()
        assert job.id in log and "Traceback" in log


def test_eta_from_the_rate_of_the_last_minute():
    clock = EtaClock(window=60.0, min_span=2.0)
    assert clock.eta(0.0) is None
    clock.add(0.0, 0.10)
    clock.add(1.0, 0.12)
    assert clock.eta(1.0) is None  # not 2 s of progress yet
    clock.add(10.0, 0.30)  # 0.2 in 10 s: 35 s for the remaining 0.7
    assert clock.eta(10.0) == 35.0 and clock.fraction() == 0.30
    clock.add(10.1, 0.31)  # within a quarter second: the last sample moves, no new one
    assert len(clock.samples) == 3 and clock.samples[-1] == (10.0, 0.31)
    for t in range(11, 200):  # a slow start is forgotten: only the last minute counts
        clock.add(float(t), 0.31 + (t - 10) * 0.001)
    assert clock.samples[0][0] >= 199 - 60 - 1
    assert clock.eta(199.0) == pytest.approx((1 - clock.fraction()) / 0.001, rel=0.01)
    stalled = EtaClock()
    stalled.add(0.0, 0.5)
    stalled.add(30.0, 0.5)
    assert stalled.eta(30.0) is None  # no progress, no estimate


def test_shutdown_leaves_the_running_job_interrupted_and_start_resumes_it(tmp_path, db_url, synth_dir, edit_video):
    """A graceful stop does not wait for a job that is slow to report: it is marked interrupted (not
    a crash: restarts stays 0), and the next start runs it to the end."""
    with app(tmp_path / "archive", db_url, synth_dir) as c:
        runner = c.app.state.reelscope.jobs
        job = c.post("/api/jobs", json={"path": str(edit_video), "stages": ["shots", "keyframes"]},
                     headers=AUTH).json()
        wait(c, job["id"], until=("running", "done"))
        runner.shutdown(wait=0.0)
        got = c.get(f"/api/jobs/{job['id']}").json()
        if got["status"] != "done":  # (a fast machine may have finished it already)
            assert got["status"] == "interrupted" and got["restarts"] == 0, got
            assert "the server was stopped" in got["note"]
        time.sleep(0.5)  # the abandoned thread's later writes are refused, whatever it does now
        assert c.get(f"/api/jobs/{job['id']}").json()["status"] == got["status"]
        runner.start()
        done = wait(c, job["id"])
        assert done["status"] == "done" and done["restarts"] == 0 and done["outcome"] in ("analyzed", "skipped")
