"""On-screen text: DB box geometry, CTC decoding, the picture-change test, merging lines across
samples into spans, reading text drawn with ffmpeg drawtext over real footage, and the text stage
in an analysis with its archive reader and writer."""
from __future__ import annotations

import numpy as np
import pytest

from reelscope.vision.text_detect import DBParams, crop_quad, db_boxes, det_input_size, order_quad
from reelscope.vision.text_recognise import ctc_greedy, rec_batch
from reelscope.vision.text_spans import PictureChange, SampleText, merge_lines, same_text, text_distance


# ---- geometry and decoding -------------------------------------------------------------------
def test_db_boxes_unclip_and_reading_order():
    prob = np.zeros((100, 200), np.float32)
    prob[60:70, 20:60] = 0.9  # second row
    prob[20:30, 120:180] = 0.8  # first row, right
    prob[21:29, 10:50] = 0.95  # first row, left
    prob[80:90, 150:190] = 0.4  # above `thresh` but under `box_thresh`: dropped
    quads, scores = db_boxes(prob, (200, 400), DBParams(thresh=0.3, box_thresh=0.6, unclip_ratio=1.5))
    assert len(quads) == 3
    centres = quads.mean(1) / 2  # in map pixels: reading order, left row first
    assert np.allclose(centres, [[29.5, 24.5], [149.5, 24.5], [39.5, 64.5]], atol=1.0)
    # the 40x10 region (pixel centres span 39x9) grows by d = 39*9*1.5/(2*48) on every side, x2 scale
    d = 39 * 9 * 1.5 / (2 * 48)
    w = np.linalg.norm(quads[2][1] - quads[2][0]) / 2
    h = np.linalg.norm(quads[2][3] - quads[2][0]) / 2
    assert w == pytest.approx(39 + 2 * d, abs=1.0) and h == pytest.approx(9 + 2 * d, abs=1.0)
    assert scores.min() >= 0.8


def test_db_boxes_cut_stacked_lines_joined_by_a_bridge():
    prob = np.zeros((120, 240), np.float32)
    prob[20:44, 30:210] = 0.9  # line 1
    prob[50:74, 40:200] = 0.9  # line 2, 6 rows below
    prob[44:50, 110:122] = 0.5  # a picture over both lines joins them (12 px of 180)
    quads, _ = db_boxes(prob, prob.shape)
    assert len(quads) == 2
    tops, bottoms = quads[:, :, 1].min(1), quads[:, :, 1].max(1)
    d1, d2 = 179 * 23 * 1.5 / (2 * 202), 159 * 23 * 1.5 / (2 * 182)  # each grown around its own line only
    assert bottoms[0] == pytest.approx(43 + d1, abs=1.5) and tops[1] == pytest.approx(50 - d2, abs=1.5)
    one, _ = db_boxes(np.pad(np.full((24, 180), 0.9, np.float32), 30), (84, 240))
    assert len(one) == 1  # a single line is never cut


def test_quad_order_crop_and_input_sizes():
    q = order_quad(np.array([[50, 40], [10, 10], [50, 10], [10, 40]]))
    assert q.tolist() == [[10, 10], [50, 10], [50, 40], [10, 40]]
    img = np.zeros((60, 80, 3), np.uint8)
    img[10:40, 10:50] = 255
    crop = crop_quad(img, q)
    assert crop.shape[:2] == (30, 40) and crop.mean() > 200
    tall = crop_quad(img, np.array([[10, 0], [20, 0], [20, 50], [10, 50]], np.float32))
    assert tall.shape[:2] == (10, 50)  # vertical line turned to read left to right
    assert det_input_size(1080, 1920, 960) == (544, 960)
    assert det_input_size(360, 640, 960) == (352, 640)
    assert det_input_size(20, 100, 960)[0] == 32
    batch = rec_batch([np.zeros((24, 96, 3), np.uint8), np.zeros((48, 48, 3), np.uint8)])
    assert batch.shape == (2, 3, 48, 192) and batch[1, :, :, 48:].max() == 0  # padded right


def test_ctc_greedy_merges_repeats_and_drops_blanks():
    chars = ["blank", "a", "b", " "]
    steps = [0, 1, 1, 0, 1, 2, 2, 3, 0, 2]  # "a a b  b" with blanks separating the repeated a
    probs = np.full((len(steps), 4), 0.02, np.float32)
    for t, c in enumerate(steps):
        probs[t, c] = 0.94
    r = ctc_greedy(probs, chars)
    assert r.text == "aab b" and r.score == pytest.approx(0.94)
    assert ctc_greedy(np.eye(4, dtype=np.float32)[[0, 0]], chars).text == ""
    with pytest.raises(ValueError, match="dictionary"):
        ctc_greedy(probs, chars[:3])


def test_picture_change_counts_a_changed_word_not_noise():
    rng = np.random.default_rng(1)
    base = rng.integers(40, 200, (180, 320), dtype=np.uint8)
    pc = PictureChange(8.0)
    assert pc.changed(base)  # nothing remembered yet
    noisy = np.clip(base.astype(int) + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)
    assert not pc.changed(noisy)
    word = base.copy()
    word[100:106, 40:52] = 255  # a few changed letters
    assert pc.changed(word)
    assert not pc.changed(word)


# ---- spans --------------------------------------------------------------------------------------
def _s(frame, lines, fps=1.0, read=True):
    return SampleText(frame, frame / fps, [(t, b, sc) for t, b, sc in lines], read)


def test_merge_lines_into_spans():
    title = (100.0, 300.0, 200.0, 30.0)
    other = (50.0, 20.0, 120.0, 24.0)
    samples = [
        _s(0, []),
        _s(1, [("Copyright © 2013", title, 0.95)]),
        _s(2, [("Copyright O 2013", (103.0, 301.0, 199.0, 30.0), 0.70), ("NEWS", other, 0.99)]),
        _s(3, [("Copyright © 2013", title, 0.96)], read=False),
        _s(4, [("NEWS", other, 0.98)]),  # title gone; NEWS missed on 3, within max_gap
        _s(5, []),
        _s(6, []),
        _s(7, [("NEWS", other, 0.97)]),  # two samples missed: a new span
    ]
    spans = merge_lines(samples, end_time=8.0, max_gap=1)
    got = [(s.text, s.start_time, s.end_time, s.samples) for s in spans]
    assert got == [("Copyright © 2013", 1.0, 4.0, 3), ("NEWS", 2.0, 5.0, 2), ("NEWS", 7.0, 8.0, 1)]
    title_span = spans[0]
    assert title_span.readings["Copyright © 2013"] == pytest.approx(1.91)
    assert title_span.frames == [1, 2, 3] and title_span.members[1] == (2, 0)
    assert title_span.box[0] == pytest.approx(100.0)


def test_merge_lines_splits_ticking_numbers_and_other_places():
    box = (10.0, 10.0, 100.0, 20.0)
    far = (400.0, 300.0, 100.0, 20.0)
    samples = [_s(0, [("Frame = 1", box, 0.97)]), _s(1, [("Frame = 11", box, 0.97)]),
               _s(2, [("Frame = 11", far, 0.97)])]
    spans = merge_lines(samples, end_time=3.0)
    assert [(s.text, s.start_time, s.end_time) for s in spans] == [
        ("Frame = 1", 0.0, 1.0), ("Frame = 11", 1.0, 2.0), ("Frame = 11", 2.0, 3.0)]
    assert same_text("Score 2:1", "Score 2:1", 0.3) == 0.0 and same_text("Score 2:1", "Score 3:1", 0.3) is None
    assert text_distance("BMO", "bmo") == 0.0
    # a panning camera moves the text a little: same span
    moved = merge_lines([_s(0, [("BMO", (195.0, 29.0, 90.0, 54.0), 0.99)]),
                         _s(1, [("BMO", (219.0, 15.0, 86.0, 40.0), 0.99)])], end_time=2.0)
    assert len(moved) == 1 and moved[0].samples == 2


# ---- real models on text drawn over real footage --------------------------------------------
def _need_ocr():
    from reelscope.errors import MissingDependency
    from reelscope.eval.text import drawtext_available

    if not drawtext_available():
        pytest.skip("ffmpeg with drawtext not installed (apt-get install ffmpeg)")
    try:
        from reelscope.models.registry import PP_OCRV5, resolve

        for f in PP_OCRV5.files:
            resolve(PP_OCRV5, f)
    except MissingDependency as e:
        pytest.skip(str(e))


def _font(name):
    from reelscope.eval.text import find_font

    p = find_font(name)
    if p is None:
        pytest.skip(f"font {name} not installed (apt-get install fonts-dejavu-core fonts-liberation)")
    return p


def make_titled_clip(out):
    """4 s of Tears of Steel (640x360) with two titles for the first 1.9 s and one after."""
    from conftest import data_file
    from reelscope.eval.text import Title, render_titles

    _need_ocr()
    src = data_file("video/clip_01_tears_of_steel.mp4")
    sans, serif = _font("DejaVuSans.ttf"), _font("LiberationSerif-Regular.ttf")
    titles = [Title("Meet me at the harbour tomorrow", sans, 26, 30, 300, border=2, end=1.9),
              Title("Room 42 Level 3", serif, 24, 380, 40, color="yellow", box=True, end=1.9),
              Title("The end of the line", sans, 30, 160, 150, border=2, start=1.9)]
    return render_titles(src, out, titles, start=1.0, duration=4.0)


@pytest.fixture(scope="module")
def titled_clip(tmp_path_factory):
    return make_titled_clip(tmp_path_factory.mktemp("titles") / "titled.mp4")


def test_reader_reads_drawtext_titles(titled_clip):
    from reelscope.eval.text import match_lines
    from reelscope.media.decode import FrameSpec, iter_frames
    from reelscope.vision.ocr import TextReader

    reader = TextReader()
    spec = FrameSpec("rgb")
    frames = {f.index: f[spec] for f in iter_frames(str(titled_clip), [spec], select=lambda i, t: (spec,)
                                                      if i in (24, 72) else ())}
    first = reader.read(frames[24])
    m = match_lines(["Meet me at the harbour tomorrow", "Room 42 Level 3"], [(ln.text, ln.rect) for ln in first])
    assert m.cer <= 0.05, m.pairs
    assert not m.extra, m.extra
    second = reader.read(frames[72])
    m2 = match_lines(["The end of the line"], [(ln.text, ln.rect) for ln in second])
    assert m2.cer <= 0.05 and not m2.extra, (m2.pairs, m2.extra)
    box = next(ln for ln in first if "harbour" in ln.text).rect
    assert 20 <= box[0] <= 40 and 290 <= box[1] <= 310  # where drawtext put it (video pixels)


def test_text_stage_in_analysis_and_archive_round_trip(titled_clip, tmp_path):
    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive.export import video_dict
    from reelscope.report.html import write_report

    out = reelscope.analyze(titled_clip, archive=tmp_path / "a", stages=["text"])[0]
    assert out.status == "analyzed", out.error
    res = out.artifacts["text"]
    by_text = {s.text: s for s in res.spans}
    harbour = by_text["Meet me at the harbour tomorrow"]
    end = by_text["The end of the line"]
    assert harbour.start_time == pytest.approx(0.0) and harbour.end_time == pytest.approx(2.0, abs=0.05)
    assert end.start_time == pytest.approx(2.0, abs=0.05) and end.end_time == pytest.approx(4.0, abs=0.05)
    assert "Room 42 Level 3" in by_text
    assert res.sampled == 4 and 1 <= res.read <= 4
    with Archive(tmp_path / "a") as a:
        back = a.load_stage(out.video_id, "text")["text"]
        assert [(s.text, s.box, s.first_frame, s.last_frame, s.samples, s.members, s.shot_index)
                for s in back.spans] == [(s.text, tuple(round(v, 2) for v in s.box), s.first_frame, s.last_frame,
                                          s.samples, s.members, s.shot_index) for s in res.spans]
        assert [s.start_time for s in back.spans] == [s.start_time for s in res.spans]
        assert [(m.frame, m.read, [t for t, _, _ in m.lines]) for m in back.samples] == \
            [(m.frame, m.read, [t for t, _, _ in m.lines]) for m in res.samples if m.lines]
        assert back.step == res.step and back.read == res.read
        exported = video_dict(a.video(out.video_id), a)["text"]
        html = (write_report(a, a.video(out.video_id), tmp_path / "r.html")).read_text()
    assert "On-screen text" in html and "Meet me at the harbour tomorrow" in html
    assert {s["text"] for s in exported["spans"]} == set(by_text)
    first = next(s for s in exported["spans"] if s["text"] == "Meet me at the harbour tomorrow")
    assert [ln["frame"] for ln in first["lines"]] == harbour.frames and len(first["box"]) == 4
    again = reelscope.analyze(titled_clip, archive=tmp_path / "a", stages=["text"])[0]
    assert again.status == "skipped"
    # what was read is searchable by quoted phrase, with the span as evidence (archive search)
    from reelscope.search import search

    with Archive(tmp_path / "a") as a:
        res = search(a, "'the end of the line'")
        assert [h["video_id"] for h in res.items] == [out.video_id]
        ev = res.items[0]["evidence"][0]
        assert ev["kind"] == "text" and ev["text"] == "The end of the line"
        assert ev["time"] == pytest.approx(end.start_time, abs=1e-3)
        assert search(a, "'line the end'").items == []


def test_bad_text_parameters_are_clear_errors(tmp_path, edit_video):
    import reelscope

    for params, words in [({"sample_fps": 0}, "text.sample_fps"), ({"min_score": 2}, "text.min_score"),
                          ({"max_gap": 1.5}, "text.max_gap"), ({"orientation": "yes"}, "text.orientation")]:
        with pytest.raises(ValueError, match=words):
            reelscope.analyze(edit_video, archive=tmp_path / "a", stages=["text"], params={"text": params})


def test_text_stage_switched_off(tmp_path, edit_video):
    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive.export import video_dict

    (o,) = reelscope.analyze(edit_video, archive=tmp_path / "a", stages=["text"], params={"text": {"enabled": False}})
    assert o.status == "analyzed" and o.artifacts["text"].sampled == 0
    with Archive(tmp_path / "a") as a:
        assert video_dict(a.video(o.video_id), a)["text"] == {"disabled": True, "spans": []}


def test_text_writer_replaces_and_reads_carried_lines(edit_video, tmp_path):
    from reelscope.archive import Archive
    from reelscope.media.info import probe
    from reelscope.vision.text_spans import TextResult

    samples = [_s(0, [("HELLO", (10.0, 10.0, 50.0, 12.0), 0.9), ("WORLD", (10.0, 30.0, 50.0, 12.0), 0.8)]),
               _s(25, [("HELLO", (10.0, 10.0, 50.0, 12.0), 0.9), ("WORLD", (10.0, 30.0, 50.0, 12.0), 0.8)],
                  fps=25, read=False),
               _s(50, [], fps=25)]
    res = TextResult(spans=merge_lines(samples, end_time=3.0), samples=samples, step=25, read=2)
    with Archive(tmp_path / "a") as a:
        vid = a.ensure_video(probe(edit_video))
        run = {"params": {"sample_step": 25, "read_frames": 2}}
        a.save_stage(vid, "text", {"text": res}, run)
        a.save_stage(vid, "text", {"text": res}, run)  # replaced, not doubled
        back = a.load_stage(vid, "text")["text"]
    assert [(s.text, s.start_time, s.end_time, s.members) for s in back.spans] == \
        [(s.text, s.start_time, s.end_time, s.members) for s in res.spans]
    assert [(m.frame, m.read, len(m.lines)) for m in back.samples] == [(0, True, 2), (25, False, 2)]


@pytest.mark.slow
def test_real_titles_labelled_by_eye():
    """The titles written down by eye in tests/fixtures/text/titles.json (the plain ones: a frame
    counter, a watermark over fades, a bank sign) read back, and nothing read on text-free clips."""
    import json
    from pathlib import Path

    from conftest import data_file
    from reelscope.eval.text import LineMatch, match_lines
    from reelscope.media.decode import iter_frames
    from reelscope.media.info import probe
    from reelscope.pipeline.consumers import analysis_spec
    from reelscope.vision.ocr import TextReader

    _need_ocr()
    doc = json.loads((Path(__file__).parent / "fixtures" / "text" / "titles.json").read_text())
    reader = TextReader()
    total = LineMatch()
    plain = [it for it in doc["items"] if "big_buck_bunny" not in it["video"]]  # display-font title: bench only
    for rel in sorted({it["video"] for it in plain}):
        path = data_file(rel)
        info = probe(str(path))
        spec = analysis_spec(info, 1280)
        want = {it["frame"]: it for it in plain if it["video"] == rel}
        for f in iter_frames(str(path), [spec], select=lambda i, t: (spec,) if i in want else ()):
            lines = [ln.scaled(info.width / spec.width) for ln in reader.read(f[spec])]
            total.add(match_lines(want[f.index]["lines"], [(ln.text, ln.rect) for ln in lines]))
    assert total.chars > 300 and total.cer <= 0.03, total.pairs
    assert not [r for _, r in total.pairs if not r]  # no labelled line missed
    path = data_file(doc["negatives"][0])
    info = probe(str(path))
    spec = analysis_spec(info, 1280)
    read = [ln.text for f in iter_frames(str(path), [spec], select=lambda i, t: (spec,) if i % 24 == 0 else ())
            for ln in reader.read(f[spec])]
    assert read == []
