"""shot size per shot

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shots") as batch:
        batch.add_column(sa.Column("size", sa.String(4), nullable=True))
        batch.add_column(sa.Column("size_confidence", sa.Float, nullable=True))
        batch.add_column(sa.Column("size_evidence", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shots") as batch:
        batch.drop_column("size_evidence")
        batch.drop_column("size_confidence")
        batch.drop_column("size")
