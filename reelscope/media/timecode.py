"""Frame index <-> time conversions. Frame rates are exact rationals."""
from __future__ import annotations

from fractions import Fraction


def frame_to_seconds(index: int, fps: Fraction) -> float:
    return float(Fraction(index) / Fraction(fps))


def seconds_to_frame(seconds: float, fps: Fraction) -> int:
    return int(round(Fraction(seconds).limit_denominator(10**6) * Fraction(fps)))


def seconds_to_timecode(seconds: float, fps: Fraction | None = None) -> str:
    """HH:MM:SS.mmm, or HH:MM:SS:FF (non-drop) when a frame rate is given."""
    if fps is None:
        ms = int(round(seconds * 1000))
        h, rem = divmod(ms, 3_600_000)
        m, rem = divmod(rem, 60_000)
        s, ms = divmod(rem, 1000)
        return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
    nominal = max(1, round(float(fps)))
    frames = int(round(seconds * float(fps)))
    h, rem = divmod(frames, 3600 * nominal)
    m, rem = divmod(rem, 60 * nominal)
    s, f = divmod(rem, nominal)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"
