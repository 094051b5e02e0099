"""On-screen text over time: which sampled pictures need reading again, and text lines read on
successive samples merged into time spans ("the same text at about the same place").

``PictureChange`` is the cheap test that lets the text stage skip the OCR of a sample whose
picture did not change since the last one read: a small luma copy is compared block by block
(mean absolute difference per 8x8 block), so a changed word in a still title card counts, while
noise spread over the frame does not.

``merge_lines`` links the lines of successive samples: a line continues a span that was seen on
the previous sample (or up to ``max_gap`` samples before) when their boxes overlap (IoU) or their
centres are close, and their texts are close (normalised edit distance) with the same digits. A span's text is the reading with the most
confidence summed over its samples, its box the median box.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings (insertions, deletions, substitutions)."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def text_distance(a: str, b: str) -> float:
    """Edit distance over the longer length, ignoring case and surrounding spaces (0 same .. 1)."""
    a, b = a.strip().casefold(), b.strip().casefold()
    n = max(len(a), len(b))
    return edit_distance(a, b) / n if n else 0.0


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def same_text(a: str, b: str, max_distance: float) -> float | None:
    """How far apart two readings are (normalised edit distance) when they can be the same text,
    else None: within ``max_distance``, and with the same digits (a clock, a score or a counter
    that ticks is new text each time; OCR noise rarely changes digits)."""
    if digits(a) != digits(b):
        return None
    d = text_distance(a, b)
    return d if d <= max_distance else None


def near(a: Sequence[float], b: Sequence[float], min_iou: float) -> float | None:
    """How well two (x, y, w, h) boxes agree (their IoU) when they are at about the same place,
    else None: IoU at least ``min_iou``, or centres closer than 1.5 times the taller box's height
    (text that a panning camera moved a little)."""
    iou = box_iou(a, b)
    if iou >= min_iou:
        return iou
    dx = (a[0] + a[2] / 2) - (b[0] + b[2] / 2)
    dy = (a[1] + a[3] / 2) - (b[1] + b[3] / 2)
    if (dx * dx + dy * dy) ** 0.5 <= 1.5 * max(a[3], b[3]):
        return iou
    return None


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    iw = min(ax0 + aw, bx0 + bw) - max(ax0, bx0)
    ih = min(ay0 + ah, by0 + bh) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return float(inter / (aw * ah + bw * bh - inter))


class PictureChange:
    """Did the picture change since the last sample that was read? ``threshold``: the least mean
    absolute luma difference (0..255) of one 8x8 block of the small copy that counts as a change.
    ``changed`` remembers the picture only when it answers True (the comparison is always against
    the last picture that was read, so slow drift adds up)."""

    block = 8

    def __init__(self, threshold: float = 8.0):
        self.threshold = float(threshold)
        self.last: np.ndarray | None = None

    def difference(self, luma: np.ndarray) -> float:
        """The largest block difference to the remembered picture (inf when there is none)."""
        if self.last is None or self.last.shape != luma.shape:
            return float("inf")
        d = cv2.absdiff(np.ascontiguousarray(luma), self.last)
        b = self.block
        bh, bw = d.shape[0] // b, d.shape[1] // b
        if bh == 0 or bw == 0:  # smaller than one block
            return float(d.mean())
        blocks = cv2.resize(d[:bh * b, :bw * b], (bw, bh), interpolation=cv2.INTER_AREA)  # block means
        return float(blocks.max())

    def changed(self, luma: np.ndarray) -> bool:
        if self.difference(luma) >= self.threshold:
            self.last = np.ascontiguousarray(luma).copy()
            return True
        return False

    def reset(self) -> None:
        self.last = None


@dataclass
class SampleText:
    """The text lines of one sampled frame (boxes x, y, w, h in video pixels). ``read``: the OCR ran
    on this frame; False: the picture had not changed and the previous sample's lines were kept."""
    frame: int
    time: float
    lines: list = field(default_factory=list)  # (text, (x, y, w, h), score)
    read: bool = True


@dataclass
class TextSpan:
    text: str
    box: tuple[float, float, float, float]  # median (x, y, w, h) over its samples, video pixels
    score: float  # mean recognition confidence over its samples
    first_frame: int
    last_frame: int  # last sampled frame it was read on
    start_time: float
    end_time: float  # time of the first sample without it (or the video's end)
    samples: int  # sampled frames it was seen on
    readings: dict[str, float] = field(default_factory=dict)  # text -> summed confidence
    shot_index: int | None = None
    members: list[tuple[int, int]] = field(default_factory=list, repr=False)  # (frame, index in its lines)

    @property
    def frames(self) -> list[int]:
        return [f for f, _ in self.members]

    @property
    def duration(self) -> float:
        return self.end_time - self.start_time


@dataclass
class TextResult:
    """What the text stage produces for one video."""
    spans: list[TextSpan] = field(default_factory=list)  # by start time
    samples: list[SampleText] = field(default_factory=list)  # every sampled frame, in order
    step: int = 1  # frames between regular samples
    read: int = 0  # samples the OCR ran on (the others kept the previous reading)

    @property
    def sampled(self) -> int:
        return len(self.samples)


@dataclass
class _Open:
    readings: dict[str, float]
    boxes: list[tuple]
    scores: list[float]
    members: list[tuple[int, int]]
    times: list[float]
    last_sample: int  # index in the sample sequence
    last_text: str
    last_box: tuple


def merge_lines(samples: Sequence[SampleText], *, end_time: float | None = None, min_iou: float = 0.3,
                max_distance: float = 0.34, max_gap: int = 1) -> list[TextSpan]:
    """Text spans from the lines of successive samples (in frame order).

    A line continues the open span whose last box is ``near`` it and whose last text is the
    ``same_text`` (within ``max_distance``, same digits), best match first; a span is
    open while it was seen on one of the last ``max_gap + 1`` samples. ``end_time``: the video's
    end, the end of spans still seen on the last sample."""
    samples = sorted(samples, key=lambda s: s.frame)
    open_: list[_Open] = []
    done: list[tuple[_Open, int]] = []  # (span, index of the first sample after it)
    for si, smp in enumerate(samples):
        still = []
        for sp in open_:
            if si - sp.last_sample <= max_gap + 1:
                still.append(sp)
            else:
                done.append((sp, sp.last_sample + 1))
        open_ = still
        pairs = []
        for li, (text, box, score) in enumerate(smp.lines):
            for oi, sp in enumerate(open_):
                iou = near(box, sp.last_box, min_iou)
                dist = same_text(text, sp.last_text, max_distance) if iou is not None else None
                if dist is not None:
                    pairs.append((iou + (1 - dist), li, oi))
        used_l, used_o = set(), set()
        for _, li, oi in sorted(pairs, reverse=True):
            if li in used_l or oi in used_o:
                continue
            used_l.add(li)
            used_o.add(oi)
            _extend(open_[oi], smp, si, li)
        for li, (text, box, score) in enumerate(smp.lines):
            if li not in used_l:
                sp = _Open({}, [], [], [], [], si, text, tuple(box))
                _extend(sp, smp, si, li)
                open_.append(sp)
    done += [(sp, sp.last_sample + 1) for sp in open_]
    spans = []
    for sp, after in done:
        if after < len(samples):
            end = samples[after].time
        else:
            end = end_time if end_time is not None else sp.times[-1]
        text = max(sp.readings.items(), key=lambda kv: (kv[1], -len(kv[0])))[0]
        box = tuple(float(v) for v in np.median(np.asarray(sp.boxes, np.float64), axis=0))
        spans.append(TextSpan(text=text, box=box, score=float(np.mean(sp.scores)), first_frame=sp.members[0][0],
                              last_frame=sp.members[-1][0], start_time=sp.times[0], end_time=max(end, sp.times[-1]),
                              samples=len(sp.members), readings=dict(sp.readings), members=list(sp.members)))
    spans.sort(key=lambda s: (s.start_time, s.box[1], s.box[0]))
    return spans


def _extend(sp: _Open, smp: SampleText, si: int, li: int) -> None:
    text, box, score = smp.lines[li]
    sp.readings[text] = sp.readings.get(text, 0.0) + float(score)
    sp.boxes.append(tuple(float(v) for v in box))
    sp.scores.append(float(score))
    sp.members.append((smp.frame, li))
    sp.times.append(smp.time)
    sp.last_sample = si
    sp.last_text = text
    sp.last_box = tuple(box)
