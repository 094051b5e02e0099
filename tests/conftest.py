"""Shared fixtures: paths to the real media beside the checkout, and synthetic media made
with PyAV (real encoders) whose transitions, timestamps and damage are known exactly."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA", REPO.parent / "shared" / "data"))


def data_file(rel: str) -> Path:
    p = DATA / rel
    if not p.exists():
        pytest.skip(f"test media {p} not available (set REELSCOPE_TEST_DATA)")
    return p


@pytest.fixture
def data():
    return data_file


# ---- synthetic scenes ---------------------------------------------------------------------
W, H = 192, 108


def scene(seed: int, w: int = W * 2, h: int = H * 2) -> np.ndarray:
    """A textured colour 'world' to pan over: smooth blobs plus fine detail."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h // 16, w // 16, 3), dtype=np.uint8)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    img += rng.normal(0, 4, (h, w, 3))
    for _ in range(6):
        c = tuple(int(x) for x in rng.integers(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(8, 30)), c, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def shot_frame(world: np.ndarray, t: int) -> np.ndarray:
    """Frame t of a slow pan across ``world``."""
    x = int(t * 0.4) % (world.shape[1] - W)
    y = int(t * 0.2) % (world.shape[0] - H)
    return world[y:y + H, x:x + W].copy()


def encode(path: Path, frames, fps=25, codec="libx264", pix_fmt="yuv420p", options=None,
           container_options=None, pts=None, time_base=None):
    with av.open(str(path), "w", options=container_options or {}) as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        if options:
            s.options = options
        if time_base is not None:
            s.time_base = time_base
            s.codec_context.time_base = time_base
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            if pts is not None:
                vf.pts = pts[i]
                vf.time_base = time_base
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


# Known timeline of the synthetic edit (frame indices)
EDIT = {
    "cut": 40,                 # A -> B hard cut: first frame of B
    "dissolve": (80, 95),      # B -> C cross-dissolve over 16 frames
    "fade": (130, 161),        # C fades to black (130-141), 8 black frames, fades in to D (150-161)
    "wipe": (200, 211),        # D -> E left-to-right wipe over 12 frames
    "flash": (235, 236),       # a 2-frame white flash inside shot E: not a boundary
    "frames": 270,
}


def synthetic_edit() -> list[np.ndarray]:
    worlds = [scene(s) for s in range(5)]
    out = []
    for t in range(EDIT["frames"]):
        a, b = EDIT["dissolve"]
        fa, fb = EDIT["fade"]
        wa, wb = EDIT["wipe"]
        if t < EDIT["cut"]:
            f = shot_frame(worlds[0], t)
        elif t < a:
            f = shot_frame(worlds[1], t)
        elif t <= b:
            alpha = (t - a + 1) / (b - a + 2)
            f = (shot_frame(worlds[1], t) * (1 - alpha) + shot_frame(worlds[2], t) * alpha).astype(np.uint8)
        elif t < fa:
            f = shot_frame(worlds[2], t)
        elif t <= fb:
            mid_lo, mid_hi = fa + 12, fb - 12  # black from mid_lo to mid_hi
            if t < mid_lo:
                g = 1 - (t - fa + 1) / 13
                f = (shot_frame(worlds[2], t) * g).astype(np.uint8)
            elif t <= mid_hi:
                f = np.zeros((H, W, 3), np.uint8)
            else:
                g = (t - mid_hi) / 13
                f = (shot_frame(worlds[3], t) * g).astype(np.uint8)
        elif t < wa:
            f = shot_frame(worlds[3], t)
        elif t <= wb:
            edge = int(W * (t - wa + 1) / (wb - wa + 2))
            f = shot_frame(worlds[3], t)
            f[:, :edge] = shot_frame(worlds[4], t)[:, :edge]
        else:
            f = shot_frame(worlds[4], t)
            if EDIT["flash"][0] <= t <= EDIT["flash"][1]:
                f = np.full_like(f, 250)
        out.append(f)
    return out


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synth")


@pytest.fixture(scope="session")
def edit_video(synth_dir) -> Path:
    return encode(synth_dir / "edit.mp4", synthetic_edit(), options={"crf": "18"})


@pytest.fixture(scope="session")
def short_video(synth_dir) -> Path:
    """A 2-shot, 60-frame clip, moov at the front (faststart) so truncation is detectable."""
    w0, w1 = scene(10), scene(11)
    frames = [shot_frame(w0 if t < 30 else w1, t) for t in range(60)]
    return encode(synth_dir / "short.mp4", frames, container_options={"movflags": "faststart"})


@pytest.fixture(scope="session")
def vfr_video(synth_dir) -> tuple[Path, list[float]]:
    """Variable frame rate MKV: frame durations alternate 40/40/80/20 ms."""
    w0 = scene(20)
    frames = [shot_frame(w0, t) for t in range(48)]
    steps = [40, 40, 80, 20]
    pts, t = [], 0
    for i in range(len(frames)):
        pts.append(t)
        t += steps[i % 4]
    path = encode(synth_dir / "vfr.mkv", frames, fps=25, pts=pts, time_base=Fraction(1, 1000))
    return path, [p / 1000 for p in pts]


@pytest.fixture(scope="session")
def audio_only(synth_dir) -> Path:
    path = synth_dir / "tone.m4a"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        t = np.arange(16000 * 2) / 16000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i in range(0, len(samples), 1024):
            fr = av.AudioFrame.from_ndarray(samples[None, i:i + 1024], format="fltp", layout="mono")
            fr.sample_rate = 16000
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="session")
def bad_files(synth_dir, short_video) -> dict[str, Path]:
    """The bad inputs the analyzer must reject with a clear line each."""
    d = synth_dir / "bad"
    d.mkdir(exist_ok=True)
    out = {"missing": d / "does-not-exist.mp4", "directory": d}
    (d / "empty.mp4").write_bytes(b"")
    out["empty"] = d / "empty.mp4"
    (d / "text.mp4").write_text("this is not a video\n" * 20)
    out["text"] = d / "text.mp4"
    raw = short_video.read_bytes()
    (d / "half.mp4").write_bytes(raw[: len(raw) // 2])
    out["truncated"] = d / "half.mp4"
    # every compressed frame overwritten with noise: container fine, nothing decodable
    i = raw.index(b"mdat") + 4
    rng = np.random.default_rng(0)
    garbage = raw[:i] + rng.integers(0, 255, len(raw) - i, dtype=np.uint8).tobytes()
    (d / "garbage.mp4").write_bytes(garbage)
    out["undecodable"] = d / "garbage.mp4"
    return out


# ---- PostgreSQL (REELSCOPE_TEST_PG_URL, set by .ci/run) --------------------------------------
PG_URL = os.environ.get("REELSCOPE_TEST_PG_URL")


@pytest.fixture
def pg_url():
    """A fresh database on the PostgreSQL server for one test (skips without a server)."""
    if not PG_URL:
        pytest.skip("REELSCOPE_TEST_PG_URL not set (no PostgreSQL server)")
    import uuid

    from sqlalchemy import create_engine, text

    name = f"rs_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """Run a test on SQLite and, when a server is configured, on PostgreSQL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("pg_url")
