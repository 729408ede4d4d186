"""A covering index for metric histories (read from the index alone, in step order).

Revision ID: 0005_covering_metric_index
Revises: 0004_logged_models
"""

from alembic import op

revision = "0005_covering_metric_index"
down_revision = "0004_logged_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_metrics_history", "metrics", ["run_id", "key", "step", "timestamp", "value", "is_nan"]
    )
    op.drop_index("ix_metrics_run_key_step", table_name="metrics")


def downgrade() -> None:
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.drop_index("ix_metrics_history", table_name="metrics")
