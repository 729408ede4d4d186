"""Telling a damaged SQLite store apart from other database failures, and saying how to recover.

SQLite reports a file that is not a database (garbage, a truncated header) as ``SQLITE_NOTADB``
and a database whose pages are broken as ``SQLITE_CORRUPT``; SQLAlchemy wraps both in its own
``DatabaseError``. Loopline turns them into :class:`DamagedStore`, whose message names the file
and whose hint says how to get going again without losing the project's data.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from loopline.core.errors import StoreError

__all__ = ["DamagedStore", "damaged_store_error"]

_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_MARKERS = ("file is not a database", "database disk image is malformed", "malformed")


class DamagedStore(StoreError):
    """The metadata store's file is not a readable SQLite database (garbage, truncated, corrupt)."""


def _is_damage(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    message = str(exc.orig).lower()
    return any(marker in message for marker in _MARKERS)


def damaged_store_error(engine: Engine, exc: DBAPIError) -> DamagedStore | None:
    """A :class:`DamagedStore` for ``exc`` when it says the SQLite file is damaged, else None."""
    if engine.dialect.name != "sqlite" or not _is_damage(exc):
        return None
    database = engine.url.database or ""
    path = Path(database)
    aside = f"{path}.damaged"
    return DamagedStore(
        f"the metadata store {path} is damaged ({exc.orig}); "
        "your data, pointer files and cache are not affected",
        hint=f"move it aside (`mv {path} {aside}`, and any {path.name}-wal/-shm beside it), "
        "then restore it from a backup, or let Loopline start an empty store on the next "
        "command: data versions are recorded again by the next `loopline add` of each path, "
        "while runs, registered models and older data versions stay only in the damaged copy "
        f"(`sqlite3 {aside} .recover | sqlite3 {path}` may salvage them)",
    )
