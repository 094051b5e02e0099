"""Is a decode pass complete? Truncation is an error; damage in the middle is a warning.

After a pass over the whole video (``media.decode.DecodeStats``), ``check_complete`` compares
what was decoded with what the file says it holds:

* nothing decoded: an error ("no decodable video frame");
* the decoded pictures stop well before the stream's end (a truncated file, or the rest is
  undecodable): an error naming frames and seconds decoded;
* fewer than half the frames decoded: an error (the file is mostly undecodable);
* bad packets, damaged pictures or frames skipped in between: a warning with the decoded share
  and where the damage is, returned for the caller to store with the results and show.

Frame counts are compared only when the container states the stream's frame count (MP4/MOV).
Otherwise (Matroska, WebM, variable frame rate) the expected count is not known in advance
(duration x average rate is wrong for variable-frame-rate files), so the check uses time: the
decoded pictures must reach the stream's end, each rejected packet counts as one frame lost, and
in a constant-rate stream a gap in the timestamps counts the frames it lacks (``missing_runs``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from reelscope.errors import MediaError
from reelscope.media.decode import DecodeStats
from reelscope.media.info import VideoInfo

MIN_SHARE = 0.5  # below this share of frames decoded, the file is rejected
REGULAR = 0.95  # a stream whose intervals are this often within 10% of the median has a constant rate


def missing_runs(times) -> list[tuple[float, float, int]]:
    """Runs of frames a demuxer skipped without an error (Matroska and WebM resynchronise past
    damage silently): (time before, time after, frames missing) for every gap in an otherwise
    constant-rate stream. None are inferred in a variable-frame-rate stream, where gaps are legal."""
    t = np.asarray(times, dtype=np.float64)
    if len(t) < 12:
        return []
    d = np.diff(t)
    d = d[d > 0]
    step = float(np.median(d)) if len(d) else 0.0
    if step <= 0 or np.mean(np.abs(d - step) <= 0.1 * step) < REGULAR:
        return []
    gaps = np.flatnonzero(np.diff(t) > 1.5 * step)
    return [(float(t[i]), float(t[i + 1]), int(round((t[i + 1] - t[i]) / step)) - 1) for i in gaps
            if round((t[i + 1] - t[i]) / step) > 1]


def _span(stats: DecodeStats) -> float:
    if stats.first_time is None or stats.end_time is None:
        return 0.0
    return max(0.0, stats.end_time - stats.first_time)


def _seconds(x: float) -> str:
    return f"{x:.1f} s" if x >= 10 else f"{x:.2f} s"


def check_complete(path: str | Path, info: VideoInfo, stats: DecodeStats) -> str | None:
    """Raise MediaError when the pass decoded nothing, stops well before the end, or decoded less
    than half the frames; return a warning (one line) for lesser damage; None for a clean pass."""
    decoded = stats.frames
    bad = f" ({stats.errors} bad packets)" if stats.errors else ""
    if decoded == 0:
        raise MediaError(path, "no decodable video frame" + bad)
    runs = [] if info.frame_count_exact else missing_runs(stats.times)
    lost = sum(m for _, _, m in runs)
    expected = info.frame_count_hint if info.frame_count_exact else decoded + max(stats.errors, lost)
    expected = max(expected, decoded)
    span, duration = _span(stats), info.duration
    # the stream's own duration is reliable; a container duration may include a longer audio track
    reach = 0.9 if info.duration_exact else 0.7
    if duration > 1.0 and span < reach * duration and (not info.frame_count_exact or decoded < 0.9 * expected):
        raise MediaError(path, f"truncated or corrupt: decoded {decoded} frames covering {_seconds(span)} "
                               f"of {_seconds(duration)}" + bad + (f"; {stats.stopped}" if stats.stopped else ""))
    if info.frame_count_exact and expected > 30 and decoded < 0.9 * expected and not stats.errors:
        raise MediaError(path, f"truncated or corrupt: decoded {decoded} of {expected} frames")
    share = decoded / expected
    if share < MIN_SHARE:
        raise MediaError(path, f"mostly undecodable: decoded {decoded} of {expected} frames ({share:.0%})" + bad)
    if not stats.errors and not stats.damaged and not stats.stopped and not runs:
        return None
    parts = []
    if stats.errors:
        where = ""
        if stats.error_start is not None:
            a, b = stats.error_start, stats.error_end
            where = f" at {_seconds(a)}" if b - a < 0.05 else f" between {_seconds(a)} and {_seconds(b)}"
        parts.append(f"decode errors{where} ({stats.errors} bad packets: {stats.last_error})")
    elif runs:
        a, b = runs[0][0], runs[-1][1]
        parts.append(f"frames missing between {_seconds(a)} and {_seconds(b)} (the container skipped damaged data)")
    if stats.stopped:
        parts.append(f"the container is unreadable after {_seconds(stats.end_time or 0.0)} ({stats.stopped})")
    parts.append(f"decoded {decoded} of {expected} frames ({share:.1%})")
    if stats.damaged:
        parts.append(f"{stats.damaged} frames after the damage may show artefacts (until the next keyframe)")
    return "; ".join(parts)
