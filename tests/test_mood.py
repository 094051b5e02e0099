"""Mood: the circle, image mood (colour, faces, trained heads), music mood (tempo, beats, mode),
the music cache in the archive, the mood stage and the CLI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.io import wavfile

from reelscope.errors import MediaError, ReelscopeError
from reelscope.mood import music_dsp as dsp
from reelscope.mood.circle import (
    MOODS,
    MoodPrediction,
    angle_to_mood,
    circular_distance,
    mood_angle,
    mood_from_va,
    mood_scores,
    mood_va,
    scores_to_va,
)
from reelscope.mood.image_features import colour_features, trim_borders
from reelscope.mood.image_mood import ImageMoodPredictor, colour_va, load_image
from reelscope.mood.music import analyze_folder, analyze_samples, analyze_track

FIXTURE = Path(__file__).parent / "fixtures" / "mood" / "labels.json"
RATE = dsp.RATE


# ---- the circle ---------------------------------------------------------------------------------

def test_circle_geometry():
    assert len(MOODS) == 8 and len(set(MOODS)) == 8
    for i, m in enumerate(MOODS):
        assert mood_angle(m) == i * 45.0
        v, a = mood_va(m)
        assert mood_from_va(v, a)[0] == m  # each mood's own direction maps back to it
        assert angle_to_mood(i * 45.0 + 20) == m
        assert circular_distance(m, m) == 0
        assert circular_distance(m, MOODS[(i + 1) % 8]) == 1  # neighbours, across the wrap too
        assert circular_distance(m, MOODS[(i + 4) % 8]) == 4  # opposite
    assert circular_distance("happy", "sad") == 4 and circular_distance("relaxed", "happy") == 1
    assert max(circular_distance(a, b) for a in MOODS for b in MOODS) == 4
    assert all(circular_distance(a, b) == circular_distance(b, a) for a in MOODS for b in MOODS)
    # quadrants: positive valence + high arousal = excited; negative + low = gloomy
    assert mood_from_va(0.7, 0.7)[0] == "excited" and mood_from_va(-0.7, -0.7)[0] == "gloomy"
    assert mood_from_va(0.0, 1.0)[0] == "intense" and mood_from_va(0.0, -1.0)[0] == "calm"


def test_confidence_and_scores():
    s = mood_scores(0.0, 0.0)
    assert math.isclose(sum(s.values()), 1.0) and max(s.values()) - min(s.values()) < 1e-12
    assert mood_from_va(0.0, 0.0)[1] == 0.0  # the neutral centre has no confidence
    strong, weak = mood_from_va(0.9, 0.0)[1], mood_from_va(0.2, 0.0)[1]
    on_axis, between = mood_from_va(1.0, 0.0)[1], mood_from_va(math.cos(0.39), math.sin(0.39))[1]
    assert 0 < weak < strong <= 1 and between < on_axis
    s = mood_scores(1.0, 0.0)
    assert s["happy"] > s["excited"] > s["sad"] and s["excited"] == pytest.approx(s["relaxed"])
    p = MoodPrediction.from_va(3.0, -3.0)  # clipped into -1..1
    assert p.valence == 1.0 and p.arousal == -1.0 and p.mood == "relaxed"
    assert set(p.to_dict()["scores"]) == set(MOODS)
    with pytest.raises(ValueError, match="unknown mood"):
        circular_distance("happy", "furious")
    with pytest.raises(ValueError):
        MoodPrediction("furious", 1.0, 0, 0)


# ---- image mood ---------------------------------------------------------------------------------

def _textured(colour_rgb, seed=0, size=(180, 320), amp=25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.array(colour_rgb, np.float32)[None, None, :]
    noise = cv2.resize(rng.normal(0, amp, (size[0] // 8, size[1] // 8, 3)).astype(np.float32), size[::-1])
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def test_colour_moves_the_right_way():
    dark_blue = _textured((25, 35, 60), amp=6)  # dark, desaturated, cold
    warm = _textured((250, 170, 40), amp=30)  # bright, saturated, warm
    cd, cw = colour_features(dark_blue), colour_features(warm)
    assert cd["brightness"] < cw["brightness"] and cd["saturation"] < cw["saturation"]
    assert cd["warmth"] < 0 < cw["warmth"] and cd["colourfulness"] < cw["colourfulness"]
    (vd, ad), (vw, aw) = colour_va(cd), colour_va(cw)
    assert vd < 0 < vw and ad < aw and ad < 0
    pred = ImageMoodPredictor(faces=False)
    pd, pw = pred.predict(dark_blue), pred.predict(warm)
    assert pd.mood in ("sad", "gloomy", "calm") and pw.mood in ("happy", "excited")
    assert circular_distance(pd.mood, pw.mood) >= 3
    assert 0 < pd.confidence <= 1 and math.isclose(sum(pw.scores.values()), 1.0, abs_tol=1e-6)
    assert pw.evidence["colour"]["warmth"] > 0 and pw.evidence["faces"]["count"] == 0


def test_black_bars_are_not_darkness():
    img = _textured((200, 150, 90), seed=3)
    boxed = np.zeros((img.shape[0] + 80, img.shape[1] + 120, 3), np.uint8)
    boxed[40:-40, 60:-60] = img
    assert trim_borders(boxed).shape == img.shape
    assert colour_features(boxed)["brightness"] == pytest.approx(colour_features(img)["brightness"], abs=0.01)
    black = np.zeros((90, 160, 3), np.uint8)
    assert trim_borders(black).shape == black.shape  # a black frame stays black


def test_load_image_and_bad_paths(tmp_path, data):
    good = tmp_path / "warm.png"
    cv2.imwrite(str(good), cv2.cvtColor(_textured((240, 160, 60)), cv2.COLOR_RGB2BGR))
    assert load_image(good).shape == (180, 320, 3)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "empty.png").write_bytes(b"")
    gif = data("faces/intel_sample_videos/classroom.gif")
    frame7 = load_image(f"{gif}#7")
    assert frame7.ndim == 3 and frame7.shape[2] == 3
    res = ImageMoodPredictor(faces=False).predict_paths(
        [good, tmp_path / "broken.jpg", tmp_path / "missing.png", tmp_path / "empty.png", f"{gif}#9999"])
    assert not isinstance(res[0][1], str) and res[0][1].mood in MOODS
    msgs = [r for _, r in res[1:]]
    assert all(isinstance(m, str) for m in msgs)
    assert "broken.jpg" in msgs[0] and "decode" in msgs[0]
    assert "missing.png" in msgs[1] and "not found" in msgs[1]
    assert "empty" in msgs[2] and "9999" in msgs[3]


def _labels():
    if not FIXTURE.exists():
        pytest.skip("labels fixture missing")
    return json.loads(FIXTURE.read_text())["items"]


def test_labels_fixture_is_well_formed():
    items = _labels()
    assert len(items) >= 40
    assert {it["mood"] for it in items} <= set(MOODS)
    assert len({it["mood"] for it in items}) == 8  # every mood has at least one example
    for it in items:
        assert it["root"] in ("data", "site-packages") and isinstance(it["frame"], int) and it["frame"] >= 0
        assert not it["source"].lower().endswith((".jpg", ".png"))  # frames referenced, never stored
    assert not list(FIXTURE.parent.glob("*.jpg")) and not list(FIXTURE.parent.glob("*.png"))


@pytest.mark.slow
def test_predictor_on_real_frames(data):
    from reelscope.mood.mood_train import evaluate, load_labels
    items = [it for it in load_labels(FIXTURE, data("video").parent) if "/video/" in it.ref][:8]
    r = evaluate(ImageMoodPredictor(), items)
    assert r["n"] == len(items) == 8 and all("error" not in row for row in r["items"])
    assert all(row["predicted"] in MOODS and 0 <= row["confidence"] <= 1 for row in r["items"])
    assert 0 <= r["circular_error"] <= 4 and r["accuracy"] == pytest.approx(
        sum(row["steps"] == 0 for row in r["items"]) / 8)


@pytest.mark.slow
def test_faces_move_the_mood(data):
    """A broadly grinning man (Intel sample GIF): faces on pull the prediction to positive valence."""
    img = load_image(f"{data('faces/intel_sample_videos/head-pose-face-detection-male.gif')}#23")
    with_faces, colour_only = ImageMoodPredictor().predict(img), ImageMoodPredictor(faces=False).predict(img)
    assert with_faces.evidence["faces"]["count"] >= 1
    assert with_faces.evidence["faces"]["faces"][0]["expression"] == "happy"
    assert with_faces.valence > colour_only.valence + 0.1


@pytest.mark.slow
def test_content_cue_on_a_real_frame(data):
    """Scene content (ImageNet classes -> sentence embeddings -> mood descriptions) reads weapons
    as tense, a lakeshore as relaxed, and on a real frame blends into the colour/face point."""
    from reelscope.mood import content
    if not content.available():
        pytest.skip("EfficientNet-Lite0 or all-MiniLM-L6-v2 not installed")
    cue = content.ContentCue()
    v, a, ev = cue.va_of_tags([("assault rifle", 1.0)])
    assert v < -0.2 and a > 0.2 and ev["mood"] in ("tense", "intense")
    v, a, _ = cue.va_of_tags([("lakeshore", 1.0)])
    assert v > 0.2 and a < -0.2
    v, a, _ = cue.va_of_tags([("carousel", 0.8), ("balloon", 0.2)])
    assert v > 0.2 and a > 0
    scores, _ = cue.scores_of_tags([("not a class", 1.0)])  # unknown names: neutral, uniform
    assert scores_to_va(scores) == pytest.approx((0.0, 0.0), abs=1e-9)

    img = load_image(f"{data('video/clip_01_tears_of_steel.mp4')}#10")  # soldiers in body armour
    plain, with_content = ImageMoodPredictor(), ImageMoodPredictor(content=True)
    assert with_content.content_error is None and with_content.name == "colour+faces+content"
    p0, p1 = plain.predict(img), with_content.predict(img)
    ev = p1.evidence["content"]
    assert ev["weight"] == content.CONTENT_WEIGHT and len(ev["tags"]) == content.TOP
    assert ev["mood"] in ("tense", "intense")  # body armour, uniforms
    assert p1.evidence["colour"] == p0.evidence["colour"]
    w, (vt, at) = ev["weight"], ev["va"]
    assert p1.valence == pytest.approx((1 - w) * p0.valence + w * vt, abs=1e-3)
    assert p1.arousal == pytest.approx((1 - w) * p0.arousal + w * at, abs=1e-3)
    assert p1.mood in MOODS and math.isclose(sum(p1.scores.values()), 1.0, rel_tol=1e-6)


def test_content_cue_falls_back_when_models_are_missing(monkeypatch):
    """Without the tagger or the text model, content=True gives exactly the colour+faces result."""
    from reelscope.errors import MissingDependency
    from reelscope.mood import content

    def missing(*a, **k):
        raise MissingDependency("EfficientNet-Lite0 weights", "pip install ...")

    monkeypatch.setattr(content, "ContentCue", missing)
    img = _textured((200, 120, 60), seed=3, amp=20)
    pred = ImageMoodPredictor(faces=False, content=True)
    assert pred.content is None and "EfficientNet-Lite0" in pred.content_error
    assert pred.name == "colour" and pred.params()["content"] is False
    got, ref = pred.predict(img), ImageMoodPredictor(faces=False).predict(img)
    assert "content" not in got.evidence
    assert (got.mood, got.valence, got.arousal) == (ref.mood, ref.valence, ref.arousal)


# ---- trained head -------------------------------------------------------------------------------

def _mood_folders(root: Path, n: int = 6) -> Path:
    looks = {"gloomy": (30, 35, 55), "happy": (245, 180, 60), "calm": (150, 160, 165)}
    for mood, rgb in looks.items():
        (root / mood).mkdir(parents=True)
        for i in range(n):
            img = _textured(rgb, seed=i + 10 * len(mood), amp=12 + 3 * i)
            cv2.imwrite(str(root / mood / f"{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    (root / "calm" / "notes.txt").write_text("not an image")  # skipped by extension
    (root / "calm" / "bad.png").write_bytes(b"garbage")  # unreadable: reported, skipped
    return root


def test_train_mood_cv_and_model(tmp_path):
    from reelscope.mood.mood_train import load_labels, load_model, train_mood
    labels = load_labels(_mood_folders(tmp_path / "set"))
    assert len(labels) == 19 and {it.mood for it in labels} == {"gloomy", "happy", "calm"}
    r = train_mood(labels, tmp_path / "m.json", "colour", folds=3)
    assert r["images"] == 18 and len(r["skipped"]) == 1 and "bad.png" in r["skipped"][0][0]
    assert r["cv"]["folds"] == 3 and r["cv"]["n"] == 18 and r["cv"]["accuracy"] >= 0.9
    model = load_model(tmp_path / "m.json")
    assert model.classes == ["calm", "gloomy", "happy"] and not model.needs_faces
    pred = ImageMoodPredictor(model=tmp_path / "m.json", faces=False)
    p = pred.predict(_textured((240, 175, 70), seed=99))
    assert p.mood == "happy" and p.confidence > 0.5 and p.scores["excited"] == 0.0
    assert pred.name.startswith("trained:")
    with pytest.raises(ReelscopeError, match="not a reelscope mood model"):
        (tmp_path / "other.json").write_text('{"format": "x"}')
        load_model(tmp_path / "other.json")
    with pytest.raises(ReelscopeError, match="not a mood"):
        (tmp_path / "set" / "furious").mkdir()
        load_labels(tmp_path / "set")


def test_train_mood_cli(tmp_path):
    from typer.testing import CliRunner

    from reelscope.cli import app
    folders = _mood_folders(tmp_path / "set", n=4)
    res = CliRunner().invoke(app, ["train", "mood", str(folders), "--out", str(tmp_path / "m.json"),
                                   "--features", "colour", "--folds", "2"])
    assert res.exit_code == 0, res.output
    assert "2-fold CV on 12 images" in res.output and (tmp_path / "m.json").exists()
    img = folders / "happy" / "0.png"
    res = CliRunner().invoke(app, ["mood", "images", str(img), str(tmp_path / "nope.png"), "--no-faces", "--json",
                                   "--model", str(tmp_path / "m.json")])
    assert res.exit_code == 1  # one bad file
    assert "nope.png" in res.output and "file not found" in res.output
    assert '"mood": "happy"' in res.output


# ---- music --------------------------------------------------------------------------------------

def click_track(bpm: float, seconds: float = 12.0, rate: int = RATE, offset: float = 0.25) -> np.ndarray:
    """Short decaying noise bursts (a hi-hat-like click) every beat."""
    x = np.zeros(int(seconds * rate), np.float32)
    rng = np.random.default_rng(1)
    n = int(0.04 * rate)
    burst = rng.normal(0, 0.4, n) * np.exp(-np.arange(n) / (0.006 * rate))
    for t in np.arange(offset, seconds - 0.05, 60.0 / bpm):
        i = int(t * rate)
        x[i:i + n] += burst[:len(x) - i]
    return x


def chords(major: bool, seconds_per_chord: float = 1.0, loops: int = 3, rate: int = RATE) -> np.ndarray:
    """I-IV-V-I in C major, or i-iv-v-i in C minor, as harmonic tones (3 partials)."""
    third = 4 if major else 3
    roots = [0, 5, 7, 0]  # C, F, G, C
    t = np.arange(int(seconds_per_chord * rate)) / rate
    env = np.minimum(1.0, t / 0.02) * np.exp(-t * 1.5)
    out = []
    for _ in range(loops):
        for r in roots:
            tone = np.zeros_like(t)
            for semis in (r, r + third, r + 7, r + 12):
                f = 261.63 * 2 ** (semis / 12)
                for k, amp in ((1, 1.0), (2, 0.4), (3, 0.2)):
                    tone += amp * np.sin(2 * np.pi * f * k * t)
            out.append(0.08 * tone * env)
    return np.concatenate(out).astype(np.float32)


def test_tempo_of_click_tracks():
    for bpm in (120.0, 100.0):
        a = analyze_samples(click_track(bpm))
        assert a.tempo == pytest.approx(bpm, rel=0.02)
        gaps = np.diff(a.beat_times)
        assert len(a.beat_times) >= 12 and np.median(gaps) == pytest.approx(60.0 / bpm, rel=0.03)
        assert a.beat_strength > 0.5  # a metronome has a clear pulse
    a = analyze_samples(click_track(120.0, offset=0.25))
    assert a.beat_times[0] == pytest.approx(0.25, abs=0.03)  # beats land on the clicks


def test_mode_of_major_and_minor_progressions():
    maj, mnr = analyze_samples(chords(True)), analyze_samples(chords(False))
    assert maj.mode == "major" and maj.key == "C major"
    assert mnr.mode == "minor" and mnr.key == "C minor"
    assert maj.mode_strength > 0 > mnr.mode_strength
    assert maj.valence > mnr.valence


def test_music_bad_input(tmp_path):
    with pytest.raises(MediaError, match="too short"):
        analyze_samples(np.zeros(RATE // 4, np.float32), path="x.wav")
    with pytest.raises(MediaError, match="silent"):
        analyze_samples(np.zeros(RATE * 3, np.float32), path="x.wav")
    with pytest.raises(ReelscopeError, match="music folder not found"):
        analyze_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no music here")
    with pytest.raises(ReelscopeError, match=r"empty: no music files found"):
        analyze_folder(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.mp3").write_text("not audio\n" * 10)
    (bad / "zero.ogg").write_bytes(b"")
    with pytest.raises(ReelscopeError, match=r"bad: no usable music \(2 audio file"):
        analyze_folder(bad)


def _write_wav(path: Path, x: np.ndarray) -> Path:
    wavfile.write(str(path), RATE, (np.clip(x, -1, 1) * 32767).astype(np.int16))
    return path


def test_folder_cache_and_skips(tmp_path, db_url, monkeypatch):
    from reelscope.archive import Archive
    from reelscope.archive.mood_io import ArchiveMusicCache, music_tracks
    from reelscope.mood import music

    folder = tmp_path / "music"
    folder.mkdir()
    _write_wav(folder / "clicks.wav", click_track(120.0, 8.0))
    _write_wav(folder / "minor.wav", chords(False, loops=2))
    (folder / "broken.ogg").write_bytes(b"OggS" + b"\x00" * 200)
    (folder / "cover.jpg").write_bytes(b"\xff\xd8")  # not music: ignored
    arch = Archive(tmp_path / "arch", db_url)
    errors: list = []
    first = analyze_folder(folder, cache=ArchiveMusicCache(arch), errors=errors)
    assert [Path(a.path).name for a in first] == ["clicks.wav", "minor.wav"]
    assert not any(a.cached for a in first)
    assert len(errors) == 1 and errors[0][0].endswith("broken.ogg") and "broken.ogg" in errors[0][1]
    stored = {Path(t.path).name: t for t in music_tracks(arch)}
    assert set(stored) == {"clicks.wav", "minor.wav"}
    assert stored["clicks.wav"].tempo == pytest.approx(120, rel=0.02)
    assert stored["clicks.wav"].beat_times == first[0].beat_times and stored["minor.wav"].mode == "minor"

    decoded = []

    def no_decoding(path):  # only the broken file (never cached) may be tried again
        decoded.append(Path(path).name)
        raise MediaError(path, "still broken")

    monkeypatch.setattr(music, "analyze_track", no_decoding)
    again = analyze_folder(folder, cache=ArchiveMusicCache(arch), errors=[])
    assert decoded == ["broken.ogg"] and all(a.cached for a in again)
    assert [a.to_dict(beats=True) | {"cached": False} for a in again] == \
        [a.to_dict(beats=True) | {"cached": False} for a in first]
    monkeypatch.undo()
    forced = analyze_folder(folder, cache=ArchiveMusicCache(arch), force=True, errors=[])
    assert not any(a.cached for a in forced)
    arch.close()


@pytest.mark.slow
def test_real_tracks(data):
    folder = data("music")
    tracks = {Path(a.path).name: a for a in analyze_folder(folder)}
    assert len(tracks) == 7
    for a in tracks.values():
        assert a.mood in MOODS and 0 <= a.confidence <= 1 and -1 <= a.valence <= 1 and -1 <= a.arousal <= 1
        assert 0 <= a.energy <= 1 and a.brightness > 0 and a.duration > 1
        if a.tempo is not None:
            assert 30 <= a.tempo <= 300 and len(a.beat_times) > 0
            assert all(0 <= t <= a.duration for t in a.beat_times)
    trumpet = tracks["sorohanro_-_solo-trumpet-06.hq.ogg"]  # "90 bpm" per its description
    assert any(abs(t / f - 90) / 90 < 0.08 for t in (trumpet.tempo, trumpet.tempo_alternative or 0) for f in (1, 2)
               if t)
    assert trumpet.key.startswith("F")  # "all parts in F"
    whale = tracks["glacier-bay-humpback.hq.ogg"]
    assert whale.tempo is None and whale.beat_times == []  # whale song has no steady beat
    assert tracks["Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg"].mode == "major"  # cheerful folk-pop
    assert tracks["Karissa_Hobbs_-_Lets_Go_Fishin.hq.ogg"].mood in ("happy", "excited")
    assert analyze_track(folder / "sorohanro_-_solo-trumpet-06.hq.ogg").tempo == trumpet.tempo  # deterministic


def test_music_cli(tmp_path):
    from typer.testing import CliRunner

    from reelscope.cli import app
    folder = tmp_path / "music"
    folder.mkdir()
    _write_wav(folder / "clicks.wav", click_track(120.0, 8.0))
    (folder / "bad.mp3").write_text("nope")
    runner = CliRunner()
    res = runner.invoke(app, ["mood", "music", str(folder), "--archive", str(tmp_path / "a"), "--json"])
    assert res.exit_code == 1 and "bad.mp3" in res.output  # the bad file is reported, the rest printed
    assert '"filename": "clicks.wav"' in res.output and '"cached": false' in res.output
    res = runner.invoke(app, ["mood", "music", str(folder / "clicks.wav"), "--archive", str(tmp_path / "a"), "--json"])
    assert res.exit_code == 0 and '"cached": true' in res.output
    (tmp_path / "none").mkdir()
    res = runner.invoke(app, ["mood", "music", str(tmp_path / "none"), "--no-cache"])
    assert res.exit_code == 2 and "no music files found" in res.output


# ---- the mood stage -----------------------------------------------------------------------------

def test_mood_stage_writes_shots(tmp_path, short_video):
    from sqlalchemy import select

    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive import schema as db

    (o,) = reelscope.analyze([short_video], archive=tmp_path / "arch", stages=["mood"],
                             params={"mood": {"faces": False}})
    assert o.status == "analyzed", o.error
    with Archive(tmp_path / "arch") as arch:
        video = arch.video(o.video_id)
        assert len(video.shots) == 2
        for sh in video.shots:
            assert sh.mood in MOODS and 0 <= sh.mood_confidence <= 1
            assert set(sh.mood_scores) == set(MOODS) and math.isclose(sum(sh.mood_scores.values()), 1, abs_tol=1e-3)
        with arch.session() as s:
            tags = s.scalars(select(db.Tag).where(db.Tag.video_id == o.video_id, db.Tag.source == "mood")).all()
        assert sorted((t.shot_idx, t.label) for t in tags) == sorted((sh.idx, sh.mood) for sh in video.shots)
        runs = {r.stage: r.params for r in video.runs}
        assert runs["mood"]["predictor"] == "colour"
    # rerun with --force semantics: mood rows replaced, not duplicated
    reelscope.analyze([short_video], archive=tmp_path / "arch", stages=["mood"], params={"mood": {"faces": False}},
                      force=True)
    with Archive(tmp_path / "arch") as arch, arch.session() as s:
        assert len(s.scalars(select(db.Tag).where(db.Tag.source == "mood")).all()) == 2
