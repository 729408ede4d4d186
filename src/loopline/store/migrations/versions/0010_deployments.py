"""Deployments (variants + traffic policy) and their history of changes.

Revision ID: 0010_deployments
Revises: 0005_covering_metric_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_deployments"
down_revision = "0005_covering_metric_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("variants", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "deployment_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_deployment_events_deployment", "deployment_events", ["deployment", "id"])


def downgrade() -> None:
    op.drop_index("ix_deployment_events_deployment", table_name="deployment_events")
    op.drop_table("deployment_events")
    op.drop_table("deployments")
