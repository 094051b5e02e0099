"""Search across modalities (issue 18): words and quoted phrases in transcripts (and any other
registered text source), combined with the shot filters; labels stored only on frames; mood as a
filter, not content; the evidence in the API, the CLI; a real analysis of a clip with speech."""
from __future__ import annotations

import json

import numpy as np
import pytest
import search_archive

from reelscope.archive import Archive
from reelscope.search import SearchQuery, search
from reelscope.search.parse import quoted
from reelscope.archive.search_text import TextHit, TextSource, find_phrase, phrase_keys, register_text_source, _SOURCES


@pytest.fixture
def arch(tmp_path, db_url):
    a = Archive(tmp_path / "archive", db_url)
    a.ids = search_archive.build(a)
    search_archive.add_speech_and_more(a, a.ids)
    yield a
    a.close()


def hits(res) -> list[tuple[str, int]]:
    return [(h["filename"].split(".")[0], h["shot_index"]) for h in res.items if h["kind"] == "shot"]


def test_quoted_phrases_are_read_apart_from_apostrophes():
    assert quoted("close-up of Anna's friend saying 'see you tomorrow' and \"EXIT\"")[0] == ["see you tomorrow", "EXIT"]
    assert quoted("don't 'stop'")[0] == ["stop"] and quoted("rock 'n' roll")[0] == ["n"]
    assert phrase_keys("See you, TOMORROW!") == ["see", "you", "tomorrow"]


def test_phrase_matcher_needs_the_words_in_order(arch):
    with arch.session() as s:
        found = find_phrase(s, ["see", "you", "tomorrow"])
        assert [(h.kind, h.video_id, h.shot_idx, h.start, h.end, h.text) for h in found] == [
            ("transcript", arch.ids["concert"], 1, 2.2, 3.1, "See you tomorrow, Anna.")]
        assert found[0].frame == 55  # 2.2 s at 25 fps
        assert find_phrase(s, ["you", "see", "tomorrow"])[0].video_id == arch.ids["street"]
        assert find_phrase(s, ["tomorrow", "see"]) == []
        assert {(h.video_id, h.shot_idx) for h in find_phrase(s, ["tomorrow"])} == {
            (arch.ids["concert"], 1), (arch.ids["concert"], 2), (arch.ids["street"], 0)}
        assert len(find_phrase(s, ["tomorrow"], video=arch.ids["street"])) == 1


def test_words_and_phrases_find_shots_with_the_line_as_evidence(arch):
    res = search(arch, "tomorrow")
    assert sorted(hits(res)) == [("concert", 1), ("concert", 2), ("street", 0)] and res.notes == []
    h = res.items[0]
    ev = h["evidence"][0]
    assert ev["kind"] == "transcript" and "tomorrow" in ev["text"].lower() and ev["match"] == "tomorrow"
    assert h["time"] == ev["time"] and h["frame"] == ev["frame"]
    res = search(arch, "'see you tomorrow'")
    assert hits(res) == [("concert", 1)] and res.parsed["phrases"] == ["see you tomorrow"]
    assert res.items[0]["evidence"][0] == {"kind": "transcript", "text": "See you tomorrow, Anna.",
                                           "match": "see you tomorrow", "time": 2.2, "end_time": 3.1, "frame": 55,
                                           "score": 0.9}
    assert hits(search(arch, "'tomorrow see'")) == [] and hits(search(arch, "\"never again\"")) == []


def test_phrase_combines_with_size_character_video_and_time(arch):
    res = search(arch, "close-up of Anna saying 'tomorrow'")
    p = res.parsed
    assert (p["sizes"], p["characters"], p["phrases"], p["ignored"]) == (["CU"], ["Anna"], ["tomorrow"], [])
    assert hits(res) == [("concert", 1)] and res.items[0]["name"] == "Anna"
    assert [e["kind"] for e in res.items[0]["evidence"]] == ["transcript", "face"]
    assert hits(search(arch, "long shot saying 'tomorrow'")) == []
    assert hits(search(arch, SearchQuery(text="'tomorrow'", video=arch.ids["street"]))) == [("street", 0)]
    assert sorted(hits(search(arch, SearchQuery(text="'tomorrow'", start=4.0)))) == [("concert", 2)]
    # a phrase and a concept: the shot with both ranks first, the others still come
    res = search(arch, SearchQuery(text="'tomorrow' grand piano", semantic=False))
    assert hits(res)[0] == ("concert", 2) and len(hits(res)) == 3
    assert [e["kind"] for e in res.items[0]["evidence"]][:2] == ["transcript", "tag"]


def test_label_stored_only_on_frames_makes_a_hit(arch):
    res = search(arch, SearchQuery(text="umbrella", semantic=False))
    assert hits(res) == [("street", 2)]
    assert res.items[0]["frame"] == 110 and res.items[0]["evidence"][0]["kind"] == "tag"


def test_action_tags_are_pose_evidence_and_mood_is_a_filter(arch):
    res = search(arch, SearchQuery(text="dancing", semantic=False))
    assert hits(res) == [("concert", 2)] and res.items[0]["evidence"][0]["kind"] == "pose"
    res = search(arch, SearchQuery(text="calm", semantic=False))
    assert res.parsed["moods"] == ["calm"] and res.parsed["concepts"] == [] and hits(res) == [("concert", 2)]
    assert res.items[0]["matched"] == ["mood"]
    assert hits(search(arch, SearchQuery(text="close-up calm", semantic=False))) == []
    assert hits(search(arch, SearchQuery(mood="calm"))) == [("concert", 2)]
    with pytest.raises(ValueError, match="unknown mood"):
        search(arch, SearchQuery(mood="sleepy"))
    from reelscope.search.vocab import vocabulary_for
    assert "calm" not in vocabulary_for(arch, semantic=False).labels["tag"]


def test_a_registered_text_source_is_searched_without_core_edits(arch):
    def signs(s, keys, video):
        if keys == ["exit"]:
            return [TextHit("text", arch.ids["street"], 2.5, 3.5, "EXIT", "exit", frame=70, shot_idx=1, score=0.8)]
        return []
    register_text_source(TextSource("signs-test", signs))
    try:
        res = search(arch, "'EXIT'")
        assert hits(res) == [("street", 1)]
        assert res.items[0]["evidence"][0] == {"kind": "text", "text": "EXIT", "match": "exit", "time": 2.5,
                                               "end_time": 3.5, "frame": 70, "score": 0.8}
    finally:
        _SOURCES.pop("signs-test")


def test_api_search_evidence_shape(tmp_path):
    from fastapi.testclient import TestClient

    from reelscope.api import create_app

    with TestClient(base_url="http://localhost", app=create_app(tmp_path / "archive")) as c:
        a = c.app.state.reelscope.archive
        ids = search_archive.build(a)
        search_archive.add_speech_and_more(a, ids)
        page = c.get("/api/search", params={"q": "close-up of Anna saying 'see you tomorrow'"}).json()
        (h,) = page["items"]
        assert (h["filename"], h["shot_index"], h["size"], h["name"]) == ("concert.mp4", 1, "CU", "Anna")
        assert h["evidence"][0] == {"kind": "transcript", "text": "See you tomorrow, Anna.", "match": "see you tomorrow",
                                    "time": 2.2, "end_time": 3.1, "frame": 55, "score": 0.9}
        assert page["parsed"]["phrases"] == ["see you tomorrow"]
        page = c.get("/api/search", params={"mood": "calm"}).json()
        assert [h["shot_index"] for h in page["items"]] == [2]
        assert c.get("/api/search", params={"mood": "sleepy"}).status_code == 422
        schema = c.get("/openapi.json").json()["components"]["schemas"]["Evidence"]
        assert {"transcript", "text", "tag", "object", "pose"} <= set(schema["properties"]["kind"]["enum"])


def test_cli_search_prints_the_line_said(tmp_path):
    from typer.testing import CliRunner

    from reelscope.cli import app

    a = Archive(tmp_path / "archive")
    search_archive.add_speech_and_more(a, search_archive.build(a))
    a.close()
    r = CliRunner().invoke(app, ["search", "'see you tomorrow'", "--archive", str(tmp_path / "archive")],
                           env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "said or written “see you tomorrow”" in r.output and "said 0:02.200 “See you tomorrow, Anna.”" in r.output
    r = CliRunner().invoke(app, ["search", "'see you tomorrow'", "--json", "--archive", str(tmp_path / "archive")])
    assert json.loads(r.output)["items"][0]["evidence"][0]["kind"] == "transcript"


@pytest.mark.slow
def test_words_said_in_a_real_analysed_clip_are_found(tmp_path):
    """espeak-ng sentences in a clip, the real audio and speech stages, then search."""
    from speech_helpers import say, whisper_model

    from reelscope.analysis import analyze
    from reelscope.eval.speech import write_clip

    whisper_model()
    a = say("Please bring the red umbrella to the station tomorrow morning.", "en-gb")
    z = lambda sec: np.zeros(int(sec * 16000), np.float32)  # noqa: E731
    clip = write_clip(tmp_path / "talk.mp4", np.concatenate([z(1.5), a, z(1)]))
    arch = Archive(tmp_path / "arch")
    try:
        (o,) = analyze([clip], arch, stages=["shots", "speech"])
        assert o.status == "analyzed", o.error
        res = search(arch, "'red umbrella'")
        assert [h["video_id"] for h in res.items] == [o.video_id]
        ev = res.items[0]["evidence"][0]
        assert ev["kind"] == "transcript" and "umbrella" in ev["text"].lower()
        assert 1.5 <= ev["time"] <= 1.5 + len(a) / 16000
        assert search(arch, "'umbrella red'").items == []
        assert [e["match"] for e in search(arch, "station").items[0]["evidence"]] == ["station"]
    finally:
        arch.close()
