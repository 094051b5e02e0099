"""A video's transcript: the segments (JSON) and captions for players and editors (WebVTT, SRT)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path as PathParam
from fastapi.responses import PlainTextResponse

from reelscope.api.routes_browse import State, VideoId, load_video
from reelscope.api.security import require_read
from reelscope.archive.captions import captions_text
from reelscope.archive.speech_io import speech_export

router = APIRouter(prefix="/api", tags=["speech"], dependencies=[Depends(require_read)])
MEDIA = {"vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8"}


def _speech(st, video_id: int) -> dict:
    load_video(st, video_id)  # 404 for an unknown video
    with st.archive.session() as s:
        speech = speech_export(s, video_id)
    if speech is None:
        raise HTTPException(404, f"video {video_id} has no transcript: analyse it with the speech stage")
    return speech


@router.get("/videos/{video_id}/transcript", summary="The speech stage's transcript (export schema: "
                                                     "language, segments with word times)")
def transcript(st: State, video_id: VideoId) -> dict:
    return _speech(st, video_id)


@router.get("/videos/{video_id}/captions.{fmt}", response_class=PlainTextResponse,
            summary="Captions from the transcript: WebVTT (for the player's <track>) or SRT",
            responses={200: {"content": {"text/vtt": {}, "application/x-subrip": {}}}})
def captions(st: State, video_id: VideoId, fmt: Annotated[Literal["vtt", "srt"], PathParam()]) -> PlainTextResponse:
    speech = _speech(st, video_id)
    return PlainTextResponse(captions_text(speech, fmt), media_type=MEDIA[fmt],
                             headers={"Cache-Control": "private, max-age=60"})
