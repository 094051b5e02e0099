"""Per-frame signals for the fast boundary detector, computed online from tiny YUV frames.

For every frame t (arrays indexed by frame):
  d1     mean absolute YUV difference to frame t-1 (0..255; chroma weighted 0.5)
  hist   histogram distance to frame t-1 (0..1; motion-tolerant)
  mean, std   luma mean and standard deviation (blank / fade frames)
  ret    how well content returns around t: min over k, j in 1..L of diff(F[t-k], F[t+j]) / d1[t]
         (small for flashes, flicker and brief occlusions, ~1 for real cuts); computed only
         where d1 is large enough to matter, 1.0 elsewhere
For every centre c with a window w (frames c-w, c, c+w):
  span   diff(F[c-w], F[c+w])                  how much the picture changes across the window
  hspan  histogram distance between F[c-w] and F[c+w] (a dissolve changes the colours; motion rarely does)
  lin    diff(f[c], (f[c-w] + f[c+w]) / 2) / (diff(f[c-w], f[c+w]) / 2) on 16x9 copies f (blurred,
         so small motion matters less): ~0 inside a dissolve, ~1 for motion or cuts
  wipe   share of changed pixels that match one end exactly while both ends are represented,
         the two groups lying on either side of an edge (0 when they do not)
Only a ring of recent frames is kept, so memory does not grow with the video.

Time: every frame comes with its presentation time. The lookahead L and the window w are frame
counts tuned at ``rate_ref`` frames per second; at lower rates (including the slow parts of a
variable-frame-rate file) each centre gets the counts that span the same time (never fewer than
2 and 1), from the frame interval around it. ``dt`` holds each frame's interval to the previous.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

_W = np.array([1.0, 0.5, 0.5], np.float32)


_WN = _W / _W.sum()


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    # OpenCV reductions: several times faster than numpy's for these tiny frames
    m = cv2.mean(cv2.absdiff(a, b))
    return float(m[0] * _WN[0] + m[1] * _WN[1] + m[2] * _WN[2])


def _hist(f: np.ndarray) -> np.ndarray:
    y = cv2.calcHist([f], [0], None, [32], [0, 256]).ravel()
    u = cv2.calcHist([f], [1], None, [16], [0, 256]).ravel()
    v = cv2.calcHist([f], [2], None, [16], [0, 256]).ravel()
    h = np.concatenate([y, u * 0.5, v * 0.5])
    return h / h.sum()


def scaled(frames: int, dt: float, rate_ref: float, lowest: int = 1) -> int:
    """``frames`` (a count tuned at ``rate_ref``) for a frame interval ``dt``: the same duration at
    lower rates, never more frames than tuned (higher rates keep the tuned counts)."""
    if dt * rate_ref <= 1.0:
        return frames
    return max(lowest, min(frames, int(round(frames / (dt * rate_ref)))))


class FrameSignals:
    def __init__(self, window: int = 8, lookahead: int = 5, ret_min_diff: float = 6.0, rate_ref: float = 24.0):
        self.w = window
        self.L = lookahead
        self.ret_min_diff = ret_min_diff
        self.rate_ref = rate_ref
        keep = 3 * max(window, lookahead) + 2  # a centre may wait for an earlier one with a longer window
        self.ring: deque[np.ndarray] = deque(maxlen=keep)
        self.tiny: deque[np.ndarray] = deque(maxlen=keep)
        self.hists: deque[np.ndarray] = deque(maxlen=keep)
        self.prev_hist: np.ndarray | None = None
        self.times: list[float] = []
        self.dt: list[float] = []
        self.d1: list[float] = []
        self.hist: list[float] = []
        self.mean: list[float] = []
        self.std: list[float] = []
        self.ret: list[float] = []
        self.span: list[float] = []
        self.hspan: list[float] = []
        self.lin: list[float] = []
        self.wipe: list[float] = []
        self.win: list[int] = []  # the window w used for each centre
        self._want: list[tuple[int, int]] = []  # (L, w) for each frame as a centre, from its local interval
        self._ret_next = 0  # next centre waiting for its lookahead
        self._win_next = 0  # next centre waiting for its window

    def _off(self) -> int:
        """Absolute index of the oldest frame in the rings (ring, tiny and hists move together)."""
        return len(self.d1) - len(self.ring)

    def local_dt(self, i: int) -> float:
        """The frame interval around frame i, from the intervals seen so far (median of five)."""
        if i < 1:
            return 1.0 / self.rate_ref
        recent = sorted(self.dt[max(1, i - 4):i + 1])
        return recent[len(recent) // 2]

    def push(self, yuv: np.ndarray, time: float | None = None) -> None:
        i = len(self.d1)
        if time is None:
            time = (self.times[-1] + 1.0 / self.rate_ref) if self.times else 0.0
        self.dt.append(max(time - self.times[-1], 1e-4) if self.times else 1.0 / self.rate_ref)
        self.times.append(time)
        if i == 1:
            self.dt[0] = self.dt[1]
        f = yuv.astype(np.float32)
        mean, std = cv2.meanStdDev(yuv[:, :, 0])
        self.mean.append(float(mean[0, 0]))
        self.std.append(float(std[0, 0]))
        h = _hist(yuv)
        if self.ring:
            self.d1.append(_diff(f, self.ring[-1]))
            self.hist.append(float(np.abs(h - self.prev_hist).sum() / 2))
        else:
            self.d1.append(0.0)
            self.hist.append(0.0)
        self.prev_hist = h
        self.ring.append(f)
        self.hists.append(h)
        self.tiny.append(cv2.resize(f, (16, 9), interpolation=cv2.INTER_AREA))
        ldt = self.local_dt(i)
        self._want.append((scaled(self.L, ldt, self.rate_ref, lowest=2), scaled(self.w, ldt, self.rate_ref)))
        while self._ret_next <= i and self._lookahead(self._ret_next, i):
            self._ret_next += 1
        while self._win_next <= i and self._window(self._win_next, i):
            self._win_next += 1

    def _lookahead(self, c: int, i: int) -> bool:
        """Content return for centre c (needs frames c-L .. c+L); False while c+L is not here yet."""
        L = self._want[c][0]
        if c + L > i:
            return False
        if c < 1 or self.d1[c] < self.ret_min_diff:
            self.ret.append(1.0)
            return True
        off, ring = len(self.d1) - len(self.ring), self.ring
        before = [ring[c - k - off] for k in range(1, min(L, c) + 1)]
        after = [ring[c + j - off] for j in range(1, L + 1)]
        best = min(_diff(b, a) for b in before for a in after)
        self.ret.append(best / max(self.d1[c], 1e-3))
        return True

    def _window(self, c: int, i: int) -> bool:
        w = self._want[c][1]
        if c + w > i:
            return False
        self.win.append(w)
        if c < w:
            self.span.append(0.0)
            self.hspan.append(0.0)
            self.lin.append(1.0)
            self.wipe.append(0.0)
            return True
        ia, im, ib = c - w - self._off(), c - self._off(), c + w - self._off()  # ring positions
        a, m, b = self.ring[ia], self.ring[im], self.ring[ib]
        span = _diff(a, b)
        self.span.append(span)
        self.hspan.append(float(np.abs(self.hists[ia] - self.hists[ib]).sum() / 2))
        ta, tm, tb = self.tiny[ia], self.tiny[im], self.tiny[ib]
        self.lin.append(_diff(tm, (ta + tb) * 0.5) / max(_diff(ta, tb) * 0.5, 1e-3))
        ya, ym, yb = a[:, :, 0], m[:, :, 0], b[:, :, 0]
        changed = np.abs(ya - yb) > 40
        n = int(changed.sum())
        if n < changed.size * 0.5:
            self.wipe.append(0.0)
            return True
        ma = (np.abs(ym - ya) < 12) & changed
        mb = (np.abs(ym - yb) < 12) & changed
        fa, fb = ma.sum() / n, mb.sum() / n
        if min(fa, fb) <= 0.15:
            self.wipe.append(0.0)
            return True
        # a wipe has a moving edge: the pixels that still show A sit on one side of it
        coherence = 0.0
        for axis in (0, 1):
            ca, cb = ma.sum(axis), mb.sum(axis)
            tot = ca + cb
            ok = tot >= 3
            if ok.sum() >= 4:
                coherence = max(coherence, float(np.abs(2 * ca[ok] / tot[ok] - 1).mean()))
        self.wipe.append(float(fa + fb) if coherence > 0.7 else 0.0)
        return True

    def arrays(self) -> dict[str, np.ndarray]:
        n = len(self.d1)
        out = {}
        for k in ("d1", "hist", "mean", "std", "ret", "span", "hspan", "lin", "wipe", "times", "dt"):
            v = np.asarray(getattr(self, k), np.float64 if k in ("times", "dt") else np.float32)
            fill = 1.0 if k in ("ret", "lin") else 0.0
            if len(v) < n:  # the tail frames never got a full window/lookahead
                v = np.concatenate([v, np.full(n - len(v), fill, v.dtype)])
            out[k] = v
        win = np.asarray(self.win, np.int64)
        if len(win) < n:
            tail = [self._want[c][1] for c in range(len(win), n)]
            win = np.concatenate([win, np.asarray(tail, np.int64)])
        out["win"] = win
        return out
