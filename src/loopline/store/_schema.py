"""The metadata schema (SQLAlchemy Core). Every change here comes with an Alembic migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "HEAD_REVISION",
    "data_versions",
    "deployment_events",
    "deployments",
    "experiment_tags",
    "experiments",
    "latest_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metadata",
    "metrics",
    "model_version_tags",
    "model_versions",
    "monitor_evaluations",
    "monitor_reports",
    "params",
    "registered_model_aliases",
    "registered_model_tags",
    "registered_models",
    "rollouts",
    "run_data_versions",
    "run_tags",
    "runs",
]

# The Alembic revision that ``metadata`` describes; a new store is created at it directly.
HEAD_REVISION = "0012_monitor_evaluations"

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

data_versions = Table(
    "data_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", String(1024), nullable=False),
    Column("oid", String(80), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("nfiles", Integer, nullable=True),
    Column("git_commit", String(40), nullable=True),
    Column("recorded_at", Float, nullable=False),
    UniqueConstraint("path", "oid", name="uq_data_versions_path_oid"),
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("artifact_location", String(1024), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(5000), nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("run_name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("artifact_uri", String(1024), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("parent_run_id", String(32), nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(6000), nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    Index("ix_params_key_value", "key", "value"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(8000), nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("key", String(250), nullable=False),
    # NaN cannot round-trip through SQLite (it reads back as NULL): flagged separately.
    Column("value", Float, nullable=True),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    # Covering: a metric history is read from the index alone, already in step order.
    Index("ix_metrics_history", "run_id", "key", "step", "timestamp", "value", "is_nan"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float, nullable=True),
    Column("is_nan", Boolean, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

run_data_versions = Table(
    "run_data_versions",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id"), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("oid", String(80), nullable=False),
    PrimaryKeyConstraint("run_id", "path"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", String(5000), nullable=True),
    # The highest version number ever issued: numbers of deleted versions are never reused.
    Column("last_version", Integer, nullable=False, server_default="0"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(5000), nullable=False),
    PrimaryKeyConstraint("name", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", String(5000), nullable=True),
    Column("source", String(1024), nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("status", String(32), nullable=False),
    Column("status_message", String(500), nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("model_id", String(64), nullable=True),
    PrimaryKeyConstraint("name", "version"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(5000), nullable=False),
    PrimaryKeyConstraint("name", "version", "key"),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("name", String(256), ForeignKey("registered_models.name"), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("name", "alias"),
)

# MLflow 3 "logged models": a model logged by the mlflow client gets its own id (m-<hex>) and
# artifact folder; registry versions may point at it (source models:/m-<hex>).
logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column("experiment_id", Integer, nullable=False),
    Column("name", String(256), nullable=False),
    Column("source_run_id", String(32), nullable=True),
    Column("status", String(32), nullable=False),
    Column("status_message", String(500), nullable=True),
    Column("model_type", String(64), nullable=True),
    Column("artifact_location", String(1024), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_id", String(64), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(5000), nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_id", String(64), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", String(6000), nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

# A deployment: named variants (each a model URI) and the traffic policy between them, as JSON.
# ``revision`` rises with every change so model servers poll one integer to notice it.
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("variants", Text, nullable=False),
    Column("policy", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Every change of a deployment (and later every rollout decision) with its inputs, in order.
deployment_events = Table(
    "deployment_events",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("deployment", String(256), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_deployment_events_deployment", "deployment", "id"),
)

# A canary rollout of one candidate on one deployment. ``active_deployment`` holds the
# deployment's name while the rollout runs and NULL afterwards: its unique constraint makes a
# second concurrent rollout of the same deployment impossible. ``owner``/``lease_until`` is the
# controller lease, so two controllers never drive one rollout.
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("deployment", String(256), nullable=False),
    Column("active_deployment", String(256), nullable=True, unique=True),
    Column("candidate", String(64), nullable=False),
    Column("candidate_uri", String(1024), nullable=False),
    Column("phase", String(32), nullable=False),
    Column("weight", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("failed_checks", Integer, nullable=False),
    Column("spec", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("step_started_at", Float, nullable=False),
    Column("waiting_since", Float, nullable=True),
    Column("owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Index("ix_rollouts_deployment", "deployment", "started_at"),
)

# A monitoring report (drift of a served model's traffic, or of a table against another): its
# verdict in columns for listing, the whole result in a file under the store's reports folder.
monitor_reports = Table(
    "monitor_reports",
    metadata,
    Column("report_id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("model_name", String(256), nullable=True),
    Column("model_version", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("window_start", Float, nullable=True),
    Column("window_end", Float, nullable=True),
    Column("reference", String(1024), nullable=False),
    Column("n_reference", BigInteger, nullable=False),
    Column("n_current", BigInteger, nullable=False),
    Column("dataset_drift", Boolean, nullable=False),
    Column("drift_share", Float, nullable=False),
    Column("drifted_columns", Integer, nullable=False),
    Column("columns", Integer, nullable=False),
    Column("path", String(1024), nullable=False),
    Index("ix_monitor_reports_model", "model_name", "model_version", "created_at"),
)

# Each evaluation of a served model by ``loopline monitor run`` (performance, drift), with the
# window it judged and its full result as JSON: the CLI, alerts and the loop read one history.
monitor_evaluations = Table(
    "monitor_evaluations",
    metadata,
    Column("id", _BIG_ID, primary_key=True, autoincrement=True),
    Column("model", String(256), nullable=False),
    Column("version", String(64), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Column("window_start", Float, nullable=True),
    Column("window_end", Float, nullable=True),
    Column("logged_rows", BigInteger, nullable=True),
    Column("labelled_rows", BigInteger, nullable=True),
    Column("detail", Text, nullable=False),
    Index("ix_monitor_evaluations_model", "model", "id"),
)
