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
