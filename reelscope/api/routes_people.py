"""Characters and the identity gallery: naming, merge, split, undo, reference photos."""
from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, UploadFile
from sqlalchemy import func, select

from reelscope.api import schemas as m
from reelscope.api.routes_browse import Offset, State, character_dict, tracks_of
from reelscope.api.limits import heavy
from reelscope.api.security import require_read, require_write
from reelscope.api.state import AppState, http_error
from reelscope.api.uploads import decode_image, read_limited, safe_name
from reelscope.archive import schema as db
from reelscope.errors import ReelscopeError

CharacterId = Annotated[int, Path(ge=1, le=m.MAX_ID)]
router = APIRouter(prefix="/api", tags=["people"], dependencies=[Depends(require_read)])
Write = [Depends(require_write)]


def _detail(st: AppState, character_id: int) -> dict:
    try:
        c = st.gallery().character(character_id)
    except ReelscopeError as e:
        raise http_error(e) from None
    return character_dict(c, tracks_of(st, [c.id]).get(c.id))


def _guard(fn, *args):
    try:
        return fn(*args)
    except ReelscopeError as e:
        raise http_error(e) from None


@router.get("/characters", response_model=m.Page[m.CharacterDetail])
def list_characters(st: State, offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    naming: Literal["unknown", "named", "recognised"] | None = None,
                    video: Annotated[int | None, Query(ge=1, le=m.MAX_ID)] = None) -> dict:
    chars = [c for c in st.gallery().characters(video) if naming is None or c.naming == naming]
    page = chars[offset:offset + limit]
    tracks = tracks_of(st, [c.id for c in page])
    return {"total": len(chars), "offset": offset, "limit": limit,
            "items": [character_dict(c, tracks.get(c.id)) for c in page]}


@router.get("/characters/{character_id:int}", response_model=m.CharacterDetail)  # (not /characters/merge)
def get_character(st: State, character_id: CharacterId) -> dict:
    return _detail(st, character_id)


@router.post("/characters/{character_id}/name", response_model=m.CharacterDetail, dependencies=Write,
             responses=m.responses(400, s409="changed by someone else since expected_version"))
def name_character(st: State, character_id: CharacterId, body: m.NameRequest) -> dict:
    """Name a character; every matching character in the archive is then recognised."""
    _guard(st.gallery().name, character_id, body.name, body.expected_version)
    return _detail(st, character_id)


@router.post("/characters/merge", response_model=m.CharacterDetail, dependencies=Write,
             responses=m.responses(400, s409="a character changed at the same time"))
def merge_characters(st: State, body: m.MergeRequest) -> dict:
    """Merge characters of one video into the first one given."""
    c = _guard(st.gallery().merge, body.ids)
    return _detail(st, c.id)


@router.post("/characters/{character_id}/split", response_model=m.CharacterDetail, dependencies=Write,
             responses=m.responses(400, 409))
def split_character(st: State, character_id: CharacterId, body: m.SplitRequest) -> dict:
    """Move some face tracks of a character into a new character; answers the new one."""
    c = _guard(st.gallery().split, character_id, body.tracks)
    return _detail(st, c.id)


@router.post("/undo", response_model=m.UndoOut, dependencies=Write, responses=m.responses(400, 409))
def undo(st: State) -> dict:
    """Undo the most recent naming, photo, merge or split."""
    ev = _guard(st.gallery().undo)
    return {"event_id": ev.id, "action": ev.action}


@router.get("/identities", response_model=list[m.IdentityOut])
def identities(st: State) -> list[dict]:
    with st.archive.session() as s:
        refs = dict(s.execute(select(db.IdentityReference.identity_id, func.count(db.IdentityReference.id))
                              .group_by(db.IdentityReference.identity_id)).all())
        chars = {i: (n, v) for i, n, v in s.execute(
            select(db.Character.identity_id, func.count(db.Character.id),
                   func.count(func.distinct(db.Character.video_id)))
            .where(db.Character.identity_id.is_not(None)).group_by(db.Character.identity_id)).all()}
        rows = list(s.scalars(select(db.Identity).order_by(db.Identity.name)))
    return [{"id": i.id, "name": i.name, "references": refs.get(i.id, 0), "characters": chars.get(i.id, (0, 0))[0],
             "videos": chars.get(i.id, (0, 0))[1]} for i in rows]


@router.post("/identities/photo", response_model=m.IdentityOut, dependencies=[*Write, Depends(heavy)],
             responses=m.responses(400, 413, 415, 429, 503))
def add_identity_photo(st: State, name: Annotated[m.Name, Form()],
                       file: Annotated[UploadFile, File(description="a photo of the person")]) -> dict:
    """Add a reference photo of a person (its largest face), creating the identity if new."""
    fname = safe_name(file.filename, "photo")
    rgb = decode_image(read_limited(file.file, st.settings.max_upload_bytes), fname, st.settings.max_image_pixels)
    d = st.photo_faces("blazeface")(rgb)
    if not len(d) or d.embeddings is None:
        raise HTTPException(400, f"{fname}: no face found")
    ident = _guard(st.gallery().add_photo, name, [d.embeddings[int(np.argmax(d.areas))]], fname)
    return next(i for i in identities(st) if i["id"] == ident.id)
