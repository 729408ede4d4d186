"""``loopline push`` and ``loopline pull``: exchange tracked data with a remote."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopline.core.errors import IntegrityError, NotFound
from loopline.core.progress import NO_PROGRESS, Progress
from loopline.data.checkout import CheckoutResult, checkout
from loopline.data.workspace import Workspace
from loopline.objects.remote import Remote
from loopline.objects.transfer import pull_objects, push_objects

__all__ = ["PullResult", "PushResult", "pull", "push"]


@dataclass(frozen=True)
class PushResult:
    remote: str
    pushed: int
    already_there: int
    repaired: int = 0


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
    verify: bool = False,
    progress: Progress = NO_PROGRESS,
) -> PushResult:
    """Upload what the remote lacks; with ``verify`` also re-check the remote's copies and
    replace damaged ones."""
    target = Remote(ws.settings.remote(remote))
    pointers = ws.pointers(targets, with_pipeline=True)
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
    if result.missing:
        raise NotFound(
            f"{len(result.missing)} object(s) are missing from the local cache and were not "
            f"pushed, e.g. {result.missing[0]} (the rest was pushed)",
            hint="re-add the data with `loopline add`, or pull it from the remote that has it",
        )
    return PushResult(target.name, result.transferred, result.already_there, result.repaired)


def pull(
    ws: Workspace,
    targets: Sequence[str] | None = None,
    *,
    remote: str | None = None,
    force: bool = False,
    progress: Progress = NO_PROGRESS,
) -> PullResult:
    """Fetch what the pointers need into the cache (verified), then check it out."""
    source = Remote(ws.settings.remote(remote))
    with ws.lock():
        pointers = ws.pointers(targets, with_pipeline=True)
        task = progress.task(f"pulling from {source.name}")
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
    outcome = (
        checkout(ws, [p.path for p in pointers] or None, force=force, progress=progress)
        if pointers
        else []
    )
    return PullResult(source.name, result.transferred, outcome)
