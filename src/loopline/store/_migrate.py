"""Bringing a database to the current schema.

A new database is created from the metadata in one transaction and stamped with the head
revision (a fraction of the time replaying every migration takes); an existing one older than
head is upgraded by Alembic.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from loopline.core.errors import StoreError
from loopline.store._schema import HEAD_REVISION, metadata

__all__ = ["current_revision", "ensure_schema", "run_alembic_upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 7_305_001  # advisory lock serialising schema creation across processes


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        revision = current_revision(conn)
        if revision == HEAD_REVISION:
            return
        if revision is None:
            if inspect(conn).get_table_names():
                raise StoreError(
                    "the database already holds tables but no Loopline schema version",
                    hint="point store.url at an empty database or one Loopline created",
                )
            metadata.create_all(conn)
            conn.execute(
                text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
            )
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": HEAD_REVISION})
            return
    run_alembic_upgrade(engine)


def run_alembic_upgrade(engine: Engine, target: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, target)
