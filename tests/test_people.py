"""Face tracks, character clustering, characters and the person/face label rule on synthetic data."""
from __future__ import annotations

import numpy as np
import pytest

from reelscope.people.characters import build_characters, parse_expression
from reelscope.people.clustering import DEFAULT_THRESHOLDS, average_linkage, cluster, pairwise_distances
from reelscope.people.rules import merge_person_labels
from reelscope.people.tracks import FaceTrack, cannot_link_pairs, infer_sample_step, track_faces, unit
from reelscope.shots.types import Shot
from reelscope.vision.detections import Detections

DIM = 128
FPS = 25.0


def identity(seed: int) -> np.ndarray:
    return unit(np.random.default_rng(seed).normal(size=DIM))


def sample(base: np.ndarray, rng: np.random.Generator, noise: float = 0.1) -> np.ndarray:
    """An embedding of the person ``base``: about ``noise`` away from it."""
    return unit(base + rng.normal(size=DIM) * noise / np.sqrt(DIM))


def frame(idx: int, faces: list[tuple[tuple[float, float, float, float], np.ndarray | None, dict]]) -> Detections:
    if not faces:
        return Detections.empty(frame=idx)
    boxes = [f[0] for f in faces]
    embs = None if any(f[1] is None for f in faces) else np.stack([f[1] for f in faces])
    return Detections(boxes, np.full(len(faces), 0.9), embeddings=embs, data=[dict(f[2]) for f in faces], frame=idx)


def whos(track: FaceTrack) -> set[str]:
    return {d["who"] for d in track.data}


ONE_SHOT = [Shot(0, 0, 999)]


# ---- tracks -------------------------------------------------------------------------------------

def test_two_faces_crossing_keep_their_tracks():
    rng = np.random.default_rng(0)
    a, b = identity(1), identity(2)
    frames = []
    for k in range(21):  # A moves right, B moves left; at k=10 their boxes coincide
        xa, xb = 100 + 20 * k, 500 - 20 * k
        fa = ((xa, 100, 80, 80), sample(a, rng), {"who": "A"})
        fb = ((xb, 100, 80, 80), sample(b, rng), {"who": "B"})
        frames.append(frame(5 * k, [fb, fa] if k % 2 else [fa, fb]))  # detector order varies
    # boxes alone are ambiguous at the crossing (IoU-only linking swaps A and B here)
    no_emb = [frame(d.frame, [(tuple(bx), None, dd) for bx, dd in zip(d.boxes, d.data)]) for d in frames]
    assert any(len(whos(t)) == 2 for t in track_faces(no_emb, ONE_SHOT, fps=FPS))
    tracks = track_faces(frames, ONE_SHOT, fps=FPS)
    assert len(tracks) == 2
    assert sorted(tuple(sorted(whos(t))) for t in tracks) == [("A",), ("B",)]
    for t in tracks:
        assert t.frames == list(range(0, 101, 5))
        assert t.shot_index == 0 and t.step == 5
        assert t.duration_frames == 105
        assert np.isclose(np.linalg.norm(t.mean_embedding), 1.0)


def test_crossing_without_embeddings_still_one_track_per_face_when_boxes_separate():
    # without embeddings only IoU links: faces that never overlap stay apart
    frames = [frame(5 * k, [((10 + 2 * k, 10, 50, 50), None, {"who": "A"}),
                            ((300 - 2 * k, 10, 50, 50), None, {"who": "B"})]) for k in range(10)]
    tracks = track_faces(frames, ONE_SHOT, fps=FPS)
    assert len(tracks) == 2 and all(len(whos(t)) == 1 for t in tracks)
    assert all(t.embeddings is None and t.mean_embedding is None for t in tracks)


def test_face_missing_for_one_sample_stays_one_track():
    rng = np.random.default_rng(1)
    a = identity(3)
    frames = [frame(5 * k, [] if k == 4 else [((100 + k, 50, 60, 60), sample(a, rng), {"who": "A"})])
              for k in range(10)]
    tracks = track_faces(frames, ONE_SHOT, fps=FPS)
    assert len(tracks) == 1
    assert tracks[0].frames == [0, 5, 10, 15, 25, 30, 35, 40, 45]
    assert tracks[0].duration_frames == 50  # first..last plus one sample interval


def test_long_absence_starts_a_new_track():
    rng = np.random.default_rng(2)
    a = identity(3)
    present = [0, 1, 2, 6, 7]  # absent for three samples
    frames = [frame(5 * k, [((100, 50, 60, 60), sample(a, rng), {"who": "A"})] if k in present else [])
              for k in range(8)]
    tracks = track_faces(frames, ONE_SHOT, fps=FPS)
    assert [t.frames for t in tracks] == [[0, 5, 10], [30, 35]]
    # an explicit, longer gap allowance bridges it
    assert len(track_faces(frames, ONE_SHOT, fps=FPS, max_gap_frames=20)) == 1


def test_shot_boundary_splits_a_track():
    rng = np.random.default_rng(3)
    a = identity(4)
    frames = [frame(5 * k, [((100, 50, 60, 60), sample(a, rng), {"who": "A"})]) for k in range(20)]
    shots = [Shot(0, 0, 47), Shot(1, 48, 99)]
    tracks = track_faces(frames, shots, fps=FPS)
    assert [(t.id, t.shot_index, t.first_frame, t.last_frame) for t in tracks] == [(0, 0, 0, 45), (1, 1, 50, 95)]
    assert tracks[0].duration_frames == 48  # 0..45 + 5 samples would be 50: clipped to the shot's end (47)
    assert tracks[1].duration_frames == 50


def test_missed_detection_of_one_of_two_faces():
    rng = np.random.default_rng(4)
    a, b = identity(5), identity(6)
    frames = []
    for k in range(8):
        faces = [((50 + 3 * k, 40, 70, 70), sample(a, rng), {"who": "A"})]
        if k != 3:
            faces.append(((400 - 3 * k, 40, 70, 70), sample(b, rng), {"who": "B"}))
        frames.append(frame(5 * k, faces))
    tracks = track_faces(frames, ONE_SHOT, fps=FPS)
    assert len(tracks) == 2
    by_who = {whos(t).pop(): t for t in tracks}
    assert len(by_who["A"]) == 8 and len(by_who["B"]) == 7 and 15 not in by_who["B"].frames
    # det_indices point back into each frame's Detections
    assert by_who["B"].det_indices == [1] * 7


def test_fast_motion_is_linked_by_embedding_and_a_new_face_in_place_is_not():
    rng = np.random.default_rng(5)
    a, b = identity(7), identity(8)
    jump = [frame(0, [((0, 0, 50, 50), sample(a, rng), {"who": "A"})]),
            frame(5, [((300, 0, 50, 50), sample(a, rng), {"who": "A"})])]  # IoU 0, same person
    assert len(track_faces(jump, ONE_SHOT, fps=FPS)) == 1
    no_emb = [frame(d.frame, [(tuple(d.boxes[0]), None, {})]) for d in jump]
    assert len(track_faces(no_emb, ONE_SHOT, fps=FPS)) == 2
    swap = [frame(0, [((0, 0, 50, 50), sample(a, rng), {"who": "A"})]),
            frame(5, [((2, 0, 50, 50), sample(b, rng), {"who": "B"})])]  # same place, another person
    assert len(track_faces(swap, ONE_SHOT, fps=FPS)) == 2


def test_track_helpers_and_input_checks():
    rng = np.random.default_rng(6)
    a = identity(9)
    dets = [frame(10, [((0, 0, 20, 20), sample(a, rng), {})]),
            frame(20, [((0, 0, 40, 40), sample(a, rng), {})]),
            Detections.empty(frame=30),
            frame(40, [((0, 0, 30, 30), sample(a, rng), {})])]
    dets[1].scores[:] = 0.5  # 1600 * 0.5 = 800 < 900 * 0.9 = 810
    (t,) = track_faces(list(reversed(dets)), [], fps=FPS)  # order does not matter; no shots = one shot
    assert t.frames == [10, 20, 40] and t.best_index == 2 and t.step == 10
    assert infer_sample_step([0, 5, 10, 16, 20]) == 5 and infer_sample_step([3]) == 1
    assert track_faces([], ONE_SHOT, fps=FPS) == []
    with pytest.raises(ValueError, match="outside every shot"):
        track_faces(dets, [Shot(0, 0, 25)], fps=FPS)
    with pytest.raises(ValueError, match="frame index"):
        track_faces([Detections.empty()], ONE_SHOT, fps=FPS)
    single = [frame(0, [((0, 0, 9, 9), None, {})]), frame(5, [((100, 100, 9, 9), None, {})])]
    assert len(track_faces(single, ONE_SHOT, fps=FPS, min_detections=2)) == 0


def test_cannot_link_pairs_are_tracks_sharing_a_frame():
    def tr(i, frames):
        return FaceTrack(i, 0, frames, np.zeros((len(frames), 4)), np.ones(len(frames)), None,
                         [{} for _ in frames], [0] * len(frames), 5)
    tracks = [tr(0, [0, 5, 10]), tr(1, [10, 15]), tr(2, [20, 25]), tr(3, [5, 25])]
    assert cannot_link_pairs(tracks) == [(0, 1), (0, 3), (2, 3)]


# ---- clustering ---------------------------------------------------------------------------------

def blobs(n_people=5, per=8, noise=0.15, outliers=3, seed=0):
    rng = np.random.default_rng(seed)
    x, y = [], []
    for p in range(n_people):
        base = identity(100 + p + 10 * seed)
        for _ in range(per):
            x.append(sample(base, rng, noise))
            y.append(p)
    for o in range(outliers):  # noise: unrelated faces, one each
        x.append(identity(1000 + o + 10 * seed))
        y.append(n_people + o)
    order = rng.permutation(len(x))
    return np.stack(x)[order], np.asarray(y)[order]


def same_partition(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return all(len(set(b[a == v])) == 1 for v in set(a)) and all(len(set(a[b == v])) == 1 for v in set(b))


@pytest.mark.parametrize("method", ["chinese_whispers", "agglomerative"])
def test_well_separated_clusters_and_noise_are_recovered(method):
    x, y = blobs()
    labels = cluster(x, method=method)
    assert same_partition(labels, y)
    assert labels[0] == 0 and set(labels) == set(range(labels.max() + 1))  # canonical


@pytest.mark.parametrize("method", ["chinese_whispers", "agglomerative"])
def test_clustering_is_deterministic_and_handles_tiny_inputs(method):
    x, _ = blobs(seed=1)
    assert np.array_equal(cluster(x, method=method), cluster(x.copy(), method=method))
    assert cluster(np.zeros((0, DIM)), method=method).tolist() == []
    assert cluster(x[:1], method=method).tolist() == [0]


def test_chinese_whispers_matches_dlib_clustering_partition():
    dlib = pytest.importorskip("dlib")
    x, _ = blobs(seed=2, noise=0.3)
    ours = cluster(x, "chinese_whispers", threshold=0.5)
    theirs = dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in x], 0.5)
    assert same_partition(ours, theirs)


@pytest.mark.parametrize("threshold", [0.3, 0.6, 1.0, 1.3])
def test_average_linkage_equals_scipy_without_constraints(threshold):
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist
    x = np.random.default_rng(3).normal(size=(60, 8)) * 0.3
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    ref = fcluster(linkage(pdist(x), method="average"), t=threshold, criterion="distance")
    assert same_partition(average_linkage(pairwise_distances(x), threshold), ref)


@pytest.mark.parametrize("method", ["chinese_whispers", "agglomerative"])
def test_cannot_link_splits_two_similar_people(method):
    rng = np.random.default_rng(4)
    base = identity(50)
    twin = unit(base + rng.normal(size=DIM) * 0.35 / np.sqrt(DIM))  # close enough to merge
    x = np.stack([sample(base, rng, 0.05) for _ in range(5)] + [sample(twin, rng, 0.05) for _ in range(5)])
    assert len(set(cluster(x, method=method))) == 1
    labels = cluster(x, method=method, cannot_link=[(0, 7)])
    assert same_partition(labels, [0] * 5 + [1] * 5)


@pytest.mark.parametrize("method", ["chinese_whispers", "agglomerative"])
def test_cannot_link_always_holds(method):
    x, _ = blobs(n_people=3, per=10, seed=5)
    rng = np.random.default_rng(5)
    pairs = [tuple(int(v) for v in rng.choice(len(x), 2, replace=False)) for _ in range(25)]
    labels = cluster(x, method=method, cannot_link=pairs)
    assert all(labels[i] != labels[j] for i, j in pairs)


def test_cluster_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown clustering method"):
        cluster(np.zeros((2, 4)), method="kmeans")
    with pytest.raises(ValueError, match="out of range"):
        cluster(np.eye(3), method="agglomerative", cannot_link=[(0, 3)])
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        cluster(np.zeros(4))
    assert DEFAULT_THRESHOLDS == {"chinese_whispers": 0.5, "agglomerative": 0.6}


# ---- characters ---------------------------------------------------------------------------------

def make_track(i, shot, frames, boxes, scores, emb, expressions, shot_end):
    n = len(frames)
    return FaceTrack(i, shot, list(frames), np.asarray(boxes, np.float32).reshape(n, 4),
                     np.asarray(scores, np.float32), None if emb is None else np.tile(emb, (n, 1)),
                     [{"expression": e} for e in expressions], list(range(n)), 5, shot_end)


def test_characters_screen_time_first_last_thumbnail_expressions():
    a, b = identity(60), identity(61)
    t0 = make_track(0, 0, [0, 5, 10], [(0, 0, 10, 10)] * 3, [0.9] * 3, a,
                    [{"label": "happy", "scores": {"happy": 0.8, "sad": 0.2}}, "happy", None], 99)
    t1 = make_track(1, 0, [20, 25, 30, 35, 40, 45, 50, 55, 60], [(5, 5, 20, 20)] * 9, [0.9] * 9, b,
                    ["neutral"] * 9, 99)
    t2 = make_track(2, 1, [100, 105], [(0, 0, 40, 40), (0, 0, 30, 30)], [0.8, 0.99], a,
                    [{"sad": 0.6, "happy": 0.4}, {"label": "sad", "scores": {"happy": 0.0, "sad": 1.0}}], 200)
    t3 = make_track(3, 2, [300], [(0, 0, 90, 90)], [0.9], identity(62), ["angry"], 301)
    chars = build_characters([t0, t1, t2, t3], [0, 1, 0, -1], fps=FPS, sample_step=5)  # -1: noise, skipped
    assert [c.label for c in chars] == [1, 0] and [c.index for c in chars] == [0, 1]
    c1, c0 = chars
    assert c1.track_ids == [1] and c1.n_tracks == 1
    assert c1.screen_frames == 45 and c1.screen_time == pytest.approx(1.8)
    assert c1.expressions == {"neutral": 1.0} and c1.expression_scores == {}
    assert c0.track_ids == [0, 2] and c0.n_tracks == 2
    assert c0.screen_frames == 15 + 10 and c0.screen_time == pytest.approx(1.0)
    assert (c0.first_frame, c0.last_frame) == (0, 105)
    assert c0.first_time == 0.0 and c0.last_time == pytest.approx(4.2)
    assert c0.thumbnail.frame == 100 and c0.thumbnail.box == (0, 0, 40, 40) and c0.thumbnail.track_id == 2
    assert c0.expressions == pytest.approx({"happy": 0.5, "sad": 0.5})  # 2 happy, 2 sad, one without
    assert c0.expression_scores == pytest.approx({"happy": (0.8 + 0.4 + 0.0) / 3, "sad": (0.2 + 0.6 + 1.0) / 3})
    assert np.allclose(c0.embedding, a, atol=1e-6) and np.isclose(np.linalg.norm(c0.embedding), 1)
    d = c0.to_dict()
    assert d["n_tracks"] == 2 and d["thumbnail"]["box"] == [0, 0, 40, 40] and len(d["embedding"]) == DIM


def test_character_durations_clip_to_shot_and_default_to_track_step():
    t = make_track(0, 0, [90, 95], [(0, 0, 10, 10)] * 2, [1, 1], None, [None, None], 97)
    (c,) = build_characters([t], [0], fps=FPS)
    assert c.screen_frames == 8 and c.embedding is None and c.expressions == {}
    with pytest.raises(ValueError, match="labels"):
        build_characters([t], [0, 1], fps=FPS)


def test_parse_expression_formats():
    assert parse_expression(None) == (None, {})
    assert parse_expression("surprise") == ("surprise", {})
    assert parse_expression({"happy": 0.1, "fear": 0.9}) == ("fear", {"happy": 0.1, "fear": 0.9})
    assert parse_expression({"scores": {"a": 0.2, "b": 0.8}}) == ("b", {"a": 0.2, "b": 0.8})


def test_tracks_to_characters_end_to_end():
    """Two people in two shots, plus a look-alike seen together with one of them."""
    rng = np.random.default_rng(7)
    a, b = identity(70), identity(71)
    frames = []
    for k in range(40):
        f = 5 * k
        faces = [((100, 80, 60, 60), sample(a, rng), {"who": "A"})]
        if f >= 100:  # shot 2: B appears beside A
            faces.append(((400, 80, 60, 60), sample(b, rng), {"who": "B"}))
        frames.append(frame(f, faces))
    shots = [Shot(0, 0, 99), Shot(1, 100, 199)]
    tracks = track_faces(frames, shots, fps=FPS)
    assert len(tracks) == 3
    means = np.stack([t.mean_embedding for t in tracks])
    for method in ("chinese_whispers", "agglomerative"):
        labels = cluster(means, method=method, cannot_link=cannot_link_pairs(tracks))
        chars = build_characters(tracks, labels, fps=FPS, sample_step=5)
        assert [c.n_tracks for c in chars] == [2, 1]
        assert chars[0].screen_time == pytest.approx(200 / FPS) and chars[1].screen_time == pytest.approx(4.0)
        assert chars[1].first_frame == 100


# ---- person / face rule -------------------------------------------------------------------------

def test_face_identity_wins_over_person_label():
    objects = Detections([(0, 0, 100, 300), (200, 0, 100, 300), (400, 0, 100, 300), (600, 0, 50, 50)],
                         [0.9, 0.9, 0.9, 0.8], class_ids=[0, 0, 0, 2])
    faces = Detections([(25, 10, 50, 50),        # inside person 0
                        (210, 10, 50, 50),       # inside person 1, no identity
                        (480, 10, 50, 50),       # 40% inside person 2: not contained
                        (610, 5, 20, 20)],       # inside the car: not a person box
                       [0.9] * 4,
                       data=[{"identity": "Alice", "character": 3}, {}, {"character": 7}, {"identity": "Bob"}])
    out = merge_person_labels(objects, faces, class_names={0: "person", 2: "car"})
    assert [o["label"] for o in out] == ["Alice", "person", "person", "car"]
    assert [o["source"] for o in out] == ["face", "object", "object", "object"]
    assert [o["face_index"] for o in out] == [0, 1, None, None]
    assert [o["class_id"] for o in out] == [0, 0, 0, 2]
    # the containment share is a parameter; the character is used when there is no identity
    out = merge_person_labels(objects, faces, containment=0.4)
    assert out[2]["label"] == 7 and out[3]["label"] == 2  # class id without class_names


def test_each_face_names_one_person_box():
    # two overlapping person boxes both contain the face: it goes to the one it is centred in
    objects = Detections([(0, 0, 200, 400), (60, 0, 200, 400)], [0.9, 0.9])
    faces = Detections([(140, 10, 40, 40)], [0.9], data=[{"identity": "Carol"}])
    out = merge_person_labels(objects, faces)
    assert [o["label"] for o in out] == [0, "Carol"]
    assert merge_person_labels(objects, Detections.empty()) == [
        {"label": 0, "source": "object", "class_id": 0, "face_index": None}] * 2
    assert merge_person_labels(objects, faces, person_class_id=1)[1]["label"] == 0
