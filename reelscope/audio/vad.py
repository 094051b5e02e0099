"""Voice activity with Silero VAD (v6, MIT), run with onnxruntime.

The carrier package ``silero-vad`` ships several ONNX exports; we use the batched "sequence"
export: input (frames, 64 + 512) float32 at 16 kHz, each 32 ms frame preceded by the last 64
samples of the frame before (zeros for the first), plus LSTM state ``h``/``c`` (1, 1, 128)
carried from block to block; output one speech probability per frame. One ONNX call covers a
block of up to 512 frames (16 s), so a minute of audio takes a few calls instead of ~1,900
per-frame calls (measured: ~0.1 s per minute of audio on one core).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reelscope.models.registry import SILERO_VAD, resolve

RATE = 16000
FRAME = 512  # samples per VAD frame (32 ms)
CONTEXT = 64  # samples of the previous frame the model sees
BLOCK = 512  # frames per ONNX call

def frames_with_context(x: np.ndarray) -> np.ndarray:
    """(n_frames, CONTEXT + FRAME): ``x`` cut in 32 ms frames (the last zero-padded), each with
    the 64 samples before it prepended."""
    n = max(1, -(-len(x) // FRAME))
    padded = np.zeros(n * FRAME, np.float32)
    padded[: len(x)] = x
    frames = padded.reshape(n, FRAME)
    ctx = np.zeros((n, CONTEXT), np.float32)
    ctx[1:] = frames[:-1, -CONTEXT:]
    return np.concatenate([ctx, frames], axis=1)


class SileroVAD:
    """``probabilities(samples_16k)`` -> speech probability per 32 ms frame."""

    name = "silero-vad"
    frame_seconds = FRAME / RATE

    def __init__(self, model_path: str | Path | None = None, threads: int | None = 1):
        from reelscope.models.session import onnx_session

        self.model_path = Path(model_path) if model_path else resolve(SILERO_VAD)
        self.session = onnx_session(self.model_path, threads)  # a small recurrent model: one thread is enough

    def models(self) -> dict[str, dict[str, str]]:
        return {f"{SILERO_VAD.name}/{name}": {"licence": SILERO_VAD.licence, "sha256": sha,
                                              "version": SILERO_VAD.version}
                for name, sha in SILERO_VAD.files.items()}

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, np.float32).reshape(-1)
        if len(x) == 0:
            return np.zeros(0, np.float32)
        h = np.zeros((1, 1, 128), np.float32)
        c = np.zeros((1, 1, 128), np.float32)
        out = []
        span = BLOCK * FRAME
        for a in range(0, len(x), span):  # one block at a time: memory stays small for long files
            block = frames_with_context(x[a:a + span])
            if a:
                block[0, :CONTEXT] = x[a - CONTEXT:a]
            p, h, c = self.session.run({"input": block, "h": h, "c": c})
            out.append(np.asarray(p, np.float32).reshape(-1))
        return np.concatenate(out)
