"""videos, analysis runs, transitions, shots, keyframes

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("container", sa.String(64), nullable=False),
        sa.Column("codec", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("rotation", sa.Integer, nullable=False),
        sa.Column("fps_num", sa.Integer, nullable=False),
        sa.Column("fps_den", sa.Integer, nullable=False),
        sa.Column("frame_count", sa.Integer, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("variable_frame_rate", sa.Boolean, nullable=False),
        sa.Column("has_audio", sa.Boolean, nullable=False),
        sa.Column("audio_codec", sa.String(64), nullable=True),
        sa.Column("audio_rate", sa.Integer, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_videos_fingerprint", "videos", ["fingerprint"], unique=True)
    op.create_table(
        "analysis_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("reelscope_version", sa.String(32), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.UniqueConstraint("video_id", "stage", name="uq_run_video_stage"),
    )
    op.create_index("ix_analysis_runs_video_id", "analysis_runs", ["video_id"])
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("start_frame", sa.Integer, nullable=False),
        sa.Column("end_frame", sa.Integer, nullable=False),
        sa.Column("boundary_frame", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("detector", sa.String(32), nullable=False),
    )
    op.create_index("ix_transitions_video_id", "transitions", ["video_id"])
    op.create_table(
        "shots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("start_frame", sa.Integer, nullable=False),
        sa.Column("end_frame", sa.Integer, nullable=False),
        sa.Column("start_time", sa.Float, nullable=False),
        sa.Column("end_time", sa.Float, nullable=False),
        sa.Column("transition_in", sa.String(16), nullable=True),
        sa.Column("transition_out", sa.String(16), nullable=True),
        sa.UniqueConstraint("video_id", "idx", name="uq_shot_video_idx"),
    )
    op.create_index("ix_shots_video_start", "shots", ["video_id", "start_frame"])
    op.create_table(
        "keyframes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shot_id", sa.Integer, sa.ForeignKey("shots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("frame", sa.Integer, nullable=False),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("image", sa.String(512), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("sharpness", sa.Float, nullable=True),
    )
    op.create_index("ix_keyframes_shot_id", "keyframes", ["shot_id"])


def downgrade() -> None:
    for t in ("keyframes", "shots", "transitions", "analysis_runs", "videos"):
        op.drop_table(t)
