"""Shot sizes: the rules on hand-made evidence (fast), the by-eye label set, the default
classifier on real images (MEDS mugshots, eye crops, chaplin, caminandes) and the stage."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from reelscope.shots.shot_size import LABELS, Rules, ShotSize, active_area, decide, vote
from reelscope.shots.types import Shot

FIXTURE = Path(__file__).parent / "fixtures" / "shot_size" / "labels.json"
SAL = {"salient_area": 0.1, "salient_height": 0.3, "salient_width": 0.3, "focus": 8.0, "edge_density": 0.15}


def evidence(faces=(), blobs=(), face_blob=None, pose=(), size=(640, 360), saliency=None) -> dict:
    faces = [dict(f) for f in faces]
    return {"picture": [0, 0, size[0], size[1]], "size": list(size), "faces": faces, "pose": list(pose),
            "blobs": list(blobs), "face_blob": face_blob if face_blob is not None else [None] * len(faces),
            "saliency": saliency or SAL}


def face(y, h, score=0.9, x=0.45, w=None):
    return {"x": x, "y": y, "w": w if w is not None else h * 0.56, "h": h, "score": score}


def blob(x0, y0, x1, y1, area=None):
    return {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "area": area if area is not None else (x1 - x0) * (y1 - y0) * 0.7,
            "mean": 0.95}


# ---- the rules, on hand-made evidence ----------------------------------------------------------

def test_rules_face_sizes():
    assert decide(evidence([face(0.05, 0.9)]))[0] == "ECU"
    assert decide(evidence([face(0.2, 0.45)]))[0] == "CU"  # 0.8 face heights below the chin
    # chest-up: face 0.2 tall, 2.5 face heights of body below the chin, body cut by the bottom edge
    assert decide(evidence([face(0.3, 0.2)], [blob(0.3, 0.25, 0.7, 1.0)], [0]))[0] == "MS"
    # whole body: feet (region bottom) 9 face heights below the crown, inside the picture
    ms = decide(evidence([face(0.1, 0.09)], [blob(0.4, 0.08, 0.5, 0.92)], [0]))
    assert ms[0] == "FS" and "whole body" in ms[2]
    # the same body at a third of the height: a long shot
    assert decide(evidence([face(0.5, 0.035, score=0.8)], [blob(0.4, 0.49, 0.45, 0.82)], [0]))[0] == "LS"


def test_rules_unsure_faces_need_corroboration():
    lone = evidence([face(0.3, 0.35, score=0.6)])  # big, unsure, on nothing: a false face
    label, conf, rule, m = decide(lone)
    assert label == "LS" and rule.startswith("no person")
    on_body = evidence([face(0.3, 0.35, score=0.65)], [blob(0.25, 0.25, 0.75, 1.0)], [0])
    assert decide(on_body)[0] == "CU"
    # an extreme close-up scores low, but its eyes are far apart and inside the picture
    ecu = {**face(0.0, 1.0, score=0.45, x=0.1, w=0.8), "eyes": [[0.3, 0.45], [0.7, 0.45]]}
    assert decide(evidence([ecu], size=(200, 100)))[0] == "ECU"
    ecu["eyes"] = [[0.45, 0.45], [0.5, 0.45]]  # eyes close together: not a face this size
    assert decide(evidence([ecu], size=(200, 100)))[0] != "ECU"


def test_rules_people_without_faces_and_scenery():
    back = evidence(blobs=[blob(0.35, 0.15, 0.65, 1.0, area=0.2)])  # seen from behind, cut at the bottom
    assert decide(back)[0] == "MS"
    standing = evidence(blobs=[blob(0.45, 0.05, 0.55, 1.0, area=0.07)], size=(480, 360))  # feet at the edge
    assert decide(standing)[0] == "FS"
    small = evidence(blobs=[blob(0.45, 0.4, 0.5, 0.75, area=0.012)],
                     pose=[{"parts": {"head": True, "shoulders": True, "waist": True, "knees": True, "feet": True},
                            "extent": 0.35, "feet_y": 0.75, "nose": [0.47, 0.43], "score": 0.8, "flag": 0.99,
                            "crown_y": 0.4}])
    assert decide(small)[0] == "LS"
    assert decide(evidence())[0] == "LS"  # scenery
    blank = decide(evidence(saliency={**SAL, "contrast": 0.5}))  # a black frame: a label, no confidence
    assert blank[0] == "LS" and blank[1] <= 0.1
    detail = evidence(saliency={**SAL, "focus": 60.0, "edge_density": 0.03})  # a detail on a plain background
    assert decide(detail)[0] == "ECU"
    for ev in (back, standing, small, evidence(), detail):
        label, conf, rule, m = decide(ev)
        assert label in LABELS and 0.0 <= conf <= 1.0 and rule
        json.dumps(m)


def test_rules_thresholds_are_parameters():
    ev = evidence([face(0.2, 0.3)], [blob(0.3, 0.15, 0.7, 1.0)], [0])  # 1.67 face heights below the chin
    assert decide(ev, Rules(cu_face=0.35))[0] == "MS"
    assert decide(ev, Rules(cu_below=2.0))[0] == "CU"
    assert set(Rules().as_dict()) >= {"cu_below", "fs_extent", "full_body"}


def test_vote_combines_frames():
    a = ShotSize("MS", 0.8, {"rule": "x"})
    b = ShotSize("CU", 0.5, {"rule": "y"})
    v = vote([a, b, ShotSize("MS", 0.6, {"rule": "z"})])
    assert v.label == "MS" and v.confidence == pytest.approx((0.8 + 0.6) / 3, abs=1e-3)
    assert [f["label"] for f in v.evidence["frames"]] == ["MS", "CU", "MS"]
    assert vote([b]).label == "CU"
    label, conf = vote([a, b])  # a ShotSize unpacks like the (label, confidence) pairs of trained models
    assert label == "MS" and conf == pytest.approx(0.4)


def test_active_area_strips_bars_not_dark_scenes():
    img = np.zeros((90, 160, 3), np.uint8)
    img[:, 20:140] = np.random.default_rng(0).integers(30, 220, (90, 120, 3))
    assert active_area(img) == (20, 0, 140, 90)
    letter = np.zeros((360, 640, 3), np.uint8)
    letter[45:315] = 120
    letter[100:200, 100:300] = 200
    assert active_area(letter) == (0, 45, 640, 315)
    dark = np.full((90, 160, 3), 10, np.uint8)  # a dark scene is not all bars
    assert active_area(dark) == (0, 0, 160, 90)


def test_sample_frames_at_quarters():
    from reelscope.pipeline.stages.shot_size import sample_frames
    wanted = sample_frames([Shot(0, 0, 99), Shot(1, 100, 100), Shot(2, 101, 102)], (0.25, 0.5, 0.75))
    assert {f: v for f, v in wanted.items() if v == [0]} == {25: [0], 50: [0], 75: [0]}
    assert wanted[100] == [1]
    assert sorted(f for f, v in wanted.items() if v == [2]) == [101, 102]


# ---- the by-eye labels -------------------------------------------------------------------------

def test_labelled_set_is_well_formed():
    doc = json.loads(FIXTURE.read_text())
    assert doc["labelled_by_eye"] is True
    assert set(doc["definitions"]) == set(LABELS)
    labels = doc["labels"]
    assert len(labels) >= 150
    assert {lab["label"] for lab in labels} == set(LABELS)
    for lab in labels:
        assert lab["shot_start"] <= lab["frame"] <= lab["shot_end"]
        assert lab["video"].startswith("transnetv2:") or not Path(lab["video"]).is_absolute()
    assert len({(lab["video"], lab["frame"]) for lab in labels}) == len(labels)


# ---- the default classifier on real images -------------------------------------------------------

@pytest.fixture(scope="module")
def classifier():
    from reelscope.shots.shot_size import ShotSizeClassifier
    return ShotSizeClassifier()


def _meds(data, step=10):
    """Every ``step``-th MEDS-II mugshot (12 photos of different people)."""
    folder = data("faces/meds2_nist_sd32")
    paths = sorted(folder.glob("*.jpg"))[::step]
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]


def _frame(data, rel, index):
    from reelscope.media.info import probe
    from reelscope.pipeline.stages.shot_size import decode_selected
    path = data(rel)
    return dict(decode_selected(str(path), probe(path), {index}))[index]


def test_mugshots_are_close_ups(classifier, data):
    sizes = [classifier.classify(img) for img in _meds(data)]
    for s in sizes:
        assert s.label in LABELS and 0.0 <= s.confidence <= 1.0
        json.dumps(s.evidence)
    assert sum(s.label == "CU" for s in sizes) >= len(sizes) - 1, [s.label for s in sizes]
    s = sizes[0]
    assert s.label == "CU" and s.evidence["face_height"] > 0.3 and s.evidence["rule"] == "head and shoulders"


def test_eye_crops_are_extreme_close_ups(classifier, data):
    from reelscope.vision.face_detect import make_face_detector
    det = make_face_detector("blazeface")
    labels = []
    for img in _meds(data):
        x, y, w, h = det.detect(img).boxes[0]
        crop = img[int(y + 0.15 * h):int(y + 0.6 * h), int(x + 0.05 * w):int(x + 0.95 * w)]  # the eyes' band
        labels.append(classifier.classify(crop).label)
    assert labels.count("ECU") >= len(labels) - 2, labels  # 108 of all 114 crops (tiny crops fail)


@pytest.mark.slow
def test_chaplin_two_full_bodies(classifier, data):
    s = classifier.classify(_frame(data, "video/chaplin.mp4", 120))
    assert s.label in ("FS", "LS"), s.evidence
    assert s.evidence["person_region"]["height"] > 0.8


@pytest.mark.slow
def test_landscape_gets_a_label(classifier, data):
    s = classifier.classify(_frame(data, "video/clip_02_caminandes.mp4", 119))
    assert s.label in LABELS and 0.0 <= s.confidence <= 1.0 and s.evidence["rule"]
    shot = classifier.classify_shot([_frame(data, "video/clip_02_caminandes.mp4", i) for i in (60, 119, 180)])
    assert shot.label in LABELS and len(shot.evidence["frames"]) == 3


@pytest.mark.slow
def test_stage_stores_sizes_in_the_archive(data, tmp_path):
    import reelscope
    from reelscope.pipeline.stage import stages
    assert "shot_size" in stages()
    video = data("video/clip_03_sintel.mp4")
    archive = tmp_path / "archive"
    (outcome,) = reelscope.analyze([str(video)], archive=str(archive), stages=["shots", "shot_size"])
    with reelscope.open_archive(str(archive)) as a:
        v = a.video(1)
        assert len(v.shots) >= 6
        for sh in v.shots:
            assert sh.size in LABELS
            assert 0.0 <= sh.size_confidence <= 1.0
            assert sh.size_evidence["rule"] and len(sh.size_evidence["frames"]) >= 1
        run = next(r for r in v.runs if r.stage == "shot_size")
        assert run.params["positions"] == [0.25, 0.5, 0.75]
        assert any("pose" in k for k in run.models) and any("blazeface" in k for k in run.models)
