"""Saying what stops a SQLite store from opening, in the user's terms.

SQLite reports a store another process holds locked as "database is locked" (after the busy
timeout), a folder named like the store as "unable to open database file" and a file it may
not write as "attempt to write a readonly database"; none of these is the database server or
the URL being wrong.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from loopline.core.errors import StoreError

__all__ = ["sqlite_trouble", "waiting_notice"]


def sqlite_trouble(engine: Engine, exc: DBAPIError) -> StoreError | None:
    """A :class:`StoreError` naming the cause of ``exc`` for a SQLite store, else None."""
    if engine.dialect.name != "sqlite":
        return None
    path = Path(engine.url.database or "")
    message = str(exc.orig).lower()
    if "database is locked" in message or "database table is locked" in message:
        return StoreError(
            f"the metadata store {path} is locked: another process holds its write lock "
            "and did not let go while Loopline waited",
            hint=f"wait for the other Loopline command (or sqlite3 session) using {path} to "
            f"finish, or stop it (`fuser {path}` shows which process has it open)",
        )
    if path.is_dir():
        return StoreError(
            f"the metadata store {path} is a directory, not a SQLite file",
            hint="move that folder away, or point the store at a file "
            "(store.url / LOOPLINE_STORE_URL = sqlite:///path/to/store.db)",
        )
    if "readonly" in message or "read-only" in message or "unable to open" in message:
        writable = os.access(path if path.exists() else path.parent, os.W_OK)
        return StoreError(
            f"the metadata store {path} cannot be written ({exc.orig})",
            hint=f"check the permissions of {path} and of its folder {path.parent} "
            f"(they must be writable by you{'' if writable else '; they are not'}), "
            "and that the disk is not mounted read-only",
        )
    return None


@contextlib.contextmanager
def waiting_notice(engine: Engine, after: float = 2.0) -> Iterator[None]:
    """On a terminal, say once that Loopline waits for another process's lock on a SQLite
    store when a transaction has not started after ``after`` seconds (SQLite waits silently)."""
    if engine.dialect.name != "sqlite" or not sys.stderr.isatty():
        yield
        return
    path = engine.url.database or ""
    timer = threading.Timer(
        after,
        lambda: print(
            f"waiting for the store lock on {path} (another process holds it)...",
            file=sys.stderr,
            flush=True,
        ),
    )
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
