"""Batches: sources, the local process pool and the Ray engine (a real local Ray instance), resumable
reruns, recorded failures, a worker killed mid-batch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reelscope.archive import Archive
from reelscope.batch import expand_sources, run_batch
from reelscope.batch.run import BatchError, _check_archive_for_cluster
from reelscope.batch.sources import SourceError
from reelscope.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from conftest import encode, scene, shot_frame

    root = tmp_path_factory.mktemp("batch")
    out = []
    for k in range(4):
        frames = [shot_frame(scene(60 + 2 * k + (t >= 30)), t) for t in range(60)]
        out.append(encode(root / f"clip{k}.mp4", frames))
    (root / "notes.txt").write_text("not a video")
    return root, out


def test_sources_folders_globs_manifests(tmp_path, clips):
    root, files = clips
    assert [Path(s.path).name for s in expand_sources([root])] == [f.name for f in files]
    assert len(expand_sources([str(root / "clip[01].mp4")])) == 2
    with pytest.raises(SourceError, match="matches no file"):
        expand_sources([str(root / "nothing*.mp4")])
    csv = tmp_path / "m.csv"
    csv.write_text(f"path,stages,set\n{files[0]},fast,\n{files[1]},,faces.detector=hog\n")
    a, b = expand_sources([csv])
    assert a.stages == ["fast"] and b.params == {"faces": {"detector": "hog"}}
    jl = tmp_path / "m.jsonl"
    jl.write_text(json.dumps({"path": files[2].name, "params": {"shots": {"detector": "fast"}}}) + "\n")
    (c,) = expand_sources([jl.rename(root / "m.jsonl")])  # relative paths are relative to the manifest
    assert Path(c.path) == files[2] and c.params == {"shots": {"detector": "fast"}}
    bad = tmp_path / "bad.csv"
    bad.write_text("file\nx.mp4\n")
    with pytest.raises(SourceError, match="path"):
        expand_sources([bad])


def test_local_batch_resumes_and_records_failures(tmp_path, clips):
    root, files = clips
    arch = tmp_path / "a"
    res = runner.invoke(app, ["batch", str(root), str(root / "notes.txt"), "-a", str(arch), "--stages", "fast",
                              "-w", "2"])
    assert res.exit_code == 1, res.output
    assert "4 analysed, 0 already stored, 1 failed" in res.stderr and "notes.txt" in res.stderr
    with Archive(arch) as a:
        assert sorted(v.filename for v in a.videos()) == [f.name for f in files]
        (f,) = a.failures()
        assert f.path.endswith("notes.txt") and sorted(f.stages) == ["keyframes", "shots"]
    listed = runner.invoke(app, ["batch", "--failed", "-a", str(arch)])
    assert "notes.txt" in listed.stdout
    again = runner.invoke(app, ["batch", str(root), "-a", str(arch), "--stages", "fast"])
    assert again.exit_code == 0 and "0 analysed, 4 already stored" in again.stderr
    retry = runner.invoke(app, ["batch", "--retry-failed", "-a", str(arch)])
    assert retry.exit_code == 1 and "1 failed" in retry.stderr
    with Archive(arch) as a:
        assert a.failures()[0].attempts == 2


@pytest.mark.slow
def test_local_worker_killed_mid_batch_then_rerun(tmp_path, clips):
    """SIGKILL one pool worker while the batch runs: the batch still finishes every video (the lost
    ones are run again in a new pool), and a rerun finds everything stored."""
    root, files = clips
    arch = tmp_path / "a"
    cmd = [sys.executable, "-m", "reelscope.cli", "batch", str(root), "-a", str(arch), "--stages",
           "fast", "-w", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 240
    while killed is None and time.time() < deadline and proc.poll() is None:
        kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        workers = [k for k in kids if "spawn_main" in Path(f"/proc/{k}/cmdline").read_text(errors="ignore")] \
            if kids else []
        if len(workers) >= 2:
            time.sleep(1.0)
            killed = int(workers[0])
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.1)
    _, stderr = proc.communicate(timeout=600)
    assert killed is not None, stderr
    with Archive(arch) as a:
        assert sorted(v.filename for v in a.videos()) == [f.name for f in files]
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and "4 already stored" in rerun.stderr, rerun.stderr


def _ray_address():
    return os.environ.get("REELSCOPE_TEST_RAY_ADDRESS") or None


@pytest.mark.slow
def test_ray_batch_and_a_killed_actor(tmp_path, clips, db_url):
    """The ray engine on a local Ray head (CI starts one on loopback with 2 CPUs; else a local
    instance): every video analysed once, on SQLite and PostgreSQL archives; an actor killed mid-
    batch is restarted by Ray and its task retried without storing anything twice."""
    ray = pytest.importorskip("ray")
    root, files = clips
    arch = Archive(tmp_path / "a", db_url)
    location, url = str(arch.location), db_url
    arch.close()
    ray.init(address=_ray_address(), num_cpus=None if _ray_address() else 2, include_dashboard=False,
             log_to_driver=False, ignore_reinit_error=True)
    try:
        killed = []

        def progress(item, done, total):
            if not killed and item.worker:  # kill the actor that just finished a video
                pid = int(item.worker.rsplit(":", 1)[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        s = run_batch(expand_sources([root]), location, url, stages=["fast"], workers=2, engine="ray",
                      progress=progress)
        assert killed and s.count("failed") == 0, [i.error for i in s.items]
        s2 = run_batch(expand_sources([root]), location, url, stages=["fast"], workers=2, engine="ray")
        assert s2.count("skipped") == len(files)
    finally:
        ray.shutdown()
    with Archive(location, url) as a:
        vids = a.videos(full=True)
        assert sorted(v.filename for v in vids) == [f.name for f in files]
        for v in vids:  # exactly one run per stage
            assert sorted(r.stage for r in v.runs) == ["keyframes", "shots"]


def test_sqlite_archive_refused_for_a_multi_machine_cluster():
    class TwoNodes:  # Ray's node table as a two-machine cluster reports it
        @staticmethod
        def nodes():
            return [{"Alive": True, "NodeManagerAddress": "10.0.0.1"}, {"Alive": True, "NodeManagerAddress": "10.0.0.2"}]

    with pytest.raises(BatchError, match="PostgreSQL"):
        _check_archive_for_cluster(TwoNodes, "/srv/archive", None)
    _check_archive_for_cluster(TwoNodes, "/srv/archive", "postgresql://u@db/x")  # fine
    with pytest.raises(BatchError, match="engine"):
        run_batch([], "/tmp/x", engine="spark")
