"""Driver-level reads and bulk inserts for the few hot paths where SQLAlchemy's per-row
processing dominates (metric history, loading a page of runs, a 10,000-point batch).

SQL is written with ``?`` placeholders and adapted to the driver's style; it runs on the same
DBAPI connection, so it takes part in the surrounding transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

__all__ = ["fetch_rows", "insert_rows", "placeholders"]


def _adapt(conn: Connection, sql: str) -> str:
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def placeholders(count: int) -> str:
    """``?, ?, ?`` for an IN list of ``count`` values."""
    return ", ".join("?" * count)


def fetch_rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_adapt(conn, sql), tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if not rows:
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(len(columns))})"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(_adapt(conn, sql), rows)
    finally:
        cursor.close()
