"""``loopline gc``: delete cached objects that no pointer file or pipeline lock references.

Kept: what the workspace's pointer files and ``loopline.lock`` name (every out of every
stage, ``cache: false`` ones included), and the run-cache entries for the stages as the lock
records them; other run-cache entries are dropped with their objects. ``--all-commits`` also
keeps what any commit's pointers and lock name, and every run-cache entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopline.core.errors import LooplineError
from loopline.data.git import git_show_files, list_files_at
from loopline.data.pointer import POINTER_SUFFIX, parse_pointer
from loopline.data.workspace import Workspace
from loopline.objects.manifest import is_dir_oid

__all__ = ["GcResult", "gc", "referenced_oids"]

_LOCK_NAME = "loopline.lock"


@dataclass(frozen=True)
class GcResult:
    removed: int
    freed_bytes: int
    kept: int
    temp_files_removed: int
    dry_run: bool


def referenced_oids(ws: Workspace, *, all_commits: bool = False, dry_run: bool = True) -> set[str]:
    """Objects reachable from the workspace's pointers and lock (and every commit's, if
    asked). Unless ``dry_run``, run-cache entries that are not kept are deleted."""
    roots = {p.oid for p in ws.pointers()}
    roots |= {p.oid for p in ws.pipeline_pointers(include_uncached=True)}
    roots |= _run_cache_oids(ws, prune=not all_commits, dry_run=dry_run)
    if all_commits:
        roots |= _oids_in_history(ws)
    keep = set(roots)
    for oid in roots:
        if is_dir_oid(oid) and ws.odb.exists(oid):
            keep.update(e.hash for e in ws.odb.read_manifest(oid).entries)
    return keep


def _oids_in_history(ws: Workspace) -> set[str]:
    import subprocess

    done = subprocess.run(
        ["git", "rev-list", "--all"], cwd=ws.root, capture_output=True, text=True, check=False
    )
    found: set[str] = set()
    for commit in done.stdout.split():
        files = list_files_at(ws.root, commit, POINTER_SUFFIX)
        locks = list_files_at(ws.root, commit, _LOCK_NAME)
        for name, data in git_show_files(ws.root, commit, files + locks).items():
            found.update(_oids_in_lock(name, data) if name in locks else _oid_in(name, data))
    return found


def _run_cache_oids(ws: Workspace, *, prune: bool, dry_run: bool) -> set[str]:
    from loopline.pipeline import run_cache_oids

    return run_cache_oids(ws.root, ws.paths.objects_dir, prune=prune, dry_run=dry_run)


def _oids_in_lock(name: str, data: bytes) -> set[str]:
    from loopline.pipeline._lock import parse_lock

    try:
        entries = parse_lock(data.decode("utf-8", "replace"), name)
    except LooplineError:
        return set()
    return {o.oid for e in entries.values() for o in e.outs}


def _oid_in(name: str, data: bytes) -> set[str]:
    try:
        return {parse_pointer(name, data.decode("utf-8", "replace")).oid}
    except LooplineError:
        return set()  # an old, broken pointer keeps nothing alive


def gc(ws: Workspace, *, all_commits: bool = False, dry_run: bool = False) -> GcResult:
    with ws.lock():
        keep = referenced_oids(ws, all_commits=all_commits, dry_run=dry_run)
        removed = freed = kept = 0
        for oid in list(ws.odb.oids()):
            if oid in keep:
                kept += 1
                continue
            removed += 1
            if dry_run:
                freed += ws.odb.path(oid).stat().st_size
            else:
                freed += ws.odb.remove(oid)
        temps = 0 if dry_run else ws.odb.remove_stale_tmp()
    return GcResult(removed, freed, kept, temps, dry_run)
