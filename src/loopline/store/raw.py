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

_ROWS_PER_STATEMENT = 500
_MAX_VARIABLES = 30_000  # below SQLite's 32,766 and PostgreSQL's 65,535


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
    """Insert many rows as multi-row ``VALUES`` statements (about twice as fast as
    ``executemany`` on SQLite: one statement per chunk instead of one per row)."""
    if not rows:
        return
    chunk = max(1, min(_ROWS_PER_STATEMENT, _MAX_VARIABLES // len(columns)))
    row_marks = f"({placeholders(len(columns))})"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    full_sql = _adapt(conn, head + ", ".join([row_marks] * chunk))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            sql = (
                full_sql
                if len(part) == chunk
                else _adapt(conn, head + ", ".join([row_marks] * len(part)))
            )
            cursor.execute(sql, [value for row in part for value in row])
    finally:
        cursor.close()
