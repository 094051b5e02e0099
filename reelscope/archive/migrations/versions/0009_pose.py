"""pose: person tracks, poses (17 keypoints) and actions

Revision ID: 0009_pose
Revises: 0008_jobs
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_pose'
down_revision = '0008_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pose_tracks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('shot_idx', sa.Integer(), nullable=False),
    sa.Column('first_frame', sa.Integer(), nullable=False),
    sa.Column('last_frame', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('face_track_id', sa.Integer(), nullable=True),
    sa.Column('character_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['face_track_id'], ['face_tracks.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pose_tracks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pose_tracks_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pose_tracks_face_track_id'), ['face_track_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pose_tracks_video_id'), ['video_id'], unique=False)

    op.create_table('poses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=True),
    sa.Column('frame', sa.Integer(), nullable=False),
    sa.Column('time', sa.Float(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('w', sa.Float(), nullable=False),
    sa.Column('h', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('keypoints', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['track_id'], ['pose_tracks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('poses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poses_track_id'), ['track_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_poses_video_id'), ['video_id'], unique=False)

    op.create_table('pose_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('shot_idx', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('start_frame', sa.Integer(), nullable=False),
    sa.Column('end_frame', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Float(), nullable=False),
    sa.Column('end_time', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['track_id'], ['pose_tracks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pose_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pose_actions_label'), ['label'], unique=False)
        batch_op.create_index(batch_op.f('ix_pose_actions_track_id'), ['track_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pose_actions_video_id'), ['video_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pose_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pose_actions_video_id'))
        batch_op.drop_index(batch_op.f('ix_pose_actions_track_id'))
        batch_op.drop_index(batch_op.f('ix_pose_actions_label'))
    op.drop_table('pose_actions')
    with op.batch_alter_table('poses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poses_video_id'))
        batch_op.drop_index(batch_op.f('ix_poses_track_id'))
    op.drop_table('poses')
    with op.batch_alter_table('pose_tracks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pose_tracks_video_id'))
        batch_op.drop_index(batch_op.f('ix_pose_tracks_face_track_id'))
        batch_op.drop_index(batch_op.f('ix_pose_tracks_character_id'))
    op.drop_table('pose_tracks')
