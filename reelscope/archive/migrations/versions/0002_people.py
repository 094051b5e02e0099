"""faces, tracks, characters, identities, label log

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('label_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('undone', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('characters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('idx', sa.Integer(), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=True),
    sa.Column('naming', sa.String(length=16), nullable=False),
    sa.Column('match_distance', sa.Float(), nullable=True),
    sa.Column('screen_time', sa.Float(), nullable=False),
    sa.Column('first_frame', sa.Integer(), nullable=False),
    sa.Column('last_frame', sa.Integer(), nullable=False),
    sa.Column('first_time', sa.Float(), nullable=False),
    sa.Column('last_time', sa.Float(), nullable=False),
    sa.Column('thumbnail', sa.String(length=512), nullable=True),
    sa.Column('expressions', sa.JSON(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_characters_identity_id'), ['identity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_characters_video_id'), ['video_id'], unique=False)

    op.create_table('face_tracks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=True),
    sa.Column('shot_idx', sa.Integer(), nullable=False),
    sa.Column('first_frame', sa.Integer(), nullable=False),
    sa.Column('last_frame', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('face_tracks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_tracks_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_tracks_video_id'), ['video_id'], unique=False)

    op.create_table('identity_references',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=True),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['identity_id'], ['identities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identity_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_references_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_references_identity_id'), ['identity_id'], unique=False)

    op.create_table('faces',
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
    sa.Column('embedding', sa.LargeBinary(), nullable=True),
    sa.Column('expression', sa.String(length=16), nullable=True),
    sa.Column('expression_scores', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['track_id'], ['face_tracks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['video_id'], ['videos.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('faces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_faces_track_id'), ['track_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_faces_video_id'), ['video_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('faces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_faces_video_id'))
        batch_op.drop_index(batch_op.f('ix_faces_track_id'))

    op.drop_table('faces')
    with op.batch_alter_table('identity_references', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_references_identity_id'))
        batch_op.drop_index(batch_op.f('ix_identity_references_character_id'))

    op.drop_table('identity_references')
    with op.batch_alter_table('face_tracks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_tracks_video_id'))
        batch_op.drop_index(batch_op.f('ix_face_tracks_character_id'))

    op.drop_table('face_tracks')
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_characters_video_id'))
        batch_op.drop_index(batch_op.f('ix_characters_identity_id'))

    op.drop_table('characters')
    op.drop_table('label_events')
    op.drop_table('identities')
