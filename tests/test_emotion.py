"""The emotion curve: faces -> valence/arousal, fusion with audio arousal, per shot; and the
audio + emotion stages through the archive (round trip, rerun replaces rows, export)."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest
from sqlalchemy import func, select

import reelscope
from reelscope.archive import Archive
from reelscope.archive import schema as db
from reelscope.archive.export import video_dict
from reelscope.archive.story_io import load_curves
from reelscope.shots.types import Shot
from reelscope.story.emotion import (CIRCUMPLEX, EMOTIONS, EmotionResult, FaceSample, ShotSpan, face_samples,
                                     face_weight, fuse, shot_spans)
from reelscope.vision.detections import Detections


def probs(label: str, p: float = 0.9) -> np.ndarray:
    v = np.full(len(EMOTIONS), (1 - p) / (len(EMOTIONS) - 1))
    v[EMOTIONS.index(label)] = p
    return v


def faces_between(t0: float, t1: float, label: str, fps: float = 2.0, weight: float = 1.0) -> list[FaceSample]:
    return [FaceSample(t, weight, probs(label)) for t in np.arange(t0, t1, 1 / fps)]


SHOTS = [ShotSpan(0, 0.0, 5.0), ShotSpan(1, 5.0, 10.0)]


# ---- the table and the weights ----------------------------------------------------------------
def test_circumplex_table_is_ordered_as_the_theory_says():
    v = {e: CIRCUMPLEX[e][0] for e in EMOTIONS}
    a = {e: CIRCUMPLEX[e][1] for e in EMOTIONS}
    assert v["happy"] > v["surprise"] > v["neutral"] > max(v["angry"], v["sad"], v["fear"], v["disgust"])
    assert a["sad"] < a["neutral"] < min(a["angry"], a["fear"], a["happy"], a["surprise"])
    assert all(-1 <= x <= 1 for pair in CIRCUMPLEX.values() for x in pair)


def test_face_weight_grows_with_size_and_score():
    assert face_weight(1.0, 200, 720) == 1.0  # over a quarter of the frame height
    assert face_weight(1.0, 40, 720) == pytest.approx(40 / 720 / 0.25)
    assert face_weight(1.0, 2, 720) == pytest.approx(0.1)  # floor for tiny faces
    assert face_weight(0.5, 200, 720) == 0.5


# ---- fusion -------------------------------------------------------------------------------------
def test_faces_only():
    res = fuse(10.0, SHOTS, faces_between(0, 5, "happy"), None)
    assert isinstance(res, EmotionResult) and len(res.valence) == 10 and res.step == 1.0
    assert res.valence[:3].min() > 0.5 and res.dominant[:4] == ["happy"] * 4
    assert abs(res.valence[9]) < 0.02 and res.dominant[9] == "none"
    assert res.sources["faces"] and not res.sources["audio"]
    happy_arousal = (CIRCUMPLEX["happy"][1] + 1) / 2
    assert res.arousal[1] == pytest.approx(happy_arousal, abs=0.05)  # faces alone drive arousal
    s0, s1 = res.per_shot
    assert s0["shot"] == 0 and s0["dominant"] == "happy" and s0["face_share"] == pytest.approx(1.0)
    assert s1["dominant"] == "none" and s1["face_share"] == 0 and s1["audio_arousal"] is None
    assert s0["valence"] > s1["valence"] + 0.4
    assert res.confidence[1] > res.confidence[9] == pytest.approx(0, abs=0.01)


def test_audio_only():
    audio = np.linspace(0.1, 0.9, 10)
    res = fuse(10.0, SHOTS, [], audio)
    assert np.allclose(res.arousal, audio, atol=1e-6)  # no faces: the audio arousal as is
    assert np.all(res.valence == 0) and set(res.dominant) == {"none"}
    assert res.per_shot[0]["audio_arousal"] == pytest.approx(audio[:5].mean(), abs=1e-3)
    assert res.per_shot[1]["arousal"] > res.per_shot[0]["arousal"]
    assert not res.sources["faces"] and res.sources["audio"]
    assert np.allclose(res.confidence, 0.7)


def test_faces_and_audio():
    audio = np.full(10, 0.9)
    res = fuse(10.0, SHOTS, faces_between(0, 10, "sad"), audio)
    sad_a = (CIRCUMPLEX["sad"][1] + 1) / 2
    mid = slice(3, 7)  # away from the edges, where the smoothing sees fewer faces
    assert np.allclose(res.arousal[mid], 0.7 * 0.9 + 0.3 * sad_a, atol=0.03)  # audio drives arousal
    assert res.valence[mid].max() < -0.4 and set(res.dominant[2:8]) == {"sad"}
    assert res.per_shot[0]["audio_arousal"] == pytest.approx(0.9)
    # valence moves with the faces: happy in the second half
    mixed = fuse(10.0, SHOTS, faces_between(0, 5, "sad") + faces_between(5, 10, "happy"), audio)
    assert mixed.per_shot[0]["valence"] < 0 < mixed.per_shot[1]["valence"]
    assert mixed.per_shot[0]["dominant"] == "sad" and mixed.per_shot[1]["dominant"] == "happy"


def test_neither_signal_is_neutral_with_no_confidence():
    res = fuse(4.0, [ShotSpan(0, 0, 4)], [], None)
    assert np.all(res.valence == 0) and np.allclose(res.arousal, 0.5) and np.all(res.confidence == 0)
    assert res.per_shot[0]["dominant"] == "none"


def test_audio_shorter_than_video_and_other_steps():
    res = fuse(6.0, [ShotSpan(0, 0, 6)], [], np.array([0.2, 0.4, 0.6, 0.8]), audio_step=0.5, step=0.5)
    assert len(res.arousal) == 12
    assert res.arousal[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8], abs=1e-6)
    assert np.allclose(res.arousal[4:], 0.5)  # no audio past 2 s, no faces: the mean of the rest


def test_face_samples_from_a_faces_pass():
    class Pass:  # the attributes of reelscope.people.video_faces.FacePass that are read
        frames = [Detections(np.array([[10, 10, 200, 200], [400, 10, 20, 20]], float), np.array([0.9, 0.8]),
                             data=[{"expression": {"label": "happy", "scores": dict(zip(EMOTIONS, probs("happy")))}},
                                   {"expression": {"label": "sad", "scores": dict(zip(EMOTIONS, probs("sad")))}}],
                             frame=24),
                  Detections(np.array([[0, 0, 50, 50]], float), np.array([0.9]), frame=48)]  # no expressions
        times = {24: 1.0}

    got = face_samples(Pass(), frame_height=720, fps=24.0)
    assert [round(f.time, 3) for f in got] == [1.0, 2.0]
    assert got[0].weight == pytest.approx(0.9)
    assert EMOTIONS[int(np.argmax(got[0].probs))] == "happy"  # the big face outweighs the small one
    assert got[1].probs is None


def test_shot_spans_use_frame_times():
    shots = [Shot(0, 0, 9), Shot(1, 10, 19)]
    spans = shot_spans(shots, [i * 0.1 + 0.05 for i in range(20)], 10.0, 20)
    assert spans[0].start == pytest.approx(0.05) and spans[0].end == pytest.approx(1.05)
    assert spans[1].end == pytest.approx(2.05)


# ---- stages through the archive -----------------------------------------------------------------
@pytest.fixture(scope="module")
def av_clip(tmp_path_factory):
    """4 s, 2 shots, 25 fps, 16 kHz mono PCM: 2 s near-silence, then 2 s of loud clicks."""
    from conftest import scene, shot_frame

    path = tmp_path_factory.mktemp("emo") / "av.mkv"
    rate, fps = 16000, 25
    w0, w1 = scene(30), scene(31)
    rng = np.random.default_rng(0)
    audio = (1e-4 * rng.normal(0, 1, 4 * rate)).astype(np.float32)
    for k in range(16):
        a = 2 * rate + k * rate // 8
        audio[a:a + 800] += (0.5 * rng.normal(0, 1, 800) * np.hanning(800)).astype(np.float32)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 192, 108, "yuv420p"
        as_ = c.add_stream("pcm_s16le", rate=rate)
        as_.layout = "mono"
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
        for i in range(0, len(pcm), 1600):
            fr = av.AudioFrame.from_ndarray(pcm[None, i:i + 1600], format="s16", layout="mono")
            fr.sample_rate = rate
            fr.pts = i
            for p in as_.encode(fr):
                c.mux(p)
        for t in range(4 * fps):
            vf = av.VideoFrame.from_ndarray(shot_frame(w0 if t < 2 * fps else w1, t), format="rgb24")
            for p in vs.encode(vf):
                c.mux(p)
        for s in (vs, as_):
            for p in s.encode():
                c.mux(p)
    return path


def _rows(a: Archive) -> dict:
    with a.session() as s:
        return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) for t in (db.AudioSegment, db.Curve)}


def test_stages_round_trip_and_rerun_replaces(tmp_path, av_clip, db_url):
    arch = Archive(tmp_path / "a", db_url)
    (o,) = reelscope.analyze(av_clip, archive=arch, stages=["audio", "emotion"])
    assert o.status == "analyzed", o.error
    res = o.artifacts["audio"]
    assert res.available and len(res.curves["loudness"]) == 4
    assert res.curves["arousal"][3] > res.curves["arousal"][0] + 0.2  # the loud clicks
    assert [s.kind for s in res.segments][0] == "silence"
    first = _rows(arch)
    v = arch.video(o.video_id)
    d = video_dict(v)
    assert d["audio"]["segments"][0]["kind"] == "silence" and d["audio"]["summary"]["channels"] == 1
    assert len(d["audio"]["curves"]["arousal"]["values"]) == 4
    assert len(d["emotion"]["valence"]) == 4 and len(d["emotion"]["dominant"]) == 4
    assert all(s["emotion"] is not None and "audio_arousal" in s["emotion"] for s in d["shots"])
    json.dumps(d)  # JSON-safe (no NaN objects, no numpy types)
    with arch.session() as s:
        curves = load_curves(s, o.video_id)
        assert {"audio.loudness", "audio.arousal", "emotion.valence", "emotion.arousal"} <= set(curves)
        t0, step, values, data = curves["emotion.valence"]
        assert (t0, step, len(values)) == (0.0, 1.0, 4) and len(data["dominant"]) == 4
        assert set(load_curves(s, o.video_id, "emotion.")) == {"emotion.valence", "emotion.arousal",
                                                               "emotion.confidence"}
    # rerun: same rows, not duplicated; other parameters replace the old rows
    (o2,) = reelscope.analyze(av_clip, archive=arch, stages=["audio", "emotion"], force=True)
    assert o2.status == "analyzed" and _rows(arch) == first
    (o3,) = reelscope.analyze(av_clip, archive=arch, stages=["audio", "emotion"],
                              params={"audio": {"step": 0.5}, "emotion": {"step": 0.5}})
    assert o3.status == "analyzed"
    with arch.session() as s:
        curves = load_curves(s, o.video_id)
        assert len(curves["audio.loudness"][2]) == 8 and len(curves["emotion.arousal"][2]) == 8
        assert s.scalar(select(func.count()).select_from(db.Curve)) == first["curves"]
        assert {r.stage for r in s.scalars(select(db.AnalysisRun))} >= {"audio", "emotion", "faces", "shots"}
    arch.close()


def test_silent_video_stores_no_audio_but_an_emotion_curve(tmp_path, short_video):
    (o,) = reelscope.analyze(short_video, archive=tmp_path / "a", stages=["audio", "emotion"])
    assert o.status == "analyzed", o.error
    assert not o.artifacts["audio"].available
    with Archive(tmp_path / "a") as a:
        v = a.video(o.video_id)
        d = video_dict(v)
        assert d["audio"] is None and _rows(a)["audio_segments"] == 0
        run = next(r for r in d["analysis_runs"] if r["stage"] == "audio")
        assert run["params"]["audio"] == "none"
        assert d["emotion"] is not None and d["emotion"]["sources"]["audio"] is False
        assert len(d["emotion"]["arousal"]) == 3  # 60 frames at 25 fps


@pytest.mark.slow
def test_big_buck_bunny_via_cli(tmp_path, data):
    from typer.testing import CliRunner

    from reelscope.cli import app

    video = data("video/big_buck_bunny_0_30.webm")
    runner = CliRunner()
    args = ["analyze", str(video), "--stages", "audio,emotion", "--archive", str(tmp_path / "a")]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    with Archive(tmp_path / "a") as a:
        before = _rows(a)
        d = video_dict(a.video(1))
    assert d["audio"]["summary"]["integrated_lufs"] == pytest.approx(-23.3, abs=0.5)
    assert d["audio"]["summary"]["shares"]["music"] > 0.6  # an orchestral score, no dialogue
    assert d["audio"]["summary"]["shares"]["speech"] == 0
    assert len(d["emotion"]["arousal"]) == 31 and len(d["shots"]) >= 3
    assert all(s["emotion"] for s in d["shots"])
    r = runner.invoke(app, args + ["--force", "all"])
    assert r.exit_code == 0, r.output
    with Archive(tmp_path / "a") as a:
        assert _rows(a) == before
    r = runner.invoke(app, ["show", "1", "--archive", str(tmp_path / "a")])
    assert r.exit_code == 0 and "LUFS integrated" in r.output and "emotion" in r.output
