"""The analysis engine: one decode pass per group of frame stages, stored results read back instead of
recomputed, per-stage commits, skip-and-log, presets and --set."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import reelscope
from reelscope.archive import Archive
from reelscope.archive import schema as db
from reelscope.cli import app
from reelscope.pipeline import engine as eng
from reelscope.pipeline.stage import Stage, expand, parse_sets, plan, stages

runner = CliRunner()


def test_presets_and_set_parsing():
    assert expand("fast") == ["shots", "keyframes"]
    default = expand(None)
    assert {"shots", "keyframes", "shot_size", "faces", "objects", "tags", "audio", "emotion", "importance",
            "mood"} <= set(default)
    assert "clip" not in default and "clip" in expand("all")  # needs a user-supplied model
    assert parse_sets(["faces.detector=hog", "objects.sample_fps=1.5", "tags.positions=[0.5]"]) == {
        "faces": {"detector": "hog"}, "objects": {"sample_fps": 1.5}, "tags": {"positions": [0.5]}}
    for bad in ("faces.nope=1", "faces=1", "nostage.x=1"):
        with pytest.raises(ValueError):
            parse_sets([bad])
    with pytest.raises(ValueError, match="unknown shot detector"):
        stages()["shots"].resolve_params({"detector": "nope"})


def test_decide_reads_stored_and_recomputes_dependents():
    order = plan(["importance"])
    resolved = {s.name: s.resolve_params({}) for s in order}
    stored = {n: resolved[n] for n in ("shots", "shot_size", "faces", "audio", "emotion", "importance")}
    d = eng.decide(order, {"importance"}, resolved, stored, set(), set())
    assert d.nothing_to_do
    # asking for other face parameters recomputes faces and everything built on faces, reads the rest
    faces = dict(resolved["faces"], detector="hog")
    d = eng.decide(order, {"importance"}, {**resolved, "faces": faces}, stored, set(), {"faces"})
    assert [s.name for s in d.compute if s.stored] == ["faces", "emotion", "importance"]
    assert {s.name for s in d.reuse} == {"shots", "shot_size", "audio"}
    # forcing shots replaces every stored stage built on them
    d = eng.decide(order, {"importance"}, resolved, stored, {"shots"}, set())
    assert {s.name for s in d.compute if s.stored} == set(stored) - {"audio"}  # audio does not use shots


def test_one_pass_then_second_pass_for_shot_sampling(tmp_path, edit_video):
    (o,) = reelscope.analyze(edit_video, archive=tmp_path / "a", stages=["shots", "keyframes", "tags"])
    assert o.status == "analyzed" and o.passes == 2  # shots, then keyframes + tags inside shots
    (o,) = reelscope.analyze(edit_video, archive=tmp_path / "b", stages=["shots", "objects"])
    assert o.passes == 1  # objects sample at a fixed rate: same pass as the shot detector


def test_stored_faces_are_read_not_recomputed(tmp_path, short_video):
    """Faces stored with one detector are not replaced when a later stage needs faces."""
    arch = tmp_path / "a"
    (o,) = reelscope.analyze(short_video, archive=arch, stages=["shots", "faces"],
                             params={"faces": {"detector": "hog"}})
    assert o.status == "analyzed"
    with Archive(arch) as a:
        before = {r.stage: (r.params["detector"] if r.stage == "faces" else None, r.finished_at)
                  for r in a.video(o.video_id).runs}
    (o2,) = reelscope.analyze(short_video, archive=arch, stages=["emotion"])
    assert o2.status == "analyzed" and "faces" in o2.reused and "faces" not in o2.computed
    assert "audio" in o2.computed and "emotion" in o2.computed
    with Archive(arch) as a:
        runs = {r.stage: r for r in a.video(o.video_id).runs}
        assert runs["faces"].params["detector"] == "hog" and runs["faces"].finished_at == before["faces"][1]


def test_readers_round_trip_the_full_analysis(tmp_path, data):
    """Every stored stage reads back what it wrote."""
    clip = data("video/clip_03_sintel.mp4")
    arch = tmp_path / "a"
    (o,) = reelscope.analyze(clip, archive=arch)
    assert o.status == "analyzed", o.error
    a = o.artifacts
    with Archive(arch) as ar:
        got = {st: ar.load_stage(o.video_id, st) for st in o.computed}
    assert [(s.start, s.end) for s in got["shots"]["shots"]] == [(s.start, s.end) for s in a["shots"]]
    assert np.allclose(got["shots"]["frame_times"], a["frame_times"])
    assert [(k.shot_index, k.frame) for k in got["keyframes"]["keyframes"]] == \
        [(k.shot_index, k.frame) for k in a["keyframes"]]
    assert got["keyframes"]["keyframes"][0].image.shape == a["keyframes"][0].image.shape
    assert [(s.shot_index, s.label) for s in got["shot_size"]["shot_sizes"]] == \
        [(s.shot_index, s.label) for s in a["shot_sizes"]]
    f0, f1 = a["faces"], got["faces"]["faces"]
    assert len(f1.characters) == len(f0.characters) and f1.sampled == f0.sampled
    assert sum(len(d) for d in f1.frames) == sum(len(t) for t in f0.tracks)
    assert len(got["objects"]["objects"].tracks) == len(a["objects"].tracks)
    assert got["tags"]["tags"]["shots"][0]["tags"][0][0] == a["tags"]["shots"][0]["tags"][0][0]
    assert got["audio"]["audio"].available == a["audio"].available
    if a["audio"].available:
        assert np.allclose(got["audio"]["audio"].curves["arousal"], a["audio"].curves["arousal"], atol=1e-3)
    assert np.allclose(got["emotion"]["emotion"].valence, a["emotion"].valence, atol=1e-3)
    assert np.allclose([p["score"] for p in got["importance"]["importance"].per_shot],
                       [p["score"] for p in a["importance"].per_shot], atol=1e-3)
    assert [m["mood"] for m in got["mood"]["moods"]] == [m["mood"] for m in a["moods"]]


def test_a_failing_stage_is_one_line_and_the_batch_goes_on(tmp_path, edit_video, short_video, monkeypatch):
    """An unexpected exception names the file and the stage, is recorded in the archive, and the
    next file is analysed; the stages finished before it stay stored."""
    from reelscope.pipeline import stage as stage_mod

    def boom(ctx, params):
        if "edit" in ctx.path:
            raise ZeroDivisionError("division by zero in a test stage")
        return {"boom": 1}

    registry = dict(stages())  # the built-in stages loaded first, so the restore keeps them
    registry["boom"] = Stage("boom", requires=("shots",), provides=("boom",), run=boom)
    monkeypatch.setattr(stage_mod, "_REGISTRY", registry)
    arch = tmp_path / "a"
    res = runner.invoke(app, ["analyze", str(edit_video), str(short_video), "-a", str(arch),
                              "--stages", "shots,keyframes,boom"])
    assert res.exit_code == 1
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(edit_video) in errors[0] and "boom stage failed" in errors[0]
    assert "ZeroDivisionError" in errors[0] and "Traceback" not in res.stderr
    assert "1 analysed, 0 already stored, 1 failed" in res.stderr
    with Archive(arch) as a:
        (f,) = a.failures()
        assert f.path == str(edit_video.resolve()) and f.stage == "boom" and "Traceback" in f.detail
        edit = a.video("edit.mp4")
        assert "shots" in {r.stage for r in edit.runs} and "boom" not in {r.stage for r in edit.runs}
        assert a.video("short.mp4").shots
        assert "ZeroDivisionError" in (a.location / "logs" / "analysis.log").read_text()


def test_one_decode_pass_per_group(tmp_path, edit_video, monkeypatch):
    """The full default analysis decodes the video at most twice."""
    from reelscope.media import decode

    calls = []
    real = decode.iter_frames

    def counting(path, *a, **k):
        calls.append(path)
        return real(path, *a, **k)

    monkeypatch.setattr(eng, "iter_frames", counting)
    (o,) = reelscope.analyze(edit_video, archive=tmp_path / "a")
    assert o.status == "analyzed", (o.error, o.reused, tmp_path)
    assert len(calls) == 2 == o.passes
    with Archive(tmp_path / "a") as a, a.session() as s:
        assert s.scalar(select(func.count()).select_from(db.AnalysisRun)) == len(o.computed) >= 10
