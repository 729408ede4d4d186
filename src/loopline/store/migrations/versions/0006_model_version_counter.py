"""Registered models remember the highest version number they ever issued, so a deleted
version's number is never given to another model (as in MLflow).

Revision ID: 0006_model_version_counter
Revises: 0005_covering_metric_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_model_version_counter"
down_revision = "0005_covering_metric_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registered_models") as batch:
        batch.add_column(sa.Column("last_version", sa.Integer, nullable=False, server_default="0"))
    op.execute(
        "UPDATE registered_models SET last_version = COALESCE("
        "(SELECT MAX(version) FROM model_versions "
        "WHERE model_versions.name = registered_models.name), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("registered_models") as batch:
        batch.drop_column("last_version")
