"""The metadata store: one schema (SQLAlchemy Core, Alembic migrations) on SQLite or PostgreSQL.

Owns: engines (SQLite in WAL mode with ``BEGIN IMMEDIATE`` writes; PostgreSQL through psycopg 3),
schema creation and migration, transactional writes with retry, and one module per aggregate
(``data_versions`` so far). A damaged SQLite file is reported as :class:`DamagedStore` (a
``StoreError``) with how to recover, never as a raw database error.

May import: ``loopline.core``, SQLAlchemy, Alembic (only when a migration must run).
Capabilities reach tables only through the aggregate modules here.
"""

from loopline.store._damage import DamagedStore
from loopline.store._store import Store, open_store
from loopline.store.data_versions import (
    DataVersion,
    list_data_versions,
    record_data_versions,
    record_data_versions_at,
)

__all__ = [
    "DamagedStore",
    "DataVersion",
    "Store",
    "list_data_versions",
    "open_store",
    "record_data_versions",
    "record_data_versions_at",
]
