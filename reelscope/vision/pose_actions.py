"""Action tags from pose over time: rules on normalised keypoint geometry and motion, per person track.

Labels: ``standing``, ``sitting``, ``walking``, ``running``, ``dancing``, ``arms raised``.

Everything is measured in **body units**: the track's torso length ``S`` (median over its samples
of the distance from the mid-shoulder to the mid-hip point; when the torso is never seen, 1.6 x
the shoulder width, else 7.5 x the distance between the eyes, else a third of the box height), so
the rules do not depend on the frame size or on how far the person is from the camera. A
keypoint counts when its score is at least ``Rules.kp_min`` (0.3). Image y grows downwards.

Per sample (one sampled frame of the track):

- **posture** needs a hip and a knee on the same side. ``thigh`` is the knee's height below the
  hip (mean of the visible sides) in body units; ``knee angle`` the hip-knee-ankle angle (when an
  ankle is visible); ``lean`` the torso's angle from vertical.
  *sitting*: thigh < ``sit_thigh`` (0.35: the thigh is near horizontal, or foreshortened
  towards the camera), or the knee bent below ``sit_knee_angle`` (115 deg) with thigh < 0.7.
  *upright*: lean < ``upright_lean`` (35 deg), not sitting, thigh >= ``stand_thigh`` (0.65).
- **arms raised**: a wrist above its shoulder by more than ``raise_wrist`` (0.35) with its elbow
  above the shoulder too, or a wrist above the nose and eyes.

Over a window of ``window`` samples each side (default 2, i.e. +-1 s at 2 samples a second),
between consecutive samples of the track (a pair further apart than 1.6 sample steps is not
used), in body units per second:

- ``legs``: how fast the ankles (knees when no ankle is visible) move relative to the hip centre
  (articulation: unchanged by camera pans, since it is measured inside the body);
- ``arms``: the same for the wrists relative to the shoulder centre;
- ``speed``: how fast the hip centre moves in the picture (includes camera motion);
- ``approach``: the slope of the log torso length over the window's samples (1/s): a person
  walking towards or away from the camera grows or shrinks while their legs barely swing
  across the picture.

*moving*: legs >= ``walk_legs`` (0.45) or |approach| >= ``approach`` (0.1/s).
*side-on*: legs >= ``side_legs`` (1.4) somewhere in the window (the legs swing across the
picture, so moving across it is expected of a walker too).

Locomotion, one per sample, the first that holds:
*running*: upright, moving, and legs >= ``run_legs`` (3.0) or speed >= ``run_speed`` (1.6; when
side-on ``run_speed_side``, 4.0); *walking*: upright, moving, not dancing; *sitting*;
*standing*: upright and not moving.
*dancing* (besides the above): arms >= ``dance_arms`` (0.8), the arms leading the legs (arms >=
``dance_ratio`` (1.2) x legs, or the legs not seen) and not running; it replaces walking.

A label must hold on ``min_samples`` consecutive samples (1 for postures and arms raised, 2 for
the motion labels, which need two samples anyway) to become an ``ActionSpan``. A span's score
is the mean, over its samples, of the scores of the hip and knee keypoints (of all keypoints
when those are not seen).

The thresholds were set on half of the labelled clips (tests/fixtures/pose/actions.json) and
checked on the other half; bench/bench_pose.py reports both.

Limits (measured in BENCHMARKS.md): at 2 samples a second a gait aliases (the legs can look still
on two samples half a second apart); a camera that follows a walker is fine (articulation), one
that pans past a standing person is fine too, but a pan past a walker seen from the front reads
as running; people gesturing while they talk read as dancing; people sitting behind a desk
(hips and knees hidden) are not seen sitting.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from reelscope.vision.pose import KP

LABELS = ("standing", "sitting", "walking", "running", "dancing", "arms raised")
MOTION = ("walking", "running", "dancing")


@dataclass(frozen=True)
class Rules:
    kp_min: float = 0.3
    sit_thigh: float = 0.35
    sit_knee_angle: float = 115.0
    stand_thigh: float = 0.65
    upright_lean: float = 35.0
    raise_wrist: float = 0.35
    window: int = 2
    max_pair_gap: float = 1.6  # in sample steps
    walk_legs: float = 0.45
    approach: float = 0.1
    run_legs: float = 3.0
    run_speed: float = 1.6
    side_legs: float = 1.4
    run_speed_side: float = 4.0
    dance_arms: float = 0.8
    dance_ratio: float = 1.2

    def params(self) -> dict:
        return asdict(self)


@dataclass
class ActionSpan:
    label: str
    start_frame: int
    end_frame: int  # last frame covered (inclusive)
    frames: list[int]  # the sampled frames where the label held
    score: float


@dataclass
class Features:
    """Per-sample measurements of one track (NaN where not measurable)."""
    scale: float
    thigh: np.ndarray
    knee_angle: np.ndarray
    lean: np.ndarray
    sitting: np.ndarray  # bool
    upright: np.ndarray  # bool
    arms_raised: np.ndarray  # bool
    legs: np.ndarray
    arms: np.ndarray
    speed: np.ndarray
    approach: np.ndarray  # growth rate of the torso length (1/s): towards (+) or away from (-) the camera
    conf: np.ndarray  # mean score of the keypoints the posture used


def _mid(xy: np.ndarray, vis: np.ndarray, a: int, b: int) -> np.ndarray:
    """(T, 2) mean of the visible ones of keypoints a and b (NaN when neither is visible)."""
    pa = np.where(vis[:, a, None], xy[:, a], np.nan)
    pb = np.where(vis[:, b, None], xy[:, b], np.nan)
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.stack([pa, pb]), axis=0) if len(xy) else np.zeros((0, 2))


def body_scale(xy: np.ndarray, vis: np.ndarray, boxes: np.ndarray | None = None) -> float:
    """The track's body unit (see the module docstring), in pixels."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sh = _mid(xy, vis, KP["left_shoulder"], KP["right_shoulder"])
        hp = _mid(xy, vis, KP["left_hip"], KP["right_hip"])
        torso = np.linalg.norm(sh - hp, axis=1)
        torso = torso[np.isfinite(torso) & (torso > 0)]
        if len(torso):
            return float(np.median(torso))
        both = vis[:, KP["left_shoulder"]] & vis[:, KP["right_shoulder"]]
        if both.any():
            w = np.linalg.norm(xy[both, KP["left_shoulder"]] - xy[both, KP["right_shoulder"]], axis=1)
            if np.median(w) > 0:
                return float(1.6 * np.median(w))
        eyes = vis[:, KP["left_eye"]] & vis[:, KP["right_eye"]]
        if eyes.any():
            w = np.linalg.norm(xy[eyes, KP["left_eye"]] - xy[eyes, KP["right_eye"]], axis=1)
            if np.median(w) > 0:
                return float(3.0 * 2.5 * np.median(w))  # eye span ~ 0.4 head widths, torso ~ 3 heads
    if boxes is not None and len(boxes):
        return float(max(np.median(boxes[:, 3]) / 3.0, 1.0))
    return 1.0


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at b (degrees) of a-b-c, per row."""
    u, v = a - b, c - b
    cos = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def features(xy: np.ndarray, kp_scores: np.ndarray, frames, fps: float, step: int,
             boxes: np.ndarray | None = None, rules: Rules = Rules()) -> Features:
    """Per-sample features of one track: ``xy`` (T, 17, 2) pixels, ``kp_scores`` (T, 17),
    ``frames`` (T,) frame indices, ``fps`` the video's frame rate, ``step`` the sample interval."""
    import warnings

    xy = np.asarray(xy, np.float64)
    ks = np.asarray(kp_scores, np.float64)
    frames = np.asarray(frames, np.int64)
    T = len(frames)
    vis = ks >= rules.kp_min
    S = body_scale(xy, vis, boxes)
    nan = np.full(T, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sh = _mid(xy, vis, KP["left_shoulder"], KP["right_shoulder"])
        hp = _mid(xy, vis, KP["left_hip"], KP["right_hip"])
        # thigh: knee height below the hip, mean over sides with hip and knee visible
        th, ang, used = [], [], []
        for side in ("left", "right"):
            h, k, a = KP[f"{side}_hip"], KP[f"{side}_knee"], KP[f"{side}_ankle"]
            ok = vis[:, h] & vis[:, k]
            th.append(np.where(ok, (xy[:, k, 1] - xy[:, h, 1]) / S, np.nan))
            oka = ok & vis[:, a]
            ang.append(np.where(oka, _angle(xy[:, h], xy[:, k], xy[:, a]), np.nan))
            used.append(np.where(ok, (ks[:, h] + ks[:, k]) / 2, np.nan))
        thigh = np.nanmean(np.stack(th), 0) if T else nan
        knee = np.nanmin(np.stack(ang), 0) if T else nan
        conf = np.nanmean(np.stack(used), 0) if T else nan
        d = sh - hp
        lean = np.degrees(np.arctan2(np.abs(d[:, 0]), -d[:, 1])) if T else nan  # 0 = shoulders straight above hips
        sitting = (thigh < rules.sit_thigh) | ((knee < rules.sit_knee_angle) & (thigh < 0.7))
        sitting &= np.isfinite(thigh)
        upright = (lean < rules.upright_lean) & ~sitting & (thigh >= rules.stand_thigh)
        # arms raised
        raised = np.zeros(T, bool)
        head_top = np.nanmin(np.where(vis[:, [KP[n] for n in ("nose", "left_eye", "right_eye")]],
                                      xy[:, [KP[n] for n in ("nose", "left_eye", "right_eye")], 1], np.nan), axis=1) \
            if T else nan
        for side in ("left", "right"):
            s_, e, w = KP[f"{side}_shoulder"], KP[f"{side}_elbow"], KP[f"{side}_wrist"]
            ok = vis[:, s_] & vis[:, w]
            above = (xy[:, s_, 1] - xy[:, w, 1]) / S > rules.raise_wrist
            elbow_up = vis[:, e] & (xy[:, e, 1] < xy[:, s_, 1])
            over_head = np.isfinite(head_top) & (xy[:, w, 1] < head_top)
            raised |= ok & ((above & elbow_up) | over_head)
        # motion between consecutive samples, in body units per second
        legs, arms, speed = (np.full(T, np.nan) for _ in range(3))
        ank = [KP["left_ankle"], KP["right_ankle"]]
        kne = [KP["left_knee"], KP["right_knee"]]
        wri = [KP["left_wrist"], KP["right_wrist"]]
        pair_l, pair_a, pair_s = np.full(max(T - 1, 0), np.nan), np.full(max(T - 1, 0), np.nan), np.full(max(T - 1, 0), np.nan)
        for t in range(T - 1):
            gap = frames[t + 1] - frames[t]
            if gap <= 0 or gap > rules.max_pair_gap * step:
                continue
            dt = gap / fps
            pair_l[t] = _articulation(xy, vis, t, ank, hp) if vis[[t, t + 1]][:, ank].all(0).any() \
                else _articulation(xy, vis, t, kne, hp)
            pair_a[t] = _articulation(xy, vis, t, wri, sh)
            if np.isfinite(hp[[t, t + 1]]).all():
                pair_s[t] = np.linalg.norm(hp[t + 1] - hp[t])
            pair_l[t], pair_a[t], pair_s[t] = pair_l[t] / S / dt, pair_a[t] / S / dt, pair_s[t] / S / dt
        torso = np.linalg.norm(sh - hp, axis=1) if T else nan
        approach = np.full(T, np.nan)
        secs = frames / fps
        for t in range(T):
            lo, hi = max(0, t - rules.window), min(T - 1, t + rules.window)  # pairs lo..hi-1
            if hi > lo:
                legs[t] = np.nanmean(pair_l[lo:hi]) if np.isfinite(pair_l[lo:hi]).any() else np.nan
                arms[t] = np.nanmean(pair_a[lo:hi]) if np.isfinite(pair_a[lo:hi]).any() else np.nan
                speed[t] = np.nanmean(pair_s[lo:hi]) if np.isfinite(pair_s[lo:hi]).any() else np.nan
            # samples of the window within the track's continuity: the slope of log torso length
            idx = [k for k in range(lo, hi + 1) if np.isfinite(torso[k]) and torso[k] > 0
                   and abs(frames[k] - frames[t]) <= (rules.window + 0.5) * rules.max_pair_gap * step]
            if len(idx) >= 3 and np.ptp(secs[idx]) > 0:
                approach[t] = float(np.polyfit(secs[idx], np.log(torso[idx]), 1)[0])
    return Features(S, thigh, knee, lean, sitting, upright, raised, legs, arms, speed, approach, conf)


def _articulation(xy, vis, t: int, points: list[int], ref: np.ndarray) -> float:
    """Mean displacement between samples t and t+1 of ``points`` relative to ``ref`` (pixels),
    over the points visible in both samples (NaN when none is)."""
    if not np.isfinite(ref[[t, t + 1]]).all():
        return np.nan
    ds = [np.linalg.norm((xy[t + 1, p] - ref[t + 1]) - (xy[t, p] - ref[t]))
          for p in points if vis[t, p] and vis[t + 1, p]]
    return float(np.mean(ds)) if ds else np.nan


def sample_labels(f: Features, rules: Rules = Rules()) -> list[set[str]]:
    """The labels holding at each sample (before the minimum-length rule)."""
    out = []
    ge = lambda v, thr: bool(np.isfinite(v) and v >= thr)  # noqa: E731
    T = len(f.thigh)
    for t in range(T):
        labels: set[str] = set()
        lo, hi = max(0, t - rules.window), min(T, t + rules.window + 1)
        moving = ge(f.legs[t], rules.walk_legs) or ge(abs(f.approach[t]), rules.approach)
        # legs swinging across the picture somewhere in the window: the person is seen from the side,
        # so moving across the picture is expected of a walker too
        legs_near = f.legs[lo:hi][np.isfinite(f.legs[lo:hi])]
        side_on = bool(len(legs_near)) and float(legs_near.max()) >= rules.side_legs
        fast = ge(f.legs[t], rules.run_legs) or ge(f.speed[t], rules.run_speed_side if side_on else rules.run_speed)
        running = bool(f.upright[t]) and moving and fast
        arms_lead = not np.isfinite(f.legs[t]) or ge(f.arms[t], rules.dance_ratio * f.legs[t])
        dancing = ge(f.arms[t], rules.dance_arms) and arms_lead and not running
        if running:
            labels.add("running")
        elif f.upright[t] and moving and not dancing:
            labels.add("walking")
        elif f.sitting[t]:
            labels.add("sitting")
        elif f.upright[t] and not moving:
            labels.add("standing")
        if dancing:
            labels.add("dancing")
        if f.arms_raised[t]:
            labels.add("arms raised")
        out.append(labels)
    return out


def action_spans(frames, labels: list[set[str]], conf: np.ndarray, *, step: int, shot_end: int | None = None,
                 rules: Rules = Rules(), max_gap: float | None = None) -> list[ActionSpan]:
    """Runs of consecutive samples with the same label -> spans (motion labels need 2 samples).
    Consecutive means at most ``max_gap`` (default ``rules.max_pair_gap`` steps) frames apart."""
    frames = [int(f) for f in frames]
    gap = (max_gap if max_gap is not None else rules.max_pair_gap) * step
    spans: list[ActionSpan] = []
    for label in LABELS:
        need = 2 if label in MOTION else 1
        run: list[int] = []
        for t in range(len(frames) + 1):
            holds = t < len(frames) and label in labels[t] and (not run or frames[t] - frames[run[-1]] <= gap)
            if holds:
                run.append(t)
                continue
            if len(run) >= need:
                end = frames[run[-1]] + step - 1
                if shot_end is not None:
                    end = min(end, shot_end)
                c = conf[run]
                score = float(np.nanmean(c)) if np.isfinite(c).any() else 0.0
                spans.append(ActionSpan(label, frames[run[0]], end, [frames[i] for i in run], round(score, 4)))
            run = [t] if t < len(frames) and label in labels[t] else []
    spans.sort(key=lambda s: (s.start_frame, LABELS.index(s.label)))
    return spans


def track_actions(track, fps: float, rules: Rules = Rules()) -> list[ActionSpan]:
    """Action spans of a ``vision.pose_tracks.PoseTrack`` (also stored on ``track.actions``)."""
    f = features(track.keypoints, track.keypoint_scores, track.frames, fps, track.step, track.boxes, rules)
    labels = sample_labels(f, rules)
    conf = np.where(np.isfinite(f.conf), f.conf, np.nanmean(track.keypoint_scores, axis=1))
    track.actions = action_spans(track.frames, labels, conf, step=track.step, shot_end=track.shot_end, rules=rules)
    return track.actions


__all__ = ["LABELS", "Rules", "ActionSpan", "Features", "features", "sample_labels", "action_spans",
           "track_actions", "body_scale"]
