"""``loopline gc``: delete cached objects that no pointer file or pipeline lock references.

Kept: what the workspace's pointer files and ``loopline.lock`` name (every out of every
stage, ``cache: false`` ones included), and the run-cache entries for the stages as the lock
records them; other run-cache entries are dropped with their objects. ``--all-branches`` and
``--all-tags`` also keep what the branch tips' or tags' pointers and lock name;
``--all-commits`` what any commit's name, and every run-cache entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopline.data.revisions import RevisionScope, pointers_in_scope
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


def referenced_oids(
    ws: Workspace,
    *,
    all_commits: bool = False,
    dry_run: bool = True,
    scope: RevisionScope | None = None,
) -> set[str]:
    """Objects reachable from the workspace's pointers and lock (and those of the revisions
    ``scope`` or ``all_commits`` name). Unless ``dry_run``, run-cache entries that are not
    kept are deleted (with ``all_commits`` every entry is kept)."""
    scope = scope or RevisionScope(all_commits=all_commits)
    roots = {p.oid for p in ws.pointers()}
    roots |= {p.oid for p in ws.pipeline_pointers(include_uncached=True)}
    roots |= _run_cache_oids(ws, prune=not scope.all_commits, dry_run=dry_run)
    if not scope.empty:
        roots |= _oids_in_history(ws, scope)
    keep = set(roots)
    for oid in roots:
        if is_dir_oid(oid) and ws.odb.exists(oid):
            keep.update(e.hash for e in ws.odb.read_manifest(oid).entries)
    return keep


def _oids_in_history(ws: Workspace, scope: RevisionScope) -> set[str]:
    return {p.oid for p in pointers_in_scope(ws.root, scope, include_uncached=True)[0]}


def _run_cache_oids(ws: Workspace, *, prune: bool, dry_run: bool) -> set[str]:
    from loopline.pipeline import run_cache_oids

    return run_cache_oids(ws.root, ws.paths.objects_dir, prune=prune, dry_run=dry_run)


def gc(
    ws: Workspace,
    *,
    all_commits: bool = False,
    dry_run: bool = False,
    scope: RevisionScope | None = None,
) -> GcResult:
    with ws.lock():
        keep = referenced_oids(ws, all_commits=all_commits, dry_run=dry_run, scope=scope)
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
