"""Shot vocabulary: transitions (with type and frame span) and the shots between them.

Frame indices are 0-based in presentation order, as the decoder delivers them.
A transition covers frames ``start..end`` (inclusive) and has a ``boundary``: the first
frame of the incoming shot. For a hard cut ``start`` is the last frame of the outgoing
shot and ``end == boundary`` is the first frame of the incoming one. For gradual
transitions the boundary is the frame where the incoming shot is taken to begin
(the darkest/brightest frame of a fade, the middle of a dissolve or wipe).
Shots are contiguous and cover every frame: shot k runs from its first frame to the
frame before the next boundary.
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict
from enum import Enum
from typing import Sequence


class TransitionType(str, Enum):
    CUT = "cut"
    DISSOLVE = "dissolve"
    FADE = "fade"
    WIPE = "wipe"
    OTHER = "other"

    @property
    def gradual(self) -> bool:
        return self is not TransitionType.CUT


@dataclass(frozen=True)
class Transition:
    start: int
    end: int
    boundary: int
    type: TransitionType = TransitionType.CUT
    score: float = 1.0
    detector: str = ""

    def __post_init__(self):
        if not (self.start <= self.boundary <= self.end or self.start == self.end == self.boundary):
            if not (self.start <= self.boundary <= self.end + 1):
                raise ValueError(f"boundary {self.boundary} outside span {self.start}..{self.end}")
        if self.start < 0:
            raise ValueError("transition frames must be >= 0")
        object.__setattr__(self, "type", TransitionType(self.type))

    @classmethod
    def cut(cls, boundary: int, score: float = 1.0, detector: str = "") -> "Transition":
        return cls(max(boundary - 1, 0), boundary, boundary, TransitionType.CUT, score, detector)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["type"] = self.type.value
        return d


@dataclass(frozen=True)
class Shot:
    index: int
    start: int  # first frame (inclusive)
    end: int  # last frame (inclusive)
    transition_in: TransitionType | None = None
    transition_out: TransitionType | None = None

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def middle(self) -> int:
        return (self.start + self.end) // 2


@dataclass
class ShotResult:
    """What a boundary detector run produces for one video."""
    frame_count: int
    transitions: list[Transition] = field(default_factory=list)

    @property
    def shots(self) -> list[Shot]:
        return shots_from_transitions(self.transitions, self.frame_count)


def drop_recovery_cuts(transitions: list[Transition], damaged: Sequence[bool]) -> list[Transition]:
    """Leave out hard cuts at a frame where damaged pictures (decoded after a decode error, before
    the next keyframe) give way to clean ones: the picture jumps there because it is repaired."""
    if not any(damaged):
        return transitions
    n = len(damaged)
    return [t for t in transitions if not (t.type is TransitionType.CUT and 0 < t.boundary < n
                                           and damaged[t.boundary - 1] and not damaged[t.boundary])]


def shots_from_transitions(transitions: list[Transition], frame_count: int) -> list[Shot]:
    """Contiguous shots covering 0..frame_count-1, split at each transition's boundary."""
    if frame_count <= 0:
        return []
    cuts = sorted((t for t in transitions if 0 < t.boundary < frame_count), key=lambda t: t.boundary)
    shots: list[Shot] = []
    start, t_in = 0, None
    for t in cuts:
        if t.boundary <= start:
            continue
        shots.append(Shot(len(shots), start, t.boundary - 1, t_in, t.type))
        start, t_in = t.boundary, t.type
    shots.append(Shot(len(shots), start, frame_count - 1, t_in, None))
    return shots
