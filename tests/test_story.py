"""Importance, keyshot selection, summary planning, rendering (picture, sound, joints) and rough cuts;
then the whole path on a synthetic clip with sound: stage -> archive -> summary -> CLI -> REST API."""
from __future__ import annotations

import itertools
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
from typer.testing import CliRunner

from reelscope.cli import app as cli_app
from reelscope.media.audio import extract_audio
from reelscope.media.decode import FrameSpec, iter_frames
from reelscope.media.info import probe
from reelscope.people.characters import Character, Thumbnail
from reelscope.people.tracks import FaceTrack
from reelscope.people.video_faces import FacePass
from reelscope.shots.types import Shot
from reelscope.story.emotion import EmotionResult
from reelscope.story.importance import DEFAULT_WEIGHTS, compute_importance
from reelscope.story.render import render_summary, span_frames
from reelscope.story.roughcut import to_timeline, write_roughcut
from reelscope.story.select import Candidate, knapsack, select_keyshots
from reelscope.story.summary import best_window, parse_length, plan_summary
from reelscope.story.visual import VisualSignals
from reelscope.vision.detections import Detections

FPS = 25
SR = 44100
# (colour, tone Hz, seconds): three scenes joined by hard cuts
SCENES = [((200, 40, 40), 330.0, 2.0), ((40, 180, 60), 440.0, 2.0), ((40, 60, 200), 550.0, 2.0)]


def make_av_clip(path: Path, scenes=SCENES, size=(160, 96)) -> Path:
    """Solid-colour scenes with a moving white square, and a sine tone per scene whose phase
    restarts at each scene (so joining arbitrary spans naively would click)."""
    w, h = size
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        as_ = c.add_stream("aac", rate=SR)
        as_.layout = "mono"
        n = 0
        audio = []
        for colour, hz, secs in scenes:
            k = int(secs * FPS)
            for i in range(k):
                img = np.empty((h, w, 3), np.uint8)
                img[:] = colour
                x = (i * 3) % (w - 16)
                img[40:56, x:x + 16] = 255
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts = n
                n += 1
                for p in vs.encode(f):
                    c.mux(p)
            t = np.arange(int(secs * SR)) / SR
            audio.append(0.5 * np.sin(2 * np.pi * hz * t + 1.3 * len(audio)))
        for p in vs.encode():
            c.mux(p)
        samples = np.concatenate(audio).astype(np.float32)
        for i in range(0, len(samples), 1024):
            fr = av.AudioFrame.from_ndarray(samples[None, i:i + 1024], format="fltp", layout="mono")
            fr.sample_rate, fr.pts = SR, i
            for p in as_.encode(fr):
                c.mux(p)
        for p in as_.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def av_clip(tmp_path_factory) -> Path:
    return make_av_clip(tmp_path_factory.mktemp("story") / "scenes.mp4")


# ---- knapsack and selection ---------------------------------------------------------------------
def brute(values, weights, cap):
    best, best_set = 0.0, ()
    for r in range(len(values) + 1):
        for sub in itertools.combinations(range(len(values)), r):
            if sum(weights[i] for i in sub) <= cap:
                v = sum(values[i] for i in sub)
                if v > best + 1e-12:
                    best, best_set = v, sub
    return best, best_set


def test_knapsack_equals_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(150):
        n = int(rng.integers(1, 10))
        values = rng.random(n).round(3).tolist()
        weights = rng.integers(0, 12, n).tolist()
        cap = int(rng.integers(0, 30))
        chosen = knapsack(values, weights, cap)
        assert sum(weights[i] for i in chosen) <= cap
        assert sum(values[i] for i in chosen) == pytest.approx(brute(values, weights, cap)[0])
    assert knapsack([1.0, 2.0], [3, 3], 2) == []
    assert knapsack([], [], 10) == []
    with pytest.raises(ValueError):
        knapsack([1.0], [1.5], 3)


def _cands(rng, n):
    out, t = [], 0.0
    for i in range(n):
        d = float(rng.uniform(0.5, 6))
        out.append(Candidate(t, t + d, float(rng.random()), int(i // 3), i))
        t += d
    return out


def test_selection_never_exceeds_budget():
    rng = np.random.default_rng(11)
    for _ in range(60):
        cands = _cands(rng, int(rng.integers(1, 25)))
        budget = float(rng.uniform(0.3, 40))
        for decay, share in ((1.0, None), (0.5, 0.4), (0.3, 0.2)):
            chosen = select_keyshots(cands, budget, decay=decay, max_scene_share=share)
            assert sum(cands[i].duration for i in chosen) <= budget + 1e-9
            assert chosen == sorted(set(chosen))


def test_diversity_spreads_the_budget_over_scenes():
    # scene 0: six strong 3 s shots; scenes 1-3: one weaker 3 s shot each; budget 12 s = 4 shots
    cands = [Candidate(3 * i, 3 * i + 3, 0.9, 0, i) for i in range(6)]
    cands += [Candidate(18 + 3 * k, 21 + 3 * k, 0.5, k + 1, 6 + k) for k in range(3)]
    plain = select_keyshots(cands, 12, decay=1.0, max_scene_share=None)
    assert {cands[i].scene for i in plain} == {0}  # the one exciting scene takes everything
    diverse = select_keyshots(cands, 12)
    scenes = [cands[i].scene for i in diverse]
    assert len(set(scenes)) >= 3
    assert sum(cands[i].duration for i in diverse if cands[i].scene == 0) <= 0.4 * 12 + 1e-9
    # soft decay alone already mixes scenes in
    soft = select_keyshots(cands, 12, decay=0.5, max_scene_share=None)
    assert len({cands[i].scene for i in soft}) > 1


# ---- planning -----------------------------------------------------------------------------------
def test_parse_length():
    assert parse_length("60s", 300) == 60
    assert parse_length("1m30s", 300) == 90
    assert parse_length("2m", 300) == 120
    assert parse_length("15%", 200) == pytest.approx(30)
    assert parse_length("45", 300) == 45
    for bad in ("", "abc", "-5s", "0", "10%%"):
        with pytest.raises(ValueError):
            parse_length(bad, 100)


def test_plan_summary_counts_crossfade_overlaps():
    from reelscope.story.render import output_seconds

    rng = np.random.default_rng(5)
    t, per_shot = 0.0, []
    for i in range(60):
        d = float(rng.uniform(1.0, 4.0))
        per_shot.append({"shot": i, "start_time": t, "end_time": t + d, "score": float(rng.random()), "scene": i})
        t += d
    curve = [0.5] * int(t + 1)
    for target in (10.0, 30.0, 45.0):
        plain = plan_summary(per_shot, curve, 1.0, target, fps=25)
        faded = plan_summary(per_shot, curve, 1.0, target, fps=25, crossfade=0.3)
        spans = lambda segs: [(s["start_time"], s["end_time"]) for s in segs]  # noqa: E731
        assert output_seconds(spans(faded), 25, 0.3) <= target + 1e-9  # what the render will last
        assert output_seconds(spans(faded), 25, 0.3) >= output_seconds(spans(plain), 25, 0.3)
        # the overlaps are given back: a plan that ignored them would come out shorter
        assert output_seconds(spans(faded), 25, 0.3) > output_seconds(spans(plain), 25, 0.3) + 0.3


def test_plan_summary_budget_order_and_long_shot_window():
    per_shot = [{"shot": 0, "start_time": 0.0, "end_time": 30.0, "score": 0.9, "scene": 0},
                {"shot": 1, "start_time": 30.0, "end_time": 33.0, "score": 0.6, "scene": 1},
                {"shot": 2, "start_time": 33.0, "end_time": 33.5, "score": 1.0, "scene": 2},  # too short
                {"shot": 3, "start_time": 33.5, "end_time": 40.0, "score": 0.2, "scene": 3}]
    curve = [0.2] * 40
    curve[20:24] = [1.0] * 4  # the long take's best moment: 20-24 s
    segs = plan_summary(per_shot, curve, 1.0, 12.0, fps=25)
    assert sum(s["end_time"] - s["start_time"] for s in segs) <= 12.0 + 1e-9
    assert [s["start_time"] for s in segs] == sorted(s["start_time"] for s in segs)
    assert 2 not in [s["shot"] for s in segs]
    long = [s for s in segs if s["shot"] == 0]
    assert long and long[0]["end_time"] - long[0]["start_time"] <= 8.0 + 1e-9
    assert long[0]["start_time"] <= 20.0 and long[0]["end_time"] >= 24.0
    assert long[0]["start_frame"] == round(long[0]["start_time"] * 25)
    assert best_window(curve, 1.0, 0, 30, 4) == (20.0, 24.0)
    # a summary shorter than any shot still gets its best moment
    tiny = plan_summary(per_shot, curve, 1.0, 3.0, fps=25)
    assert len(tiny) == 1 and tiny[0]["end_time"] - tiny[0]["start_time"] <= 3.0 + 1e-9


# ---- importance ---------------------------------------------------------------------------------
def _faces(shots_with_face: dict[int, float], shots, height=360, step=5):
    """A real FacePass: a face of the given height fraction on every sampled frame of those shots,
    one character per face-bearing shot (screen time = the shot's length)."""
    frames, tracks, chars = [], [], []
    for s in shots:
        if s.index not in shots_with_face:
            continue
        fr = list(range(s.start - s.start % step + (step if s.start % step else 0), s.end + 1, step))
        h = shots_with_face[s.index] * height
        for f in fr:
            frames.append(Detections(np.array([[10, 10, h * 0.8, h]]), np.array([0.9]), frame=f))
        tid = len(tracks)
        tracks.append(FaceTrack(tid, s.index, fr, np.tile([10, 10, h * 0.8, h], (len(fr), 1)),
                                np.full(len(fr), 0.9), None, [{} for _ in fr], [0] * len(fr), step, s.end))
        chars.append(Character(len(chars), len(chars), [tid], s.length, s.length / FPS, s.start, s.end,
                                s.start / FPS, s.end / FPS, Thumbnail(fr[0], (10, 10, h * 0.8, h), tid, 0.9)))
    n = shots[-1].end + 1
    return FacePass(scale=1.0, frames=frames, times={}, tracks=tracks, characters=chars, sampled=-(-n // step))


def _emotion(n_steps, per_shot_arousal, arousal_curve=None):
    a = np.asarray(arousal_curve if arousal_curve is not None else [0.5] * n_steps, float)
    per_shot = [{"shot": i, "valence": 0.0, "arousal": v, "dominant": "none", "face_share": 0.0,
                 "audio_arousal": v} for i, v in enumerate(per_shot_arousal)]
    return EmotionResult(1.0, np.zeros(n_steps), a, ["none"] * n_steps, per_shot, {"audio": True},
                         confidence=np.ones(n_steps))


def _visual(shots, motion_per_shot, hists):
    n = shots[-1].end + 1
    m = np.zeros(n)
    for s, v in zip(shots, motion_per_shot):
        m[s.start:s.end + 1] = v
        m[s.start] = np.nan
    return VisualSignals(m, np.arange(n) / FPS, np.asarray(hists, np.float32), list(map(float, motion_per_shot)))


def test_importance_combines_signals():
    shots = [Shot(0, 0, 99), Shot(1, 100, 199), Shot(2, 200, 299), Shot(3, 300, 399)]
    times = [i / FPS for i in range(400)]
    h_a = np.zeros(128)
    h_a[0] = 1
    h_b = np.zeros(128)
    h_b[5] = 1
    vis = _visual(shots, [0.5, 12.0, 0.5, 0.5], [h_a, h_b, h_a, h_a])
    emo = _emotion(16, [0.2, 0.9, 0.2, 0.2], [0.2] * 4 + [0.9] * 4 + [0.2] * 8)
    faces = _faces({1: 0.5, 2: 0.1}, shots)
    res = compute_importance(shots, times, duration=16.0, fps=FPS, height=360, sizes={0: "LS", 1: "CU", 2: "MS", 3: "LS"},
                             faces=faces, emotion=emo, visual=vis)
    s = res.scores
    assert s.argmax() == 1  # exciting, moving, a big face, a close-up, new colours
    assert s[2] > s[3]  # a small face and a medium shot beat an empty long shot
    assert ((0 <= s) & (s <= 1)).all()
    assert set(res.weights) == set(DEFAULT_WEIGHTS) and sum(res.weights.values()) == pytest.approx(1)
    sig = res.per_shot[1]["signals"]
    assert sig["faces"] == pytest.approx(1.0) and sig["shot_size"] == 1.0 and sig["novelty"] == pytest.approx(1.0)
    assert res.per_shot[2]["signals"]["novelty"] == pytest.approx(0.0)  # the colours of shot 0 again
    assert [p["scene"] for p in res.per_shot] == [0, 1, 0, 0]  # A B A: shot/reverse shot stays one scene
    assert len(res.curve) == 16
    assert res.curve[4:8].mean() > res.curve[12:16].mean()


def test_importance_without_emotion_or_faces_renormalises():
    shots = [Shot(0, 0, 49), Shot(1, 50, 99)]
    times = [i / FPS for i in range(100)]
    vis = _visual(shots, [1.0, 15.0], [np.eye(128)[0], (np.eye(128)[0] + np.eye(128)[9]) / 2])
    flat = EmotionResult(1.0, np.zeros(4), np.full(4, 0.5), ["none"] * 4,
                         [{"shot": i, "valence": 0.0, "arousal": 0.5} for i in range(2)], {},
                         confidence=np.zeros(4))  # a placeholder: nothing backed it
    res = compute_importance(shots, times, duration=4.0, fps=FPS, height=360, emotion=flat, visual=vis)
    assert "emotion" not in res.weights and "faces" not in res.weights
    assert res.sources["dropped"]["emotion"] == "not available"
    assert set(res.weights) == {"motion", "novelty"} and sum(res.weights.values()) == pytest.approx(1)
    assert res.scores[1] > res.scores[0]
    only = compute_importance(shots, times, duration=4.0, fps=FPS, height=360, visual=vis,
                              weights={**DEFAULT_WEIGHTS, "novelty": 0})
    assert set(only.weights) == {"motion"}
    with pytest.raises(ValueError, match="unknown importance signals"):
        compute_importance(shots, times, duration=4.0, fps=FPS, height=360, weights={"loudness": 1})


# ---- rendering ----------------------------------------------------------------------------------
SPANS = [(0.3, 1.5), (2.2, 3.6), (4.1, 5.0)]  # one span inside each scene


def _frames(path):
    spec = FrameSpec("rgb", 160, 96)
    return [f[spec] for f in iter_frames(path, [spec])]


def test_render_picture_duration_and_crossfades(av_clip, tmp_path):
    out = tmp_path / "sum.mp4"
    res = render_summary(av_clip, SPANS, out, crossfade=0.2)
    counts = [span_frames(b - a, FPS) for a, b in SPANS]
    x = round(0.2 * FPS)
    assert res.frames == sum(counts) - 2 * x
    info = probe(out)
    assert info.codec == "h264" and info.has_audio and info.audio_codec == "aac"
    assert info.fps == Fraction(FPS)
    assert info.duration == pytest.approx(res.frames / FPS, abs=0.05)
    assert res.seconds <= sum(b - a for a, b in SPANS)  # never longer than planned
    frames = _frames(out)
    assert len(frames) == res.frames
    corner = [f[80:, :20].reshape(-1, 3).mean(0) for f in frames]  # away from the moving square
    mids = [counts[0] // 2, counts[0] + counts[1] // 2 - x, sum(counts[:2]) + counts[2] // 2 - 2 * x]
    for k, m in enumerate(mids):
        assert np.abs(corner[m] - SCENES[k][0]).max() < 12, (k, corner[m])
    j = counts[0] - x + x // 2  # the middle of the first dissolve: half of each colour
    want = (np.array(SCENES[0][0]) + np.array(SCENES[1][0])) / 2
    assert np.abs(corner[j] - want).max() < 40, corner[j]
    hard = render_summary(av_clip, SPANS, tmp_path / "hard.mp4", crossfade=0)
    assert hard.frames == sum(counts)


def _jumps(samples, centres, half):
    d = np.abs(np.diff(samples))
    near = np.zeros(len(d), bool)
    for c in centres:
        near[max(0, c - half):c + half] = True
    return d[near].max(), d[~near].max()


@pytest.mark.parametrize("crossfade", [0.2, 0.0])
def test_render_audio_has_no_clicks_at_joints(av_clip, tmp_path, crossfade):
    counts = [span_frames(b - a, FPS) for a, b in SPANS]
    x = round(crossfade * FPS)
    joints = [(counts[0] - x) / FPS, (counts[0] + counts[1] - 2 * x) / FPS]  # joint starts, output time
    # the fixture's soundtrack really would click if joined naively
    src = extract_audio(av_clip, 48000)
    naive = np.concatenate([src[int(a * 48000):int(a * 48000) + int(n / FPS * 48000)] for (a, _), n in zip(SPANS, counts)])
    cut_at = np.cumsum([int(n / FPS * 48000) for n in counts])[:-1]
    jn, je = _jumps(naive, cut_at, 48)
    assert jn > 5 * je, "the test tone should click when cut naively"
    out = tmp_path / f"sum_{crossfade}.mp4"
    render_summary(av_clip, SPANS, out, crossfade=crossfade)
    a = extract_audio(out, 48000)
    assert len(a) / 48000 == pytest.approx(sum(counts) / FPS - 2 * x / FPS, abs=0.05)
    centres = [int((t + x / FPS / 2) * 48000) for t in joints]
    near, elsewhere = _jumps(a, centres, int(0.06 * 48000) + int(x / FPS * 48000 / 2))
    assert near < 1.5 * elsewhere, (near, elsewhere)
    assert np.abs(a[: int(0.05 * 48000)]).max() < 0.6  # fades in
    # the sound stays in sync with the picture: the middle of each span has its scene's tone
    for k, t in enumerate([counts[0] / 2 / FPS, (counts[0] + counts[1] / 2 - x) / FPS]):
        seg = a[int((t - 0.1) * 48000):int((t + 0.1) * 48000)]
        spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        peak = np.fft.rfftfreq(len(seg), 1 / 48000)[spectrum.argmax()]
        assert peak == pytest.approx(SCENES[k][1], abs=10)


def test_consecutive_spans_play_straight_through(av_clip, tmp_path):
    from reelscope.story.render import layout

    spans = [(2.1, 2.9), (2.9, 3.7)]  # one scene, back to back in the source
    lay = layout(spans, FPS, 0.3)
    assert lay.continuous == [True] and lay.overlaps == [0] and lay.starts[1] == pytest.approx(2.1 + 20 / FPS)
    res = render_summary(av_clip, spans, tmp_path / "cont.mp4", crossfade=0.3)
    assert res.frames == 40  # 20 + 20: nothing dissolved away
    a = extract_audio(tmp_path / "cont.mp4", 48000)
    joint = int(0.8 * 48000)
    win = a[joint - 480:joint + 480]  # +-10 ms: no fade dip, no jump
    assert np.abs(win).max() > 0.4
    near, elsewhere = _jumps(a, [joint], 480)
    assert near < 1.5 * elsewhere
    segs = [{"start_time": x, "end_time": y} for x, y in spans]
    tl = to_timeline(av_clip, FPS, 150, segs, crossfade=0.3)
    assert not [c for c in tl.tracks[0] if isinstance(c, otio.schema.Transition)]
    assert tl.tracks[0].duration().value == 40


def test_render_without_audio_and_errors(tmp_path, edit_video):
    res = render_summary(edit_video, [(0.2, 1.0), (3.0, 4.0)], tmp_path / "silent.mp4", crossfade=0.1)
    assert not res.has_audio and not probe(tmp_path / "silent.mp4").has_audio
    with pytest.raises(ValueError, match="no spans"):
        render_summary(edit_video, [], tmp_path / "none.mp4")
    assert not list(tmp_path.glob("*.part*"))


# ---- rough cuts ---------------------------------------------------------------------------------
def test_roughcut_otio_and_edl(tmp_path, av_clip):
    segs = [{"start_time": a, "end_time": b, "shot": k, "score": 0.5} for k, (a, b) in enumerate(SPANS)]
    counts = [span_frames(b - a, FPS) for a, b in SPANS]
    x = round(0.2 * FPS)
    tl = to_timeline(av_clip, FPS, 150, segs, crossfade=0.2)
    video = tl.tracks[0]
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    trans = [c for c in video if isinstance(c, otio.schema.Transition)]
    assert len(clips) == 3 and len(trans) == 2 and len(tl.tracks) == 2
    assert video.duration().value == sum(counts) - 2 * x  # the rendered summary's length
    assert clips[0].source_range.start_time.value == round(0.3 * FPS)
    p = write_roughcut(av_clip, FPS, 150, segs, tmp_path / "cut.otio", crossfade=0.2)
    back = otio.adapters.read_from_file(str(p))
    assert back.tracks[0].duration().value == sum(counts) - 2 * x
    edl = write_roughcut(av_clip, FPS, 150, segs, tmp_path / "cut.edl", crossfade=0.2).read_text()
    assert edl.count(" D ") == 2 and "scenes segment 003" in edl
    assert otio.adapters.read_from_file(str(tmp_path / "cut.edl"), rate=FPS).duration().value == sum(counts) - 2 * x
    with pytest.raises(ValueError, match="rough-cut format"):
        write_roughcut(av_clip, FPS, 150, segs, tmp_path / "cut.xml")


# ---- the whole path: stage, archive, summary, CLI, API ----------------------------------------------
@pytest.fixture(scope="module")
def story_archive(av_clip, tmp_path_factory):
    import reelscope

    arch = tmp_path_factory.mktemp("story-archive")
    (o,) = reelscope.analyze([av_clip], archive=arch, stages=["importance"])
    assert o.status == "analyzed", o.error
    return arch, o


@pytest.mark.slow
def test_importance_stage_stored(story_archive):
    import reelscope
    from reelscope.archive.story_io import load_curves

    arch, o = story_archive
    imp = o.artifacts["importance"]
    assert len(imp.per_shot) == len(o.artifacts["shots"]) == 3
    with reelscope.open_archive(arch) as a:
        v = a.video(o.video_id)
        assert [round(s.importance, 6) for s in v.shots] == [p["score"] for p in imp.per_shot]
        assert {r.stage for r in v.runs} >= {"shots", "shot_size", "faces", "audio", "emotion", "importance"}
        with a.session() as s:
            curves = load_curves(s, v.id)
        t0, step, values, data = curves["importance"]
        assert step == 1.0 and len(values) == 6 and all(0 <= x <= 1 for x in values)
        assert [d["shot"] for d in data["shots"]] == [0, 1, 2] and "motion" in data["weights"]
        assert "emotion.arousal" in curves  # the emotion stage's curves stay beside ours


@pytest.mark.slow
def test_summary_archive_cli_and_report(story_archive, tmp_path):
    import reelscope
    from reelscope.archive.summaries import delete_summary, list_summaries
    from reelscope.summaries import create_summary

    arch, o = story_archive
    with reelscope.open_archive(arch) as a:
        row = create_summary(a, o.video_id, "3s", crossfade=0.2)
        assert row.seconds <= 3.0 + 1e-6 and row.segments and row.media.endswith(".mp4")
        assert a.media_path(row.media).is_file()
        assert probe(a.media_path(row.media)).has_audio
        assert [r.id for r in list_summaries(a, o.video_id)] == [row.id]
        delete_summary(a, row.id)
        assert not list_summaries(a, o.video_id)
    out = tmp_path / "s.mp4"
    r = CliRunner().invoke(cli_app, ["summarize", str(o.path), "--archive", str(arch), "--length", "50%",
                                               "-o", str(out), "--edl", str(tmp_path / "s.edl"),
                                               "--otio", str(tmp_path / "s.otio")])
    assert r.exit_code == 0, r.output
    assert probe(out).duration <= 3.0 + 1e-6 and (tmp_path / "s.edl").read_text().startswith("TITLE")
    assert otio.adapters.read_from_file(str(tmp_path / "s.otio")).tracks[0].duration().value > 0
    r = CliRunner().invoke(cli_app, ["summarize", str(o.path), "--archive", str(arch), "--length", "x"])
    assert r.exit_code == 2 and "bad summary length" in r.output
    r = CliRunner().invoke(cli_app, ["report", str(o.video_id), "--archive", str(arch), "-o",
                                               str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "r.html").read_text()
    assert "Emotion, importance and summaries" in html and "story-curves" in html


@pytest.mark.slow
def test_story_api(story_archive, tmp_path):
    from fastapi.testclient import TestClient

    from reelscope.api import create_app

    arch, o = story_archive
    with TestClient(base_url="http://localhost", app=create_app(arch, token="t0k", allowed_roots=[Path(o.path).parent])) as c:
        auth = {"Authorization": "Bearer t0k"}
        curves = c.get(f"/api/videos/{o.video_id}/curves").json()
        names = {x["name"] for x in curves}
        assert {"importance", "emotion.arousal", "emotion.valence"} <= names
        assert c.get(f"/api/videos/{o.video_id}/curves", params={"names": "importance", "data": True}).json()[0]["data"]["shots"]
        assert c.post(f"/api/videos/{o.video_id}/summaries", json={"length": "3s"}).status_code == 401
        assert c.post(f"/api/videos/{o.video_id}/summaries", json={"length": "soon"}, headers=auth).status_code == 422
        r = c.post(f"/api/videos/{o.video_id}/summaries", json={"length": "3s", "crossfade": 0.2}, headers=auth)
        assert r.status_code == 202, r.text  # a job: the render runs outside the request
        job = r.json()
        assert job["kind"] == "summary" and job["video_id"] == o.video_id
        assert job["id"] in [j["id"] for j in c.get("/api/jobs").json()]  # on the one Jobs list
        t0 = time.monotonic()
        while job["status"] not in ("done", "failed", "cancelled"):
            assert time.monotonic() - t0 < 120, job
            time.sleep(0.1)
            job = c.get(f"/api/jobs/{job['id']}").json()
        assert job["status"] == "done" and job["progress"]["percent"] == 100, job
        s = c.get(f"/api/summaries/{job['result']['summary_id']}").json()
        assert job["url"] == s["url"]
        assert s["seconds"] <= 3.0 + 1e-6 and s["url"] == f"/api/summaries/{s['id']}/file"
        f = c.get(s["url"], headers={"Range": "bytes=0-99"})
        assert f.status_code == 206 and len(f.content) == 100 and f.headers["content-type"] == "video/mp4"
        assert c.get(s["url"]).content[4:8] == b"ftyp"
        assert s["id"] in [x["id"] for x in c.get(f"/api/videos/{o.video_id}/summaries").json()]
        assert c.get(f"/api/summaries/{s['id']}").json()["segments"] == s["segments"]
        assert c.delete(f"/api/summaries/{s['id']}", headers=auth).status_code == 204
        assert c.get(f"/api/summaries/{s['id']}").status_code == 404
        assert s["id"] not in [x["id"] for x in c.get(f"/api/videos/{o.video_id}/summaries").json()]
        assert c.get("/api/summaries/999/file").status_code == 404
    # a server that may not read the source cannot render from it
    with TestClient(base_url="http://localhost", app=create_app(arch, allowed_roots=[tmp_path])) as c:
        r = c.post(f"/api/videos/{o.video_id}/summaries", json={"length": "3s"})
        assert r.status_code == 403


def test_summary_api_needs_importance(tmp_path, short_video):
    import reelscope
    from fastapi.testclient import TestClient

    from reelscope.api import create_app

    (o,) = reelscope.analyze([short_video], archive=tmp_path / "a", stages=["shots"])
    with TestClient(base_url="http://localhost", app=create_app(tmp_path / "a")) as c:
        r = c.post(f"/api/videos/{o.video_id}/summaries", json={"length": "1s"})
        assert r.status_code == 409 and "importance" in r.json()["detail"]
        assert c.get(f"/api/videos/{o.video_id}/curves").json() == []
        assert c.get("/api/videos/999/curves").status_code == 404


@pytest.mark.slow
def test_importance_and_summaries_on_each_database(av_clip, tmp_path, db_url):
    """The stage's rows and a summary's row on SQLite and (when configured) PostgreSQL; re-running
    the stage replaces its own curve only."""
    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive.summaries import get_summary
    from reelscope.summaries import create_summary
    from reelscope.archive.story_io import load_curves

    with Archive(tmp_path / "a", db_url) as a:
        (o,) = reelscope.analyze([av_clip], archive=a, stages=["importance"])
        assert o.status == "analyzed", o.error
        row = create_summary(a, o.video_id, "40%", render=False)
        assert row.media is None and row.seconds <= 0.4 * 6.0 + 1e-6
        assert get_summary(a, row.id).segments == row.segments
        reelscope.analyze([av_clip], archive=a, stages=["importance"],
                                     params={"importance": {"weights": {"novelty": 0}}}, force=True)
        with a.session() as s:
            curves = load_curves(s, o.video_id)
        assert "novelty" not in curves["importance"][3]["weights"]
        assert "emotion.valence" in curves and list(curves).count("importance") == 1


def test_report_section_curves_and_summaries():
    from reelscope.report.story_curves import curves_section

    assert curves_section({"shots": [], "curves": {}, "summaries": []}, {}) == ""
    data = {"shots": [{"index": 0, "start_time": 0.0, "end_time": 4.0, "importance": 0.7}],
            "curves": {"importance": {"t0": 0.0, "step": 1.0, "values": [0.2, 0.9, None, 0.4]},
                       "emotion.valence": {"t0": 0.0, "step": 1.0, "values": [0.0, -0.5, 0.5, 0.1]}},
            "summaries": [{"id": 3, "seconds": 2.5, "target_seconds": 3.0, "media": "fp/summaries/s.mp4",
                           "segments": [{"shot": 0, "start_time": 1.0, "end_time": 3.5, "score": 0.7}]}]}
    html = curves_section(data, {})
    assert "story-curves" in html and "1.0–3.5" in html and "fp/summaries/s.mp4" in html
    assert '"name":"importance"' in html and '"name":"valence"' in html and "newest summary" in html
