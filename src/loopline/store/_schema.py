"""The metadata schema (SQLAlchemy Core). Every change here comes with an Alembic migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

__all__ = ["HEAD_REVISION", "data_versions", "metadata"]

# The Alembic revision that ``metadata`` describes; a new store is created at it directly.
HEAD_REVISION = "0001_data_versions"

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
