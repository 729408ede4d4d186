"""``loopline push``, ``pull`` and ``fetch``: exchange tracked data with a remote.

Each covers the workspace's pointers and lock; a :class:`RevisionScope` adds what the pointer
files and lock of other git revisions (branches, tags, every commit) reference. ``pull`` checks
out only the workspace's data; ``fetch`` checks out nothing.

The workspace's data must be complete: an object missing from the local cache (push) or the
remote (pull, fetch) is an error. Other revisions' data is taken as far as it exists: old
commits often name data that was never pushed, and the results count what was not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopline.core.errors import IntegrityError, NotFound
from loopline.core.progress import NO_PROGRESS, Progress
from loopline.data.checkout import CheckoutResult, checkout
from loopline.data.pointer import POINTER_SUFFIX, Pointer
from loopline.data.revisions import RevisionScope, pointers_in_scope
from loopline.data.workspace import Workspace
from loopline.objects.manifest import is_dir_oid
from loopline.objects.odb import arrived_corrupted
from loopline.objects.remote import Remote
from loopline.objects.transfer import pull_objects, push_objects

__all__ = ["FetchResult", "PullResult", "PushResult", "fetch", "pull", "push"]

_WORKSPACE_ONLY = RevisionScope()


@dataclass(frozen=True)
class PushResult:
    remote: str
    pushed: int
    already_there: int
    repaired: int = 0  # damaged remote copies replaced (``verify``)
    not_in_cache: int = 0  # objects of other revisions the local cache does not hold


@dataclass(frozen=True)
class FetchResult:
    remote: str
    fetched: int
    revisions: int
    unavailable: int = 0  # objects of other revisions the remote does not hold


@dataclass(frozen=True)
class PullResult:
    remote: str
    fetched: int
    checkout: list[CheckoutResult]
    unavailable: int = 0


def push(
    ws: Workspace,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    verify: bool = False,
    scope: RevisionScope = _WORKSPACE_ONLY,
    progress: Progress = NO_PROGRESS,
) -> PushResult:
    """Upload what the remote lacks; with ``verify`` also re-check the remote's copies and
    replace damaged ones."""
    target = Remote(ws.settings.remote(remote))
    current = ws.pointers(targets, with_pipeline=True)
    pointers = current + _in_history(ws, targets, current, scope)
    task = progress.task(f"pushing to {target.name}")
    try:
        result = push_objects(
            ws.odb,
            target,
            [p.oid for p in pointers],
            jobs=ws.settings.jobs,
            on_count=task.set_total,
            on_done=task.advance,
            verify_remote=verify,
        )
    finally:
        task.close()
    if result.corrupt:
        raise IntegrityError(
            f"{len(result.corrupt)} object(s) in the local cache are corrupt (their bytes no "
            f"longer match their ids) and were not pushed, e.g. {result.corrupt[0]}; they were "
            f"moved to {ws.odb.quarantine_dir} (the rest was pushed)",
            hint="`loopline add` the data again from an intact copy, or `loopline pull` it "
            "from a remote that has it intact",
        )
    needed = _with_files(ws, {p.oid for p in current})
    missing = [m for m in result.missing if m in needed]
    if missing:
        raise NotFound(
            f"{len(missing)} object(s) are missing from the local cache and were not "
            f"pushed, e.g. {missing[0]} (the rest was pushed)",
            hint="re-add the data with `loopline add`, or pull it from the remote that has it",
        )
    return PushResult(
        target.name,
        result.transferred,
        result.already_there,
        result.repaired,
        len(result.missing),
    )


def _with_files(ws: Workspace, oids: set[str]) -> set[str]:
    """``oids`` plus the files of those that are folders the cache has a listing for."""
    found = set(oids)
    for oid in oids:
        if is_dir_oid(oid) and ws.odb.exists(oid):
            found.update(e.hash for e in ws.odb.read_manifest(oid).entries)
    return found


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
        fetched, damaged = _fetch(ws, source, pointers, progress, keep_going=True)
        history = _in_history(ws, targets, pointers, scope)
        more, unavailable = _fetch_available(ws, source, history)
    # As DVC does, what arrived intact is checked out even when some objects did not.
    complete = [p for p in pointers if not damaged or _complete(ws, p)]
    outcome = (
        checkout(ws, [p.path for p in complete], force=force, progress=progress) if complete else []
    )
    if damaged:
        skipped = [p.path for p in pointers if p not in complete]
        done = (
            f"; not checked out: {' '.join(skipped)}"
            + (f" (the rest was checked out: {len(outcome)} path(s))" if outcome else "")
            if skipped
            else ""
        )
        raise arrived_corrupted(damaged, done)
    return PullResult(source.name, fetched + more, outcome, unavailable)


def _complete(ws: Workspace, pointer: Pointer) -> bool:
    """Whether the cache holds every object ``pointer`` needs."""
    if not ws.odb.exists(pointer.oid):
        return False
    if not pointer.is_dir:
        return True
    return all(ws.odb.exists(e.hash) for e in ws.odb.read_manifest(pointer.oid).entries)


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
        current = ws.pointers(targets, with_pipeline=True)
        fetched, _ = _fetch(ws, source, current, progress)
        history, commits = pointers_in_scope(ws.root, scope) if not scope.empty else ([], 0)
        chosen = _filtered(ws, targets, current, history)
        more, unavailable = _fetch_available(ws, source, chosen)
    return FetchResult(source.name, fetched + more, commits, unavailable)


def _fetch_available(ws: Workspace, source: Remote, pointers: list[Pointer]) -> tuple[int, int]:
    """Fetch what the remote holds of ``pointers``' objects: (fetched, not on the remote)."""
    jobs = ws.settings.jobs
    roots = {p.oid for p in pointers}
    listings = [o for o in roots if is_dir_oid(o) and not ws.odb.exists(o)]
    there = source.existing(listings, jobs=jobs)
    fetched = _download(ws, source, sorted(there))
    unavailable = len(listings) - len(there)
    files = {o for o in _with_files(ws, roots) if not is_dir_oid(o) and not ws.odb.exists(o)}
    there = source.existing(files, jobs=jobs)
    if there:
        fetched += pull_objects(ws.odb, source, sorted(there), jobs=jobs).transferred
    return fetched, unavailable + len(files) - len(there)


def _download(ws: Workspace, source: Remote, oids: list[str]) -> int:
    """Folder listings alone (their files are fetched separately), verified on arrival."""
    downloaded = []
    try:
        for oid in oids:
            tmp = ws.odb.new_tmp_path()
            downloaded.append((tmp, oid))
            source.download(oid, tmp)
    except BaseException:
        for tmp, _ in downloaded:
            tmp.unlink(missing_ok=True)
        raise
    ws.odb.import_files(downloaded)
    return len(downloaded)


def _fetch(
    ws: Workspace,
    source: Remote,
    pointers: list[Pointer],
    progress: Progress,
    *,
    keep_going: bool = False,
) -> tuple[int, list[str]]:
    """Fetch the pointers' objects: (how many arrived, the ids that arrived damaged)."""
    task = progress.task(f"fetching from {source.name}")
    try:
        result = pull_objects(
            ws.odb,
            source,
            [p.oid for p in pointers],
            jobs=ws.settings.jobs,
            on_count=task.set_total,
            on_done=task.advance,
            keep_going=keep_going,
        )
    finally:
        task.close()
    return result.transferred, result.corrupt


def _in_history(
    ws: Workspace, targets: Sequence[str] | None, current: list[Pointer], scope: RevisionScope
) -> list[Pointer]:
    """Pointers of the revisions ``scope`` names, limited to ``targets`` if any."""
    if scope.empty:
        return []
    return _filtered(ws, targets, current, pointers_in_scope(ws.root, scope)[0])


def _filtered(
    ws: Workspace, targets: Sequence[str] | None, current: list[Pointer], pointers: list[Pointer]
) -> list[Pointer]:
    """``pointers`` at or under a target's path. A stage name stands for its outputs: the
    paths ``current`` (the targets resolved in the workspace) holds count as targets too."""
    if not targets:
        return pointers
    wanted = [ws.relpath(t).removesuffix(POINTER_SUFFIX) for t in targets]
    wanted += [p.path for p in current]
    return [p for p in pointers if any(p.path == w or p.path.startswith(w + "/") for w in wanted)]
