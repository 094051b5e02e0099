"""The speech stage: the archive's writer and reader, exports, the captions API, the stage in a
full analysis of a short clip with speech (real model; skipped when the carrier packages or
espeak-ng are absent), and the stage without audio or switched off."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from speech_helpers import say, whisper_model

from reelscope.archive import Archive
from reelscope.archive.captions import captions_text
from reelscope.archive.speech_io import speech_export, word_key
from reelscope.audio.transcribe import Transcript, TranscriptSegment, Word
from reelscope.eval.speech import word_errors


@pytest.fixture(scope="module")
def whisper():
    return whisper_model()


def _export(arch: Archive, vid: int) -> dict | None:
    with arch.session() as s:
        return speech_export(s, vid)


def test_word_key():
    assert word_key("Allen,") == "allen" and word_key("¿Qué") == "qué" and word_key("don't") == "don't"
    assert word_key("STRASSE") == word_key("straße") and word_key("...") == ""


# ---- archive: writer and reader ---------------------------------------------------------------------
def _video(arch: Archive, tmp_path: Path) -> int:
    from reelscope.media.info import VideoInfo

    info = VideoInfo(path=str(tmp_path / "talk.mp4"), fingerprint="f" * 64, size_bytes=1, container="mp4",
                     codec="h264", width=160, height=90, rotation=0, fps=Fraction(10), time_base=Fraction(1, 10),
                     frame_count_hint=130, frame_count_exact=True, duration=13.0, has_audio=True,
                     audio_codec="aac", audio_rate=16000)
    return arch.ensure_video(info, 130)


def _transcript() -> Transcript:
    s1 = TranscriptSegment(1.0, 4.9, "The quick brown fox.", "en", 0.93, -0.3, 0.01,
                           [Word(1.0, 1.4, "The", 0.7), Word(1.4, 2.0, "quick", 0.8), Word(2.0, 2.5, "brown", 0.9),
                            Word(2.5, 4.9, "fox.", 0.6)])
    s2 = TranscriptSegment(8.0, 9.5, "¿Qué tal?", "es", 0.81, -0.5, 0.02,
                           [Word(8.0, 8.6, "¿Qué", 0.9), Word(8.6, 9.5, "tal?", 0.95)])
    return Transcript(available=True, model="whisper-base", language="en", language_probability=0.93,
                      languages={"en": 3.9, "es": 1.5}, segments=[s1, s2], regions=[(0.0, 5.5), (7.0, 10.0)],
                      region_source="audio", audio_seconds=13.0)


def test_writer_reader_round_trip_and_export(tmp_path):
    from sqlalchemy import select

    from reelscope.archive import schema as db

    arch = Archive(tmp_path / "arch")
    vid = _video(arch, tmp_path)
    tr = _transcript()
    run = {"params": {"summary": tr.summary(), "regions": [list(r) for r in tr.regions]}, "models": {}}
    arch.save_stage(vid, "speech", {"speech": tr}, run)
    back = arch.load_stage(vid, "speech")["speech"]
    assert back.available and back.language == "en" and back.model == "whisper-base"
    assert back.languages == {"en": 3.9, "es": 1.5} and back.regions == [(0.0, 5.5), (7.0, 10.0)]
    assert [(s.start, s.end, s.text, s.language) for s in back.segments] == \
        [(s.start, s.end, s.text, s.language) for s in tr.segments]
    assert back.segments[0].words == tr.segments[0].words and back.segments[1].words == tr.segments[1].words
    with arch.session() as s:
        keys = s.scalars(select(db.TranscriptWord.norm).order_by(db.TranscriptWord.idx)).all()
    assert keys == ["the", "quick", "brown", "fox", "qué", "tal"]
    # rerunning replaces the rows; the export has them with the summary
    arch.save_stage(vid, "speech", {"speech": tr}, run)
    d = _export(arch, vid)
    assert d["language"] == "en" and d["languages"] == {"en": 3.9, "es": 1.5}
    assert [g["text"] for g in d["segments"]] == ["The quick brown fox.", "¿Qué tal?"]
    assert [w["word"] for w in d["segments"][1]["words"]] == ["¿Qué", "tal?"]
    srt = captions_text(d, "srt")
    assert srt.startswith("1\n00:00:01,000 --> 00:00:04,900\nThe quick brown fox.\n") and "¿Qué tal?" in srt
    # a video stored with the stage switched off exports "not available", without rows
    off = Transcript(available=False, reason="disabled")
    arch.save_stage(vid, "speech", {"speech": off}, {"params": {"speech": "disabled", "summary": off.summary()}})
    d = _export(arch, vid)
    assert d["available"] is False and d["reason"] == "disabled" and d["segments"] == []
    assert arch.load_stage(vid, "speech")["speech"].available is False
    arch.close()


def test_captions_api_route(tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from reelscope.api.app import create_app

    arch = Archive(tmp_path / "arch")
    vid = _video(arch, tmp_path)
    tr = _transcript()
    arch.save_stage(vid, "speech", {"speech": tr}, {"params": {"summary": tr.summary(), "regions": []}})
    arch.close()
    with TestClient(base_url="http://localhost", app=create_app(tmp_path / "arch")) as client:
        _check_captions_api(client, vid)


def _check_captions_api(client, vid: int) -> None:
    r = client.get(f"/api/videos/{vid}/captions.vtt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/vtt")
    assert r.text.startswith("WEBVTT") and "00:00:08.000 --> 00:00:09.500\n¿Qué tal?" in r.text
    r = client.get(f"/api/videos/{vid}/captions.srt")
    assert r.status_code == 200 and "00:00:01,000 --> 00:00:04,900" in r.text
    assert client.get(f"/api/videos/{vid}").json()["speech"]["segments"][0]["text"] == "The quick brown fox."
    assert client.get(f"/api/videos/{vid}/captions.ass").status_code in (404, 422)


@pytest.mark.slow
def test_speech_stage_in_a_full_analysis(whisper, tmp_path):
    """The default analysis of a short clip with two spoken sentences over silence: the speech
    stage runs on the audio stage's regions, is stored, exported (JSON, SRT, VTT), read back
    when reused, and switched off by its parameter."""
    from typer.testing import CliRunner

    from reelscope.analysis import analyze
    from reelscope.cli import app
    from reelscope.eval.speech import write_clip

    s1 = "The quick brown fox jumps over the lazy dog."
    s2 = "Please bring the red umbrella to the station tomorrow morning."
    a, b = say(s1, "en-us"), say(s2, "en-gb")
    z = lambda sec: np.zeros(int(sec * 16000), np.float32)  # noqa: E731
    clip = write_clip(tmp_path / "talk.mp4", np.concatenate([z(2), a, z(4), b, z(2)]))
    t_b = 2 + len(a) / 16000 + 4
    arch = Archive(tmp_path / "arch")
    (o,) = analyze([clip], arch)  # the default analysis
    assert o.status == "analyzed", o.error
    assert {"audio", "speech", "shots"} <= set(o.computed)
    v = arch.video(o.video_id)
    from reelscope.archive.export import video_dict

    d = video_dict(v, arch)["speech"]
    assert d["available"] and d["language"] == "en" and d["model"] == "whisper-base"
    text = " ".join(g["text"] for g in d["segments"])
    assert word_errors(s1 + " " + s2, text).wer <= 0.25, text
    # the second sentence's words are placed after the pause
    words = [w for g in d["segments"] for w in g["words"]]
    um = next(w for w in words if word_key(w["word"]) == "umbrella")
    assert t_b - 0.5 <= um["start_time"] <= t_b + len(b) / 16000
    run = next(r for r in v.runs if r.stage == "speech")
    assert run.params["summary"]["region_source"] == "audio"
    assert run.params["cost"]["speech_seconds"] < run.params["cost"]["audio_seconds"]  # silence skipped
    assert any(k.startswith("whisper-base/") for k in run.models)
    # exports
    runner = CliRunner()
    for fmt in ("srt", "vtt", "json"):
        out = tmp_path / f"x.{fmt}"
        r = runner.invoke(app, ["export", str(o.video_id), "-o", str(out), "--archive", str(tmp_path / "arch")])
        assert r.exit_code == 0, r.output
        body = out.read_text()
        assert "umbrella" in body
    assert (tmp_path / "x.srt").read_text().startswith("1\n00:00:0")
    assert (tmp_path / "x.vtt").read_text().startswith("WEBVTT")
    assert json.loads((tmp_path / "x.json").read_text())["videos"][0]["speech"]["language"] == "en"
    # a rerun reuses everything; asking for speech with another parameter recomputes only speech
    (o2,) = analyze([clip], arch, stages=["speech"])
    assert o2.status == "skipped" or not o2.computed
    (o3,) = analyze([clip], arch, stages=["speech"], params={"speech": {"enabled": False}})
    assert o3.computed == ["speech"] and "audio" in o3.reused or o3.computed == ["speech"]
    d = video_dict(arch.video(o.video_id), arch)["speech"]
    assert d["available"] is False and d["reason"] == "disabled" and d["segments"] == []
    r = runner.invoke(app, ["export", str(o.video_id), "-o", str(tmp_path / "y.srt"), "--archive",
                            str(tmp_path / "arch")])
    assert r.exit_code == 1 and "no transcript" in r.output
    arch.close()


def test_stage_without_audio_or_disabled_stores_nothing(tmp_path):
    """A video with no audio stream: the audio stage says so and the speech stage transcribes
    nothing, loading no model; bad parameters are one clear error."""
    from conftest import data_file

    from reelscope.media.info import probe
    from reelscope.pipeline.stage import Context, get_stage

    path = data_file("video/chaplin.mp4")  # audio removed
    ctx = Context(path=str(path), info=probe(path))
    audio, speech = get_stage("audio"), get_stage("speech")
    ctx.artifacts.update({k: v for k, v in audio.run(ctx, audio.resolve_params({})).items() if k != "_run"})
    out = speech.run(ctx, speech.resolve_params({}))
    assert out["speech"].available is False and "no audio" in out["speech"].reason
    assert out["_run"]["params"]["speech"] == "none"
    out = speech.run(ctx, speech.resolve_params({"enabled": False}))
    assert out["speech"].reason == "disabled"
    with pytest.raises(ValueError, match="speech.model"):
        speech.run(ctx, speech.resolve_params({"model": "large"}))
    with pytest.raises(ValueError, match="speech.regions"):
        speech.run(ctx, speech.resolve_params({"regions": "music"}))
    with pytest.raises(ValueError, match="has no parameter"):
        speech.resolve_params({"modle": "base"})
