"""Logged models (MLflow 3): models with their own id and artifact folder, plus tags and params.

Revision ID: 0004_logged_models
Revises: 0003_registry
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_logged_models"
down_revision = "0003_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.String(500), nullable=True),
        sa.Column("model_type", sa.String(64), nullable=True),
        sa.Column("artifact_location", sa.String(1024), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "logged_model_tags",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(5000), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key"),
    )
    op.create_table(
        "logged_model_params",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(6000), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "key"),
    )


def downgrade() -> None:
    for table in ("logged_model_params", "logged_model_tags", "logged_models"):
        op.drop_table(table)
