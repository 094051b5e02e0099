"""ORM models for the archive (the data model in DESIGN.md). Frame indices are the truth;
times are stored alongside for convenience and are exact per-frame pts for VFR sources."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Video(Base):
    __tablename__ = "videos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    path: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(512))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    container: Mapped[str] = mapped_column(String(64))
    codec: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    fps_num: Mapped[int] = mapped_column(Integer)
    fps_den: Mapped[int] = mapped_column(Integer)
    frame_count: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float] = mapped_column(Float)
    variable_frame_rate: Mapped[bool] = mapped_column(Boolean, default=False)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    audio_codec: Mapped[str | None] = mapped_column(String(64), nullable=True)
    audio_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # presentation time of every frame (migration 0005): float64 LE, zlib; see archive.shots_io
    frame_times: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)

    runs: Mapped[list["AnalysisRun"]] = relationship(back_populates="video", cascade="all, delete-orphan",
                                                      order_by="AnalysisRun.id")
    shots: Mapped[list["Shot"]] = relationship(back_populates="video", cascade="all, delete-orphan",
                                                order_by="Shot.idx")
    transitions: Mapped[list["Transition"]] = relationship(back_populates="video", cascade="all, delete-orphan",
                                                            order_by="Transition.boundary_frame")
    characters: Mapped[list["Character"]] = relationship(viewonly=True, order_by="Character.idx")
    # read-only views for exports (rows are written by the stage writers of reelscope.archive.*_io)
    audio_segments: Mapped[list["AudioSegment"]] = relationship(viewonly=True, order_by="AudioSegment.start_time")
    curves: Mapped[list["Curve"]] = relationship(viewonly=True, order_by="Curve.name")
    shot_tags: Mapped[list["Tag"]] = relationship(
        viewonly=True, primaryjoin="and_(Video.id == foreign(Tag.video_id), Tag.frame.is_(None))",
        order_by="(Tag.shot_idx, Tag.score.desc())")
    object_tracks: Mapped[list["ObjectTrack"]] = relationship(
        viewonly=True, order_by="[ObjectTrack.shot_idx, ObjectTrack.first_frame, ObjectTrack.id]")

    @property
    def fps(self) -> float:
        return self.fps_num / self.fps_den


class AnalysisRun(Base):
    """One stage run on one video: what ran, with which parameters and model versions."""
    __tablename__ = "analysis_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="complete")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    models: Mapped[dict] = mapped_column(JSON, default=dict)
    reelscope_version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    video: Mapped[Video] = relationship(back_populates="runs")
    __table_args__ = (UniqueConstraint("video_id", "stage", name="uq_run_video_stage"),)


class Transition(Base):
    __tablename__ = "transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    boundary_frame: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float, default=1.0)
    detector: Mapped[str] = mapped_column(String(32), default="")
    video: Mapped[Video] = relationship(back_populates="transitions")


class Shot(Base):
    __tablename__ = "shots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)  # time at which the next shot starts
    transition_in: Mapped[str | None] = mapped_column(String(16), nullable=True)
    transition_out: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # shot size (migration 0003): ECU | CU | MS | FS | LS, its confidence and the evidence used
    size: Mapped[str | None] = mapped_column(String(4), nullable=True)
    size_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    size_evidence: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # emotion / importance (migration 0004): per-shot means and the 0..1 highlight score
    importance: Mapped[float | None] = mapped_column(Float, nullable=True)
    emotion: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # {valence, arousal, dominant, ...}
    # mood of the shot's keyframe (migration 0004): one of the 8 moods of reelscope.mood
    mood: Mapped[str | None] = mapped_column(String(16), nullable=True)
    mood_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    mood_scores: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    video: Mapped[Video] = relationship(back_populates="shots")
    keyframes: Mapped[list["Keyframe"]] = relationship(back_populates="shot", cascade="all, delete-orphan",
                                                        order_by="Keyframe.frame")
    __table_args__ = (UniqueConstraint("video_id", "idx", name="uq_shot_video_idx"),
                      Index("ix_shots_video_start", "video_id", "start_frame"))

    @property
    def length(self) -> int:
        return self.end_frame - self.start_frame + 1


class Keyframe(Base):
    __tablename__ = "keyframes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shot_id: Mapped[int] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"), index=True)
    frame: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))  # middle | sharpest
    image: Mapped[str] = mapped_column(String(512))  # path relative to the media store
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float | None] = mapped_column(Float, nullable=True)
    shot: Mapped[Shot] = relationship(back_populates="keyframes")


# ---- people: faces, tracks, characters, identities (migration 0002) ---------------------------

class Face(Base):
    """One detected face on one sampled frame."""
    __tablename__ = "faces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("face_tracks.id", ondelete="CASCADE"), nullable=True,
                                                 index=True)
    frame: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # float32 little-endian
    expression: Mapped[str | None] = mapped_column(String(16), nullable=True)
    expression_scores: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class FaceTrack(Base):
    """One appearance of one face inside a shot."""
    __tablename__ = "face_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[int | None] = mapped_column(ForeignKey("characters.id", ondelete="SET NULL"),
                                                     nullable=True, index=True)
    shot_idx: Mapped[int] = mapped_column(Integer)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)


class Character(Base):
    """A person within one video: clustered face tracks; optionally an Identity of the gallery."""
    __tablename__ = "characters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id", ondelete="SET NULL"),
                                                    nullable=True, index=True)
    naming: Mapped[str] = mapped_column(String(16), default="unknown")  # unknown | named | recognised
    match_distance: Mapped[float | None] = mapped_column(Float, nullable=True)
    screen_time: Mapped[float] = mapped_column(Float)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    first_time: Mapped[float] = mapped_column(Float)
    last_time: Mapped[float] = mapped_column(Float)
    thumbnail: Mapped[str | None] = mapped_column(String(512), nullable=True)
    expressions: Mapped[dict] = mapped_column(JSON, default=dict)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=1)
    identity: Mapped["Identity | None"] = relationship(lazy="joined")
    __mapper_args__ = {"version_id_col": version}


class Identity(Base):
    """A named person in the archive's gallery."""
    __tablename__ = "identities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    references: Mapped[list["IdentityReference"]] = relationship(back_populates="identity",
                                                                 cascade="all, delete-orphan")


class IdentityReference(Base):
    """A reference embedding of an identity: from a named character or from a photo."""
    __tablename__ = "identity_references"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(512))  # "character:<id>" | "photo:<path>"
    # SET NULL: a reference survives re-analysis of its video (the name is not lost)
    character_id: Mapped[int | None] = mapped_column(ForeignKey("characters.id", ondelete="SET NULL"),
                                                     nullable=True, index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    identity: Mapped[Identity] = relationship(back_populates="references")


class LabelEvent(Base):
    """The labeling log: every naming, merge, split or photo added, with what it changed (for undo)."""
    __tablename__ = "label_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)


# ---- audio, emotion, importance, summaries (migration 0004; issue 6) --------------------------

class AudioSegment(Base):
    """A span of the soundtrack: speech | music | silence | other, with its loudness and arousal."""
    __tablename__ = "audio_segments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    loudness: Mapped[float | None] = mapped_column(Float, nullable=True)  # LUFS (EBU R128 integrated)
    arousal: Mapped[float | None] = mapped_column(Float, nullable=True)  # 0..1
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class Curve(Base):
    """A signal sampled evenly over a video's time: values[i] is at t0 + i * step seconds.

    Names in use: ``audio.loudness`` (LUFS, momentary), ``audio.arousal``, ``emotion.valence``,
    ``emotion.arousal``, ``emotion.face_valence``, ``emotion.face_arousal``, ``importance``, ...
    ``data`` holds extras such as per-sample dominant emotion labels."""
    __tablename__ = "curves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    t0: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[float] = mapped_column(Float)
    values: Mapped[list] = mapped_column(JSON)
    unit: Mapped[str] = mapped_column(String(32), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    __table_args__ = (UniqueConstraint("video_id", "name", name="uq_curve_video_name"),)


class Summary(Base):
    """A highlight summary of a video: the chosen shots (or spans) and, once rendered, the file."""
    __tablename__ = "summaries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    target_seconds: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    segments: Mapped[list] = mapped_column(JSON)  # [{shot, start_frame, end_frame, start_time, end_time, score}]
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    media: Mapped[str | None] = mapped_column(String(512), nullable=True)  # rendered mp4, relative to the media store


# ---- objects and tags (migration 0004; issue 7) ------------------------------------------------

class ObjectTrack(Base):
    """One object followed across sampled frames within a shot."""
    __tablename__ = "object_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    shot_idx: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(64), index=True)
    class_id: Mapped[int] = mapped_column(Integer)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    detections: Mapped[int] = mapped_column(Integer, default=1)
    # read-only view for exports: the track's boxes, frame by frame
    detection_rows: Mapped[list["ObjectDetection"]] = relationship(
        viewonly=True, order_by="[ObjectDetection.frame, ObjectDetection.id]")


class ObjectDetection(Base):
    """One detected object on one sampled frame (boxes in source pixels, x, y, w, h)."""
    __tablename__ = "object_detections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("object_tracks.id", ondelete="CASCADE"),
                                                 nullable=True, index=True)
    frame: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(64), index=True)
    class_id: Mapped[int] = mapped_column(Integer)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)


class Tag(Base):
    """A label for a frame (``frame`` set) or aggregated over a shot (``frame`` null)."""
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    shot_idx: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frame: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time: Mapped[float | None] = mapped_column(Float, nullable=True)
    label: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(32))  # imagenet | coco | mood | ...
    score: Mapped[float] = mapped_column(Float)


class FrameEmbedding(Base):
    """An image embedding of a sampled frame (optional CLIP-like index for text-to-image search)."""
    __tablename__ = "frame_embeddings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    shot_idx: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frame: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(128))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 little-endian, L2-normalised


# ---- poses and actions (migration 0009_pose; issue 18) ------------------------------------------

class PoseTrack(Base):
    """One person followed across sampled frames within a shot (pose stage), linked to the face
    track whose boxes hold the person's head keypoints and to its character (null when unlinked,
    or when the faces were analysed again after the poses)."""
    __tablename__ = "pose_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    shot_idx: Mapped[int] = mapped_column(Integer)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)  # mean person score
    samples: Mapped[int] = mapped_column(Integer, default=1)
    face_track_id: Mapped[int | None] = mapped_column(ForeignKey("face_tracks.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    character_id: Mapped[int | None] = mapped_column(ForeignKey("characters.id", ondelete="SET NULL"),
                                                     nullable=True, index=True)


class Pose(Base):
    """One person's pose on one sampled frame: the box (video pixels, x, y, w, h), the person
    score and the 17 COCO keypoints as ``[x, y, score] * 17`` (reelscope.vision.pose.KEYPOINTS)."""
    __tablename__ = "poses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("pose_tracks.id", ondelete="CASCADE"),
                                                 nullable=True, index=True)
    frame: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    keypoints: Mapped[list] = mapped_column(JSON)


class PoseAction(Base):
    """An action of one person track over a span of frames (``label`` one of
    reelscope.vision.pose_actions.LABELS); also stored as Tag rows of source "action"."""
    __tablename__ = "pose_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("pose_tracks.id", ondelete="CASCADE"), index=True)
    shot_idx: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(32), index=True)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer, default=1)


# ---- on-screen text (migration 0010_text; issue 18) ----------------------------------------------

class TextSpan(Base):
    """One text line on screen over time: the same text at about the same place on successive
    sampled frames (``reelscope.vision.text_spans.merge_lines``). Box in display pixels."""
    __tablename__ = "text_spans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    shot_idx: Mapped[int | None] = mapped_column(Integer, nullable=True)  # shot of its first frame
    text: Mapped[str] = mapped_column(Text)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)  # mean recognition confidence
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)  # last sampled frame it was read on
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)  # the first sample without it, or the video's end
    samples: Mapped[int] = mapped_column(Integer)
    readings: Mapped[dict] = mapped_column(JSON, default=dict)  # text -> summed confidence


class TextLine(Base):
    """One text line read on one sampled frame (box x, y, w, h in display pixels). ``carried``:
    the picture had not changed since the previous sample, whose reading it repeats."""
    __tablename__ = "text_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    span_id: Mapped[int | None] = mapped_column(ForeignKey("text_spans.id", ondelete="CASCADE"),
                                                nullable=True, index=True)
    frame: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    carried: Mapped[bool] = mapped_column(Boolean, default=False)


# ---- mood (migration 0004; issue 8) -------------------------------------------------------------

class MusicTrack(Base):
    """A music file's analysis (cached by content fingerprint): tempo, energy, brightness, mode, mood."""
    __tablename__ = "music_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    path: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(512))
    duration: Mapped[float] = mapped_column(Float)
    tempo: Mapped[float | None] = mapped_column(Float, nullable=True)  # BPM
    beat_strength: Mapped[float | None] = mapped_column(Float, nullable=True)
    energy: Mapped[float | None] = mapped_column(Float, nullable=True)
    brightness: Mapped[float | None] = mapped_column(Float, nullable=True)
    mode: Mapped[str | None] = mapped_column(String(8), nullable=True)  # major | minor
    valence: Mapped[float | None] = mapped_column(Float, nullable=True)
    arousal: Mapped[float | None] = mapped_column(Float, nullable=True)
    mood: Mapped[str | None] = mapped_column(String(16), nullable=True)
    mood_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # beats, features, analyser version
    analysed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnalysisFailure(Base):
    """A file whose analysis failed (migration 0005): the latest error per path, kept until the path
    analyses cleanly; ``stage`` is the stage that raised (None: before any stage, e.g. probing)."""
    __tablename__ = "analysis_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str] = mapped_column(Text)  # one line
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # the traceback
    stages: Mapped[list | None] = mapped_column(JSON, nullable=True)  # what was asked, to retry
    params: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


# ---- speech (migration 0007_speech; issue 18) ----------------------------------------------------

class TranscriptSegment(Base):
    """A stretch of transcribed speech (speech stage): its text, language and times (seconds on the
    container clock, like frame times)."""
    __tablename__ = "transcript_segments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)  # order in the video
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)  # ISO 639-1 as Whisper names it
    language_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    avg_logprob: Mapped[float | None] = mapped_column(Float, nullable=True)
    no_speech_prob: Mapped[float | None] = mapped_column(Float, nullable=True)


class TranscriptWord(Base):
    """One transcribed word with its time; ``norm`` is the word lower-cased without surrounding
    punctuation (archive.speech_io.word_key), for word and phrase search."""
    __tablename__ = "transcript_words"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("transcript_segments.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)  # order in the video (phrases are consecutive idx)
    word: Mapped[str] = mapped_column(String(128))
    norm: Mapped[str] = mapped_column(String(128), index=True)
    start_time: Mapped[float] = mapped_column(Float)
    end_time: Mapped[float] = mapped_column(Float)
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)


# ---- jobs (migration 0008_jobs; issue 12) -------------------------------------------------------------

class Job(Base):
    """A long operation of the server (analysis, summary, slideshow, batch). The rows are the queue:
    a worker claims the oldest runnable one (reelscope.archive.jobs), so a restarted server knows
    what was queued and what was interrupted."""
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # queued | running | done | failed | cancelled | interrupted | planned (a slideshow waiting to be rendered)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(512))  # what it works on, for people (a file name)
    request: Mapped[dict] = mapped_column(JSON, default=dict)  # the kind's arguments
    upload: Mapped[str | None] = mapped_column(Text, nullable=True)  # its folder in ARCHIVE/uploads, if any
    stage: Mapped[str | None] = mapped_column(String(64), nullable=True)  # what it is doing now
    done: Mapped[int] = mapped_column(BigInteger, default=0)  # units of the stage, as the library reports them
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    fraction: Mapped[float] = mapped_column(Float, default=0.0)  # overall progress 0..1
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # as of progress_at
    progress_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    video_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no foreign key: jobs outlive videos
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # one sentence
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # the traceback
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # the latest event (interrupted, resumed)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(160), nullable=True)  # host:pid:token of the claimer
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times claimed
    restarts: Mapped[int] = mapped_column(Integer, default=0)  # times found running after its server died
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    interrupted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)
