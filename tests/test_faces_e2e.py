"""Faces end to end on real media: characters in the archive, naming once and recognising across
clips, identity photos and single-image labeling (open set), bad images in a batch."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import reelscope
from reelscope.archive import Archive
from reelscope.archive.gallery import Gallery
from reelscope.cli import app
from reelscope.errors import MediaError
from reelscope.people.photos import PhotoFaces, load_image

runner = CliRunner()
pytestmark = pytest.mark.slow
FACES = {"detector": "blazeface", "sample_fps": 2.0}


@pytest.fixture(scope="module")
def faces():
    return PhotoFaces()


def test_selfie_video_characters(tmp_path, data):
    path = data("faces/openmpf_face_videos/new_face_video-90.mp4")
    (o,) = reelscope.analyze(path, archive=tmp_path, stages=["shots", "faces"], params={"faces": FACES})
    assert o.status == "analyzed", o.error
    with Archive(tmp_path) as a:
        chars = Gallery(a).characters(o.video_id)
        assert 2 <= len(chars) <= 3  # truth by eye: 2 people (BENCHMARKS.md "Faces")
        top = chars[0]
        assert top.screen_time > 3 and top.first_time <= top.last_time
        assert a.media_path(top.thumbnail).is_file()
        assert abs(sum(top.expressions.values()) - 1) < 1e-6
        assert {"happy", "neutral"} & set(top.expressions)


def test_name_once_recognised_in_other_clips_cli(tmp_path, data):
    arch = str(tmp_path)
    clips = {k: data(f"faces/intel_sample_videos/head-pose-face-detection-{k}.gif")
             for k in ("female", "male", "female-and-male")}
    res = runner.invoke(app, ["analyze", *map(str, clips.values()), "-a", arch, "--stages", "shots,faces"])
    assert res.exit_code == 0, res.stderr
    listing = json.loads(runner.invoke(app, ["people", "list", "-a", arch, "--json"]).stdout)
    by_video = {}
    for c in listing:
        by_video.setdefault(c["video_id"], []).append(c)
    woman = max(by_video[1], key=lambda c: c["screen_time"])["id"]
    man = max(by_video[2], key=lambda c: c["screen_time"])["id"]
    assert runner.invoke(app, ["people", "name", str(woman), "Woman", "-a", arch, "--user", "t"]).exit_code == 0
    assert runner.invoke(app, ["people", "name", str(man), "Man", "-a", arch]).exit_code == 0
    both = json.loads(runner.invoke(app, ["people", "list", "3", "-a", arch, "--json"]).stdout)
    assert sorted(c["name"] for c in both if c["name"]) == ["Man", "Woman"]
    assert all(c["naming"] == "recognised" for c in both if c["name"])
    assert runner.invoke(app, ["people", "undo", "-a", arch]).exit_code == 0
    both = json.loads(runner.invoke(app, ["people", "list", "3", "-a", arch, "--json"]).stdout)
    assert sorted(c["name"] for c in both if c["name"]) == ["Woman"]


def test_photos_and_single_image_labeling_open_set(tmp_path, data):
    arch = str(tmp_path)
    ref = data("faces/meds2_nist_sd32/S001-01-t10_01.jpg")
    same = data("faces/meds2_nist_sd32/S001-02-t10_01.jpg")
    other = data("faces/meds2_nist_sd32/S044-01-t10_01.jpg")
    assert runner.invoke(app, ["people", "add-photo", "Subject One", str(ref), "-a", arch]).exit_code == 0
    res = runner.invoke(app, ["label", "image", str(same), "-a", arch])
    assert res.exit_code == 0, res.stderr
    (face,) = json.loads(res.stdout)["faces"]
    assert face["proposed_name"] == "Subject One"
    res = runner.invoke(app, ["label", "image", str(other), "-a", arch, "--name", "0=Subject 44"])
    (face,) = json.loads(res.stdout)["faces"]
    assert face["proposed_name"] is None and face["confirmed_name"] == "Subject 44"  # unknown stays unknown
    names = runner.invoke(app, ["people", "identities", "-a", arch]).stdout
    assert "Subject One" in names and "Subject 44" in names


def test_bad_images(tmp_path, faces, data):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (640, 480), (128, 128, 128)).save(blank)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (10, 10), (200, 150, 120)).save(tiny)
    src = Image.open(data("faces/meds2_nist_sd32/S001-01-t10_01.jpg"))
    grey = tmp_path / "grey.jpg"
    src.convert("L").save(grey)
    cmyk = tmp_path / "cmyk.jpg"
    src.convert("CMYK").save(cmyk)
    huge = tmp_path / "huge.jpg"
    src.resize((src.width * 6, src.height * 6)).save(huge)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    assert len(faces.from_file(blank)) == 0
    assert len(faces.from_file(tiny)) == 0
    for p in (grey, cmyk, huge):
        d = faces.from_file(p)
        assert len(d) == 1 and np.isfinite(d.embeddings).all(), p
    with pytest.raises(MediaError, match="corrupt"):
        load_image(corrupt)
    # in a batch: the bad file is reported, the good ones are used
    res = runner.invoke(app, ["people", "add-photo", "X", str(corrupt), str(blank), str(grey), "-a", str(tmp_path / "a")])
    assert res.exit_code == 1
    assert "corrupt.jpg" in res.stderr and "blank.png: no face found" in res.stderr
    assert "1 reference face(s) added" in res.stderr
