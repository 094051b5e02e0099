"""The HTML report: one self-contained, offline file built from the export vocabulary."""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest

DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
CLIP = DATA / "video" / "clip_03_sintel.mp4"
NASTY = "<script>alert(1)</script>&.mp4"


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    """A real archive holding clip_03_sintel.mp4, its export dict and keyframe bytes, and a report."""
    if not CLIP.exists():
        pytest.skip(f"test media {CLIP} not available (set REELSCOPE_TEST_DATA)")
    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive.export import video_dict
    from reelscope.report.html import write_report

    root = tmp_path_factory.mktemp("archive")
    [outcome] = reelscope.analyze([CLIP], archive=root, stages=["fast"])
    assert outcome.status == "analyzed", outcome.error
    arch = Archive(root)
    video = arch.video(outcome.video_id)
    data = video_dict(video)
    images = {k["image"]: arch.media_path(k["image"]).read_bytes() for s in data["shots"] for k in s["keyframes"]}
    out = write_report(arch, video, root / "out" / "report.html")
    yield dict(root=root, data=data, images=images, out=out, html=out.read_text(encoding="utf-8"))
    arch.close()


def _outside_scripts(html: str) -> str:
    return re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", html, flags=re.S | re.I)


def _transition_rows(html: str) -> list[str]:
    table = re.search(r"<table class='transitions'>.*?</table>", html, re.S)
    return re.findall(r"<tr><td class='num'>\d+</td>.*?</tr>", table.group(0), re.S) if table else []


def test_report_file_has_every_shot_and_transition(analyzed):
    data, html, out = analyzed["data"], analyzed["html"], analyzed["out"]
    assert out.is_file() and out.stat().st_size > 100_000
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".part")]
    shots = data["shots"]
    assert len(shots) >= 2 and data["transitions"]
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == len(shots)
    assert all("src='data:image/jpeg;base64," in tag for tag in imgs)
    assert f"<span class='count'>{len(shots)} shots</span>" in html
    for s in shots:
        assert f"<b>#{s['index'] + 1}</b> <span>{s['start_timecode']}</span>" in html
        assert f"frames {s['start_frame']}–{s['end_frame']}" in html
    rows = _transition_rows(html)
    assert len(rows) == len(data["transitions"])
    for row, t in zip(rows, data["transitions"]):
        assert f"<td class='num'>{t['boundary_frame']}</td>" in row and t["type"] in row
    assert data["filename"] in html and "Average shot length" in html
    for stage in {r["stage"] for r in data["analysis_runs"]}:
        assert f"<b>{stage}</b>" in html
    assert "reelscope export" in html and "schema" in html.lower()


def test_report_is_offline_with_plotly_inlined_once(analyzed):
    html = analyzed["html"]
    assert len(re.findall(r"\* plotly\.js v\d", html)) == 1
    assert html.count("Plotly.newPlot(") == 2  # shot durations + histogram
    outside = _outside_scripts(html)
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", outside, re.I)
    assert not re.search(r"<link\b", outside, re.I)
    assert not re.search(r"""\b(src|href)\s*=\s*["']?\s*(https?:)?//""", outside, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(https?:)?//|@import""", outside, re.I)


def test_render_escapes_strings_from_the_data(analyzed):
    from reelscope.report.html import render_report

    data = copy.deepcopy(analyzed["data"])
    data["filename"], data["path"] = NASTY, "/x/" + NASTY
    data["transitions"][0]["detector"] = "<b onmouseover='x'>"
    html = render_report(data, analyzed["images"])
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;.mp4" in html
    assert "<b onmouseover" not in html and "&lt;b onmouseover=&#x27;x&#x27;&gt;" in html


def test_render_single_shot_and_many_shots(analyzed):
    from reelscope.report.html import render_report

    data, images = analyzed["data"], analyzed["images"]
    one = copy.deepcopy(data)
    shot = one["shots"][0]
    shot.update(end_frame=one["frame_count"] - 1, frame_count=one["frame_count"], end_time=one["duration"],
                transition_out=None)
    one["shots"], one["transitions"] = [shot], []
    html = render_report(one, images)
    assert len(re.findall(r"<img\b", html)) == 1 and "No transitions" in html
    assert "<span class='count'>1 shot</span>" in html

    many = copy.deepcopy(data)
    shots, trans, frame = [], [], 0
    for i in range(120):
        n, kind = 10 + i % 7, (None if i == 0 else ("cut", "dissolve", "fade", "wipe")[i % 4])
        if kind:
            trans.append(dict(type=kind, start_frame=frame - 1, end_frame=frame, boundary_frame=frame,
                              score=0.5, detector="test"))
        shots.append(dict(data["shots"][i % len(data["shots"])], index=i, start_frame=frame,
                          end_frame=frame + n - 1, frame_count=n, start_time=frame / 24,
                          end_time=(frame + n) / 24, transition_in=kind))
        frame += n
    many["shots"], many["transitions"] = shots, trans
    html = render_report(many, images)
    assert len(re.findall(r"<img\b", html)) == 120
    assert len(_transition_rows(html)) == 119
    assert html.count("class='badge'") == sum(t["type"] != "cut" for t in trans)
    assert len(re.findall(r"\* plotly\.js v\d", html)) == 1


def test_cli_report(analyzed, tmp_path):
    from typer.testing import CliRunner

    from reelscope.cli import app

    out = tmp_path / "cli.html"
    result = CliRunner().invoke(app, ["report", "clip_03_sintel.mp4", "--archive", str(analyzed["root"]),
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert len(re.findall(r"<img\b", html)) == len(analyzed["data"]["shots"])
    assert "clip_03_sintel.mp4" in html


def test_story_view_and_sizes_csv(tmp_path):
    """Shot sizes over time: a report section and a CSV export (sizes set directly in the archive)."""
    import csv

    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive import schema as sc
    from reelscope.archive.export import video_dict, write_sizes_csv
    from reelscope.report.html import render_report
    from reelscope.report.story import size_distribution

    import conftest

    frames = [conftest.shot_frame(conftest.scene(50 + t // 20), t) for t in range(60)]
    path = conftest.encode(tmp_path / "three.mp4", frames)
    (o,) = reelscope.analyze(path, archive=tmp_path / "a", stages=["shots"])
    with Archive(tmp_path / "a") as a:
        with a.session() as s, s.begin():
            for shot, size in zip(s.query(sc.Shot).order_by(sc.Shot.idx), ["CU", "LS", "CU"]):
                shot.size, shot.size_confidence = size, 0.8
        v = a.video(o.video_id)
        rows = list(csv.DictReader(open(write_sizes_csv(v, tmp_path / "s.csv"))))
        data = video_dict(v)
    assert [r["size"] for r in rows] == ["CU", "LS", "CU"] and float(rows[0]["duration"]) > 0
    dist = size_distribution(data["shots"])
    assert dist["CU"]["shots"] == 2 and abs(sum(d["share"] for d in dist.values()) - 1) < 1e-3
    html = render_report(data, {})
    assert "Story view: shot size over time" in html and "shot-size-timeline" in html
