"""Stage outs that changed since the lock recorded them and whose content is saved nowhere:
what ``repro`` refuses to overwrite, ``repro --dry`` warns about and ``status`` puts first.

Such an out is a hand edit, unless the stage's last run never finished (killed, or its command
failed): then it is what that run left, and the way out is ``repro --force``, not ``commit``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loopline.core.errors import Conflict
from loopline.data.workspace import Workspace
from loopline.pipeline._lock import LockEntry
from loopline.pipeline._model import Pipeline
from loopline.pipeline._outputs import PathHasher, unsaved_files
from loopline.pipeline._unfinished import unfinished_runs

__all__ = ["EditedOut", "edited_outs", "refusal"]


@dataclass(frozen=True)
class EditedOut:
    stage: str
    path: str
    unsaved: list[str]  # the files repro would lose, relative to the project root
    left_by: str | None = None  # "killed" or "failed": the stage's last run left it so

    def discard_command(self) -> str:
        return f"loopline repro --force -s {self.stage}"


def edited_outs(
    ws: Workspace,
    pipeline: Pipeline,
    lock: dict[str, LockEntry],
    hasher: PathHasher,
    names: Iterable[str],
) -> list[EditedOut]:
    """The outs of ``names`` that running (or restoring) the stage would overwrite for good."""
    found: list[EditedOut] = []
    unfinished: dict[str, str] | None = None
    for name in names:
        stage, entry = pipeline.stages[name], lock.get(name)
        if stage.frozen or entry is None:
            continue
        locked = {o.path: o.oid for o in entry.outs}
        for out in stage.outs:
            current = hasher(out.path)
            if out.persist or current is None or locked.get(out.path) in (None, current.oid):
                continue
            unsaved = unsaved_files(ws, out.path)
            if unsaved:
                if unfinished is None:
                    unfinished = unfinished_runs(ws)
                found.append(EditedOut(name, out.path, unsaved, unfinished.get(name)))
    return found


def refusal(edit: EditedOut, lock_name: str) -> Conflict:
    """Why ``repro`` will not overwrite ``edit``, and the two ways on."""
    files = f"{len(edit.unsaved)} file{'s' if len(edit.unsaved) > 1 else ''}"
    if edit.left_by is not None:
        how = "was killed before it finished" if edit.left_by == "killed" else "failed"
        return Conflict(
            f"{edit.path}, an output of stage '{edit.stage}', is what the stage's last run left "
            f"behind (that run {how}), not what {lock_name} records ({files} not saved, e.g. "
            f"{edit.unsaved[0]}); repro would overwrite it",
            hint=f"run the stage again with `{edit.discard_command()}`",
        )
    return Conflict(
        f"{edit.path}, an output of stage '{edit.stage}', was changed since {lock_name} "
        f"recorded it and the change is not saved ({files}, e.g. {edit.unsaved[0]}); repro "
        "would overwrite it",
        hint=f"keep the edit with `loopline commit {edit.stage}`, or discard it with "
        f"`{edit.discard_command()}`",
    )
