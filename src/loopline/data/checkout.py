"""``loopline checkout``: make workspace data match the pointer files, never losing unsaved work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loopline.core.errors import Conflict, NotFound
from loopline.core.progress import NO_PROGRESS, Progress
from loopline.data.pointer import POINTER_SUFFIX, Pointer
from loopline.data.workspace import Workspace
from loopline.objects.bounds import Boundary
from loopline.objects.build import BuiltObject, build_object
from loopline.objects.checkout import materialize

__all__ = ["CheckoutResult", "checkout"]


@dataclass(frozen=True)
class CheckoutResult:
    pointer: Pointer
    action: str  # "unchanged", "added", "modified"
    files_written: int = 0
    files_deleted: int = 0


def checkout(
    ws: Workspace,
    targets: Sequence[str] | None = None,
    *,
    force: bool = False,
    verify: bool | None = None,
    progress: Progress = NO_PROGRESS,
) -> list[CheckoutResult]:
    verify = ws.settings.verify if verify is None else verify
    results: list[CheckoutResult] = []
    with ws.lock():
        pointers = ws.pointers(targets, with_pipeline=True)
        scratch = ws.fresh_scratch()
        for pointer in pointers:
            results.append(_checkout_one(ws, pointer, force, verify, progress, scratch))
    return results


def _checkout_one(
    ws: Workspace, pointer: Pointer, force: bool, verify: bool, progress: Progress, scratch: Path
) -> CheckoutResult:
    try:
        current: BuiltObject | None = build_object(
            ws.root, pointer.path, ws.state, jobs=ws.settings.jobs
        )
    except NotFound:
        current = None
    if current is not None and current.oid == pointer.oid:
        if verify:
            _verify_all(ws, pointer)
        return CheckoutResult(pointer, "unchanged")
    if current is not None and not force:
        # A path leading out of the project is refused as a write, before its content is read.
        Boundary(ws.root, ws.paths.dot_dir).check_write(ws.root / pointer.path)
        _refuse_if_unsaved(ws, pointer)
    task = progress.task(f"checking out {pointer.path}", total=pointer.size, bytes=True)
    try:
        stats = materialize(
            ws.root,
            pointer.path,
            pointer.oid,
            ws.odb,
            ws.state,
            link_types=ws.settings.link_types,
            isexec=pointer.isexec,
            verify=verify,
            jobs=ws.settings.jobs,
            on_done=task.advance,
            scratch=scratch,
        )
    finally:
        task.close()
    action = "added" if current is None else "modified"
    return CheckoutResult(pointer, action, stats.written, stats.deleted)


def _verify_all(ws: Workspace, pointer: Pointer) -> None:
    ws.odb.verify(pointer.oid, pointer.path)
    if pointer.is_dir:
        entries = ws.odb.read_manifest(pointer.oid).entries
        ws.odb.require_intact([e.hash for e in entries], pointer.path, verify=True)


def _refuse_if_unsaved(ws: Workspace, pointer: Pointer) -> None:
    """Overwriting is safe only if the workspace's current content is already in the cache."""
    built = build_object(
        ws.root, pointer.path, ws.state, odb=ws.odb, with_files=True, jobs=ws.settings.jobs
    )
    unsaved = [f for f in built.files if not ws.odb.exists(f.oid)]
    if unsaved:
        example = unsaved[0].source.relative_to(ws.root).as_posix()
        if pointer.file.endswith(POINTER_SUFFIX):
            keep = f"keep them with `loopline add {pointer.path}`"
        else:  # a stage's output, tracked by the lock: `add` refuses it
            keep = (
                f"{pointer.path} is an output of a pipeline stage: record the changes in the "
                f"lock with {_keep_command(ws, pointer)}, rebuild it with `loopline repro`"
            )
        files = f"{len(unsaved)} file{'s' if len(unsaved) > 1 else ''}"
        stage_too = pointer.file.endswith(POINTER_SUFFIX) and ws.names_stage(pointer.path)
        target = pointer.file if stage_too else pointer.path  # a bare name would be ambiguous
        raise Conflict(
            f"{pointer.path} has changes that are not saved in the cache "
            f"({files}, e.g. {example}); checkout would overwrite them",
            hint=f"{keep}, or discard them with `loopline checkout --force {target}`",
        )


def _keep_command(ws: Workspace, pointer: Pointer) -> str:
    """How to save the workspace's version: ``add`` for added data, ``commit`` for a stage out
    (which ``add`` refuses)."""
    if pointer.file == pointer.path + POINTER_SUFFIX:
        return f"`loopline add {pointer.path}`"
    from loopline.pipeline import read_lock

    for name, entry in read_lock(ws.root / pointer.file).items():
        if any(o.path == pointer.path for o in entry.outs):
            return f"`loopline commit {name}`"
    return "`loopline commit`"
