"""Monitoring reports: the verdict of each drift report, linked to the model version it judged.

Revision ID: 0011_monitor_reports
Revises: 0010_deployments
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_monitor_reports"
down_revision = "0010_deployments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_reports",
        sa.Column("report_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(256), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("window_start", sa.Float, nullable=True),
        sa.Column("window_end", sa.Float, nullable=True),
        sa.Column("reference", sa.String(1024), nullable=False),
        sa.Column("n_reference", sa.BigInteger, nullable=False),
        sa.Column("n_current", sa.BigInteger, nullable=False),
        sa.Column("dataset_drift", sa.Boolean, nullable=False),
        sa.Column("drift_share", sa.Float, nullable=False),
        sa.Column("drifted_columns", sa.Integer, nullable=False),
        sa.Column("columns", sa.Integer, nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
    )
    op.create_index(
        "ix_monitor_reports_model",
        "monitor_reports",
        ["model_name", "model_version", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_monitor_reports_model", table_name="monitor_reports")
    op.drop_table("monitor_reports")
