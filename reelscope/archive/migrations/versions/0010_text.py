"""on-screen text: text spans and the lines read on sampled frames

Revision ID: 0010_text
Revises: 0009_pose
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_text'
down_revision = '0009_pose'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('text_spans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('shot_idx', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('w', sa.Float(), nullable=False),
    sa.Column('h', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('first_frame', sa.Integer(), nullable=False),
    sa.Column('last_frame', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.Float(), nullable=False),
    sa.Column('end_time', sa.Float(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('readings', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_text_spans_video_id', 'text_spans', ['video_id'])
    op.create_table('text_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('span_id', sa.Integer(), nullable=True),
    sa.Column('frame', sa.Integer(), nullable=False),
    sa.Column('time', sa.Float(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('w', sa.Float(), nullable=False),
    sa.Column('h', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('carried', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['span_id'], ['text_spans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_text_lines_video_id', 'text_lines', ['video_id'])
    op.create_index('ix_text_lines_span_id', 'text_lines', ['span_id'])


def downgrade() -> None:
    op.drop_index('ix_text_lines_span_id', table_name='text_lines')
    op.drop_index('ix_text_lines_video_id', table_name='text_lines')
    op.drop_table('text_lines')
    op.drop_index('ix_text_spans_video_id', table_name='text_spans')
    op.drop_table('text_spans')
