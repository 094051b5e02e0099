"""End to end: analyze into a real archive, bad input, idempotency, exports, kill and resume."""
import json
import re
import os
import signal
import subprocess
import sys
import time

import opentimelineio as otio
import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from typer.testing import CliRunner

import reelscope
from reelscope.archive import Archive
from reelscope.archive import schema as db
from reelscope.archive.export import SCHEMA_VERSION, write_json, write_shot_list
from reelscope.cli import app

runner = CliRunner()


def counts(archive: Archive) -> dict:
    with archive.session() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t))
                for t in (db.Video, db.AnalysisRun, db.Shot, db.Transition, db.Keyframe)}


def test_analyze_api_stores_everything(tmp_path, edit_video):
    (o,) = reelscope.analyze(edit_video, archive=tmp_path / "a", stages=["fast"])
    assert o.status == "analyzed" and o.shots == 5 and o.transitions == 4
    with Archive(tmp_path / "a") as a:
        v = a.video(o.video_id)
        assert v.frame_count == 270 and len(v.shots) == 5
        assert [s.start_frame for s in v.shots][0] == 0 and v.shots[-1].end_frame == 269
        assert {r.stage for r in v.runs} == {"shots", "keyframes"}
        assert v.runs[0].params["detector"] == "fast" and v.runs[0].reelscope_version == reelscope.__version__
        for s in v.shots:
            (kf,) = s.keyframes
            assert kf.frame == (s.start_frame + s.end_frame) // 2 and kf.method == "middle"
            assert a.media_path(kf.image).is_file()
        assert not list((a.media_root / v.fingerprint).glob(".staging*"))


def test_reanalysis_is_idempotent(tmp_path, edit_video):
    arch = tmp_path / "a"
    reelscope.analyze(edit_video, archive=arch, stages=["fast"])
    with Archive(arch) as a:
        before = counts(a)
    (o,) = reelscope.analyze(edit_video, archive=arch, stages=["fast"])
    assert o.status == "skipped"
    (o,) = reelscope.analyze(edit_video, archive=arch, force=True, stages=["fast"])
    assert o.status == "analyzed"
    (o,) = reelscope.analyze(edit_video, archive=arch, params={"keyframes": {"method": "sharpest"}}, stages=["fast"])
    assert o.status == "analyzed"
    with Archive(arch) as a:
        assert counts(a) == before
        v = a.video(1)
        assert all(k.method == "sharpest" and k.sharpness > 0 for s in v.shots for k in s.keyframes)


def test_bad_input_cli(tmp_path, bad_files, audio_only, short_video):
    arch = tmp_path / "a"
    bad = [bad_files[k] for k in ("missing", "directory", "empty", "text", "truncated", "undecodable")]
    bad.append(audio_only)
    res = runner.invoke(app, ["analyze", *map(str, bad), str(short_video), "--archive", str(arch)])
    assert res.exit_code == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == len(bad)
    for path, line in zip(bad, lines):
        assert str(path) in line
    assert "truncated" in lines[4] or "moov" in lines[4]
    assert "no decodable video frame" in lines[5]
    assert "audio only" in lines[6]
    with Archive(arch) as a:
        vids = a.videos()
        assert [v.filename for v in vids] == [short_video.name]  # only the good file was written


def test_unknown_detector_is_a_clear_error(tmp_path, short_video):
    res = runner.invoke(app, ["analyze", str(short_video), "--archive", str(tmp_path), "--detector", "nope"])
    assert res.exit_code == 2 and "unknown shot detector 'nope'" in res.stderr


def test_show_export_cli(tmp_path, edit_video):
    arch = str(tmp_path / "a")
    assert runner.invoke(app, ["analyze", str(edit_video), "-a", arch]).exit_code == 0
    res = runner.invoke(app, ["show", "edit.mp4", "-a", arch, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["frame_count"] == 270
    assert "edit.mp4" in runner.invoke(app, ["show", "-a", arch]).stdout
    out = tmp_path / "x.json"
    assert runner.invoke(app, ["export", "-o", str(out), "-a", arch]).exit_code == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "reelscope.archive" and doc["schema_version"] == SCHEMA_VERSION
    (v,) = doc["videos"]
    assert [t["type"] for t in v["transitions"]] == ["cut", "dissolve", "fade", "wipe"]
    assert v["shots"][1]["transition_in"] == "cut" and v["shots"][1]["start_frame"] == v["transitions"][0]["boundary_frame"]
    assert runner.invoke(app, ["show", "nothing.mp4", "-a", arch]).exit_code == 2


def test_edl_and_otio_round_trip(tmp_path, edit_video):
    reelscope.analyze(edit_video, archive=tmp_path / "a", stages=["fast"])
    with Archive(tmp_path / "a") as a:
        v = a.video(1)
        write_shot_list(v, tmp_path / "s.otio")
        write_shot_list(v, tmp_path / "s.edl")
        shots = [(s.start_frame, s.length) for s in v.shots]
    for name in ("s.otio", "s.edl"):
        tl = otio.adapters.read_from_file(str(tmp_path / name), rate=25) if name.endswith("edl") \
            else otio.adapters.read_from_file(str(tmp_path / name))
        clips = list(tl.find_clips())
        got = [(round(c.source_range.start_time.to_frames()), round(c.source_range.duration.to_frames()))
               for c in clips]
        assert got == shots, name


def test_migrations_match_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    a = Archive(tmp_path)
    with a.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
        assert diff == []
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert set(inspect(a.engine).get_table_names()) >= {"videos", "shots", "transitions", "keyframes",
                                                         "analysis_runs", "alembic_version"}


@pytest.mark.slow
def test_kill_mid_analysis_then_resume(tmp_path, synth_dir):
    """SIGKILL while the second of two videos is being analysed; the archive stays consistent
    and a rerun completes the batch without redoing the first."""
    from conftest import encode, scene, shot_frame

    first = encode(synth_dir / "first.mp4", [shot_frame(scene(30), t) for t in range(50)])
    long = encode(synth_dir / "long.mp4", [shot_frame(scene(31 + t // 400), t) for t in range(6000)],
                  options={"preset": "ultrafast"})
    arch = tmp_path / "a"
    cmd = [sys.executable, "-m", "reelscope.cli", "analyze", str(first), str(long), "-a", str(arch), "--stages", "fast"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = ""
    while "first.mp4" not in line:  # "first.mp4: N shots ..." once the first is committed
        line = proc.stderr.readline()
        assert line, "the analysis ended without reporting first.mp4"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Archive(arch) as a:
        assert [v.filename for v in a.videos()] == ["first.mp4"]
        with a.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "first.mp4: already in the archive" in done.stderr
    assert re.search(r"long.mp4: \d+ shots", done.stderr), done.stderr
    with Archive(arch) as a:
        assert sorted(v.filename for v in a.videos()) == ["first.mp4", "long.mp4"]
        staging = list(a.media_root.glob("*/.staging*"))
        assert staging == []


@pytest.mark.slow
def test_kill_between_stages_keeps_finished_stages(tmp_path, synth_dir):
    """SIGKILL after the shots stage has committed but before the stages of the second pass: the
    rerun reads the stored shots back and computes only what is missing."""
    from conftest import encode, scene, shot_frame

    long = encode(synth_dir / "long2.mp4", [shot_frame(scene(40 + t // 300), t) for t in range(4000)],
                  options={"preset": "ultrafast"})
    arch = tmp_path / "a"
    cmd = [sys.executable, "-m", "reelscope.cli", "analyze", str(long), "-a", str(arch),
           "--stages", "shots,keyframes,tags"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    stored: set[str] = set()
    while time.time() < deadline and proc.poll() is None:
        if (arch / "reelscope.db").exists():
            try:
                with Archive(arch) as a:
                    vs = a.videos(full=True)
                    stored = {r.stage for r in vs[0].runs} if vs else set()
            except Exception:
                stored = set()
        if "shots" in stored:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "shots" in stored and "tags" not in stored, stored
    with Archive(arch) as a:
        (v,) = a.videos(full=True)
        assert {r.stage for r in v.runs} <= {"shots", "keyframes"} and len(v.shots) >= 10
        with a.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "stored: shots" in done.stderr and "computed" in done.stderr, done.stderr
    with Archive(arch) as a:
        (v,) = a.videos(full=True)
        assert {r.stage for r in v.runs} == {"shots", "keyframes", "tags"}
        assert all(s.keyframes for s in v.shots)
