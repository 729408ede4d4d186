"""Data versions: every version of a tracked path that `loopline add` recorded.

Revision ID: 0001_data_versions
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_data_versions"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("oid", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("nfiles", sa.Integer, nullable=True),
        sa.Column("git_commit", sa.String(40), nullable=True),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.UniqueConstraint("path", "oid", name="uq_data_versions_path_oid"),
    )


def downgrade() -> None:
    op.drop_table("data_versions")
