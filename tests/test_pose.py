"""The pose stage: MoveNet MultiPose through the TFJS executor on real frames, person tracks and face
links, action rules on synthetic keypoint sequences, the archive's writer and reader."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reelscope.models.registry import MOVENET_MULTIPOSE, resolve
from reelscope.vision.detections import Detections
from reelscope.vision.pose import KEYPOINTS, KP

FIX = Path(__file__).parent / "fixtures"


def _have_model():
    from reelscope.models.fetch import present

    if not present(MOVENET_MULTIPOSE):
        pytest.skip("MoveNet MultiPose not unpacked (scripts/setup.sh fetches it)")


def _frame(path: Path, index: int) -> np.ndarray:
    from reelscope.media.decode import FrameSpec, iter_frames
    from reelscope.media.info import probe

    spec = FrameSpec("rgb")
    return next(iter(iter_frames(path, [spec], rotation=probe(path).rotation, only={index})))[spec]


def _person_boxes(video: str, frame: int) -> list[list[float]]:
    doc = json.loads((FIX / "objects" / "labels.json").read_text())
    f = next(f for f in doc["frames"] if f["video"] == video and f["frame"] == frame)
    return [o["box"] for o in f["objects"] if o["label"] == "person" and not o.get("ignore")]


# ---- the model ---------------------------------------------------------------------------------------
def test_movenet_matches_tensorflow_js(data):
    """Dense heads and decoded poses of the real graph equal TensorFlow.js's on a real frame
    (tests/fixtures/objects/make_tfjs_reference.py)."""
    import cv2

    from reelscope.models.tfjs import GraphModel

    _have_model()
    ref = json.loads((FIX / "objects" / "tfjs_reference.json").read_text())["movenet-multipose"]
    img = _frame(data("video/chaplin.mp4"), 60)
    x = cv2.resize(img, (256, 160), interpolation=cv2.INTER_AREA)[None].astype(np.int32)
    assert int(x.astype(np.int64).sum()) == ref["_input_sum"]  # the same decoded picture
    names = [k for k in ref if not k.startswith("_")]
    out = GraphModel(resolve(MOVENET_MULTIPOSE, "movenet-multipose.json")).run({"input": x}, names)
    for n in names:
        v, r = out[n], ref[n]
        assert list(v.shape) == r["shape"]
        np.testing.assert_allclose(v.reshape(-1)[r["positions"]], r["values"], rtol=1e-3, atol=1e-4)
        assert float(np.abs(v.astype(np.float64)).sum()) == pytest.approx(r["abs_sum"], rel=1e-4)


def test_movenet_finds_the_people_of_a_real_frame(data):
    """Chaplin frame 60: the two people labelled by eye (tests/fixtures/objects) each get a pose
    whose box overlaps theirs and whose confident keypoints lie inside their box."""
    from reelscope.vision.detections import iou
    from reelscope.vision.pose import PoseEstimator, keypoint_scores

    from reelscope.models.tfjs import GraphModel

    _have_model()
    img = _frame(data("video/chaplin.mp4"), 60)
    est = PoseEstimator()
    # the estimator's session (exported to onnxruntime) computes what the TFJS executor computes
    x, _, _ = est.prepare(img)
    ref = GraphModel(resolve(MOVENET_MULTIPOSE, "movenet-multipose.json")).run({"input": x}, ["Identity"])["Identity"]
    np.testing.assert_allclose(est.raw(img)[0], ref[0], atol=1e-4)
    people = est.estimate(img, frame=60)
    assert people.frame == 60 and people.landmarks.shape == (len(people), 17, 2)
    ks = keypoint_scores(people)
    for box in _person_boxes("video/chaplin.mp4", 60):
        j = int(np.argmax(iou(np.array([box]), people.boxes)[0]))
        assert iou(np.array([box]), people.boxes[j:j + 1])[0, 0] > 0.5
        x, y, w, h = box
        conf = people.landmarks[j][ks[j] >= 0.3]
        assert len(conf) >= 8
        assert ((conf[:, 0] >= x - 0.1 * w) & (conf[:, 0] <= x + 1.1 * w)
                & (conf[:, 1] >= y - 0.05 * h) & (conf[:, 1] <= y + 1.05 * h)).all()
        # head above shoulders above hips above ankles (an upright person)
        yk = people.landmarks[j][:, 1]
        assert yk[KP["nose"]] < yk[[KP["left_shoulder"], KP["right_shoulder"]]].min()
        assert yk[[KP["left_hip"], KP["right_hip"]]].max() < yk[[KP["left_ankle"], KP["right_ankle"]]].min()


def test_small_frames_are_upscaled_for_the_model(data):
    """The same picture at 160x90 (the size of the music video): a person is still found, with
    keypoints in the small frame's pixels."""
    import cv2

    from reelscope.vision.pose import PoseEstimator, network_size

    _have_model()
    assert network_size(90, 160, 256) == (160, 256, 1.6)
    small = cv2.resize(_frame(data("video/chaplin.mp4"), 60), (160, 90), interpolation=cv2.INTER_AREA)
    people = PoseEstimator().estimate(small)
    assert len(people) >= 1
    assert (people.landmarks[..., 0] <= 160).all() and (people.landmarks[..., 1] <= 90).all()
    box = np.array(_person_boxes("video/chaplin.mp4", 60)[1]) / 4  # Chaplin himself, scaled to 160x90
    c = people.boxes[:, :2] + people.boxes[:, 2:] / 2
    assert ((c[:, 0] > box[0]) & (c[:, 0] < box[0] + box[2]) & (c[:, 1] > box[1]) & (c[:, 1] < box[1] + box[3])).any()


def test_estimator_input_and_errors():
    from reelscope.vision.pose import PoseEstimator, network_size

    assert network_size(360, 640, 256) == (160, 256, 0.4)  # 144 rounded up to a multiple of 32
    assert network_size(640, 480, 384) == (384, 288, 0.6)
    est = PoseEstimator()
    x, fx, fy = est.prepare(np.full((90, 160, 3), 200, np.uint8))
    assert x.shape == (1, 160, 256, 3) and x.dtype == np.int32
    assert (fx, fy) == (160.0, 100.0)  # padded: normalised y 1.0 is 100 image pixels (90 + padding)
    assert x[0, :144].min() == 200 and x[0, 144:].max() == 0
    x, fx, fy = PoseEstimator(fit="stretch").prepare(np.zeros((90, 160, 3), np.uint8))
    assert x.shape == (1, 160, 256, 3) and (fx, fy) == (160.0, 90.0)
    assert len(est.estimate(np.zeros((4, 4, 3), np.uint8))) == 0  # too small to look at
    for bad in ({"input_size": 250}, {"min_score": 2.0}, {"fit": "crop"}):
        with pytest.raises(ValueError):
            PoseEstimator(**bad)


# ---- synthetic skeletons --------------------------------------------------------------------------------
S = 60.0  # torso length in pixels of the synthetic people


def skeleton(cx: float, hip_y: float, *, s: float = S, legs: float = 0.0, arms: float = 0.0, sit: bool = False,
             raise_arms: bool = False, lean: float = 0.0, stride: float = 0.35) -> np.ndarray:
    """(17, 2) keypoints of a person facing the camera: ``legs`` / ``arms`` in -1..1 swing the
    ankles / wrists forward and back (in the picture: sideways, as seen from the side), ``sit``
    puts the thighs horizontal, ``raise_arms`` the hands above the head."""
    p = np.zeros((17, 2))
    hip = np.array([cx, hip_y])
    sh = hip + np.array([lean * s, -s])
    p[KP["left_hip"]], p[KP["right_hip"]] = hip + [0.25 * s, 0], hip - [0.25 * s, 0]
    p[KP["left_shoulder"]], p[KP["right_shoulder"]] = sh + [0.4 * s, 0], sh - [0.4 * s, 0]
    nose = sh + [0, -0.45 * s]
    p[KP["nose"]] = nose
    p[KP["left_eye"]], p[KP["right_eye"]] = nose + [0.08 * s, -0.06 * s], nose + [-0.08 * s, -0.06 * s]
    p[KP["left_ear"]], p[KP["right_ear"]] = nose + [0.15 * s, -0.03 * s], nose + [-0.15 * s, -0.03 * s]
    for side, sgn in (("left", 1), ("right", -1)):
        shoulder, hp = p[KP[f"{side}_shoulder"]], p[KP[f"{side}_hip"]]
        if raise_arms:
            p[KP[f"{side}_elbow"]] = shoulder + [0.1 * sgn * s, -0.55 * s]
            p[KP[f"{side}_wrist"]] = shoulder + [0.15 * sgn * s, -1.1 * s]
        else:
            swing = -sgn * arms
            p[KP[f"{side}_elbow"]] = shoulder + [0.3 * swing * s, 0.55 * s]
            p[KP[f"{side}_wrist"]] = shoulder + [0.7 * swing * s, 1.0 * s - 0.3 * abs(swing) * s]
        if sit:
            p[KP[f"{side}_knee"]] = hp + [0.2 * sgn * s, 0.15 * s]
            p[KP[f"{side}_ankle"]] = hp + [0.25 * sgn * s, 1.0 * s]
        else:
            swing = sgn * legs
            p[KP[f"{side}_knee"]] = hp + [stride * swing * s, 0.95 * s]
            p[KP[f"{side}_ankle"]] = hp + [2 * stride * swing * s, 1.9 * s]
    return p


def sequence(n: int, fps: float = 25.0, step: int = 12, *, speed: float = 0.0, cadence: float = 0.0,
             arm_cadence: float = 0.0, noise: float = 0.02, seed: int = 0, s: float = S, **kw):
    """A track of ``n`` samples every ``step`` frames: moving sideways at ``speed`` torso lengths
    a second, legs swinging ``cadence`` cycles a second, arms ``arm_cadence`` cycles a second."""
    from reelscope.vision.pose_tracks import PoseTrack

    rng = np.random.default_rng(seed)
    frames = [k * step for k in range(n)]
    kps = []
    for f in frames:
        t = f / fps
        legs = np.sin(2 * np.pi * cadence * t + 0.3) if cadence else 0.0
        # arms swing against the legs when walking, or on their own rhythm
        arms = np.sin(2 * np.pi * arm_cadence * t + 1.1) if arm_cadence else -0.6 * legs
        kp = skeleton(300 + speed * s * t, 300, s=s, legs=legs, arms=arms, **kw)
        kps.append(kp + rng.normal(0, noise * s, kp.shape))
    kps = np.array(kps, np.float32)
    lo, hi = kps.min(1), kps.max(1)
    boxes = np.concatenate([lo, hi - lo], 1)
    return PoseTrack(0, 0, frames, boxes, np.full(n, 0.8, np.float32), kps, np.full((n, 17), 0.9, np.float32),
                     [0] * n, step, None)


def _labels(track, fps=25.0):
    from reelscope.vision.pose_actions import track_actions

    return {a.label for a in track_actions(track, fps)}, track.actions


def test_standing_still_and_camera_pan():
    labels, spans = _labels(sequence(8))
    assert labels == {"standing"}
    assert spans[0].start_frame == 0 and spans[0].end_frame == 7 * 12 + 11 and len(spans[0].frames) == 8
    # the camera pans past a standing person: the body moves in the picture, the limbs do not
    assert _labels(sequence(8, speed=2.5))[0] == {"standing"}


def test_walking_and_running():
    walk, _ = _labels(sequence(10, speed=2.5, cadence=0.9))
    assert "walking" in walk and "running" not in walk and "standing" not in walk
    run, _ = _labels(sequence(10, speed=8.0, cadence=1.4, stride=0.6))
    assert "running" in run and "walking" not in run
    # walking is read from the legs, not from the position: a camera following the walker
    assert "walking" in _labels(sequence(10, speed=0.0, cadence=0.9))[0]


def test_sitting_and_arms_raised():
    assert _labels(sequence(6, sit=True))[0] == {"sitting"}
    assert _labels(sequence(6, raise_arms=True))[0] == {"standing", "arms raised"}
    assert _labels(sequence(6, sit=True, raise_arms=True))[0] == {"sitting", "arms raised"}


def test_dancing():
    labels, _ = _labels(sequence(12, cadence=0.7, arm_cadence=1.3, stride=0.25))
    assert "dancing" in labels and "walking" not in labels and "running" not in labels


def test_rules_are_scale_free_and_need_the_legs():
    from reelscope.vision.pose_actions import track_actions

    for s in (15.0, 60.0, 240.0):  # the same motions at three sizes in the picture
        assert _labels(sequence(10, speed=2.5, cadence=0.9, s=s))[0] >= {"walking"}
        assert _labels(sequence(8, s=s))[0] == {"standing"}
    t = sequence(8)
    t.keypoint_scores[:, [KP[k] for k in ("left_knee", "right_knee", "left_ankle", "right_ankle")]] = 0.05
    assert {a.label for a in track_actions(t, 25.0)} == set()  # a medium shot: posture unknown


def test_spans_split_at_gaps_and_need_two_samples_for_motion():
    from reelscope.vision.pose_actions import action_spans

    labels = [{"walking"}, {"walking"}, {"standing"}, {"walking"}, {"standing"}, {"standing"}]
    frames = [0, 12, 24, 36, 100, 112]  # a gap between 36 and 100
    spans = action_spans(frames, labels, np.full(6, 0.5), step=12, shot_end=110)
    got = [(s.label, s.start_frame, s.end_frame, s.frames) for s in spans]
    assert ("walking", 0, 23, [0, 12]) in got  # the lone walking sample at 36 is dropped
    assert ("standing", 24, 35, [24]) in got
    assert ("standing", 100, 110, [100, 112]) in got  # clipped to the shot's end
    assert len(got) == 3


# ---- tracks and faces -----------------------------------------------------------------------------------
def _pose_frame(frame: int, people: list[np.ndarray]) -> Detections:
    kp = np.array(people, np.float32)
    lo, hi = kp.min(1), kp.max(1)
    return Detections(np.concatenate([lo, hi - lo], 1), np.full(len(people), 0.7), np.zeros(len(people)), kp,
                      data=[{"label": "person", "keypoint_scores": np.full(17, 0.8, np.float32)} for _ in people],
                      frame=frame)


class _Shot:
    def __init__(self, index, start, end):
        self.index, self.start, self.end = index, start, end


def test_track_poses_within_shots_and_link_faces():
    from reelscope.vision.pose import head_box
    from reelscope.vision.pose_tracks import apply_links, link_faces, track_poses

    frames = [_pose_frame(f, [skeleton(150 + f, 300), skeleton(450 - f, 300)]) for f in (0, 12, 24, 36, 48)]
    shots = [_Shot(0, 0, 29), _Shot(1, 30, 60)]
    tracks = track_poses(frames, shots)
    assert [(t.shot_index, t.frames) for t in tracks] == [(0, [0, 12, 24]), (0, [0, 12, 24]), (1, [36, 48]),
                                                          (1, [36, 48])]
    left = next(t for t in tracks if t.shot_index == 0 and t.keypoints[0, 0, 0] < 300)
    assert np.allclose(left.keypoints[:, KP["nose"], 0], [150, 162, 174])
    assert left.keypoint_scores.shape == (3, 17)
    # a face on the left person's head in shot 0 (frames 0 and 12), and a face on nobody
    faces, keys, fshots = [], [], []
    for f in (0, 12):
        hb = head_box(skeleton(150 + f, 300), np.full(17, 0.9))
        faces.append(hb + np.array([-4, -8, 8, 16]))
        keys.append("A")
        fshots.append(0)
    faces.append(np.array([290, 10, 30, 30]))
    keys.append("B")
    fshots.append(0)
    links = link_faces(tracks, [0, 12, 0], np.array(faces), keys, face_shots=fshots, characters={"A": 7})
    i = tracks.index(left)
    assert set(links) == {i} and links[i].face_track == "A" and links[i].character == 7 and links[i].votes == 2
    apply_links(tracks, links)
    assert left.face_track == "A" and all(t.face_track is None for t in tracks if t is not left)
    # faces sampled on other frames are compared with the nearest one within the gap allowed
    links = link_faces(tracks, [3, 15], np.array(faces[:2]), ["A", "A"], max_frame_gap=6)
    assert set(links) == {i}
    assert link_faces(tracks, [3, 15], np.array(faces[:2]), ["A", "A"], max_frame_gap=0) == {}


# ---- evaluation -----------------------------------------------------------------------------------------
def test_keypoint_and_action_evaluation():
    from reelscope.eval.pose import action_accuracy, keypoint_accuracy, load_action_labels, load_keypoint_labels

    frames = load_keypoint_labels(FIX / "pose" / "keypoints.json")
    assert len(frames) >= 20 and sum(len(f["people"]) for f in frames) >= 30
    f = frames[0]
    truth = np.array([np.nan_to_num(p["xy"]) for p in f["people"]])
    perfect = keypoint_accuracy([(f, truth, np.ones((len(truth), 17)))])
    assert perfect["pck_torso@0.2"] == 1.0 and perfect["pckh@0.5"] == 1.0
    off = truth + np.array([0.0, 1000.0])  # nowhere near
    assert keypoint_accuracy([(f, off, np.ones((len(truth), 17)))])["people_found"] == 0
    assert keypoint_accuracy([(f, truth, np.zeros((len(truth), 17)))], min_kp_score=0.3)["pckh@0.5"] == 0.0
    clips = load_action_labels(FIX / "pose" / "actions.json")
    assert {c["video"] for c in clips} >= {"video/chaplin.mp4", "faces/openmpf_face_videos/video_02.mp4"}
    c = next(c for c in clips if c["video"] == "video/chaplin.mp4")
    sampled = {c["video"]: list(range(0, 241, 12))}
    acc = action_accuracy([c], {c["video"]: c["spans"]}, sampled)  # the labels themselves: perfect
    assert acc["micro"]["precision"] == 1.0 and acc["micro"]["recall"] == 1.0
    acc = action_accuracy([c], {c["video"]: {"sitting": [[0, 240]]}}, sampled)
    assert acc["labels"]["sitting"]["fp"] == 21 and acc["labels"]["standing"]["fn"] == 21


# ---- the archive -----------------------------------------------------------------------------------------
def _archive_with_faces(location: Path, db_url=None):
    """A video (25 fps, 100 frames, shots 0-59 and 60-99) with one face track (character 0) on
    the head of the person standing at x=150 on frames 0-48; returns (archive, video id, face track
    id, character id)."""
    from reelscope.archive import Archive
    from reelscope.archive import schema as db
    from reelscope.vision.pose import head_box

    arch = Archive(location, db_url)
    emb = np.zeros(128, "<f4").tobytes()
    with arch.session() as s, s.begin():
        v = db.Video(fingerprint="p" * 32, path="/p.mp4", filename="p.mp4", size_bytes=1, container="mp4",
                     codec="h264", width=640, height=480, rotation=0, fps_num=25, fps_den=1, frame_count=100,
                     duration=4.0, variable_frame_rate=False, has_audio=False)
        s.add(v)
        s.flush()
        s.add_all([db.Shot(video_id=v.id, idx=0, start_frame=0, end_frame=59, start_time=0.0, end_time=2.4),
                   db.Shot(video_id=v.id, idx=1, start_frame=60, end_frame=99, start_time=2.4, end_time=4.0)])
        ch = db.Character(video_id=v.id, idx=0, naming="unknown", screen_time=2.0, first_frame=0, last_frame=48,
                          first_time=0.0, last_time=1.92, expressions={}, embedding=emb)
        s.add(ch)
        s.flush()
        ft = db.FaceTrack(video_id=v.id, character_id=ch.id, shot_idx=0, first_frame=0, last_frame=48, seconds=2.0,
                          embedding=emb)
        s.add(ft)
        s.flush()
        for f in (0, 12, 24, 36, 48):
            x, y, w, h = head_box(skeleton(150, 300), np.full(17, 0.9))
            s.add(db.Face(video_id=v.id, track_id=ft.id, frame=f, time=f / 25, x=x - 4, y=y - 8, w=w + 8, h=h + 16,
                          score=0.9))
        ids = (v.id, ft.id, ch.id)
    return (arch, *ids)


def test_pose_writer_and_reader_round_trip(tmp_path, db_url):
    from reelscope.archive import schema as db
    from reelscope.archive.export import video_dict
    from reelscope.pipeline.stages.pose import PosePass, finish_poses

    arch, vid, ft_id, ch_id = _archive_with_faces(tmp_path / "a", db_url)
    shots = [_Shot(0, 0, 59), _Shot(1, 60, 99)]
    # shot 0: a person standing at x=150 (with the face) and one walking past at x=400; shot 1: one sitting
    walker = sequence(5, speed=2.5, cadence=0.9, seed=3)
    frames = []
    for k, f in enumerate((0, 12, 24, 36, 48)):
        frames.append(_pose_frame(f, [skeleton(150, 300), walker.keypoints[k] + np.array([100.0, 0.0])]))
    frames += [_pose_frame(f, [skeleton(300, 250, sit=True)]) for f in (60, 72, 84, 96)]
    pp = finish_poses(PosePass(scale=1.0, frames=frames, times={f.frame: f.frame / 25 for f in frames}, sampled=9,
                               step=12), shots, 25.0)
    want = {(t.shot_index, a.label) for t in pp.tracks for a in t.actions}
    assert {(0, "standing"), (1, "sitting")} <= want
    arch.save_stage(vid, "pose", {"poses": pp}, {"params": {"sample_step": 12, "sampled_frames": 9}})
    with arch.session() as s:
        rows = s.query(db.PoseTrack).filter_by(video_id=vid).order_by(db.PoseTrack.id).all()
        assert len(rows) == 3 and s.query(db.Pose).filter_by(video_id=vid).count() == 14
        linked = [r for r in rows if r.face_track_id is not None]
        assert len(linked) == 1 and linked[0].face_track_id == ft_id and linked[0].character_id == ch_id
        assert linked[0].shot_idx == 0 and linked[0].first_frame == 0
        tags = s.query(db.Tag).filter_by(video_id=vid, source="action").all()
        shot_tags = {(t.shot_idx, t.label) for t in tags if t.frame is None}
        assert shot_tags == want
        assert {(t.shot_idx, t.frame) for t in tags if t.label == "sitting" and t.frame is not None} == {
            (1, 60), (1, 72), (1, 84), (1, 96)}
        acts = s.query(db.PoseAction).filter_by(video_id=vid, label="sitting").one()
        assert (acts.start_frame, acts.end_frame, acts.samples) == (60, 99, 4)
        assert acts.start_time == pytest.approx(2.4) and acts.end_time == pytest.approx(4.0)
    back = arch.load_stage(vid, "pose")["poses"]
    assert back.step == 12 and back.sampled == 9
    assert [d.frame for d in back.frames] == [d.frame for d in pp.frames]
    for a, b in zip(back.frames, pp.frames):
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.01)
        np.testing.assert_allclose(a.data[0]["keypoint_scores"], b.data[0]["keypoint_scores"], atol=1e-4)
    got = sorted((t.shot_index, t.frames, [(x.label, x.start_frame, x.end_frame) for x in t.actions])
                 for t in back.tracks)
    assert got == sorted((t.shot_index, t.frames, [(x.label, x.start_frame, x.end_frame) for x in t.actions])
                         for t in pp.tracks)
    assert sum(t.face_track == ft_id and t.character == ch_id for t in back.tracks) == 1
    by_frame = {d.frame: d for d in back.frames}
    for t in back.tracks:  # a track's keypoints are its poses' keypoints
        for k, (f, i) in enumerate(zip(t.frames, t.det_indices)):
            np.testing.assert_array_equal(t.keypoints[k], by_frame[f].landmarks[i])
    v = video_dict(arch.video(vid), arch)
    assert v["poses"]["keypoint_names"] == list(KEYPOINTS)
    tr = v["poses"]["tracks"]
    assert len(tr) == 3 and sum(len(t["poses"]) for t in tr) == 14
    assert len(tr[0]["poses"][0]["keypoints"]) == 51
    assert any(t["character_id"] == ch_id for t in tr)
    assert {a["label"] for t in tr for a in t["actions"]} == {lab for _, lab in want}
    assert {(t["label"], t["source"]) for sh in v["shots"] for t in sh["tags"]} >= {("sitting", "action")}
    # search finds the actions: by tag, and by words (with the frame where it holds as evidence)
    from reelscope.search import SearchQuery, search

    hits = search(arch, SearchQuery(tags=["sitting"]))
    assert [(h["video_id"], h["shot_index"]) for h in hits.items] == [(vid, 1)]
    hits = search(arch, "sitting")
    assert hits.items and hits.items[0]["shot_index"] == 1 and 60 <= hits.items[0]["frame"] <= 99
    # a rerun replaces every row; analysing the faces again leaves the links null
    arch.save_stage(vid, "pose", {"poses": pp}, {"params": {"sample_step": 12, "sampled_frames": 9}})
    with arch.session() as s, s.begin():
        assert s.query(db.PoseTrack).filter_by(video_id=vid).count() == 3
        assert s.query(db.Tag).filter_by(video_id=vid, source="action", frame=None).count() == len(want)
        s.query(db.Face).filter_by(video_id=vid).delete()
        s.query(db.FaceTrack).filter_by(video_id=vid).delete()
    with arch.session() as s:
        assert all(r.face_track_id is None for r in s.query(db.PoseTrack).filter_by(video_id=vid))
    arch.close()


def test_pose_stage_on_a_real_clip(tmp_path, data):
    """The engine runs shots + pose on Chaplin: two people tracked through the shot, standing
    found, poses stored in video pixels, the run recorded with its model."""
    from reelscope.analysis import analyze
    from reelscope.archive import Archive
    from reelscope.archive.export import video_dict

    _have_model()
    arch = Archive(tmp_path / "a")
    (o,) = analyze([data("video/chaplin.mp4")], arch, stages=["shots", "pose"], params={"pose": {"sample_fps": 1.0}})
    assert o.status == "analyzed", o.error
    v = video_dict(arch.video(o.video_id), arch)
    tracks = v["poses"]["tracks"]
    long = [t for t in tracks if t["samples"] >= 6]
    assert len(long) >= 2  # both men, through most of the 10 s
    assert all(p["frame"] % 25 == 0 for t in tracks for p in t["poses"])  # 1 sample/s of a 25 fps clip
    assert all(0 <= p["box"][0] <= 640 and 0 <= p["box"][1] <= 360 for t in tracks for p in t["poses"])
    assert any(a["label"] == "standing" for t in long for a in t["actions"])
    run = next(r for r in v["analysis_runs"] if r["stage"] == "pose")
    assert "movenet-multipose/movenet-multipose.bin" in run["models"] and run["params"]["sample_step"] == 25
    back = arch.load_stage(o.video_id, "pose")["poses"]
    assert len(back.tracks) == len(tracks)
    arch.close()


def test_finish_links_the_faces_pass_in_memory():
    """When the faces stage finished earlier in the same pass, the pose stage links its tracks to
    the face tracks (ids) and characters (indices) of that faces pass."""
    from types import SimpleNamespace

    from reelscope.pipeline.stages.pose import PosePass, finish_poses
    from reelscope.vision.pose import head_box

    frames = [_pose_frame(f, [skeleton(150, 300), skeleton(450, 300)]) for f in (0, 12, 24)]
    hb = head_box(skeleton(450, 300), np.full(17, 0.9))
    face_track = SimpleNamespace(id=5, shot_index=0, frames=[0, 12, 24], boxes=[hb + np.array([-3, -6, 6, 12])] * 3)
    faces = SimpleNamespace(tracks=[face_track], characters=[SimpleNamespace(index=2, track_ids=[5])])
    pp = finish_poses(PosePass(scale=1.0, frames=frames, step=12), [_Shot(0, 0, 40)], 25.0, faces=faces)
    linked = [t for t in pp.tracks if t.face_track is not None]
    assert len(linked) == 1 and linked[0].face_track == 5 and linked[0].character == 2 and linked[0].face_votes == 3
    assert linked[0].keypoints[0, KP["nose"], 0] == pytest.approx(450)
