"""Audio extraction: the first audio stream as mono float32 PCM at a chosen rate."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from reelscope.errors import MediaError
from reelscope.media.info import open_container


def extract_audio(path: str | Path, rate: int = 16000) -> np.ndarray:
    """Return mono float32 samples in [-1, 1] at ``rate`` Hz. Raises MediaError if there is no audio."""
    container = open_container(path)
    try:
        if not container.streams.audio:
            raise MediaError(path, "has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []

        def take(frames):
            for rf in frames:
                chunks.append(rf.to_ndarray().reshape(-1))

        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    frame.pts = None
                    take(resampler.resample(frame))
            except av.error.FFmpegError:
                continue
        take(resampler.resample(None))
        if not chunks:
            return np.zeros(0, np.float32)
        return np.clip(np.concatenate(chunks).astype(np.float32, copy=False), -1.0, 1.0)
    finally:
        container.close()
