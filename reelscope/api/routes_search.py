"""Search across the archive (``reelscope.search``): free text with semantic matching
plus filters (shot size, character, expression, ImageNet tags, COCO objects, video, time range).
Every hit links to an exact frame and time of a video.

Hits are characters (when the query names someone) followed by shots, ranked. A shot hit points
at the frame that shows why it matched (a face, a frame tag, an object detection); otherwise at
the shot's first frame (or the start of the requested time range). The text model is loaded by
the library on the first free-text search and kept.
"""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from reelscope.api import schemas as m
from reelscope.api.routes_browse import Offset, State, Text
from reelscope.api.security import require_read
from reelscope.mood.circle import MOODS
from reelscope.search import SearchQuery, search as run_search

Mood = Literal[MOODS]  # type: ignore[valid-type]  # the mood circle's names
router = APIRouter(prefix="/api", tags=["search"], dependencies=[Depends(require_read)])
Seconds = Annotated[float | None, Query(ge=0, le=1e9, allow_inf_nan=False)]
Label = Annotated[list[Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]] | None,
                  Query(max_length=10)]


@router.get("/search", response_model=m.SearchPage, responses=m.responses(400))
def search(st: State, offset: Offset = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
           q: Annotated[Text, Query(description="free text, e.g. 'piano' or 'close-up of Anna smiling': shot sizes, "
                                                "names and expressions become filters, other words are matched to "
                                                "tags and objects by meaning and looked up in what is said and written (quoted "
                                                "'phrases' must be said or written); also file and person names")] = None,
           size: Annotated[m.ShotSize | None, Query(description="shot size")] = None,
           character: Annotated[Text, Query(description="character name (part of it) or character id")] = None,
           expression: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$",
                                                   description="facial expression, e.g. happy")] = None,
           tag: Annotated[Label, Query(description="ImageNet tag the shot must have, e.g. 'grand piano' (repeatable)")] = None,
           object: Annotated[Label, Query(description="COCO object the shot must show, e.g. car (repeatable)")] = None,
           mood: Annotated[Mood | None, Query(description="the shot's mood, e.g. calm")] = None,
           video: Annotated[int | None, Query(ge=1, le=m.MAX_ID)] = None,
           start: Annotated[Seconds, Query(description="from this time (seconds)")] = None,
           end: Annotated[Seconds, Query(description="up to this time (seconds)")] = None,
           semantic: Annotated[bool, Query(description="match words to labels by meaning (text embeddings)")] = True
           ) -> dict:
    query = SearchQuery(text=q or None, sizes=[size] if size else [], characters=[character] if character else [],
                        expression=expression, mood=mood, tags=tag or [], objects=object or [], video=video, start=start,
                        end=end, semantic=semantic)
    try:
        return run_search(st.archive, query, limit=limit, offset=offset).as_dict()
    except ValueError as e:  # a filter the schema allows but the archive cannot apply
        raise HTTPException(status_code=400, detail=str(e)) from None
