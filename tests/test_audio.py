"""Audio analysis: loudness, pitch, VAD, speech/music/silence segments, arousal, and the audio
stage on files without audio."""
from __future__ import annotations

import av
import numpy as np
import pytest

from reelscope.audio.analyze import align, analyze_audio, analyze_clip
from reelscope.audio.arousal import arousal_curve, arousal_terms
from reelscope.audio.features import frame_features, yin
from reelscope.audio.loudness import FLOOR, measure
from reelscope.audio.segments import classify_steps, smooth_labels
from reelscope.audio.vad import SileroVAD, frames_with_context
from reelscope.media.audio import AudioClip, read_audio

RATE = 16000


def write_audio(path, samples: np.ndarray, rate: int = RATE, codec: str = "pcm_s16le"):
    """A WAV/MKA file from float samples (n,) or (n, 2)."""
    stereo = samples.ndim == 2
    layout = "stereo" if stereo else "mono"
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.layout = layout
        data = samples if stereo else samples[:, None]
        pcm = (np.clip(data, -1, 1) * 32767).astype(np.int16)
        for i in range(0, len(pcm), 1024):
            chunk = np.ascontiguousarray(pcm[i:i + 1024]).reshape(1, -1)
            fr = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
            fr.sample_rate = rate
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def sine(freq: float, seconds: float, dbfs: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# ---- loudness ---------------------------------------------------------------------------------
def test_loudness_of_a_sine_matches_bs1770():
    pyloudnorm = pytest.importorskip("pyloudnorm")
    x = sine(1000, 10, -20.0)
    mono = measure(x, RATE)
    # BS.1770: a 1 kHz sine at 0 dBFS peak in one channel reads -3.01 LUFS (+ ~0.0x dB of K-weighting
    # gain at 1 kHz), so -20 dBFS peak reads about -23.0
    assert mono.integrated == pytest.approx(-23.0, abs=0.15)
    assert mono.integrated == pytest.approx(pyloudnorm.Meter(RATE).integrated_loudness(x.astype(np.float64)), abs=1e-6)
    assert mono.sample_peak == pytest.approx(-20.0, abs=0.01)
    stereo = measure(np.stack([x, x], axis=1), RATE)
    assert stereo.integrated == pytest.approx(mono.integrated + 10 * np.log10(2), abs=0.01)  # powers add
    curve = mono.curve(1.0, 10)
    assert np.allclose(curve, mono.integrated, atol=0.1)  # steady tone: flat curve
    assert mono.range is not None and mono.range < 1.5


def test_loudness_curve_follows_level_changes_and_floors_silence():
    x = np.concatenate([np.zeros(3 * RATE, np.float32), sine(1000, 3, -30.0), sine(1000, 3, -10.0)])
    lo = measure(x, RATE)
    c = lo.curve(1.0, 9)
    assert c[0] == FLOOR and c[1] == FLOOR
    assert c[4] == pytest.approx(-33.0, abs=0.2) and c[7] == pytest.approx(-13.0, abs=0.2)
    assert measure(np.zeros(100, np.float32), RATE).integrated == FLOOR  # shorter than a block


def test_read_audio_keeps_stereo_and_start(tmp_path):
    left, right = sine(440, 2, -12.0), sine(660, 2, -18.0)
    path = write_audio(tmp_path / "st.wav", np.stack([left, right], axis=1))
    clip = read_audio(path, RATE, "auto")
    assert clip.samples.shape[1] == 2 and clip.source_channels == 2 and clip.start == 0.0
    assert abs(len(clip.samples) - 2 * RATE) < 200
    # channels are not swapped or mixed
    assert np.abs(clip.samples[:, 0]).max() == pytest.approx(10 ** (-12 / 20), rel=0.02)
    assert np.abs(clip.samples[:, 1]).max() == pytest.approx(10 ** (-18 / 20), rel=0.02)
    assert read_audio(path, RATE, "mono").samples.ndim == 1


def test_align_pads_a_late_start_and_drops_audio_before_zero():
    x = np.ones(RATE, np.float32)
    late = align(AudioClip(x, RATE, 0.5, 1, "pcm"))
    assert len(late) == RATE + RATE // 2 and late[: RATE // 2].max() == 0
    early = align(AudioClip(x, RATE, -0.25, 1, "pcm"))
    assert len(early) == RATE - RATE // 4


# ---- features -------------------------------------------------------------------------------
def test_yin_finds_the_pitch_of_a_harmonic_tone():
    t = np.arange(RATE) / RATE
    x = sum(0.2 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 6)).astype(np.float32)
    ff = frame_features(x)
    voiced = ff.f0[5:-5]
    assert (voiced > 0).all()
    assert np.median(voiced) == pytest.approx(220, rel=0.01)
    noise = np.random.default_rng(0).normal(0, 0.1, RATE).astype(np.float32)
    assert (frame_features(noise).f0 > 0).mean() < 0.1  # noise is not pitched
    # direct call on frames, octave-safe: 110 Hz is not reported as 220 or 55
    f0, clarity = yin(np.stack([np.sin(2 * np.pi * 110 * np.arange(1024) / RATE)]))
    assert f0[0] == pytest.approx(110, rel=0.01) and clarity[0] > 0.9


def test_tonal_cue_separates_held_notes_from_noise():
    chord = (sine(440, 3, -20) + sine(554.4, 3, -20) + sine(659.3, 3, -20))
    noise = np.random.default_rng(1).normal(0, 0.05, 3 * RATE).astype(np.float32)
    assert np.median(frame_features(chord).tonal) > 0.5
    assert np.median(frame_features(noise).tonal) < 0.02


# ---- VAD and segments -------------------------------------------------------------------------
def test_vad_frames_carry_context():
    x = np.arange(1100, dtype=np.float32)
    f = frames_with_context(x)
    assert f.shape == (3, 576)
    assert (f[0, :64] == 0).all() and (f[1, :64] == x[448:512]).all() and (f[2, 64:64 + 76] == x[1024:]).all()


def test_vad_is_silent_on_silence():
    p = SileroVAD().probabilities(np.zeros(3 * RATE, np.float32))
    assert len(p) == 3 * RATE // 512 + 1 and p.max() < 0.1


def test_real_speech_is_mostly_speech(data):
    res = analyze_audio(data("speech/198-209-0000.hq.ogg"))
    assert res.available and res.channels == 1
    assert res.share("speech") >= 0.8
    assert res.share("music") <= 0.1
    assert -35 < res.integrated_lufs < -15


@pytest.mark.parametrize("name", ["Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
                                  "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg"])
def test_real_music_is_mostly_music(data, name):
    res = analyze_audio(data(f"music/{name}"))
    assert res.share("music") >= 0.8
    assert res.share("speech") <= 0.05
    assert np.median(res.curves["music"]) > 0.6
    assert np.median(res.curves["speech"]) < 0.1


def test_silence_file_is_silence(tmp_path):
    rng = np.random.default_rng(2)
    hiss = (10 ** (-75 / 20) * rng.normal(0, 1, 5 * RATE)).astype(np.float32)  # far under the gate
    res = analyze_audio(write_audio(tmp_path / "quiet.wav", hiss))
    assert [s.kind for s in res.segments] == ["silence"]
    assert res.segments[0].start == 0 and res.segments[0].end == pytest.approx(5.0, abs=0.05)
    assert res.curves["arousal"].max() < 0.05
    assert res.integrated_lufs == FLOOR


def test_step_labels_and_smoothing():
    loud = np.array([-80] + [-20] * 8, float)
    speech = np.array([0.0, 0.9, 0.9, 0.1, 0.9, 0.9, 0.6, 0.6, 0.2])
    music = np.array([0.0, 0.1, 0.1, 0.8, 0.1, 0.1, 0.7, 0.7, 0.3])
    # step 3 is music between speech neighbours -> smoothed to speech; steps 6-7 are singing (music
    # with a moderate VAD) -> music; step 8 neither -> other
    assert classify_steps(loud, speech, music) == ["silence"] + ["speech"] * 5 + ["music", "music", "other"]
    assert smooth_labels(["a", "b", "a", "a"]) == ["a", "a", "a", "a"]


# ---- arousal ----------------------------------------------------------------------------------
def test_arousal_is_higher_for_a_loud_fast_section(tmp_path):
    rng = np.random.default_rng(3)
    quiet = sine(220, 10, -40.0) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * np.arange(10 * RATE) / RATE)) ** 2
    loud = np.zeros(10 * RATE, np.float32)
    for k in range(80):  # 8 bright noise bursts per second at -6 dBFS peak
        a = int(k * RATE / 8)
        burst = rng.normal(0, 0.25, RATE // 20) * np.hanning(RATE // 20)
        loud[a:a + len(burst)] += burst.astype(np.float32)
    clip = AudioClip(np.concatenate([quiet, loud]).astype(np.float32), RATE, 0.0, 1, "pcm")
    res = analyze_clip(clip)
    a = res.curves["arousal"]
    assert a[12:19].mean() > a[1:8].mean() + 0.3
    assert res.curves["onset_rate"][12:19].mean() > 5
    assert 0 <= a.min() and a.max() <= 1


def test_arousal_terms_are_clipped_and_pitch_optional():
    n = 4
    stats = {"pitch": np.zeros(n), "pitch_range": np.zeros(n), "onset_rate": np.array([0, 3, 6, 60.0]),
             "centroid": np.array([0, 1000, 3000, 9000.0]), "pulse": np.zeros(n), "tempo": np.zeros(n)}
    loud = np.array([-70, -30, -10, 0.0])
    t = arousal_terms(loud, stats)
    assert np.isnan(t["pitch"]).all()  # no voiced steps
    assert t["events"].tolist() == [0, 0.5, 1, 1] and t["loudness"][[0, 3]].tolist() == [0, 1]
    a = arousal_curve(loud, stats, sigma=0)
    assert a[0] == 0 and a[0] < a[1] < a[2] <= a[3]


# ---- no audio ---------------------------------------------------------------------------------
def test_file_without_audio_says_so(short_video):
    res = analyze_audio(short_video)
    assert not res.available and "no audio" in res.reason and not res.segments and not res.curves


def test_audio_only_file_analyses(audio_only):
    res = analyze_audio(audio_only)  # a 2 s AAC tone: no video stream needed
    assert res.available and res.duration == pytest.approx(2.0, abs=0.15)  # + AAC padding
    assert res.share("speech") == 0
    assert np.median(res.curves["pitch"][res.curves["pitch"] > 0]) == pytest.approx(440, rel=0.02)


def test_cli_audio_command(tmp_path, audio_only, short_video):
    import json

    from typer.testing import CliRunner

    from reelscope.cli import app

    r = CliRunner().invoke(app, ["audio", str(audio_only), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["summary"]["available"] and set(d["curves"]) >= {"loudness", "arousal", "speech", "music"}
    r = CliRunner().invoke(app, ["audio", str(short_video)])
    assert r.exit_code == 1 and "no audio stream" in r.output


def test_vad_blocks_match_one_pass(data):
    """Block-wise framing (bounded memory) gives the same probabilities as framing the whole file."""
    x = read_audio(data("speech/3436-172162-0000.hq.ogg"), RATE).samples  # 16.7 s: two blocks
    vad = SileroVAD()
    got = vad.probabilities(x)
    inp = frames_with_context(x)
    h = c = np.zeros((1, 1, 128), np.float32)
    ref = []
    for i in range(0, len(inp), 512):
        p, h, c = vad.session.run({"input": inp[i:i + 512], "h": h, "c": c})
        ref.append(p.reshape(-1))
    assert len(inp) > 512 and np.allclose(got, np.concatenate(ref), atol=1e-6)
    assert (got > 0.5).mean() > 0.7


def test_streaming_loudness_matches_pyloudnorm_on_the_whole_array(data):
    """The chunked K-weighting (memory O(chunk)) gives pyloudnorm's integrated loudness, momentary
    blocks and loudness range on real stereo music."""
    import warnings

    import pyloudnorm

    from reelscope.audio import loudness as L
    from reelscope.media.audio import read_audio

    x = read_audio(data("video/big_buck_bunny_0_30.webm"), 16000, "auto").samples
    got = L.measure(x, 16000)
    m = pyloudnorm.Meter(16000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = m.integrated_loudness(np.asarray(x, np.float64))
        mom = np.maximum(np.nan_to_num(np.asarray(m.blockwise_loudness), nan=-70, neginf=-70), -70)
        lra = m.loudness_range(np.asarray(x, np.float64))
    assert got.integrated == pytest.approx(ref, abs=1e-6) and got.range == pytest.approx(lra, abs=1e-6)
    assert len(got.momentary) == len(mom) and np.abs(got.momentary - mom).max() < 1e-4
