"""Mood-matched slideshows: the plan (pure), the one envelope for picture and sound, the rendered
file decoded back (sync, clicks, sizes, codecs), bad input, the CLI, the API and the web page."""
from __future__ import annotations

import json
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import data_file, scene

from reelscope.errors import ReelscopeError
from reelscope.media.info import probe
from reelscope.mood.circle import MOODS, circular_distance
from reelscope.mood.plan import PlanImage, PlanTrack, build_timeline, raised_cosine
from reelscope.mood.render import RenderOptions, parse_size, render
from reelscope.mood.sync import click_report, envelopes, gain_report, sync_report

RATE = 44100


# ---- helpers -------------------------------------------------------------------------------------
def write_wav(path: Path, seconds: float, freq: float, beat: float | None = None, amp: float = 0.3) -> Path:
    """A steady tone (optionally with a click-free 30 ms noise burst every ``beat`` seconds)."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = amp * np.sin(2 * np.pi * freq * t)
    if beat:
        rng = np.random.default_rng(0)
        burst = int(0.03 * RATE)
        win = np.hanning(burst)
        for b in np.arange(0.1, seconds - 0.05, beat):
            i = int(b * RATE)
            x[i:i + burst] += 0.5 * win[:len(x[i:i + burst])] * rng.normal(size=len(x[i:i + burst]))
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=RATE)
        s.layout = "mono"
        for i in range(0, len(pcm), 4096):
            fr = av.AudioFrame.from_ndarray(pcm[None, i:i + 4096], format="s16", layout="mono")
            fr.sample_rate = RATE
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def images(moods, **kw) -> list[PlanImage]:
    return [PlanImage(key=f"i{k}", name=f"img{k:02d}", mood=m, confidence=0.5 + 0.01 * k, time=float(k), **kw)
            for k, m in enumerate(moods)]


def track(name: str, mood: str, duration: float = 30.0, **kw) -> PlanTrack:
    return PlanTrack(path=f"/music/{name}.ogg", duration=duration, mood=mood, **kw)


def flat_loader(seed: int = 0):
    rng = np.random.default_rng(seed)
    colours = {}

    def load(i: int) -> np.ndarray:
        if i not in colours:
            colours[i] = rng.integers(70, 230, 3)
        img = np.empty((270, 480, 3), np.uint8)
        img[:] = colours[i]
        img[60:200, 100:380] = 255 - colours[i]
        return img
    return load


# ---- the plan ------------------------------------------------------------------------------------
def test_plan_every_slot_has_a_track_and_the_length_is_exact():
    moods = ["happy"] * 5 + ["sad"] * 4 + ["calm"] * 6 + ["excited"] * 5
    tracks = [track("a", "happy"), track("b", "sad"), track("c", "calm", 8.0)]
    tl = build_timeline(images(moods), tracks, length=45.0)
    assert tl.duration == pytest.approx(45.0)
    assert 0 < len(tl.slots) <= len(moods) and len(tl.slots) + len(tl.dropped) == len(moods)
    assert tl.slots[0].start == 0 and tl.slots[-1].end == pytest.approx(45.0)
    for a, b in zip(tl.slots, tl.slots[1:]):
        assert a.end == pytest.approx(b.start) and a.duration > 0
    for s in tl.slots:
        g = tl.groups[s.group]
        assert 0 <= g.track < len(tl.tracks) and s.image in g.images
        assert s.fade_in + s.fade_out < s.duration
    # every group's track is the nearest mood available
    for g in tl.groups:
        best = min(circular_distance(g.mood, t.mood) for t in tl.tracks)
        assert circular_distance(g.mood, tl.tracks[g.track].mood) == best
    # with 4 s per picture only 11 of the 20 fit in 45 s
    tl2 = build_timeline(images(moods), tracks, length=45.0, per_image=4.0)
    assert len(tl2.slots) == 11 and tl2.duration == pytest.approx(45.0)
    kept = {tl2.images[s.image].mood for s in tl2.slots}
    assert kept == set(moods)  # each mood keeps its share
    # no length: per-image seconds x pictures
    tl3 = build_timeline(images(moods[:6]), tracks, per_image=3.0)
    assert tl3.duration == pytest.approx(18.0) and len(tl3.slots) == 6


def test_plan_groups_walk_the_mood_circle():
    present = ["happy", "excited", "sad", "gloomy", "relaxed"]
    moods = [m for m in present for _ in range(3)]
    tl = build_timeline(images(moods), [track(m, m) for m in MOODS], per_image=4.0)
    order = [g.mood for g in tl.groups]
    # circle positions 0 1 4 5 7: the largest gap (3 steps) lies between excited and sad, so the walk
    # starts at sad and goes once around without crossing it: 1 + 2 + 1 + 1 = 5 steps in all
    assert order == ["sad", "gloomy", "relaxed", "happy", "excited"]
    steps = [circular_distance(a, b) for a, b in zip(order, order[1:])]
    assert sum(steps) == 8 - 3 and max(steps) <= 2
    for g in tl.groups:
        assert tl.tracks[g.track].mood == g.mood  # an exact match exists for every group


def test_a_track_long_enough_beats_a_jingle_of_the_same_mood():
    tracks = [track("bird-call", "happy", 3.0), track("song", "happy", 90.0)]
    tl = build_timeline(images(["happy"] * 6), tracks, per_image=4.0)
    assert tl.tracks[tl.groups[0].track].name == "song.ogg"


def test_small_groups_join_their_neighbour_and_tracks_play_on():
    moods = ["happy"] * 6 + ["excited"]  # one lonely excited picture
    tracks = [track("a", "happy", 60.0)]
    tl = build_timeline(images(moods), tracks, per_image=4.0)
    assert len(tl.groups) == 1 and tl.groups[0].mood == "happy" and len(tl.slots) == 7
    # two groups, one track only: the music plays on (offset) instead of restarting
    moods = ["happy"] * 3 + ["sad"] * 3
    tl = build_timeline(images(moods), tracks, per_image=4.0)
    assert len(tl.groups) == 2 and tl.groups[1].track == tl.groups[0].track
    assert tl.groups[1].track_offset == pytest.approx(tl.groups[0].end - tl.groups[0].start)
    assert not any(c["track_change"] for c in tl.cuts())


def test_cuts_snap_to_clear_beats_only():
    beats = list(np.arange(0.1, 60, 0.6))  # 100 BPM
    moods = ["happy"] * 6
    strong = build_timeline(images(moods), [track("beat", "happy", 60.0, beats=beats, beat_strength=0.8)],
                            per_image=4.0)
    grid = np.array(beats)
    inner = [s.end for s in strong.slots]
    assert strong.groups[0].beat_aligned
    for t in inner:
        assert np.min(np.abs(grid - t)) < 1e-6, t  # every cut is on a beat
        assert abs(t - round(t / 4.0) * 4.0) <= 0.3 + 1e-6  # and near its nominal time
    weak = build_timeline(images(moods), [track("free", "happy", 60.0, beats=beats, beat_strength=0.1)],
                          per_image=4.0)
    assert [s.end for s in weak.slots] == pytest.approx([4.0 * (k + 1) for k in range(6)])
    assert not weak.groups[0].beat_aligned
    # with a length the end stays exact even on the beat
    fixed = build_timeline(images(moods), [track("beat", "happy", 60.0, beats=beats, beat_strength=0.8)], length=25.0)
    assert fixed.duration == pytest.approx(25.0)


def test_one_envelope_drives_picture_and_sound():
    moods = ["happy"] * 3 + ["sad"] * 3
    tl = build_timeline(images(moods), [track("a", "happy"), track("b", "sad")], per_image=3.0, music_floor=0.3)
    t = np.linspace(0, tl.duration, 5001)
    pic, snd = tl.picture_gain(t), tl.audio_gain(t)
    assert pic.min() >= 0 and pic.max() <= 1 and snd.max() <= 1
    assert pic[0] == 0 and snd[0] == 0 and tl.picture_gain([tl.duration])[0] == 0
    # the sound's gain is an affine image of the picture's: floor + (1 - floor) * picture
    for c in tl.cuts():
        near = np.abs(t - c["time"]) < 0.4
        floor = 0.0 if c["track_change"] else 0.3
        assert np.allclose(snd[near], floor + (1 - floor) * pic[near], atol=1e-9)
        assert tl.picture_gain([c["time"]])[0] == pytest.approx(0.0, abs=1e-9)
        assert tl.audio_gain([c["time"]])[0] == pytest.approx(floor, abs=1e-9)
    assert sum(c["track_change"] for c in tl.cuts()) == 1
    assert raised_cosine([-1, 0, 0.5, 1, 2]) == pytest.approx([0, 0, 0.5, 1, 1])


def test_bad_plans_are_clear_errors():
    with pytest.raises(ReelscopeError, match="no usable images"):
        build_timeline([], [track("a", "happy")])
    with pytest.raises(ReelscopeError, match="no usable music"):
        build_timeline(images(["happy"]), [])
    with pytest.raises(ReelscopeError, match="order"):
        build_timeline(images(["happy"]), [track("a", "happy")], order="random")
    assert parse_size("9:16") == (1080, 1920) and parse_size("720p") == (1280, 720)
    assert parse_size("1920x1080") == (1920, 1080) and parse_size("9:16@720") == (720, 1280)
    with pytest.raises(ReelscopeError):
        parse_size("huge")
    with pytest.raises(ReelscopeError, match="two positive numbers"):  # (was a ZeroDivisionError: found by schemathesis)
        parse_size("95:0@1217p")


# ---- the rendered file -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_tracks(tmp_path_factory) -> tuple[PlanTrack, PlanTrack]:
    d = tmp_path_factory.mktemp("music")
    a = write_wav(d / "a.wav", 7.0, 220.0)
    b = write_wav(d / "b.wav", 20.0, 330.0, amp=0.2)
    return PlanTrack(str(a), 7.0, "happy", 0.8, 0.1), PlanTrack(str(b), 20.0, "sad", -0.8, -0.2)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, two_tracks):
    """A 16 s slideshow: 2 mood groups (a track change), the 7 s track looping in its group."""
    moods = ["sad"] * 2 + ["happy"] * 3
    tl = build_timeline(images(moods), list(two_tracks), length=16.0, min_group_seconds=4.0)
    out = tmp_path_factory.mktemp("render") / "show.mp4"
    opts = RenderOptions(320, 180, fps=25, preset="ultrafast")
    res = render(tl, out, flat_loader(), opts)
    return tl, out, res, opts


def test_rendered_file_is_h264_aac_of_the_planned_length(rendered):
    tl, out, res, _ = rendered
    info = probe(out)
    assert (info.codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 320, 180)
    assert info.duration == pytest.approx(16.0, abs=0.05) and res.frames == 400
    assert not list(out.parent.glob(".*partial*"))  # the temporary file was renamed


def test_picture_fade_and_music_volume_are_one_curve_in_the_file(rendered):
    tl, out, _, opts = rendered
    rep = sync_report(out, tl)
    assert rep["cuts"] == len(tl.cuts()) == 4
    assert rep["min_cut_correlation"] > 0.9, rep
    assert rep["lag_frames"] == 0, rep
    gains = gain_report(out, tl, opts)
    assert gains["min_cut_correlation"] > 0.9, gains
    # at the track change the picture is black and the music silent, in the same frames
    env = envelopes(out)
    change = next(c["time"] for c in tl.cuts() if c["track_change"])
    k = int(change * env.fps)
    assert env.brightness[k - 1:k + 1].max() < 2.0
    assert env.rms[k - 1:k + 1].max() < 0.01 * env.rms.max()


def test_no_clicks_at_track_changes_and_loop_seams(rendered):
    tl, out, _, _ = rendered
    env = envelopes(out)
    joints = [c["time"] for c in tl.cuts()]
    happy = next(g for g in tl.groups if g.mood == "happy")
    joints.append(happy.start + tl.tracks[happy.track].duration - tl.loop_crossfade / 2)  # the loop seam
    rep = click_report(env.audio, env.rate, joints)
    assert rep["max_step_at_joints"] <= 1.2 * rep["max_step_elsewhere"], rep


def test_vertical_9_16_output(tmp_path, two_tracks):
    tl = build_timeline(images(["happy", "happy"]), [two_tracks[0]], per_image=0.6)
    w, h = parse_size("9:16")
    render(tl, tmp_path / "v.mp4", flat_loader(), RenderOptions(w, h, preset="ultrafast", ken_burns=0.0))
    info = probe(tmp_path / "v.mp4")
    assert (info.width, info.height, info.codec, info.audio_codec) == (1080, 1920, "h264", "aac")


def test_failed_render_leaves_nothing(tmp_path, two_tracks):
    tl = build_timeline(images(["happy", "happy"]), [two_tracks[0]], per_image=1.0)

    def broken(i):
        raise ReelscopeError("picture gone")
    with pytest.raises(ReelscopeError):
        render(tl, tmp_path / "x.mp4", broken, RenderOptions(64, 36))
    assert list(tmp_path.iterdir()) == []


# ---- bad input ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def picture_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pictures")
    for k in range(4):
        cv2.imwrite(str(d / f"p{k}.png"), scene(40 + k, 320, 180))
    (d / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return d


@pytest.fixture(scope="module")
def music_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("music-folder")
    write_wav(d / "steady.wav", 8.0, 220.0)
    write_wav(d / "pulse.wav", 8.0, 440.0, beat=0.5)
    (d / "broken.ogg").write_bytes(b"OggS but nothing else")
    return d


def test_unreadable_images_are_reported_and_skipped(picture_dir, music_dir):
    from reelscope.mood.image_mood import ImageMoodPredictor
    from reelscope.slideshow import plan_slideshow

    plan = plan_slideshow([picture_dir, picture_dir / "missing.png"], music_dir, per_image=2.0,
                          predictor=ImageMoodPredictor(faces=False))
    assert len(plan.timeline.slots) == 4
    assert any("broken.jpg" in e and "decode" in e for e in plan.errors), plan.errors
    assert any("missing.png" in e and "not found" in e for e in plan.errors), plan.errors
    assert any("broken.ogg" in e for e in plan.errors), plan.errors  # the bad track too
    d = plan.to_dict()
    assert {m["name"] for m in d["music"]} == {"steady.wav", "pulse.wav"}
    assert all(g["track"]["name"] in {"steady.wav", "pulse.wav"} for g in d["groups"])


def test_no_usable_music_is_a_clear_error(tmp_path, picture_dir):
    from reelscope.mood.image_mood import ImageMoodPredictor
    from reelscope.slideshow import plan_slideshow

    empty = tmp_path / "no-music"
    empty.mkdir()
    with pytest.raises(ReelscopeError, match="no-music"):
        plan_slideshow([picture_dir], empty, predictor=ImageMoodPredictor(faces=False))
    (empty / "fake.mp3").write_text("not music")
    with pytest.raises(ReelscopeError, match="no usable music"):
        plan_slideshow([picture_dir], empty, predictor=ImageMoodPredictor(faces=False))


def test_cli_errors_name_the_problem(tmp_path, picture_dir):
    from typer.testing import CliRunner

    from reelscope.cli import app

    empty = tmp_path / "silence"
    empty.mkdir()
    r = CliRunner().invoke(app, ["slideshow", str(picture_dir), "--music", str(empty), "-o", str(tmp_path / "o.mp4")])
    assert r.exit_code == 2 and "silence" in r.output and "music" in r.output
    r = CliRunner().invoke(app, ["slideshow", str(picture_dir), "--music", str(empty), "--length", "soon"])
    assert r.exit_code == 2 and "--length" in r.output
    assert not (tmp_path / "o.mp4").exists()


# ---- archive sources --------------------------------------------------------------------------------
def test_video_keyframes_from_the_archive(tmp_path, edit_video, music_dir):
    import reelscope
    from reelscope.archive import Archive
    from reelscope.mood.image_mood import ImageMoodPredictor
    from reelscope.slideshow import plan_slideshow

    (o,) = reelscope.analyze([edit_video], archive=tmp_path / "arch", stages=["fast"])
    with Archive(tmp_path / "arch") as arch:
        plan = plan_slideshow(music_dir=music_dir, archive=arch, video=o.video_id, per_image=2.0, order="time",
                              predictor=ImageMoodPredictor(faces=False))
        shots = arch.video(o.video_id).shots
    assert len(plan.sources) == len(shots) >= 4
    assert all(s.thumbnail and Path(s.path).is_file() for s in plan.sources)
    times = [plan.timeline.images[s.image].time for s in plan.timeline.slots]
    if len(plan.timeline.groups) == 1:
        assert times == sorted(times)


@pytest.mark.slow
def test_character_moments_from_the_archive(tmp_path, music_dir):
    import reelscope
    from reelscope.archive import Archive
    from reelscope.slideshow import character_moments, plan_slideshow, render_slideshow

    clip = data_file("faces/openmpf_face_videos/video_01.mp4")
    (o,) = reelscope.analyze([clip], archive=tmp_path / "arch", stages=["shots", "keyframes", "faces"])
    with Archive(tmp_path / "arch") as arch:
        chars = arch.video(o.video_id).characters
        assert chars
        c = max(chars, key=lambda c: c.screen_time)
        moments = character_moments(arch, o.video_id, c.id, limit=4)
        assert 1 <= len(moments) <= 4
        assert all(m.rgb is not None and m.focus is not None and m.faces > 0 for m in moments)
        assert [m.time for m in moments] == sorted(m.time for m in moments)
        plan = plan_slideshow(music_dir=music_dir, archive=arch, video=o.video_id, character=f"#{c.idx}",
                              per_image=1.5)
    res = render_slideshow(plan, tmp_path / "c.mp4", "9:16@360", preset="ultrafast")
    assert (res.width, res.height) == (360, 640) and probe(tmp_path / "c.mp4").audio_codec == "aac"


# ---- CLI end to end on real frames and real music ------------------------------------------------------
@pytest.mark.slow
def test_cli_end_to_end_real_media(tmp_path):
    from typer.testing import CliRunner

    from reelscope.cli import app
    from reelscope.media.decode import FrameSpec, iter_frames

    pics = tmp_path / "pics"
    pics.mkdir()
    spec = FrameSpec("rgb")
    for clip in ("video/clip_01_tears_of_steel.mp4", "video/clip_02_caminandes.mp4", "video/clip_03_sintel.mp4"):
        for fr in iter_frames(data_file(clip), [spec], only={20, 140}):
            cv2.imwrite(str(pics / f"{Path(clip).stem}_{fr.index}.jpg"), cv2.cvtColor(fr[spec], cv2.COLOR_RGB2BGR))
    (pics / "zz_truncated.jpg").write_bytes((pics / "clip_03_sintel_20.jpg").read_bytes()[:200])
    music = data_file("music/Kevin_MacLeod_-_Vibe_Ace.hq.ogg").parent
    out, plan_file = tmp_path / "show.mp4", tmp_path / "plan.json"
    r = CliRunner().invoke(app, ["slideshow", str(pics), "--music", str(music), "-o", str(out), "--length", "12s",
                                 "--size", "640x360", "--plan", str(plan_file), "--preset", "ultrafast"])
    assert r.exit_code == 0, r.output
    assert "zz_truncated.jpg" in r.output and "skipped" in r.output
    info = probe(out)
    assert (info.width, info.height, info.codec, info.audio_codec) == (640, 360, "h264", "aac")
    assert info.duration == pytest.approx(12.0, abs=0.05)
    plan = json.loads(plan_file.read_text())
    assert plan["duration"] == pytest.approx(12.0) and plan["images"] == 6
    assert all(g["track"]["name"].endswith(".ogg") for g in plan["groups"])
    assert len(plan["music"]) == 7


# ---- API --------------------------------------------------------------------------------------------------
TOKEN = "slide-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _wait(c, job_id, until=("done", "failed", "cancelled", "planned"), timeout=120):
    t0 = time.monotonic()
    while True:
        j = c.get(f"/api/slideshows/{job_id}").json()
        if j["status"] in until:
            return j
        assert time.monotonic() - t0 < timeout, j
        time.sleep(0.2)


def test_api_slideshow_job(tmp_path, picture_dir, music_dir):
    from fastapi.testclient import TestClient

    from reelscope.api import create_app

    app = create_app(tmp_path / "archive", token=TOKEN, allowed_roots=[picture_dir, music_dir])
    with TestClient(base_url="http://localhost", app=app) as c:
        assert c.get("/api/slideshows/music-folders").status_code == 401  # server paths: token holders only
        folders = c.get("/api/slideshows/music-folders", headers=AUTH).json()
        assert folders == [{"path": str(music_dir.resolve()), "tracks": 3}]
        body = {"pictures": [str(picture_dir)], "music": str(music_dir), "per_image": 1.5, "size": "320x180",
                "render": False}
        assert c.post("/api/slideshows", json=body).status_code == 401
        assert c.post("/api/slideshows", json={**body, "music": str(tmp_path)}, headers=AUTH).status_code == 403
        assert c.post("/api/slideshows", json={**body, "size": "999:1"}, headers=AUTH).status_code in (400, 422)
        r = c.post("/api/slideshows", json=body, headers=AUTH)
        assert r.status_code == 202, r.text
        j = _wait(c, r.json()["id"])
        assert j["status"] == "planned", j
        assert j["plan"]["images"] == 4 and any("broken.jpg" in e for e in j["plan"]["errors"])
        assert c.get(f"/api/slideshows/{j['id']}/video").status_code == 409
        r = c.post(f"/api/slideshows/{j['id']}/render", json={"size": "9:16@180", "fps": 25, "fit": "contain",
                                                                "ken_burns": 0}, headers=AUTH)
        assert r.status_code == 202, r.text
        j = _wait(c, j["id"], until=("done", "failed", "cancelled"))
        assert j["status"] == "done", j
        assert j["result"]["width"] == 180 and j["result"]["height"] == 320
        v = c.get(j["video_url"])
        assert v.status_code == 200 and v.headers["content-type"] == "video/mp4"
        (tmp_path / "got.mp4").write_bytes(v.content)
        info = probe(tmp_path / "got.mp4")
        assert (info.codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 180, 320)
        assert c.get(j["video_url"], headers={"Range": "bytes=0-99"}).status_code == 206
        assert "attachment" in c.get(j["video_url"] + "?download=true").headers["content-disposition"]
        # uploaded pictures, rendered straight away
        files = [("files", (p.name, p.read_bytes(), "image/png")) for p in sorted(picture_dir.glob("*"))]
        opts = {"music": str(music_dir), "per_image": 1.0, "size": "320x180"}
        r = c.post("/api/slideshows", files=files, data={"options": json.dumps(opts)}, headers=AUTH)
        assert r.status_code == 202, r.text
        j = _wait(c, r.json()["id"], until=("done", "failed", "cancelled"))
        assert j["status"] == "done", j
        errors = j["plan"]["errors"]
        assert any(e.startswith("broken.jpg: not an image that can be decoded (corrupt or unsupported format")
                   for e in errors), errors
        assert any("broken.ogg" in e for e in errors) and len(errors) == 2
        assert not list((tmp_path / "archive" / "uploads").glob("slideshow-*"))  # the upload is gone
        assert len(c.get("/api/slideshows").json()) == 2
        # cancelled while it works: no video is left behind
        r = c.post("/api/slideshows", json={**body, "per_image": 20.0, "render": True}, headers=AUTH)
        c.post(f"/api/slideshows/{r.json()['id']}/cancel", headers=AUTH)
        j = _wait(c, r.json()["id"], until=("done", "failed", "cancelled"))
        assert j["status"] == "cancelled" and j["video_url"] is None
        assert not (tmp_path / "archive" / "slideshows" / f"{j['id']}.mp4").exists()
        assert not [p for p in (tmp_path / "archive" / "slideshows").iterdir() if "partial" in p.name]


# ---- web ----------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_web_slideshow_page(tmp_path, edit_video, music_dir):
    """The page in a real browser: choose a video's keyframes and the music folder, preview the
    plan (groups with tracks and thumbnails), render it, and get a playable video and a download."""
    import threading

    import uvicorn
    from test_web import CHROMIUM, CHROMIUM_ARGS, _free_port, require_browser

    import reelscope
    from reelscope.api import create_app

    sync_api = require_browser()
    reelscope.analyze([edit_video], archive=tmp_path / "arch", stages=["fast"])
    app = create_app(tmp_path / "arch", allowed_roots=[music_dir])
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda msg: problems.append(msg.text)  # the security policy refused something
                  if msg.type == "error" and "Content Security Policy" in msg.text else None)
            page.goto(f"http://127.0.0.1:{port}/slideshow")
            page.wait_for_selector("select[name=video] option[value=\"1\"]", state="attached")
            page.wait_for_selector(f"select[name=music] option[value='{music_dir.resolve()}']", state="attached")
            assert page.locator("a[data-nav=slideshow]").get_attribute("aria-current") == "page"
            page.fill("input[name=length]", "8")
            page.click("text=Preview plan")
            try:
                page.wait_for_selector(".mood-group", timeout=120_000)
            except sync_api.TimeoutError:
                raise AssertionError(f"no plan shown: {page.inner_text('main')!r} {problems}") from None
            assert page.locator(".mood-group .track").first.inner_text().startswith("♪")
            assert page.locator(".mood-group img").count() >= 1
            page.click("text=Render this plan")
            page.wait_for_selector("video[src]", timeout=180_000)
            src = page.locator("video[src]").get_attribute("src")
            assert src.startswith("/api/slideshows/") and src.endswith("/video")
            assert page.locator("a[download]").get_attribute("href").endswith("?download=true")
            browser.close()
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_gif_in_a_folder_counts_as_its_first_frame(tmp_path, data):
    """A folder of GIFs (the Intel sample clips) gives one picture per GIF, decoded as its first frame."""
    import shutil

    from reelscope.mood.sources import images_from_paths, load_rgb

    gif = data("faces/intel_sample_videos/classroom.gif")
    folder = tmp_path / "gifs"
    folder.mkdir()
    shutil.copy(gif, folder / "classroom.gif")
    images, errors = images_from_paths([folder])
    assert errors == [] and [im.name for im in images] == ["classroom.gif"]
    rgb = load_rgb(images[0].path)
    assert rgb.shape == (270, 480, 3) and rgb.std() > 5  # a real picture, not blank
