"""``loopline move``: rename tracked data together with its pointer file (``dvc move``).

Steps, each safe to be killed after, and a rerun of the same command finishes the job:

1. the destination's ``.gitignore`` gains its line (an extra ignore line harms nothing);
2. the data is renamed in one ``rename`` (never copied, never half there);
3. the destination pointer is written atomically (same content id, new name);
4. the source pointer is deleted, then its ``.gitignore`` line.

A crash after 2 leaves the source pointer naming data that now sits at the destination: the
content is unchanged (and in the cache if it was added), and ``loopline move SRC DST`` again
sees the data already there and goes on with step 3. Nothing is ever deleted before its new
copy exists.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from loopline.core.atomic import atomic_write_text
from loopline.core.errors import Conflict, InvalidInput
from loopline.data.add import declared_outputs, real_relpath, refuse_never_data
from loopline.data.gitignore import ignore_in_git, unignore_in_git
from loopline.data.pointer import POINTER_SUFFIX, Pointer, pointer_path_for, read_pointer
from loopline.data.remove import refuse_linked_parents, tracked_pointer
from loopline.data.workspace import Workspace

__all__ = ["MoveResult", "move"]


@dataclass(frozen=True)
class MoveResult:
    source: Pointer
    destination: Pointer


def move(ws: Workspace, src: str, dst: str) -> MoveResult:
    with ws.lock():
        source = tracked_pointer(ws, src)
        target = _destination(ws, source, dst)
        moved = Pointer(
            pointer_path_for(target), target, source.oid, source.size, source.nfiles, source.isexec
        )
        _check(ws, source, moved, dst)
        ignore_in_git(ws.root, target)
        old, new = ws.root / source.path, ws.root / target
        if os.path.lexists(old):
            new.parent.mkdir(parents=True, exist_ok=True)
            _rename(old, new, source.path)
        atomic_write_text(ws.root / moved.file, moved.to_yaml())
        (ws.root / source.file).unlink()
        unignore_in_git(ws.root, source.path)
    return MoveResult(source, moved)


def _destination(ws: Workspace, source: Pointer, dst: str) -> str:
    rel = ws.relpath(dst).removesuffix(POINTER_SUFFIX)
    folder = ws.root / rel
    if (
        folder.is_dir()
        and not folder.is_symlink()
        and rel != source.path
        and not (ws.root / pointer_path_for(rel)).exists()
        and not _moved_already(ws, source, rel)
    ):
        rel = f"{rel}/{source.path.rsplit('/', 1)[-1]}"  # into an existing folder, like mv
    refuse_linked_parents(ws, rel, dst)
    return rel


def _moved_already(ws: Workspace, source: Pointer, rel: str) -> bool:
    """True when an interrupted move already renamed the data to ``rel``."""
    from loopline.objects.build import build_object

    if os.path.lexists(ws.root / source.path):
        return False
    return build_object(ws.root, rel, ws.state, jobs=ws.settings.jobs).oid == source.oid


def _check(ws: Workspace, source: Pointer, moved: Pointer, dst: str) -> None:
    """Refuse before changing anything; accept the leftovers of an interrupted move."""
    target = moved.path
    # What add refuses, move refuses too, at either end (and wherever a link leads).
    refuse_never_data(ws, source.path, source.path)
    refuse_never_data(ws, dst, target)
    for rel, shown in ((source.path, source.path), (target, dst)):
        parent = real_relpath(ws, os.path.dirname(rel)) if "/" in rel else ""
        if parent is not None:
            real = f"{parent}/{os.path.basename(rel)}" if parent else os.path.basename(rel)
            if real != rel:
                refuse_never_data(ws, f"{shown} (through a symlink to {real})", real)
    if target == source.path:
        raise InvalidInput(f"{dst} is where {source.path} already is", hint="name a new path")
    if target.startswith(source.path + "/") or ".git" in target.split("/"):
        raise InvalidInput(f"cannot move {source.path} to {dst}, inside itself or into .git")
    owner = ws.owner_of(target)
    if owner is not None:
        raise InvalidInput(
            f"{dst} is inside tracked folder {owner.path}",
            hint="move it next to the folder, or re-add the folder with the data inside",
        )
    outs = [o.path for o in ws.pipeline_pointers(include_uncached=True)]
    for out in [*outs, *(path for path, _stage in declared_outputs(ws))]:
        if target == out or target.startswith(out + "/") or out.startswith(target + "/"):
            raise InvalidInput(f"{dst} is an output of a pipeline stage", hint="pick another path")
    if (ws.root / moved.file).exists() and read_pointer(ws.root, moved.file).oid != source.oid:
        raise Conflict(
            f"{moved.file} already exists and tracks other data",
            hint=f"remove it first (`loopline remove {moved.file}`), or pick another path",
        )
    if os.path.lexists(ws.root / source.path) and os.path.lexists(ws.root / target):
        raise Conflict(
            f"{target} already exists; moving {source.path} there would overwrite it",
            hint="move or delete it first, or pick another path",
        )


def _rename(old: os.PathLike[str], new: os.PathLike[str], shown: str) -> None:
    try:
        os.rename(old, new)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        raise InvalidInput(
            f"cannot move {shown} to another filesystem in one step",
            hint="keep the data on the project's filesystem",
        ) from None
