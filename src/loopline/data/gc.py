"""``loopline gc``: delete cached objects that no pointer file references any more."""

from __future__ import annotations

from dataclasses import dataclass

from loopline.core.errors import LooplineError
from loopline.data.git import git_show_files, list_files_at
from loopline.data.pointer import POINTER_SUFFIX, parse_pointer
from loopline.data.workspace import Workspace
from loopline.objects.manifest import is_dir_oid

__all__ = ["GcResult", "gc", "referenced_oids"]


@dataclass(frozen=True)
class GcResult:
    removed: int
    freed_bytes: int
    kept: int
    temp_files_removed: int
    dry_run: bool


def referenced_oids(ws: Workspace, *, all_commits: bool = False) -> set[str]:
    """Objects reachable from the workspace's pointers (and every commit's, if asked)."""
    roots = {p.oid for p in ws.pointers()}
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
        for name, data in git_show_files(ws.root, commit, files).items():
            found.update(_oid_in(name, data))
    return found


def _oid_in(name: str, data: bytes) -> set[str]:
    try:
        return {parse_pointer(name, data.decode("utf-8", "replace")).oid}
    except LooplineError:
        return set()  # an old, broken pointer keeps nothing alive


def gc(ws: Workspace, *, all_commits: bool = False, dry_run: bool = False) -> GcResult:
    with ws.lock():
        keep = referenced_oids(ws, all_commits=all_commits)
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
