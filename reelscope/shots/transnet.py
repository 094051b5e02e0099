"""TransNetV2 boundary detector: our network, windowed over the frame stream.

Frames (48x27 RGB) are buffered and run through the network in 100-frame windows that
advance by 50; each window's middle 50 predictions are kept (25 frames of context either
side), and the clip is padded with copies of its first and last frame, exactly as the
reference implementation does. Only the frames of the current window are held, so memory
stays bounded on long videos.

Reading the two heads: ``one_hot`` peaks on the *last frame of the outgoing shot* for a
hard cut (verified on clip_03_sintel: the peak at frame 57 is the cut whose new shot starts
at 58) and on the centre of a gradual transition; ``many_hot`` is high on every frame of a
transition. So a run of frames above ``threshold`` marks one event, the ``many_hot`` region
around its peak gives its extent, a short extent is a cut at peak + 1, and a longer one is
a gradual transition. A gradual one touching uniform (blank) frames is a fade, and a fade
out and a fade in joined by blank frames become one transition with its boundary in the
middle of the blank run.
"""
from __future__ import annotations

import numpy as np

from reelscope.errors import MissingDependency
from reelscope.media.decode import FrameSpec
from reelscope.shots.types import Transition, TransitionType

WINDOW, STEP, CONTEXT = 100, 50, 25  # as in the reference: keep frames 25..74 of each window


def transitions_from_predictions(one_hot: np.ndarray, many_hot: np.ndarray, frame_std: np.ndarray, *,
                                 threshold: float = 0.5, extent_threshold: float = 0.5,
                                 min_gradual: int = 3, blank_std: float = 8.0,
                                 detector: str = "transnetv2") -> list[Transition]:
    """Per-frame probabilities and pixel standard deviations -> transitions.

    A frame whose pixels deviate less than ``blank_std`` (0..255) is blank: black, white or
    any uniform colour, what fades go through.
    """
    n = len(one_hot)
    frame_std = np.asarray(frame_std, np.float32)
    blank = frame_std < blank_std
    events: list[list[int]] = []  # [a, b, peak]: extent a..b (inclusive), one_hot argmax
    i = 0
    while i < n:
        if one_hot[i] <= threshold:
            i += 1
            continue
        j = i
        while j + 1 < n and one_hot[j + 1] > threshold:
            j += 1
        peak = i + int(np.argmax(one_hot[i:j + 1]))
        a, b = i, j
        while a > 0 and many_hot[a - 1] > extent_threshold:
            a -= 1
        while b + 1 < n and many_hot[b + 1] > extent_threshold:
            b += 1
        if events and a <= events[-1][1]:  # same transition as the previous run
            prev = events[-1]
            prev[1] = max(prev[1], b)
            if one_hot[peak] > one_hot[prev[2]]:
                prev[2] = peak
        else:
            events.append([a, b, peak])
        i = j + 1

    out: list[Transition] = []
    for a, b, peak in events:
        score = float(one_hot[peak])
        if b - a + 1 < min_gradual:
            if peak + 1 >= n:
                continue  # a cut after the last frame starts no shot
            t = Transition.cut(peak + 1, score, detector)
        elif blank[max(a - 1, 0):b + 2].any():
            # Fade: the boundary is its most uniform frame (the black end of a fade to black).
            flattest = a + int(np.argmin(frame_std[a:b + 2]))
            t = Transition(a, b, flattest, TransitionType.FADE, score, detector)
        else:
            t = Transition(a, b, min(peak + 1, b), TransitionType.DISSOLVE, score, detector)
        prev = out[-1] if out else None
        gap = blank[prev.end + 1:t.start] if prev else None
        if prev and len(gap) and gap.all() and (prev.type.gradual or t.type.gradual):
            # Fade out (or cut to black), blank frames, fade in: one transition through black,
            # its boundary in the middle of the blank run.
            mid = (prev.end + t.start) // 2
            out[-1] = Transition(prev.start, t.end, mid, TransitionType.FADE, max(prev.score, score), detector)
        else:
            out.append(t)
    return out


class TransNetV2Detector:
    """Shot boundaries with TransNetV2 (weights from the registry; CUDA when available).

    After ``finish``, ``probabilities`` (one_hot) and ``many_hot`` hold the per-frame
    probabilities, for hybrid detectors and plots.
    """

    name = "transnetv2"
    frame_spec = FrameSpec("rgb", 48, 27)

    def __init__(self, threshold: float = 0.5, *, extent_threshold: float = 0.5, min_gradual: int = 3,
                 blank_std: float = 8.0, weights: str | None = None, device: str | None = None,
                 threads: int | None = None, batch: int | None = None):
        try:
            import torch
            from reelscope.models.transnetv2_net import load_transnetv2
        except ImportError as e:
            raise MissingDependency(f"torch (for the TransNetV2 backend: {e})", "pip install torch==2.13.0") from e
        from reelscope.models.registry import TRANSNETV2, resolve

        self._torch = torch
        if threads:  # torch's count is process-wide: set once per process, never per detector
            from reelscope.models.cache import configure_threads
            configure_threads(threads)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # Windows per forward pass: batching pays on a GPU, not on a CPU.
        self.batch = batch or (8 if self.device.startswith("cuda") else 1)
        self.custom_weights = str(weights) if weights else None
        self.weights = self.custom_weights or str(resolve(TRANSNETV2))
        self.net = load_transnetv2(self.weights, self.device)
        self.threshold, self.extent_threshold = threshold, extent_threshold
        self.min_gradual, self.blank_std = min_gradual, blank_std
        self.probabilities: np.ndarray | None = None
        self.many_hot: np.ndarray | None = None
        self._reset()

    def _reset(self) -> None:
        self._buf: list[np.ndarray] = []  # frames from (emitted - CONTEXT) onwards
        self._count = 0  # frames received
        self._emitted = 0  # frames with predictions
        self._one: list[np.ndarray] = []
        self._many: list[np.ndarray] = []
        self._std: list[float] = []  # per-frame pixel standard deviation, to find fades

    def params(self) -> dict:
        from reelscope.models.registry import TRANSNETV2
        weights = ({"weights": self.custom_weights} if self.custom_weights else
                   {"model_version": TRANSNETV2.version, "weights_sha256": next(iter(TRANSNETV2.files.values()))})
        return {"threshold": self.threshold, "extent_threshold": self.extent_threshold,
                "min_gradual": self.min_gradual, "blank_std": self.blank_std,
                "window": WINDOW, "step": STEP, "model": TRANSNETV2.name, **weights}

    def process(self, index: int, image: np.ndarray, time: float | None = None) -> None:
        """Feed frame ``index``. ``time`` is accepted for the detector protocol and not used: the
        network sees frames as a sequence (it was trained on 25 fps video)."""
        if index == 0:
            self._reset()  # a new video
        if index != self._count:
            raise ValueError(f"{self.name}: expected frame {self._count}, got {index}")
        if image.shape != (27, 48, 3) or image.dtype != np.uint8:
            raise ValueError(f"{self.name}: expected a 27x48x3 uint8 RGB frame, got {image.dtype} {image.shape}")
        if index == 0:
            self._buf = [image] * CONTEXT  # leading context: copies of the first frame
        self._buf.append(image)
        self._count += 1
        self._std.append(float(image.std()))
        if len(self._buf) >= WINDOW + STEP * (self.batch - 1):
            self._drain(final=False)

    def _drain(self, final: bool) -> None:
        """Run every complete window; when ``final``, pad with the last frame to finish."""
        windows = []
        while len(self._buf) >= WINDOW or (final and self._emitted < self._count):
            if len(self._buf) < WINDOW:
                self._buf += [self._buf[-1]] * (WINDOW - len(self._buf))
            windows.append(np.stack(self._buf[:WINDOW]))
            del self._buf[:STEP]
            self._emitted += STEP
            if len(windows) == self.batch:
                self._infer(windows)
                windows = []
        if windows:
            self._infer(windows)

    def _infer(self, windows: list[np.ndarray]) -> None:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.stack(windows)).to(self.device)
            one, many = self.net(x)
            keep = slice(CONTEXT, CONTEXT + STEP)
            self._one.append(torch.sigmoid(one[:, keep]).flatten().float().cpu().numpy())
            self._many.append(torch.sigmoid(many[:, keep]).flatten().float().cpu().numpy())

    def finish(self, frame_count: int) -> list[Transition]:
        # Predictions cover the frames actually received; ``frame_count`` is informational.
        if self._count == 0:
            self.probabilities = self.many_hot = np.zeros(0, np.float32)
            return []
        self._drain(final=True)
        n = self._count
        self.probabilities = np.concatenate(self._one)[:n]
        self.many_hot = np.concatenate(self._many)[:n]
        self._buf = []
        return transitions_from_predictions(
            self.probabilities, self.many_hot, np.array(self._std, np.float32), threshold=self.threshold,
            extent_threshold=self.extent_threshold, min_gradual=self.min_gradual, blank_std=self.blank_std,
            detector=self.name)
