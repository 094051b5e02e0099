"""Request and response models of the REST API (they document the OpenAPI schema at /docs).

The video document mirrors the archive JSON export (docs/export-schema.md); its models allow
extra keys, so an additive change of the export passes through unchanged.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from reelscope.analysis import DEFAULT_STAGES

def _aware(d: datetime) -> datetime:
    return d if d.tzinfo is not None else d.replace(tzinfo=timezone.utc)  # the archive stores UTC


# every time the API answers carries its zone (SQLite hands stored times back without one)
UtcDatetime = Annotated[datetime, AfterValidator(_aware)]
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every supported database
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
ShotSize = Literal["ECU", "CU", "MS", "FS", "LS"]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted", "planned"]
JobKind = Literal["analysis", "summary", "slideshow", "batch"]
T = TypeVar("T")


# ---- errors -----------------------------------------------------------------------------------
class ErrorOut(BaseModel):
    """Every error answer except 422: one sentence saying what is wrong."""
    detail: str


ERRORS = {
    400: "the request cannot be carried out as asked (the detail says why)",
    401: "this server needs an API token for this request: send 'Authorization: Bearer <token>'",
    403: "wrong API token, a cross-site request, or a server path outside the allowed roots",
    404: "no such video, character, job, file, ...",
    409: "changed by someone else at the same time, or not in the needed state",
    413: "upload over the size limit, or an image (video frame) over the pixel limit",
    415: "not a supported image or video, or the wrong content type",
    429: "too many image analyses at once: retry after the Retry-After header's seconds",
    503: "a model this needs is not installed on the server",
}


def responses(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for these error statuses (documented in the OpenAPI schema);
    ``described``: s409="..." gives a status its own description."""
    out: dict[int | str, dict[str, Any]] = {}
    for c in (*codes, *(int(k[1:]) for k in described)):
        out[c] = {"model": ErrorOut, "description": described.get(f"s{c}", ERRORS[c])}
        if c == 429:
            out[c]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
    return out


# file routes (Starlette's FileResponse answers Range requests itself, in plain text)
RANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed Range header", "content": {"text/plain": {}}},
    416: {"description": "the requested byte range is not in the file", "content": {"text/plain": {}},
          "headers": {"Content-Range": {"description": "bytes */<size>", "schema": {"type": "string"}}}},
}


class Page(BaseModel, Generic[T]):
    total: int
    offset: int
    limit: int
    items: list[T]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str = Field(description="database dialect: sqlite or postgresql")
    jobs: dict[str, int] = Field(description="number of jobs per status")


class StageInfo(BaseModel):
    name: str
    requires: list[str]
    provides: list[str]
    defaults: dict[str, Any]
    version: str
    description: str


SERVER_PATH = "the source's path on the server: only for requests with the API token (null otherwise)"


class VideoSummary(BaseModel):
    id: int
    fingerprint: str
    filename: str
    path: str | None = Field(description=SERVER_PATH)
    width: int
    height: int
    fps: str
    frame_count: int
    duration: float
    shots: int
    characters: int
    thumbnail: str | None = Field(None, description="first keyframe, relative to /api/media/")
    created_at: UtcDatetime | None = None


# ---- the export document (docs/export-schema.md) ----------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class KeyframeOut(_Open):
    frame: int
    time: float
    method: str
    image: str = Field(description="relative to the media store: GET /api/media/{image}")
    width: int
    height: int
    sharpness: float | None = None


class ShotOut(_Open):
    index: int
    start_frame: int
    end_frame: int
    frame_count: int
    start_time: float
    end_time: float
    start_timecode: str
    transition_in: str | None = None
    transition_out: str | None = None
    size: str | None = None
    size_confidence: float | None = None
    emotion: dict[str, Any] | None = Field(None, description="emotion stage: valence, arousal, dominant, ...")
    importance: float | None = Field(None, description="importance stage: 0..1 highlight score")
    keyframes: list[KeyframeOut] = []


class TransitionOut(_Open):
    type: str
    start_frame: int
    end_frame: int
    boundary_frame: int
    score: float
    detector: str


class RunOut(_Open):
    stage: str
    status: str
    params: dict[str, Any]
    models: dict[str, Any]
    reelscope_version: str
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float | None = None


class CharacterOut(_Open):
    id: int
    index: int
    name: str | None = None
    identity_id: int | None = None
    naming: str = Field(description="unknown | named | recognised")
    match_distance: float | None = None
    screen_time: float
    first_frame: int
    last_frame: int
    first_time: float
    last_time: float
    thumbnail: str | None = None
    expressions: dict[str, float] = {}


class TrackOut(BaseModel):
    id: int
    shot_index: int
    first_frame: int
    last_frame: int
    seconds: float


class CharacterDetail(CharacterOut):
    video_id: int
    version: int
    tracks: list[TrackOut] = []


class VideoExport(_Open):
    id: int
    fingerprint: str
    path: str | None = Field(description=SERVER_PATH)
    filename: str
    size_bytes: int
    width: int
    height: int
    rotation: int
    fps: str = Field(description="exact rational frame rate, e.g. 24000/1001")
    frame_count: int
    duration: float
    analysis_runs: list[RunOut] = []
    transitions: list[TransitionOut] = []
    shots: list[ShotOut] = []
    characters: list[CharacterOut] = []
    audio: dict[str, Any] | None = Field(None, description="audio stage: segments and curves (export schema)")
    emotion: dict[str, Any] | None = Field(None, description="emotion stage: curves (export schema)")
    objects: dict[str, Any] | None = Field(None, description="objects stage: COCO object tracks with boxes (export schema)")
    speech: dict[str, Any] | None = Field(None, description="speech stage: language and transcript segments with "
                                                          "word times (export schema)")
    text: dict[str, Any] | None = Field(None, description="text stage: on-screen text spans with their lines (export schema)")


class ShotHit(ShotOut):
    video_id: int
    duration: float
    url: str = Field(description="web app link to the shot's first frame")


# ---- people -----------------------------------------------------------------------------------
class IdentityOut(BaseModel):
    id: int
    name: str
    references: int
    characters: int
    videos: int


class NameRequest(BaseModel):
    name: Name
    expected_version: Annotated[int, Field(ge=0, le=MAX_ID)] | None = Field(
        None, description="the character version you saw; a later change by someone else answers 409")


class MergeRequest(BaseModel):
    ids: list[Id] = Field(min_length=2, max_length=100, description="characters of one video; merged into the first")


class SplitRequest(BaseModel):
    tracks: list[Id] = Field(min_length=1, max_length=1000, description="face track ids to move to a new character")


class UndoOut(BaseModel):
    event_id: int
    action: str


# ---- single images ----------------------------------------------------------------------------
class FaceOut(BaseModel):
    index: int
    box: list[float] = Field(description="x, y, width, height in pixels of the image")
    score: float
    name: str | None = Field(None, description="identity recognised from the gallery (open set), else null")
    identity_id: int | None = None
    distance: float | None = Field(None, description="embedding distance to the nearest identity")
    expression: str | None = None
    expression_scores: dict[str, float] | None = None


class SeedObject(BaseModel):
    ObjectID: str
    Bb: list[float] = Field(description="x, y, width, height in pixels")
    score: float


class ImageResult(BaseModel):
    """One image's faces; ``frameIdx``/``objects`` are the seed system's per-frame form."""
    filename: str
    width: int | None = None
    height: int | None = None
    faces: list[FaceOut] = []
    frameIdx: int
    objects: list[SeedObject] = []
    error: str | None = Field(None, description="set (and no faces) when this image could not be read")
    status: int | None = Field(None, description="with error: 415 not an image, 413 over the pixel limit")


# ---- jobs -------------------------------------------------------------------------------------
class JobRequest(BaseModel):
    path: str = Field(min_length=1, max_length=4096, description="a video file on the server, under an allowed root")
    stages: list[Annotated[str, Field(max_length=64)]] = Field(default=list(DEFAULT_STAGES), max_length=32)
    params: dict[str, dict[str, Any]] = Field(default={}, description="stage -> parameters, see GET /api/stages")
    force: bool = False


class JobProgress(BaseModel):
    stage: str | None = Field(None, description="what the job is doing now (a stage, a phase)")
    done: int = Field(0, description="units of the stage done, as the library reports them")
    total: int = 0
    percent: float = Field(0, ge=0, le=100, description="overall progress of the job")
    eta_seconds: float | None = Field(None, description="estimated seconds left (running jobs, once measurable)")


class JobOut(BaseModel):
    id: str
    kind: JobKind = "analysis"
    status: JobStatus = Field(description="queued, running, done, failed, cancelled, interrupted (the server "
                                          "stopped while it ran: it runs again), planned (a slideshow waiting "
                                          "to be rendered)")
    source: str = Field(description="what it works on: the video's file name, for people")
    stages: list[str] = Field([], description="analysis: the stages asked for")
    params: dict[str, dict[str, Any]] = {}
    force: bool = False
    created_at: UtcDatetime
    started_at: UtcDatetime | None = Field(None, description="when the latest attempt started")
    finished_at: UtcDatetime | None = None
    interrupted_at: UtcDatetime | None = None
    progress: JobProgress
    video_id: int | None = None
    outcome: str | None = Field(None, description="analysis: analyzed | skipped (already in the archive with these "
                                                  "settings)")
    result: dict[str, Any] | None = Field(None, description="what the job made (summary id, slideshow render, ...)")
    url: str | None = Field(None, description="where to look at the result (web page or file)")
    error: str | None = Field(None, description="failed jobs: one sentence saying what failed")
    detail: str | None = Field(None, description="failed jobs: the traceback (only for callers allowed to write)")
    note: str | None = Field(None, description="the latest event: interrupted, resumed, cancelled at ...")
    attempts: int = Field(0, description="times a worker started it")
    restarts: int = Field(0, description="times its server died while it ran")
    can_cancel: bool = False
    can_resume: bool = False


# ---- search -----------------------------------------------------------------------------------
class MatchedLabel(BaseModel):
    concept: str = Field(description="the words of the query it answers")
    kind: Literal["tag", "object", "expression"]
    label: str
    similarity: float = Field(description="text-embedding cosine between the words and the label (1 = exact)")
    evidence: float = Field(description="how strongly the shot shows it (0..1)")
    score: float


class EvidenceFrame(BaseModel):
    frame: int
    time: float
    score: float
    label: str


class Evidence(BaseModel):
    kind: Literal["transcript", "text", "tag", "object", "pose", "expression", "face", "clip"] = Field(
        description="transcript (said), text (on screen), tag, object, pose (an action), expression, face, clip")
    text: str = Field(description="the transcript line, the on-screen text, or the label / name")
    match: str | None = Field(None, description="the words of the query found in it (transcript and text)")
    time: float = Field(description="seconds: where it is said / shown")
    end_time: float | None = None
    frame: int | None = Field(None, description="the frame that shows it")
    score: float | None = None


class SearchHit(BaseModel):
    kind: Literal["shot", "character"]
    video_id: int
    filename: str
    frame: int = Field(description="the exact frame the hit points at")
    time: float = Field(description="presentation time of that frame, seconds")
    url: str = Field(description="web app link that opens the video at that time")
    shot_index: int | None = None
    end_time: float | None = None
    size: str | None = None
    character_id: int | None = None
    name: str | None = None
    expression: str | None = None
    image: str | None = Field(None, description="keyframe or face thumbnail, relative to /api/media/")
    matched: list[str] = Field(description="which filters/text the hit satisfied (e.g. size, name, tag:grand piano)")
    score: float | None = Field(None, description="ranking score (higher first); null for character hits")
    labels: list[MatchedLabel] = Field([], description="labels of the shot that matched the text's concepts")
    frames: list[EvidenceFrame] = Field([], description="frames of the shot that show the match, best first")
    evidence: list[Evidence] = Field([], description="what was found in the shot, strongest first: lines said or "
                                                  "written, then labels")


class SearchPage(Page[SearchHit]):
    parsed: dict[str, Any] | None = Field(None, description="how the free text was read: sizes, characters, "
                                                            "expressions, moods, concepts (labels), quoted "
                                                            "phrases, words, ignored words")
    semantic: bool = Field(False, description="whether text embeddings mapped words to labels")
    notes: list[str] = []
