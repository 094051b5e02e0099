"""Errors that reach users: each names the file and what is wrong with it."""
from __future__ import annotations

from pathlib import Path


class ReelscopeError(Exception):
    """Base class for errors reelscope reports to users."""


class MediaError(ReelscopeError):
    """A media file cannot be used: missing, empty, not a video, truncated, ..."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MissingDependency(ReelscopeError):
    """An optional backend is not installed; the message says how to install it."""

    def __init__(self, what: str, hint: str):
        super().__init__(f"{what} is not installed: {hint}")


class ImageTooLarge(MediaError):
    """An image (or video frame) declares more pixels than the configured limit: refused before
    decoding, as decoding would need gigabytes of memory ("image bomb")."""

    def __init__(self, path: str | Path, width: int, height: int, limit: int, setting: str):
        self.width, self.height, self.limit = width, height, limit
        super().__init__(path, f"{width}x{height} pixels ({width * height / 1e6:.0f} megapixels) is over the limit "
                               f"of {limit / 1e6:g} megapixels ({setting})")


class Cancelled(Exception):
    """Raised (e.g. from a progress callback) to stop an analysis someone cancelled; never recorded
    as a failure of the file."""
