"""The handle every capability uses to reach the metadata database."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from loopline.core.errors import StoreError
from loopline.store import _engine
from loopline.store._damage import damaged_store_error
from loopline.store._engine import make_engine
from loopline.store._migrate import ensure_schema
from loopline.store._trouble import sqlite_trouble, waiting_notice

__all__ = ["Store", "open_store"]

T = TypeVar("T")
_RETRIES = 8


class Store:
    """A migrated database; ``write`` runs one logical change in one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def write(self, change: Callable[[Connection], T]) -> T:
        """Run ``change`` in a transaction, retrying if a concurrent writer got in the way."""
        for attempt in range(_RETRIES):
            started = time.monotonic()
            try:
                with waiting_notice(self.engine), self.engine.begin() as conn:
                    return change(conn)
            except OperationalError as exc:
                waited_out = (
                    self.dialect == "sqlite"
                    and time.monotonic() - started >= 0.9 * _engine._BUSY_TIMEOUT_MS / 1000
                )
                if not _is_transient(exc) or attempt == _RETRIES - 1 or waited_out:
                    # A lock held through SQLite's whole busy wait is not a passing clash.
                    raise _store_error(self.engine, exc) from None
                time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
            except DatabaseError as exc:
                damaged = damaged_store_error(self.engine, exc)
                if damaged is None:
                    raise
                raise damaged from None
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, query: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn:
                return query(conn)
        except DBAPIError as exc:
            raise _store_error(self.engine, exc) from None

    def close(self) -> None:
        self.engine.dispose()


def _is_transient(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return any(
        marker in message
        for marker in ("database is locked", "deadlock detected", "could not serialize", "busy")
    )


def _store_error(engine: Engine, exc: DBAPIError) -> StoreError:
    known = damaged_store_error(engine, exc) or sqlite_trouble(engine, exc)
    if known is not None:
        return known
    return StoreError(
        f"the metadata store at {engine.url.render_as_string(hide_password=True)} "
        f"failed: {exc.orig}",
        hint="check that the database is reachable and not full; for SQLite check the disk",
    )


def open_store(url: str) -> Store:
    """Connect to the store at ``url`` and bring its schema up to date."""
    engine = make_engine(url)
    try:
        with waiting_notice(engine):
            ensure_schema(engine)
    except DBAPIError as exc:
        engine.dispose()
        known = damaged_store_error(engine, exc) or sqlite_trouble(engine, exc)
        if known is not None:
            raise known from None
        if not isinstance(exc, OperationalError):
            raise
        raise StoreError(
            f"cannot open the metadata store at "
            f"{engine.url.render_as_string(hide_password=True)}: {exc.orig}",
            hint="check store.url (`LOOPLINE_STORE_URL`), that the server runs and accepts you",
        ) from None
    return Store(engine)
