"""Monitoring evaluations: each scheduled judgement of a served model, with its inputs.

Revision ID: 0012_monitor_evaluations
Revises: 0011_monitor_reports
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_monitor_evaluations"
down_revision = "0011_monitor_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_evaluations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("window_start", sa.Float, nullable=True),
        sa.Column("window_end", sa.Float, nullable=True),
        sa.Column("logged_rows", sa.BigInteger, nullable=True),
        sa.Column("labelled_rows", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_monitor_evaluations_model", "monitor_evaluations", ["model", "id"])


def downgrade() -> None:
    op.drop_index("ix_monitor_evaluations_model", table_name="monitor_evaluations")
    op.drop_table("monitor_evaluations")
