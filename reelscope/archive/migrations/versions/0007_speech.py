"""speech: transcript segments and words

Revision ID: 0007_speech
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_speech'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transcript_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Float(), nullable=False),
    sa.Column('end_time', sa.Float(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('language_probability', sa.Float(), nullable=True),
    sa.Column('avg_logprob', sa.Float(), nullable=True),
    sa.Column('no_speech_prob', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('transcript_segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_segments_video_id'), ['video_id'], unique=False)

    op.create_table('transcript_words',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('word', sa.String(length=128), nullable=False),
    sa.Column('norm', sa.String(length=128), nullable=False),
    sa.Column('start_time', sa.Float(), nullable=False),
    sa.Column('end_time', sa.Float(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['segment_id'], ['transcript_segments.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('transcript_words', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_words_norm'), ['norm'], unique=False)
        batch_op.create_index(batch_op.f('ix_transcript_words_segment_id'), ['segment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transcript_words_video_id'), ['video_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('transcript_words', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transcript_words_video_id'))
        batch_op.drop_index(batch_op.f('ix_transcript_words_segment_id'))
        batch_op.drop_index(batch_op.f('ix_transcript_words_norm'))
    op.drop_table('transcript_words')
    with op.batch_alter_table('transcript_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transcript_segments_video_id'))
    op.drop_table('transcript_segments')
