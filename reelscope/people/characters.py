"""Characters: face tracks grouped by cluster label, with their screen time and statistics.

``build_characters(tracks, labels, fps=..., sample_step=...)`` turns the clustering of the
tracks' mean embeddings into one ``Character`` per label (negative labels mean "noise" and
are skipped), sorted by screen time, longest first; ``Character.index`` is that rank.

Screen time is the sum of the character's track durations (each track covers first..last
detection plus one sample interval, clipped to its shot; see ``FaceTrack.duration_frames``);
with the cannot-link constraint two tracks of one character never overlap in time, so this is
also the time the character is on screen.

Expressions: each detection's ``data["expression"]`` may be
``{"label": str, "scores": {label: p}}`` (the shape the archive stores), a plain
``{label: p}`` score dict (the label is its argmax), or a bare label string.
``expressions`` is the share of each label among the character's detections that carry one;
``expression_scores`` the mean of each label's score over the detections that have scores.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from reelscope.people.tracks import FaceTrack, unit


@dataclass
class Thumbnail:
    """Where the character's best face is: frame index, xywh box, its track and score."""
    frame: int
    box: tuple[float, float, float, float]
    track_id: int
    score: float


@dataclass
class Character:
    index: int  # rank by screen time (0 = most on screen)
    label: int  # the cluster label it came from
    track_ids: list[int]
    screen_frames: int
    screen_time: float  # seconds
    first_frame: int
    last_frame: int
    first_time: float  # seconds
    last_time: float
    thumbnail: Thumbnail
    expressions: dict[str, float] = field(default_factory=dict)
    expression_scores: dict[str, float] = field(default_factory=dict)
    embedding: np.ndarray | None = None  # L2-normalised mean of the tracks' mean embeddings

    @property
    def n_tracks(self) -> int:
        return len(self.track_ids)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the embedding as a list of floats)."""
        t = self.thumbnail
        return {"index": self.index, "label": self.label, "track_ids": list(self.track_ids),
                "n_tracks": self.n_tracks, "screen_frames": self.screen_frames, "screen_time": self.screen_time,
                "first_frame": self.first_frame, "last_frame": self.last_frame, "first_time": self.first_time,
                "last_time": self.last_time,
                "thumbnail": {"frame": t.frame, "box": list(t.box), "track_id": t.track_id, "score": t.score},
                "expressions": dict(self.expressions), "expression_scores": dict(self.expression_scores),
                "embedding": None if self.embedding is None else [float(v) for v in self.embedding]}


def parse_expression(value: Any) -> tuple[str | None, dict[str, float]]:
    """(label, scores) from a detection's ``data["expression"]`` (formats: module docstring)."""
    if value is None:
        return None, {}
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        if "label" in value or "scores" in value:
            scores = {str(k): float(v) for k, v in (value.get("scores") or {}).items()}
            label = value.get("label") or (max(scores, key=scores.get) if scores else None)
            return label, scores
        scores = {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}
        return (max(scores, key=scores.get) if scores else None), scores
    raise ValueError(f"cannot read an expression from {value!r}")


def _duration(track: FaceTrack, sample_step: int | None) -> int:
    if sample_step is None:
        return track.duration_frames
    end = track.last_frame + sample_step
    if track.shot_end is not None:
        end = min(end, track.shot_end + 1)
    return max(end - track.first_frame, 1)


def build_characters(tracks: Sequence[FaceTrack], labels: Sequence[int], *, fps: float,
                     sample_step: int | None = None) -> list[Character]:
    """One Character per non-negative label, sorted by screen time (desc), then first appearance.

    ``labels[i]`` is the cluster of ``tracks[i]``. ``sample_step`` (frames) overrides the
    tracks' own sample interval for their durations.
    """
    if len(tracks) != len(labels):
        raise ValueError(f"{len(labels)} labels for {len(tracks)} tracks")
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    groups: dict[int, list[FaceTrack]] = defaultdict(list)
    for t, lab in zip(tracks, labels):
        if int(lab) >= 0:
            groups[int(lab)].append(t)
    chars: list[Character] = []
    for lab, ts in groups.items():
        frames = sum(_duration(t, sample_step) for t in ts)
        first = min(t.first_frame for t in ts)
        last = max(t.last_frame for t in ts)
        best_t = max(ts, key=lambda t: (_quality(t, t.best_index), -t.id))
        bi = best_t.best_index
        thumb = Thumbnail(best_t.frames[bi], tuple(float(v) for v in best_t.boxes[bi]), best_t.id,
                          float(best_t.scores[bi]))
        counts: Counter[str] = Counter()
        score_sum: dict[str, float] = defaultdict(float)
        score_n: dict[str, int] = defaultdict(int)
        for t in ts:
            for d in t.data:
                label, scores = parse_expression(d.get("expression"))
                if label is not None:
                    counts[label] += 1
                for k, v in scores.items():
                    score_sum[k] += v
                    score_n[k] += 1
        total = sum(counts.values())
        means = [t.mean_embedding for t in ts if t.mean_embedding is not None]
        chars.append(Character(
            index=-1, label=lab, track_ids=sorted(t.id for t in ts), screen_frames=int(frames),
            screen_time=float(frames / fps), first_frame=first, last_frame=last,
            first_time=float(first / fps), last_time=float(last / fps), thumbnail=thumb,
            expressions={k: counts[k] / total for k in sorted(counts)} if total else {},
            expression_scores={k: score_sum[k] / score_n[k] for k in sorted(score_sum)},
            embedding=unit(np.mean(means, axis=0)) if means else None))
    chars.sort(key=lambda c: (-c.screen_frames, c.first_frame, c.label))
    for i, c in enumerate(chars):
        c.index = i
    return chars


def _quality(t: FaceTrack, i: int) -> float:
    return float(t.boxes[i, 2] * t.boxes[i, 3] * t.scores[i])
