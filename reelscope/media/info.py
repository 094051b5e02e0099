"""Probe a media file: validate it and describe its video/audio streams."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, asdict
from fractions import Fraction
from pathlib import Path

import av

from reelscope.errors import MediaError
from reelscope.media.image import check_pixels


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fingerprint: str  # content hash of size + head + tail: stable id for re-analysis
    size_bytes: int
    container: str
    codec: str
    width: int  # display size, after rotation
    height: int
    rotation: int  # degrees counter-clockwise the stored picture must be turned for display
    fps: Fraction  # average frame rate (exact rational)
    time_base: Fraction
    frame_count_hint: int  # from container metadata or duration*fps; the decoder's count is authoritative
    frame_count_exact: bool  # the hint is the stream's own frame count (not derived from a duration)
    duration: float  # seconds, from container/stream metadata
    has_audio: bool
    audio_codec: str | None
    audio_rate: int | None
    duration_exact: bool = False  # the duration is the video stream's own (not the container's, which
    # may include a longer audio track)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        d["time_base"] = f"{self.time_base.numerator}/{self.time_base.denominator}"
        return d


def fingerprint(path: str | Path, chunk: int = 1 << 20) -> str:
    size = os.path.getsize(path)
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(chunk))
        if size > 2 * chunk:
            f.seek(size - chunk)
            h.update(f.read(chunk))
        elif size > chunk:
            h.update(f.read())
    return h.hexdigest()[:32]


def check_path(path: str | Path) -> Path:
    """Raise MediaError for paths that cannot be media files at all."""
    p = Path(path)
    if not p.exists():
        raise MediaError(p, "file not found")
    if p.is_dir():
        raise MediaError(p, "is a directory, not a video file")
    if not os.access(p, os.R_OK):
        raise MediaError(p, "file is not readable (permission denied)")
    if p.stat().st_size == 0:
        raise MediaError(p, "file is empty (0 bytes)")
    return p


def open_container(path: str | Path):
    p = check_path(path)
    try:
        return av.open(str(p), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise MediaError(p, "not a media file that FFmpeg can read (invalid data)") from None
    except av.error.FFmpegError as e:
        msg = getattr(e, "strerror", None) or str(e)
        if "moov atom not found" in str(e):
            msg = "truncated or incomplete MP4 (no moov atom)"
        raise MediaError(p, f"cannot open media: {msg}") from None


def is_attached_picture(stream) -> bool:
    """Cover art (an MP3's APIC, an M4A's covr, an Ogg's METADATA_BLOCK_PICTURE): FFmpeg shows it as
    a one-picture video stream with the ``attached_pic`` disposition."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def video_stream(container):
    """The first video stream that is a moving picture (not cover art), or None."""
    for s in container.streams.video:
        if not is_attached_picture(s):
            return s
    return None


def _no_video_kind(container) -> str:
    pictures = any(is_attached_picture(s) for s in container.streams.video)
    if container.streams.audio:
        return "audio with cover art" if pictures else "audio only"
    return "a still picture only" if pictures else "no streams"


def _tag_seconds(value) -> float | None:
    """Matroska's per-track DURATION tag ('HH:MM:SS.fffffffff') in seconds."""
    try:
        h, m, s = str(value).split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except (ValueError, TypeError):
        return None


def _rotation_of_first_frame(container, stream, max_packets: int = 300) -> int | None:
    """Decode the first frame: proves the stream is decodable and reads its display rotation.
    Undecodable packets at the start (damage) are skipped, up to ``max_packets``."""
    try:
        for n, packet in enumerate(container.demux(stream)):
            if n >= max_packets:
                return None
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for frame in frames:
                return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except av.error.FFmpegError:  # the container itself is broken beyond this point
        return None
    return None


def probe(path: str | Path) -> VideoInfo:
    """Validate ``path`` as a video and describe it. Raises MediaError naming the problem."""
    p = check_path(path)
    container = open_container(p)
    try:
        vs = video_stream(container)
        if vs is None:
            raise MediaError(p, f"has no video stream ({_no_video_kind(container)})")
        cc = vs.codec_context
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        if not rate or rate <= 0:
            rate = Fraction(25)
        fps = Fraction(rate.numerator, rate.denominator)
        tb = Fraction(vs.time_base.numerator, vs.time_base.denominator) if vs.time_base else Fraction(1, 1000)
        exact = bool(vs.frames)
        tagged = _tag_seconds(vs.metadata.get("DURATION") or vs.metadata.get("duration"))
        duration_exact = True
        if vs.duration is not None and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        elif tagged:
            duration = tagged
        elif container.duration:
            duration, duration_exact = container.duration / 1_000_000, False
        else:
            duration, duration_exact = 0.0, False
        hint = vs.frames or int(round(duration * float(fps)))
        check_pixels(p, cc.width, cc.height)  # frames over the image pixel limit: refused before decoding one
        rotation = _rotation_of_first_frame(container, vs)
        if rotation is None:
            raise MediaError(p, "no decodable video frame")
        w, h = cc.width, cc.height
        if rotation in (90, 270):
            w, h = h, w
        a = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            path=str(p.resolve()), fingerprint=fingerprint(p), size_bytes=p.stat().st_size,
            container=container.format.name, codec=cc.name, width=w, height=h,
            rotation=rotation, fps=fps, time_base=tb, frame_count_hint=int(hint), frame_count_exact=exact,
            duration=duration, has_audio=a is not None,
            audio_codec=a.codec_context.name if a else None,
            audio_rate=a.codec_context.sample_rate if a else None, duration_exact=duration_exact,
        )
    finally:
        container.close()
