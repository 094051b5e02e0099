"""Odd media: damage in the middle of a file, audio with cover art, variable and low frame rates,
videos of a few frames. Every file is made here with PyAV's real encoders (most from the Sintel
clip of the shared media, whose seven cuts are verified by eye)."""
from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from conftest import REPO, data_file, encode, scene, shot_frame
from reelscope.archive import Archive
from reelscope.archive import schema as db
from reelscope.cli import app
from reelscope.errors import MediaError
from reelscope.eval.odd_media import (at_rate, audio_with_cover, cut_times, cuts_found, every_frame,
                                      overwrite_middle, rewrite_video, thinned, video_with_cover)
from reelscope.media import FrameSpec, iter_frames, probe
from reelscope.media.decode import DecodeStats
from reelscope.media.integrity import check_complete
from reelscope.shots.backends import make_detector
from reelscope.shots.fast import FastDetector
from reelscope.shots.run import detect

runner = CliRunner()
SINTEL = "video/clip_03_sintel.mp4"
SINTEL_CUTS = cut_times(REPO / "tests" / "fixtures" / "shots" / "clip_03_sintel.json")


@pytest.fixture(scope="module")
def sintel():
    return data_file(SINTEL)


def fast_cuts(path) -> tuple[list[int], list[float], str | None]:
    r = detect(path, probe(path), [make_detector("fast")])
    return [t.boundary for t in r.transitions["fast"]], r.frame_times, r.warning


# ---- audio with cover art ---------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".ogg", ".mp3", ".m4a"])
def test_audio_with_cover_art_is_not_a_video(tmp_path, ext):
    path = audio_with_cover(tmp_path / f"song{ext}")
    with pytest.raises(MediaError, match=r"no video stream \(audio with cover art\)") as e:
        probe(path)
    assert str(path) in str(e.value)
    res = runner.invoke(app, ["analyze", str(path), "-a", str(tmp_path / "a"), "--stages", "shots"])
    assert res.exit_code == 1
    assert f"{path}: has no video stream (audio with cover art)" in res.stderr


def test_shared_ogg_with_cover_art(data):
    path = data("music/Kevin_MacLeod_-_Vibe_Ace.hq.ogg")
    with pytest.raises(MediaError, match=r"no video stream \(audio with cover art\)"):
        probe(path)


def test_video_with_cover_art_analyses_the_video(tmp_path):
    frames = [shot_frame(scene(40), t) for t in range(30)]
    path = video_with_cover(tmp_path / "with_cover.mp4", frames)
    info = probe(path)
    assert (info.codec, info.width, info.height) == ("h264", 192, 108)
    assert len(list(iter_frames(path, [FrameSpec("luma", 16, 9)]))) == 30


# ---- variable frame rate ------------------------------------------------------------------------
def test_variable_frame_rate_matroska_is_analysed_with_exact_times(tmp_path, sintel):
    """24 fps for 4 s, then every third frame: 144 frames, though duration x average rate says 238."""
    path = tmp_path / "vfr.mkv"
    _, times = rewrite_video(sintel, path, thinned(4.0, 3))
    assert len(times) == 144
    info = probe(path)
    assert not info.frame_count_exact and info.frame_count_hint > 200  # the misleading estimate
    arch = tmp_path / "a"
    res = runner.invoke(app, ["analyze", str(path), "-a", str(arch), "--stages", "shots"])
    assert res.exit_code == 0, res.stderr
    assert "warning" not in res.stderr
    with Archive(arch) as a:
        (v,) = a.videos()
        stored = a.load_stage(v.id, "shots")
        assert stored["frame_count"] == 144
        assert np.allclose(stored["frame_times"], times, atol=1e-3)  # the exact pts, ms time base
        with a.session() as s:
            starts = [sh.start_time for sh in s.scalars(select(db.Shot).where(db.Shot.video_id == v.id)
                                                         .order_by(db.Shot.idx))]
    bounds = [t.boundary for t in stored["transitions"]]
    found, extra = cuts_found(bounds, times, SINTEL_CUTS)
    assert found >= 6 and extra == 0, (bounds, found, extra)
    assert np.allclose(starts[1:], [times[b] for b in sorted(bounds)], atol=1e-3)
    assert any(t > 4.0 for t in starts[1:])  # cuts are found in the slow part too


def test_truncated_matroska_is_an_error(tmp_path, sintel):
    path = tmp_path / "vfr.mkv"
    rewrite_video(sintel, path, thinned(4.0, 3))
    raw = path.read_bytes()
    half = tmp_path / "half.mkv"
    half.write_bytes(raw[: len(raw) // 2])
    stats = DecodeStats()
    for _ in iter_frames(half, [FrameSpec("luma", 16, 9)], stats=stats):
        pass
    with pytest.raises(MediaError, match="truncated or corrupt: decoded .* frames covering"):
        check_complete(half, probe(half), stats)


# ---- low frame rates ------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [15, 12, 8])
def test_cuts_are_found_at_low_frame_rates(tmp_path, sintel, rate):
    path = tmp_path / f"sintel_{rate}.mp4"
    rewrite_video(sintel, path, at_rate(rate), time_base=Fraction(1, rate))
    bounds, ftimes, warning = fast_cuts(path)
    assert warning is None and len(ftimes) == 10 * rate
    found, extra = cuts_found(bounds, ftimes, SINTEL_CUTS)
    assert found >= 6 and extra == 0, (rate, bounds)


def test_without_times_the_detector_keeps_its_frame_rules(tmp_path, sintel):
    """Fed no times (frames taken as 24 fps), an 8 fps clip is judged with the 24 fps rules."""
    path = tmp_path / "sintel_8.mp4"
    _, times = rewrite_video(sintel, path, at_rate(8), time_base=Fraction(1, 8))
    timed, untimed = FastDetector(), FastDetector()
    for f in iter_frames(path, [timed.frame_spec]):
        timed.process(f.index, f[timed.frame_spec], f.time)
        untimed.process(f.index, f[untimed.frame_spec])
    found_timed, _ = cuts_found([t.boundary for t in timed.finish(len(times))], times, SINTEL_CUTS)
    found_untimed, _ = cuts_found([t.boundary for t in untimed.finish(len(times))], times, SINTEL_CUTS)
    assert found_timed >= 6 and found_untimed < found_timed


# ---- damage in the middle ----------------------------------------------------------------------
def test_garbage_in_the_middle_is_a_warning_and_cuts_around_it_are_found(tmp_path, sintel):
    """Keyframes every second; 64 KB of garbage over the middle of the file: the cuts before the
    damage and after the next keyframe are found, the repaired picture at that keyframe is not
    taken for a cut, and the run says how much was decoded."""
    clean = tmp_path / "clean.mp4"
    rewrite_video(sintel, clean, every_frame, time_base=Fraction(1, 24),
                  options={"x264-params": "keyint=24:min-keyint=24:scenecut=0"})
    bad = overwrite_middle(clean, tmp_path / "damaged.mp4")
    bounds, ftimes, warning = fast_cuts(bad)
    assert warning and re.search(r"decode errors between [\d.]+ s and [\d.]+ s", warning)
    m = re.search(r"decoded (\d+) of 240 frames \((\d+\.\d)%\)", warning)
    assert m and int(m.group(1)) == len(ftimes) < 240
    gaps = np.diff(ftimes)
    g = int(np.argmax(gaps))
    lost_from, lost_to = ftimes[g], ftimes[g + 1]
    assert gaps[g] > 0.2  # frames were lost
    truths = SINTEL_CUTS
    next_key = math.ceil(lost_to + 1e-6)  # keyframes every second: the picture is whole again there
    clear = [t for t in truths if t < lost_from or t > next_key]
    found, extra = cuts_found(bounds, ftimes, clear)
    assert found == len(clear) >= 5 and extra == 0, (bounds, [round(ftimes[b], 2) for b in bounds], clear)

    arch = tmp_path / "a"
    res = runner.invoke(app, ["analyze", str(bad), "-a", str(arch), "--stages", "shots"])
    assert res.exit_code == 0, res.stderr
    assert re.search(r"warning:.*damaged\.mp4: decode errors .* decoded \d+ of 240 frames \(\d+\.\d%\)",
                     " ".join(res.stderr.split())), res.stderr
    with Archive(arch) as a:
        (v,) = a.videos()
        run = a.stored_runs(v.id)["shots"]
        assert any("decoded" in w for w in run.params["_warnings"])


def test_garbage_in_matroska_is_a_warning(tmp_path, sintel):
    """Matroska's demuxer skips damaged data without an error: the gap in the timestamps of a
    constant-rate stream still says how many frames are missing."""
    clean = tmp_path / "clean.mkv"
    rewrite_video(sintel, clean, every_frame, options={"x264-params": "keyint=24:min-keyint=24:scenecut=0"})
    bad = overwrite_middle(clean, tmp_path / "damaged.mkv")
    bounds, ftimes, warning = fast_cuts(bad)
    assert len(ftimes) < 230
    assert warning and "frames missing between" in warning
    m = re.search(r"decoded (\d+) of (\d+) frames", warning)
    assert m and int(m.group(1)) == len(ftimes) and abs(int(m.group(2)) - 240) <= 1
    g = int(np.argmax(np.diff(ftimes)))
    clear = [t for t in SINTEL_CUTS if t < ftimes[g] or t > ftimes[g + 1]]  # it resumes at a keyframe
    found, extra = cuts_found(bounds, ftimes, clear)
    assert found == len(clear) >= 6 and extra == 0


def test_a_variable_frame_rate_gap_is_not_damage(tmp_path, vfr_video):
    path, _ = vfr_video
    stats = DecodeStats()
    for _ in iter_frames(path, [FrameSpec("luma", 16, 9)], stats=stats):
        pass
    assert check_complete(path, probe(path), stats) is None


def test_garbage_in_a_single_keyframe_file(tmp_path, sintel):
    """The issue's case: the clip itself (one keyframe) with garbage over its middle: no silent loss."""
    bad = overwrite_middle(sintel, tmp_path / "sintel_damaged.mp4")
    bounds, ftimes, warning = fast_cuts(bad)
    assert warning and "of 240 frames" in warning and "may show artefacts" in warning
    first_lost = ftimes[int(np.argmax(np.diff(ftimes)))]
    before = [t for t in SINTEL_CUTS if t < first_lost]
    found, _ = cuts_found(bounds, ftimes, before)
    assert found == len(before) == 4


def test_clean_files_have_no_warning(short_video):
    stats = DecodeStats()
    n = sum(1 for _ in iter_frames(short_video, [FrameSpec("luma", 16, 9)], stats=stats))
    assert n == stats.frames == stats.packets == 60 and stats.errors == stats.damaged == 0
    assert stats.first_time == 0 and abs(stats.end_time - 60 / 25) < 1e-6
    assert check_complete(short_video, probe(short_video), stats) is None


# ---- videos of a few frames --------------------------------------------------------------------------
def few_frames(tmp_path, n: int):
    worlds = (scene(50), scene(51))
    frames = [shot_frame(worlds[0] if t < max(1, n // 2) else worlds[1], t) for t in range(n)]
    return encode(tmp_path / f"few_{n}.mp4", frames)


@pytest.mark.parametrize("n", range(0, 12))
def test_fast_detector_on_a_few_frames(n):
    rng = np.random.default_rng(n)
    det = FastDetector()
    for i in range(n):
        det.process(i, rng.integers(0, 255, (36, 64, 3), dtype=np.uint8), i / 25)
    out = det.finish(n)
    assert all(0 < t.boundary < n for t in out)


@pytest.mark.parametrize("n", range(1, 11))
def test_short_videos_shots_stage(tmp_path, n):
    path = few_frames(tmp_path, n)
    res = runner.invoke(app, ["analyze", str(path), "-a", str(tmp_path / "a"), "--stages", "shots"])
    assert res.exit_code == 0, res.stderr
    with Archive(tmp_path / "a") as a:
        (v,) = a.videos()
        stored = a.load_stage(v.id, "shots")
    assert stored["frame_count"] == n
    shots = stored["shots"]
    assert shots[0].start == 0 and shots[-1].end == n - 1
    assert all(b.start == a.end + 1 for a, b in zip(shots, shots[1:]))


@pytest.mark.slow
def test_short_videos_full_default_analysis(tmp_path):
    """The default analysis (every stage that needs no user model) on videos of 1..10 frames."""
    paths = [few_frames(tmp_path, n) for n in range(1, 11)]
    res = runner.invoke(app, ["analyze", *map(str, paths), "-a", str(tmp_path / "a")])
    assert res.exit_code == 0, res.stderr
    assert "10 file(s): 10 analysed, 0 already stored, 0 failed" in res.stderr
    with Archive(tmp_path / "a") as a:
        assert len(a.videos()) == 10
        assert not a.failures()
