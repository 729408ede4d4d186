"""``loopline push``, ``pull`` and ``fetch``: exchange tracked data with a remote.

Each covers the workspace's pointers and lock; a :class:`RevisionScope` adds what the pointer
files and lock of other git revisions (branches, tags, every commit) reference. ``pull`` checks
out only the workspace's data; ``fetch`` checks out nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopline.core.errors import NotFound
from loopline.core.progress import NO_PROGRESS, Progress
from loopline.data.checkout import CheckoutResult, checkout
from loopline.data.pointer import POINTER_SUFFIX, Pointer
from loopline.data.revisions import RevisionScope, pointers_in_revisions, scope_revisions
from loopline.data.workspace import Workspace
from loopline.objects.remote import Remote
from loopline.objects.transfer import pull_objects, push_objects

__all__ = ["FetchResult", "PullResult", "PushResult", "fetch", "pull", "push"]

_WORKSPACE_ONLY = RevisionScope()


@dataclass(frozen=True)
class PushResult:
    remote: str
    pushed: int
    already_there: int


@dataclass(frozen=True)
class FetchResult:
    remote: str
    fetched: int
    revisions: int


@dataclass(frozen=True)
class PullResult:
    remote: str
    fetched: int
    checkout: list[CheckoutResult]


def push(
    ws: Workspace,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    scope: RevisionScope = _WORKSPACE_ONLY,
    progress: Progress = NO_PROGRESS,
) -> PushResult:
    target = Remote(ws.settings.remote(remote))
    pointers = ws.pointers(targets, with_pipeline=True) + _in_history(ws, targets, scope)
    task = progress.task(f"pushing to {target.name}")
    try:
        result = push_objects(
            ws.odb,
            target,
            [p.oid for p in pointers],
            jobs=ws.settings.jobs,
            on_count=task.set_total,
            on_done=task.advance,
        )
    finally:
        task.close()
    if result.missing:
        raise NotFound(
            f"{len(result.missing)} object(s) are missing from the local cache and were not "
            f"pushed, e.g. {result.missing[0]} (the rest was pushed)",
            hint="re-add the data with `loopline add`, or pull it from the remote that has it",
        )
    return PushResult(target.name, result.transferred, result.already_there)


def pull(
    ws: Workspace,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    force: bool = False,
    scope: RevisionScope = _WORKSPACE_ONLY,
    progress: Progress = NO_PROGRESS,
) -> PullResult:
    """Fetch what the pointers need into the cache (verified), then check it out."""
    source = Remote(ws.settings.remote(remote))
    with ws.lock():
        pointers = ws.pointers(targets, with_pipeline=True)
        fetched = _fetch(ws, source, pointers + _in_history(ws, targets, scope), progress)
    outcome = (
        checkout(ws, [p.path for p in pointers] or None, force=force, progress=progress)
        if pointers
        else []
    )
    return PullResult(source.name, fetched, outcome)


def fetch(
    ws: Workspace,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    scope: RevisionScope = _WORKSPACE_ONLY,
    progress: Progress = NO_PROGRESS,
) -> FetchResult:
    """Download what the pointers need into the cache (verified); the workspace is untouched."""
    source = Remote(ws.settings.remote(remote))
    with ws.lock():
        commits = scope_revisions(ws.root, scope)
        pointers = ws.pointers(targets, with_pipeline=True)
        if commits:
            pointers += _filtered(ws, targets, pointers_in_revisions(ws.root, commits))
        fetched = _fetch(ws, source, pointers, progress)
    return FetchResult(source.name, fetched, len(commits))


def _fetch(ws: Workspace, source: Remote, pointers: list[Pointer], progress: Progress) -> int:
    task = progress.task(f"fetching from {source.name}")
    try:
        result = pull_objects(
            ws.odb,
            source,
            [p.oid for p in pointers],
            jobs=ws.settings.jobs,
            on_count=task.set_total,
            on_done=task.advance,
        )
    finally:
        task.close()
    return result.transferred


def _in_history(
    ws: Workspace, targets: Sequence[str] | None, scope: RevisionScope
) -> list[Pointer]:
    """Pointers of the revisions ``scope`` names, limited to ``targets`` if any."""
    if scope.empty:
        return []
    return _filtered(ws, targets, pointers_in_revisions(ws.root, scope_revisions(ws.root, scope)))


def _filtered(
    ws: Workspace, targets: Sequence[str] | None, pointers: list[Pointer]
) -> list[Pointer]:
    if not targets:
        return pointers
    wanted = [ws.relpath(t).removesuffix(POINTER_SUFFIX) for t in targets]
    return [p for p in pointers if any(p.path == w or p.path.startswith(w + "/") for w in wanted)]
