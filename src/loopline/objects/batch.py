"""Writing many new objects together: stage each under ``tmp/``, flush once, then publish.

One ``syncfs`` for the whole batch instead of an ``fsync`` per object is what makes adding
20,000 small files affordable; until ``commit`` renames them, no staged object is visible, so a
killed process leaves only debris in ``tmp/`` (swept by ``gc``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from loopline.objects._copy import copy_into_object, write_object_bytes
from loopline.objects.build import BuiltObject, build_object
from loopline.objects.odb import ObjectStore, PendingObject, syncfs
from loopline.objects.state import StateCache

__all__ = ["ObjectBatch", "store_files", "store_path"]


class ObjectBatch:
    """Objects being added together; thread-safe, each object written at most once."""

    def __init__(self, odb: ObjectStore) -> None:
        self.odb = odb
        self._staged: dict[str, Path | None] = {}
        self._lock = threading.Lock()
        odb.tmp_dir.mkdir(parents=True, exist_ok=True)

    def _claim(self, oid: str) -> bool:
        with self._lock:
            if oid in self._staged:
                return False
            self._staged[oid] = None
        # An object already in the store stays claimed (as None): nothing to publish.
        return not self.odb.exists(oid)

    def _staged_as(self, oid: str, tmp: Path | None) -> None:
        with self._lock:
            if tmp is None:
                del self._staged[oid]
            else:
                self._staged[oid] = tmp

    def add_bytes(self, data: bytes, oid: str) -> None:
        """Stage bytes already hashed to ``oid`` (the caller read and hashed them)."""
        if not self._claim(oid):
            return
        tmp = self.odb.new_tmp_path(oid)
        try:
            write_object_bytes(tmp, data)
        except BaseException:
            self._staged_as(oid, None)
            raise
        self._staged_as(oid, tmp)

    def add_file(self, item: PendingObject) -> int:
        """Stage a workspace file; returns the bytes copied (0 if the object exists)."""
        if not self._claim(item.oid):
            return 0
        tmp = self.odb.new_tmp_path(item.oid)
        try:
            copy_into_object(item, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            self._staged_as(item.oid, None)
            raise
        self._staged_as(item.oid, tmp)
        return item.size

    def add_files(
        self,
        items: Iterable[PendingObject],
        *,
        jobs: int,
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        items = list(items)
        # A damaged copy already in the cache is quarantined here, so the file is stored anew.
        for oid in self.odb.find_corrupt(i.oid for i in items):
            with self._lock:
                if self._staged.get(oid, 0) is None:
                    del self._staged[oid]
        todo = [i for i in items if i.oid not in self._staged]

        def stage(item: PendingObject) -> None:
            copied = self.add_file(item)
            if on_done is not None:
                on_done(copied)

        if len(todo) < 8 or jobs <= 1:
            for item in todo:
                stage(item)
            return
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for _ in pool.map(stage, todo, chunksize=32):
                pass

    @property
    def pending(self) -> int:
        return sum(1 for tmp in self._staged.values() if tmp is not None)

    def commit(self) -> int:
        """Make every staged object durable and visible; returns how many were new."""
        staged = [(tmp, oid) for oid, tmp in self._staged.items() if tmp is not None]
        if staged:
            syncfs(self.odb.tmp_dir)
            self.odb.publish(staged)
        self._staged.clear()
        return len(staged)

    def discard(self) -> None:
        for tmp in self._staged.values():
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        self._staged.clear()

    def __enter__(self) -> ObjectBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()


def store_files(
    odb: ObjectStore,
    pending: Iterable[PendingObject],
    *,
    jobs: int,
    on_done: Callable[[int], None] | None = None,
) -> int:
    """Copy workspace files into the store as one batch; returns the number of new objects."""
    with ObjectBatch(odb) as batch:
        batch.add_files(pending, jobs=jobs, on_done=on_done)
        return batch.commit()


def store_path(
    root: Path, relpath: str, state: StateCache, odb: ObjectStore, *, jobs: int
) -> tuple[BuiltObject, int]:
    """Hash ``root/relpath`` and store it, with its manifest if it is a folder, as one batch
    (small files are staged from the bytes hashing read); returns it and the new objects."""
    with ObjectBatch(odb) as batch:
        built = build_object(
            root, relpath, state, odb=odb, with_files=True, jobs=jobs, stage=batch.add_bytes
        )
        batch.add_files(built.files, jobs=jobs)
        new = batch.commit()
    if built.manifest is not None:
        odb.add_manifest(built.manifest)
    return built, new
