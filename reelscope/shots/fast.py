"""The default boundary detector: hard cuts and gradual transitions from tiny YUV frames.

Works on 64x36 frames taken straight from the decoder's planes (no colour conversion),
so it keeps up with decoding. Decisions, from the signals in ``features.py``:

* cut: the frame difference jumps well above its local level (adaptive ratio against the
  median of the neighbourhood) and the histogram moves too; rejected when the content
  returns within a few frames (camera flashes, brief occlusions).
* fade: a run of blank (near-uniform) frames between two shots; the span grows outwards
  while contrast ramps down/up. Blank runs touching the start or end of the video are not
  boundaries. A cut into and out of a blank run (a flash to white) is one transition.
* dissolve: across a window the picture changes a lot, yet the middle frame is close to
  the average of the two ends (a linear mix), for several consecutive centres.
* wipe: across a window the middle frame matches one end in part of the picture and the
  other end in the rest.

Time: the frame counts below (windows, gaps, ramps) are tuned at ``rate_ref`` (24 fps) and
used as they are at that rate and above. Below it, from each frame's real interval (exact
timestamps, so variable-frame-rate files work), they shrink to the same duration; and the
ratio tests relax, since at low rates motion between frames approaches the difference a cut
makes: a ratio r becomes 1 + (r - 1) * (dt_ref / dt) ** relax.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

import numpy as np

from reelscope.media.decode import FrameSpec
from reelscope.shots.features import FrameSignals, scaled
from reelscope.shots.types import Transition, TransitionType


@dataclass
class FastParams:
    cut_min_diff: float = 9.0  # minimum frame difference (0..255) for a cut
    cut_ratio: float = 3.0  # difference / local median level
    spike_ratio: float = 3.5  # or: difference / larger of the two neighbouring differences
    min_side_ratio: float = 1.6  # a cut frame stands out from both neighbours at least this much
    hist_jump: float = 0.2  # or: the colour histogram jumps this much, spike_ratio x its neighbours
    cut_min_hist: float = 0.08  # minimum histogram distance for a cut
    strong_cut_diff: float = 30.0  # differences this large need no histogram support
    flash_return: float = 0.6  # content returning to within this share of the jump = flash
    blank_std: float = 9.0  # luma std of a blank (uniform) frame
    fade_max_ramp: int = 45  # frames a fade may ramp down/up around a blank run
    window: int = 8  # half window for dissolve/wipe tests
    dissolve_min_span: float = 10.0  # minimum change across the window
    dissolve_max_lin: float = 0.5  # middle frame vs average of ends, relative
    dissolve_min_dip: float = 0.08  # contrast dip (relative) somewhere inside a dissolve
    dissolve_min_run: int = 3  # consecutive centres that look like a mix
    wipe_min: float = 0.5
    min_gap: int = 6  # boundaries closer than this are one transition
    neighbourhood: int = 8  # frames either side for a cut's local difference level
    rate_ref: float = 24.0  # the frame rate the frame counts above are tuned at (used unchanged above it)
    relax: float = 1.0  # how fast ratio thresholds relax below rate_ref (see the module docstring)


class FastDetector:
    name = "fast"
    version = "2"  # 2: time-aware (frame times, low and variable frame rates)

    def __init__(self, params: FastParams | None = None, **overrides):
        self.p = params or FastParams()
        for k, v in overrides.items():
            if not hasattr(self.p, k):
                raise TypeError(f"unknown parameter {k!r} for the fast detector")
            setattr(self.p, k, v)
        self.frame_spec = FrameSpec("yuv", 64, 36)
        self.signals = FrameSignals(window=self.p.window, rate_ref=self.p.rate_ref)

    def params(self) -> dict:
        return {"detector": self.name, "version": self.version, **asdict(self.p)}

    def process(self, index: int, image: np.ndarray, time: float | None = None) -> None:
        """Feed frame ``index``; ``time``: its presentation time in seconds (without it, frames
        are taken to be ``rate_ref`` apart)."""
        self.signals.push(image, time)

    # -- time -----------------------------------------------------------------------------
    def _frames(self, count: int, t: int, lowest: int = 1) -> int:
        """A frame count tuned at rate_ref, for the frame interval around frame t."""
        return scaled(count, float(self._dt[t]), self.p.rate_ref, lowest)

    def _ratio(self, r: float, t: int) -> float:
        """A ratio threshold for frame t: relaxed where the frames are further apart than at rate_ref."""
        s = float(self._slow[t])
        return r if s <= 1.0 else 1.0 + (r - 1.0) * s ** -self.p.relax

    def finish(self, frame_count: int) -> list[Transition]:
        s = self.signals.arrays()
        n = len(s["d1"])
        self.head, self.tail = 0, max(n - 1, 0)
        if n < 2:
            return []
        # the interval around each frame: the mean of the middle three of five intervals, so that
        # jittery timestamps average out and a single long gap (lost frames) does not count as slow
        five = np.sort(np.lib.stride_tricks.sliding_window_view(np.pad(s["dt"], 2, mode="edge"), 5), axis=1)
        self._dt = five[:, 1:4].mean(axis=1)
        self._slow = self._dt * self.p.rate_ref
        blank = (s["std"] < self.p.blank_std) & ((s["mean"] < 48) | (s["mean"] > 200))
        found = self._fades(s, blank) + self._cuts(s, blank) + self._gradual(s, blank)
        head, tail = self.head, self.tail = self._edge_fades(s["std"], blank)
        # nothing before the first picture / after the last: no boundary there
        found = [t for t in found if t.boundary > head and t.boundary <= tail]
        return self._merge(found, blank, n)

    def _ramp(self, std: np.ndarray, i: int, step: int) -> int:
        """Walk from frame i in direction ``step`` while contrast falls towards i (a fade ramp)."""
        n = len(std)
        j = i
        ramp, ahead = self._frames(self.p.fade_max_ramp, i), self._frames(3, i)
        while 0 <= j + step < n and abs(j - i) < ramp:
            k = min(max(j + ahead * step, 0), n - 1)
            if std[k] > std[j] + 0.3 or std[j + step] > std[j] + 0.3:
                j += step
            else:
                break
        return j

    def _edge_fades(self, std: np.ndarray, blank: np.ndarray) -> tuple[int, int]:
        """Frames covered by a fade in from blank at the start / out to blank at the end."""
        n = len(std)
        head, tail = 0, n - 1
        if blank[0]:
            while head < n - 1 and blank[head + 1]:
                head += 1
            head = self._ramp(std, head, +1)
        if blank[-1]:
            while tail > 0 and blank[tail - 1]:
                tail -= 1
            tail = self._ramp(std, tail, -1)
        return head, tail

    # -- hard cuts -------------------------------------------------------------------
    def _cuts(self, s, blank) -> list[Transition]:
        p = self.p
        d1, hist, ret = s["d1"], s["hist"], s["ret"]
        n = len(d1)
        out = []
        for t in range(1, n):
            d = d1[t]
            if d < p.cut_min_diff:
                continue
            k = self._frames(p.neighbourhood, t, lowest=3)
            lo, hi = max(1, t - k), min(n, t + k + 1)
            neigh = np.concatenate([d1[lo:t - 1], d1[t + 2:hi]]) if hi - lo > 4 else d1[lo:hi]
            level = float(np.median(neigh)) if len(neigh) else 0.0
            side = max(d1[t - 1], d1[t + 1] if t + 1 < n else 0.0)
            hside = max(hist[t - 1], hist[t + 1] if t + 1 < n else 0.0)
            cut_ratio, spike_ratio = self._ratio(p.cut_ratio, t), self._ratio(p.spike_ratio, t)
            colour_jump = hist[t] >= p.hist_jump and hist[t] >= spike_ratio * (hside + 0.01)
            if d < cut_ratio * (level + 1.0) and d < spike_ratio * (side + 1.0) and not colour_jump:
                continue
            if d < self._ratio(p.min_side_ratio, t) * side and not colour_jump:
                continue  # part of a burst of large changes (whip pan, shaking): no single cut frame
            if d1[t] < d1[t - 1] or (t + 1 < n and d1[t] < d1[t + 1]):
                continue  # not the local peak
            if hist[t] < p.cut_min_hist and d < p.strong_cut_diff:
                continue
            if ret[t] < p.flash_return:
                continue  # the picture comes back: flash, flicker or occlusion
            score = float(min(1.0, d / (cut_ratio * (level + 1.0) * 2)))
            out.append(Transition.cut(t, score=score, detector=self.name))
        return out

    # -- fades through a blank frame --------------------------------------------------
    def _fades(self, s, blank) -> list[Transition]:
        p = self.p
        std = s["std"]
        n = len(std)
        out = []
        t = 0
        while t < n:
            if not blank[t]:
                t += 1
                continue
            a = t
            while t < n and blank[t]:
                t += 1
            b = t - 1  # blank run a..b
            if a == 0 or b == n - 1:
                continue  # fade in from / out to blank at the ends: no shot on one side
            start, end = self._ramp(std, a, -1), self._ramp(std, b, +1)
            abrupt = a - start <= 2 and end - b <= 2
            if abrupt and min(s["ret"][a], s["ret"][min(b + 1, n - 1)]) < p.flash_return:
                continue  # a flash: the picture before comes back after
            out.append(Transition(start, end, (a + b + 1) // 2, TransitionType.FADE, 1.0, self.name))
        return out

    # -- dissolves and wipes ------------------------------------------------------------
    def _gradual(self, s, blank) -> list[Transition]:
        p = self.p
        span, lin, wipe, win = s["span"], s["lin"], s["wipe"], s["win"]
        n = len(span)
        std = s["std"]
        idx = np.arange(n)
        before, after = idx - win, idx + win
        ends = np.minimum(np.where(before >= 0, std[np.clip(before, 0, n - 1)], np.inf),
                          np.where(after < n, std[np.clip(after, 0, n - 1)], np.inf))
        # a mix of two pictures has less contrast than either (0 where the window leaves the video)
        ends = np.where(np.isfinite(ends), ends, std)
        dip = (ends - std) / np.maximum(ends, 1.0)
        mix = (span > p.dissolve_min_span) & (lin < p.dissolve_max_lin) & ~blank
        wip = (span > p.dissolve_min_span) & (wipe > p.wipe_min)
        out = []
        for mask, kind in ((mix, TransitionType.DISSOLVE), (wip, TransitionType.WIPE)):
            t = 0
            while t < n:
                if not mask[t]:
                    t += 1
                    continue
                a = t
                while t < n and mask[t]:
                    t += 1
                b = t - 1
                if b - a + 1 < self._frames(p.dissolve_min_run, a, lowest=2):
                    continue
                if kind is TransitionType.DISSOLVE and dip[a:b + 1].max() < p.dissolve_min_dip:
                    continue  # mixing two unrelated pictures always lowers contrast somewhere
                start, end = max(0, a - int(win[a]) // 2), min(n - 1, b + int(win[b]) // 2)
                score = float(1.0 - np.clip(lin[a:b + 1].mean(), 0, 1)) if kind is TransitionType.DISSOLVE \
                    else float(wipe[a:b + 1].mean() / 2)
                out.append(Transition(start, end, (a + b + 1) // 2, kind, score, self.name))
        return out

    # -- one transition per boundary ---------------------------------------------------------
    def _merge(self, found: list[Transition], blank, n: int) -> list[Transition]:
        rank = {TransitionType.FADE: 0, TransitionType.WIPE: 1, TransitionType.DISSOLVE: 2,
                TransitionType.CUT: 3, TransitionType.OTHER: 4}
        found.sort(key=lambda t: (t.start, rank[t.type]))
        merged: list[list[Transition]] = []
        for t in found:
            if merged:
                last = merged[-1]
                hi = max(x.end for x in last)
                gap = t.start - hi
                between_blank = gap > 0 and blank[hi:t.start + 1].all()
                prev = max(x.boundary for x in last)
                close = t.boundary - prev < self._frames(self.p.min_gap, min(prev, n - 1))
                if gap <= 0 or close or between_blank:
                    last.append(t)
                    continue
            merged.append([t])
        out = []
        for group in merged:
            if len(group) == 1:
                out.append(group[0])
                continue
            start, end = min(x.start for x in group), max(x.end for x in group)
            best = min(group, key=lambda x: rank[x.type])
            kind = best.type
            if kind is TransitionType.CUT:
                # several cuts close together: a flash or very fast gradual change
                kind = TransitionType.FADE if blank[start:end + 1].any() else TransitionType.OTHER
                boundary = (start + end + 1) // 2
            else:
                boundary = best.boundary
            out.append(Transition(start, end, boundary, kind, max(x.score for x in group), self.name))
        return [t for t in out if 0 < t.boundary < n]
