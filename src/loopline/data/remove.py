"""``loopline remove``: stop tracking data (DVC's ``dvc remove``), optionally deleting it.

The pointer file and the data's ``.gitignore`` line go; the cached objects stay (``gc``
reclaims them), so ``git checkout`` of the old pointer plus ``loopline checkout`` brings the
data back. With ``outs`` the workspace copy is deleted first, and only if its content is
saved in the cache: a crash after that step leaves the pointer, and ``checkout`` restores it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loopline.core.errors import Conflict, InvalidInput, NotFound
from loopline.data.gitignore import unignore_in_git
from loopline.data.pointer import POINTER_SUFFIX, Pointer, read_pointer
from loopline.data.workspace import Workspace
from loopline.objects.build import build_object

__all__ = ["RemoveResult", "remove", "split_stage_targets", "tracked_pointer"]


@dataclass(frozen=True)
class RemoveResult:
    pointer: Pointer
    data_deleted: bool


def remove(
    ws: Workspace, targets: Sequence[str], *, outs: bool = False, force: bool = False
) -> list[RemoveResult]:
    """Untrack every target (data path or pointer file); check all before changing any."""
    with ws.lock():
        found = {p.file: p for p in (tracked_pointer(ws, t) for t in targets)}
        pointers = list(found.values())  # a target named twice is removed once
        if outs and not force:
            for pointer in pointers:
                refuse_if_unsaved(ws, pointer, "remove --outs would delete them")
        return [_remove_one(ws, p, outs) for p in pointers]


def split_stage_targets(ws: Workspace, targets: Sequence[str]) -> tuple[list[str], list[str]]:
    """(stage keys of the pipeline file, other targets); tracked data wins a name clash."""
    from loopline.pipeline._remove_stage import pipeline_stage_keys  # only with stage targets

    keys = pipeline_stage_keys(ws)
    stages: list[str] = []
    others: list[str] = []
    for target in targets:
        key = target.rsplit(":", 1)[-1] if ":" in target else target
        clash = (ws.root / (target + POINTER_SUFFIX)).is_file()
        (stages if key in keys and not clash else others).append(target)
    return stages, others


def tracked_pointer(ws: Workspace, target: str) -> Pointer:
    """The pointer file ``target`` names (the data or the pointer itself), inside the project
    and not reached through a symlinked folder."""
    rel = ws.relpath(target).removesuffix(POINTER_SUFFIX)
    refuse_linked_parents(ws, rel, target)
    if (ws.root / (rel + POINTER_SUFFIX)).is_file():
        return read_pointer(ws.root, rel + POINTER_SUFFIX)
    for out in ws.pipeline_pointers(include_uncached=True):
        if out.path == rel:
            raise InvalidInput(
                f"{target} is an output of a pipeline stage, recorded in {out.file}",
                hint="remove or change the stage in the pipeline file instead",
            )
    owner = ws.owner_of(rel)
    if owner is not None:
        raise InvalidInput(
            f"{target} is inside tracked folder {owner.path}",
            hint=f"name the whole folder ({owner.path})",
        )
    raise NotFound(
        f"{target} is not tracked by Loopline (no {rel + POINTER_SUFFIX})",
        hint="`loopline status` lists what is tracked",
    )


def refuse_linked_parents(ws: Workspace, rel: str, original: str) -> None:
    """Refuse a path whose folder is, or sits in, a symlink: what it names is elsewhere."""
    folder = Path(rel).parent.as_posix()
    expected = os.path.normpath(os.path.join(os.path.realpath(ws.root), folder))
    actual = os.path.realpath(ws.root / folder)
    if actual != expected:
        raise InvalidInput(
            f"{original} is reached through a symlinked folder ({folder} leads to {actual})",
            hint="name the path through real folders inside the project",
        )


def refuse_if_unsaved(ws: Workspace, pointer: Pointer, consequence: str) -> None:
    """Conflict if the workspace copy holds content the cache does not have."""
    try:
        built = build_object(
            ws.root, pointer.path, ws.state, odb=ws.odb, with_files=True, jobs=ws.settings.jobs
        )
    except NotFound:
        return
    unsaved = [f for f in built.files if not ws.odb.exists(f.oid)]
    if unsaved:
        raise Conflict(
            f"{pointer.path} has changes that are not saved in the cache; {consequence}",
            hint=f"save them with `loopline add {pointer.path}` first, or pass --force",
        )


def delete_path(path: Path) -> bool:
    """Delete a file, a folder or a symlink (never what a link points to)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
        return True
    if path.is_dir():
        shutil.rmtree(path)
        return True
    return False


def _remove_one(ws: Workspace, pointer: Pointer, outs: bool) -> RemoveResult:
    deleted = delete_path(ws.root / pointer.path) if outs else False
    (ws.root / pointer.file).unlink()
    unignore_in_git(ws.root, pointer.path)
    return RemoveResult(pointer, deleted)
