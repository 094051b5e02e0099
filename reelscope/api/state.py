"""What the routes share: the archive, the settings, the job runner and the loaded face models."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from reelscope.api.jobs import JobRunner
from reelscope.api.limits import Busy
from reelscope.api.security import PathHider, Settings
from reelscope.archive import Archive
from reelscope.archive.gallery import ConflictError, Gallery
from reelscope.errors import ReelscopeError


@dataclass
class AppState:
    archive: Archive
    settings: Settings
    jobs: JobRunner
    busy: Busy | None = None  # bounds image analyses inside requests (settings.heavy_slots)
    hide_paths: PathHider = field(default_factory=lambda: PathHider(()))  # what anonymous readers see
    _faces: dict = field(default_factory=dict)
    _faces_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.busy is None:
            self.busy = Busy(self.settings.heavy_slots)

    def gallery(self) -> Gallery:
        return Gallery(self.archive, user="api")

    def photo_faces(self, detector: str):
        """One PhotoFaces per detector, loaded on first use (the models carry their own locks)."""
        from reelscope.people.photos import PhotoFaces

        with self._faces_lock:
            if detector not in self._faces:
                self._faces[detector] = PhotoFaces(detector)
            return self._faces[detector]


def get_state(request: Request) -> AppState:
    return request.app.state.reelscope


def http_error(e: ReelscopeError) -> HTTPException:
    """ConflictError -> 409; 'no such thing' -> 404; any other user error -> 400."""
    if isinstance(e, ConflictError):
        return HTTPException(409, str(e))
    # the library words missing things "no video ...", "no character ..." (see archive/store.py, gallery.py)
    return HTTPException(404 if str(e).startswith("no ") else 400, str(e))
