"""Stage deps and outs on disk: hashing them, storing outs in the object store, restoring them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from loopline.core.errors import NotFound
from loopline.data.workspace import Workspace
from loopline.objects.build import build_object
from loopline.pipeline._lock import LockedPath
from loopline.pipeline._paths import check_writable

__all__ = [
    "PathHasher",
    "remove_path",
    "restore_outputs",
    "store_outputs",
    "unsaved_files",
]


class PathHasher:
    """What a workspace path hashes to now, memoised until :meth:`forget`."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._memo: dict[str, LockedPath | None] = {}

    def __call__(self, relpath: str, *, cache: bool = True) -> LockedPath | None:
        if relpath not in self._memo:
            try:
                built = build_object(
                    self.ws.root, relpath, self.ws.state, jobs=self.ws.settings.jobs
                )
            except NotFound:
                self._memo[relpath] = None
            else:
                self._memo[relpath] = LockedPath(
                    relpath, built.oid, built.size, built.nfiles, built.isexec
                )
        found = self._memo[relpath]
        if found is not None and not cache:
            return LockedPath(found.path, found.oid, found.size, found.nfiles, found.isexec, False)
        return found

    def forget(self) -> None:
        self._memo.clear()


def store_outputs(ws: Workspace, outs: Iterable[tuple[str, bool]]) -> list[LockedPath]:
    """Copy each ``(path, cache)`` out into the object store (``cache: false`` outs too: the run
    cache restores them) and describe it for the lock."""
    from loopline.objects.batch import store_path  # writing modules: only when a stage ran

    stored: list[LockedPath] = []
    for relpath, cache in outs:
        built, _ = store_path(ws.root, relpath, ws.state, ws.odb, jobs=ws.settings.jobs)
        stored.append(LockedPath(relpath, built.oid, built.size, built.nfiles, built.isexec, cache))
    return stored


def objects_present(ws: Workspace, outs: Iterable[LockedPath]) -> bool:
    """True if every object (and every file of every folder) is in the local store."""
    for out in outs:
        if not ws.odb.exists(out.oid):
            return False
        if out.nfiles is not None and not all(
            ws.odb.exists(e.hash) for e in ws.odb.read_manifest(out.oid).entries
        ):
            return False
    return True


def unsaved_files(ws: Workspace, relpath: str) -> list[str]:
    """The files under ``relpath`` whose content is not in the object store: what replacing
    the path would lose for good (``checkout`` refuses by the same rule)."""
    try:
        built = build_object(
            ws.root, relpath, ws.state, odb=ws.odb, with_files=True, jobs=ws.settings.jobs
        )
    except NotFound:
        return []
    return [
        f.source.relative_to(ws.root).as_posix() for f in built.files if not ws.odb.exists(f.oid)
    ]


def restore_outputs(ws: Workspace, outs: Iterable[LockedPath], scratch: Path) -> None:
    """Make the workspace hold ``outs`` exactly (run-cache hits, outs pulled from a remote)."""
    from loopline.objects.checkout import materialize

    outs = list(outs)
    for out in outs:
        check_writable(ws.root, out.path, "output")
    for out in outs:
        materialize(
            ws.root,
            out.path,
            out.oid,
            ws.odb,
            ws.state,
            link_types=ws.settings.link_types,
            isexec=out.isexec,
            jobs=ws.settings.jobs,
            scratch=scratch,
        )


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
