"""ORM models for the archive (the data model in DESIGN.md). Frame indices are the truth;
times are stored alongside for convenience and are exact per-frame pts for VFR sources."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String,
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

    runs: Mapped[list["AnalysisRun"]] = relationship(back_populates="video", cascade="all, delete-orphan",
                                                      order_by="AnalysisRun.id")
    shots: Mapped[list["Shot"]] = relationship(back_populates="video", cascade="all, delete-orphan",
                                                order_by="Shot.idx")
    transitions: Mapped[list["Transition"]] = relationship(back_populates="video", cascade="all, delete-orphan",
                                                            order_by="Transition.boundary_frame")

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
