"""Decoding: exact indices/timestamps, VFR, rotation, formats, audio, probing errors."""
from fractions import Fraction

import numpy as np
import pytest

from reelscope.errors import MediaError
from reelscope.media import FrameSpec, extract_audio, iter_frames, probe, seconds_to_timecode


def test_probe_describes_synthetic_video(short_video):
    info = probe(short_video)
    assert (info.width, info.height, info.rotation) == (192, 108, 0)
    assert info.fps == Fraction(25)
    assert info.frame_count_hint == 60
    assert not info.has_audio
    assert len(info.fingerprint) == 32


def test_frame_indices_and_specs(short_video):
    specs = [FrameSpec("yuv", 64, 36), FrameSpec("luma", 32, 18), FrameSpec("rgb", 48, 27), FrameSpec("rgb")]
    frames = list(iter_frames(short_video, specs))
    assert [f.index for f in frames] == list(range(60))
    assert np.allclose([f.time for f in frames], np.arange(60) / 25)
    f = frames[0]
    assert f[specs[0]].shape == (36, 64, 3) and f[specs[1]].shape == (18, 32)
    assert f[specs[2]].shape == (27, 48, 3) and f[specs[3]].shape == (108, 192, 3)


def test_variable_frame_rate_times_are_exact(vfr_video):
    path, expected = vfr_video
    times = [f.time for f in iter_frames(path, [FrameSpec("luma", 16, 9)])]
    assert len(times) == len(expected)
    assert np.allclose(times, expected, atol=1e-6)


def test_stopping_early_releases_the_decoder(short_video):
    it = iter_frames(short_video, [FrameSpec("luma", 16, 9)], prefetch=2)
    first = [next(it) for _ in range(3)]
    it.close()
    assert [f.index for f in first] == [0, 1, 2]


def test_audio_extraction(audio_only):
    a = extract_audio(audio_only, rate=8000)
    assert a.dtype == np.float32 and a.ndim == 1
    assert abs(len(a) - 16000) < 2000  # 2 s at 8 kHz
    assert 0.2 < np.abs(a).max() <= 1.0


def test_audio_missing_is_a_clear_error(short_video):
    with pytest.raises(MediaError, match="no audio stream"):
        extract_audio(short_video)


@pytest.mark.parametrize("kind, message", [
    ("missing", "file not found"),
    ("directory", "is a directory"),
    ("empty", "empty"),
    ("text", "not a media file"),
    ("undecodable", "no decodable video frame"),
])
def test_probe_rejects_bad_files(bad_files, kind, message):
    with pytest.raises(MediaError, match=message) as e:
        probe(bad_files[kind])
    assert str(bad_files[kind]) in str(e.value)


def test_probe_rejects_audio_only(audio_only):
    with pytest.raises(MediaError, match="audio only"):
        probe(audio_only)


def test_timecodes():
    assert seconds_to_timecode(3661.5) == "01:01:01.500"
    assert seconds_to_timecode(2.5, Fraction(24)) == "00:00:02:12"


@pytest.mark.slow
def test_rotation_metadata_is_honoured(data):
    path = data("faces/openmpf_face_videos/new_face_video-90.mp4")
    info = probe(path)
    assert info.rotation in (90, 270)
    frame = next(iter(iter_frames(path, [FrameSpec("rgb")], rotation=info.rotation)))
    img = frame[FrameSpec("rgb")]
    assert img.shape[:2] == (info.height, info.width)


@pytest.mark.slow
@pytest.mark.parametrize("rel, frames", [
    ("video/big_buck_bunny_0_30.webm", 720),  # VP8 in WebM; container reports no frame count
    ("video/five-second-marathon-clip.mkv", None),
    ("faces/intel_sample_videos/head-pose-face-detection-female.gif", None),
    ("shots/pyscenedetect_testvideo/counter.mp4", 30),
])
def test_real_containers_decode(data, rel, frames):
    path = data(rel)
    info = probe(path)
    n = sum(1 for _ in iter_frames(path, [FrameSpec("yuv", 64, 36)], rotation=info.rotation))
    assert n > 0
    if frames is not None:
        assert n == frames


@pytest.mark.parametrize("name, codec, pix_fmt", [
    ("clip.avi", "mpeg4", "yuv420p"),
    ("clip.webm", "libvpx", "yuv420p"),
    ("clip.mkv", "libx264", "yuv420p"),
])  # GIF decoding is covered by the real Intel GIFs in test_real_containers_decode
def test_container_formats_decode_every_frame(synth_dir, name, codec, pix_fmt):
    from conftest import encode, scene, shot_frame

    frames = [shot_frame(scene(40), t) for t in range(20)]
    try:
        path = encode(synth_dir / name, frames, codec=codec, pix_fmt=pix_fmt, fps=10)
    except Exception as e:  # an encoder missing from this FFmpeg build is not our bug
        pytest.skip(f"cannot encode {name} with {codec}: {e}")
    info = probe(path)
    got = list(iter_frames(path, [FrameSpec("rgb")]))
    assert len(got) == 20 and (info.width, info.height) == (192, 108)
    # decoded pictures resemble what was encoded (lossy codecs, palette for GIF)
    err = np.abs(got[10][FrameSpec("rgb")].astype(int) - frames[10].astype(int)).mean()
    assert err < 20, err


def test_only_selected_frames_are_converted(short_video):
    spec = FrameSpec("rgb", 48, 27)
    got = list(iter_frames(short_video, [spec], only={3, 17, 40}))
    assert [f.index for f in got] == [3, 17, 40]
    assert np.allclose([f.time for f in got], [3 / 25, 17 / 25, 40 / 25])
    assert got[0][spec].shape == (27, 48, 3)
    assert list(iter_frames(short_video, [spec], only=set())) == []
