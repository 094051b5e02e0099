"""Peer shot detectors for benchmarks: PySceneDetect's ContentDetector and AdaptiveDetector.

Both run at their library defaults through PySceneDetect's usual API (``open_video`` +
``SceneManager``), so its own decoding is part of what is measured. The default video
backend is OpenCV (``open_video``'s default, ``VideoStreamCv2``); ``backend="pyav"`` also works.

Frame numbering. reelscope numbers frames 0, 1, 2, ... in the order PyAV decodes them.
PySceneDetect 0.7 derives a cut's frame number from the frame's *timestamp*
(``round(seconds * average_fps)``), which can drift from the decode order on variable-frame-
rate streams or streams whose first timestamp is not 0. To avoid depending on that, the
adapter records the timecode of every frame the detector is fed (in decode order) and
reports each cut as the position of its timecode in that sequence, i.e. the 0-based decode
index of the first frame of the new scene, the same convention as
``reelscope.shots.types.Transition.boundary``. ``PeerRun.frame_num_cuts`` keeps PySceneDetect's
own numbers for comparison. On every shot fixture so far both agree exactly and
the OpenCV backend decodes the same frames as PyAV (``numbering_offset`` checks this by
comparing pixels), so there is no offset.

PySceneDetect is optional: it is imported only when a peer is run, and a missing install
raises ``MissingDependency`` with the install hint.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

from reelscope.errors import MissingDependency

PEERS = ("pyscenedetect-content", "pyscenedetect-adaptive")
_INSTALL_HINT = ("pip install --no-deps scenedetect==0.7.2 && pip install click platformdirs tqdm "
                 "(not opencv-python: it conflicts with opencv-contrib-python-headless)")


def _scenedetect():
    try:
        import scenedetect
    except ImportError as e:
        raise MissingDependency(f"PySceneDetect (needed by the peer benchmark; {e})", _INSTALL_HINT) from None
    return scenedetect


def scenedetect_version() -> str | None:
    try:
        return _scenedetect().__version__
    except MissingDependency:
        return None


@dataclass
class PeerRun:
    method: str  # "content" or "adaptive"
    backend: str  # PySceneDetect's video backend that decoded the file
    frames: int  # frames fed to the detector
    cuts: list[int]  # 0-based decode index of the first frame of each new scene (never 0)
    frame_num_cuts: list[int] = field(default_factory=list)  # PySceneDetect's own frame numbers

    @property
    def name(self) -> str:
        return f"pyscenedetect-{self.method}"

    @property
    def numbering_mismatches(self) -> int:
        """How many cuts PySceneDetect numbers differently from the decode order."""
        return sum(a != b for a, b in zip(self.cuts, self.frame_num_cuts))


def _make(method: str):
    sd = _scenedetect()
    if method == "content":
        return sd.ContentDetector()
    if method == "adaptive":
        return sd.AdaptiveDetector()
    raise ValueError(f"unknown PySceneDetect method {method!r}; choose 'content' or 'adaptive'")


def run_pyscenedetect(path: str | Path, method: str = "content", backend: str | None = None) -> PeerRun:
    """Run one PySceneDetect detector (library defaults) over ``path``.

    ``backend`` None uses ``open_video``'s default (OpenCV).
    """
    sd = _scenedetect()
    detector = _make(method)
    seen_seconds: list[float] = []  # timestamps of the frames fed, in decode order

    process = detector.process_frame

    def recording_process(timecode, image):
        seen_seconds.append(timecode.seconds)
        return process(timecode, image)

    detector.process_frame = recording_process  # instance attribute shadows the method
    video = sd.open_video(str(path)) if backend is None else sd.open_video(str(path), backend=backend)
    manager = sd.SceneManager()
    manager.add_detector(detector)
    manager.detect_scenes(video)
    starts = [start for start, _ in manager.get_scene_list()[1:]]
    cuts = [_decode_index(seen_seconds, s.seconds) for s in starts]
    return PeerRun(method, video.BACKEND_NAME, len(seen_seconds), cuts, [s.frame_num for s in starts])


def pyscenedetect_cuts(path: str | Path, method: str = "content", backend: str | None = None) -> list[int]:
    """Cut frame indices (first frame of each new scene, excluding 0), PyAV decode numbering."""
    return run_pyscenedetect(path, method, backend).cuts


def run_peer(name: str, path: str | Path, backend: str | None = None) -> PeerRun:
    """Run a peer by its benchmark name ('pyscenedetect-content' / 'pyscenedetect-adaptive')."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; choose one of {', '.join(PEERS)}")
    return run_pyscenedetect(path, name.rsplit("-", 1)[1], backend)


def _decode_index(seen_seconds: list[float], t: float) -> int:
    """Index of the fed frame whose timestamp is nearest ``t`` (timestamps ascend)."""
    i = bisect.bisect_left(seen_seconds, t)
    if i == len(seen_seconds) or (i > 0 and t - seen_seconds[i - 1] < seen_seconds[i] - t):
        i -= 1
    return max(i, 0)


def numbering_offset(path: str | Path, backend: str | None = None, frames: int = 60,
                     max_offset: int = 3) -> tuple[int, float]:
    """Check that PySceneDetect's backend decodes the same frame sequence as PyAV.

    Decodes the first ``frames`` frames with both, and returns ``(offset, error)``: the shift
    k minimising the mean absolute difference between the backend's frame i and PyAV's frame
    i + k (tiny grey thumbnails), and that difference (0-255). ``(0, ~0)`` means the numbering
    agrees. Needs a clip whose frames differ from each other, e.g. counter.mp4.
    """
    import av
    import cv2
    import numpy as np

    sd = _scenedetect()
    size = (32, 18)

    def thumb(bgr_or_rgb: np.ndarray, code: int) -> np.ndarray:
        return cv2.resize(cv2.cvtColor(bgr_or_rgb, code), size, interpolation=cv2.INTER_AREA).astype(np.float32)

    ours = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            ours.append(thumb(frame.to_ndarray(format="rgb24"), cv2.COLOR_RGB2GRAY))
            if len(ours) == frames + max_offset:
                break
    video = sd.open_video(str(path)) if backend is None else sd.open_video(str(path), backend=backend)
    theirs = []
    while len(theirs) < frames:
        image = video.read()
        if image is False:
            break
        theirs.append(thumb(image, cv2.COLOR_BGR2GRAY))
    best = (0, float("inf"))
    for k in range(-max_offset, max_offset + 1):
        pairs = [(a, ours[i + k]) for i, a in enumerate(theirs) if 0 <= i + k < len(ours)]
        if not pairs:
            continue
        err = float(np.mean([np.abs(a - b).mean() for a, b in pairs]))
        if err < best[1]:
            best = (k, err)
    return best
