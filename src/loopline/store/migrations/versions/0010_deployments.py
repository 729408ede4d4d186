"""Deployments (variants + traffic policy), their history of changes, and canary rollouts.

Revision ID: 0010_deployments
Revises: 0006_model_version_counter
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_deployments"
down_revision = "0006_model_version_counter"
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
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("active_deployment", sa.String(256), nullable=True, unique=True),
        sa.Column("candidate", sa.String(64), nullable=False),
        sa.Column("candidate_uri", sa.String(1024), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("weight", sa.Integer, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("failed_checks", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("step_started_at", sa.Float, nullable=False),
        sa.Column("waiting_since", sa.Float, nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
    )
    op.create_index("ix_rollouts_deployment", "rollouts", ["deployment", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_rollouts_deployment", table_name="rollouts")
    op.drop_table("rollouts")
    op.drop_index("ix_deployment_events_deployment", table_name="deployment_events")
    op.drop_table("deployment_events")
    op.drop_table("deployments")
