"""engine: exact frame times per video, failed analyses

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('videos') as b:
        # presentation time of every frame (float64 little-endian, zlib), for VFR-exact readers
        b.add_column(sa.Column('frame_times', sa.LargeBinary(), nullable=True))
    op.create_table('analysis_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('stages', sa.JSON(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False, server_default='1'),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('path', name='uq_failure_path'),
    )
    op.create_index('ix_analysis_failures_fingerprint', 'analysis_failures', ['fingerprint'])


def downgrade() -> None:
    op.drop_index('ix_analysis_failures_fingerprint', table_name='analysis_failures')
    op.drop_table('analysis_failures')
    with op.batch_alter_table('videos') as b:
        b.drop_column('frame_times')
