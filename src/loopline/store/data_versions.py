"""The data-versions aggregate: every content version of a tracked path, with when and where."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from loopline.core.errors import LooplineError
from loopline.store._schema import data_versions
from loopline.store._store import Store, open_store

__all__ = ["DataVersion", "list_data_versions", "record_data_versions", "record_data_versions_at"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataVersion:
    path: str
    oid: str
    size: int
    nfiles: int | None
    git_commit: str | None = None
    recorded_at: float = 0.0


def record_data_versions(store: Store, versions: Iterable[DataVersion]) -> int:
    """Record versions not seen before (one transaction); returns how many were new."""
    rows = list(versions)
    if not rows:
        return 0

    def change(conn: Connection) -> int:
        new = 0
        now = time.time()
        for v in rows:
            exists = conn.execute(
                select(data_versions.c.id).where(
                    data_versions.c.path == v.path, data_versions.c.oid == v.oid
                )
            ).first()
            if exists:
                continue
            try:
                with conn.begin_nested():
                    conn.execute(
                        data_versions.insert().values(
                            path=v.path,
                            oid=v.oid,
                            size=v.size,
                            nfiles=v.nfiles,
                            git_commit=v.git_commit,
                            recorded_at=v.recorded_at or now,
                        )
                    )
                new += 1
            except SAIntegrityError:
                pass  # a concurrent writer recorded the same version first
        return new

    return store.write(change)


def record_data_versions_at(store_url: str, versions: Iterable[DataVersion]) -> bool:
    """Record ``versions`` in the store at ``store_url``, for commands whose real work is done.

    The version history is bookkeeping beside the data: when the store cannot take it (damaged,
    unreachable), the command that already wrote pointers and cache must not fail, so this warns
    once with the cause and how to recover, and returns False.
    """
    rows = list(versions)
    if not rows:
        return True
    try:
        store = open_store(store_url)
        try:
            record_data_versions(store, rows)
        finally:
            store.close()
    except LooplineError as exc:  # damaged, unreachable, misconfigured, driver missing
        paths = ", ".join(sorted({v.path for v in rows}))
        log.warning("the data is tracked, but its version was not recorded for %s: %s", paths, exc)
        return False
    return True


def list_data_versions(store: Store, path: str | None = None) -> list[DataVersion]:
    """Recorded versions, newest first; all paths unless ``path`` is given."""
    query = select(data_versions).order_by(
        data_versions.c.recorded_at.desc(), data_versions.c.id.desc()
    )
    if path is not None:
        query = query.where(data_versions.c.path == path)

    def run(conn: Connection) -> list[DataVersion]:
        return [
            DataVersion(r.path, r.oid, r.size, r.nfiles, r.git_commit, r.recorded_at)
            for r in conn.execute(query)
        ]

    return store.read(run)
