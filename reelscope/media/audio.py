"""Audio extraction: the first audio stream as float32 PCM at a chosen rate.

``extract_audio`` gives mono samples; ``read_audio`` also keeps two channels (loudness per
EBU R128 sums the channels' powers, so a mono downmix of a stereo mix reads about 3 LU low)
and says when the stream starts on the container's clock (the clock of video frame times).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from reelscope.errors import MediaError
from reelscope.media.info import open_container


@dataclass
class AudioClip:
    samples: np.ndarray  # (n,) mono or (n, 2) stereo, float32 in [-1, 1]
    rate: int
    start: float  # seconds: presentation time of the first sample (the clock of frame times)
    source_channels: int  # channels of the stream in the file
    codec: str

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate

    def mono(self) -> np.ndarray:
        return self.samples if self.samples.ndim == 1 else self.samples.mean(axis=1, dtype=np.float32)


def read_audio(path: str | Path, rate: int = 16000, layout: str = "mono") -> AudioClip:
    """Decode the first audio stream. ``layout``: "mono", "stereo", or "auto" (stereo when the
    source has two or more channels, else mono). Raises MediaError if there is no audio."""
    if layout not in ("mono", "stereo", "auto"):
        raise ValueError(f"layout must be mono, stereo or auto, not {layout!r}")
    container = open_container(path)
    try:
        if not container.streams.audio:
            raise MediaError(path, "has no audio stream")
        stream = container.streams.audio[0]
        channels = stream.codec_context.channels or 1
        if layout == "auto":
            layout = "stereo" if channels >= 2 else "mono"
        resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
        chunks: list[np.ndarray] = []
        start: float | None = None

        def take(frames):
            for rf in frames:
                chunks.append(rf.to_ndarray().reshape(-1))  # packed: interleaved channels

        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    if start is None and frame.pts is not None and frame.time_base is not None:
                        start = float(frame.pts * frame.time_base)
                    frame.pts = None
                    take(resampler.resample(frame))
            except av.error.FFmpegError:
                continue
        take(resampler.resample(None))
        width = 2 if layout == "stereo" else 1
        # one output array filled chunk by chunk (chunks freed as they are copied) and clipped in
        # place: an hour of 16 kHz stereo is 460 MB, and concatenate + clip would hold three copies
        total = sum(len(c) for c in chunks)
        data = np.empty(total, np.float32)
        pos = 0
        chunks.reverse()
        while chunks:
            c = chunks.pop()
            data[pos:pos + len(c)] = c
            pos += len(c)
        data = data[: len(data) // width * width]
        np.clip(data, -1.0, 1.0, out=data)
        if width == 2:
            data = data.reshape(-1, 2)
        return AudioClip(data, rate, start or 0.0, channels, stream.codec_context.name)
    finally:
        container.close()


def extract_audio(path: str | Path, rate: int = 16000) -> np.ndarray:
    """Return mono float32 samples in [-1, 1] at ``rate`` Hz. Raises MediaError if there is no audio."""
    return read_audio(path, rate, "mono").samples
