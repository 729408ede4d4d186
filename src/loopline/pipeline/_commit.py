"""``commit``: record what stage outs hold now in the lock, as ``dvc commit`` does.

The way to keep a hand edit to a stage output: ``repro`` and ``checkout`` refuse to overwrite an
out whose content is not saved, and point here. The outs are stored as objects and the lock
entry rewritten with the current deps, params and outs. When the command, a dep or a param
changed too, the lock would claim outs that those inputs never produced, so that needs
``force`` (DVC asks for confirmation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loopline.core.errors import Conflict, NotFound
from loopline.data.workspace import Workspace
from loopline.pipeline._changes import stage_changes
from loopline.pipeline._dag import select
from loopline.pipeline._load import load_pipeline
from loopline.pipeline._lock import LockedPath, LockEntry, read_lock, write_lock
from loopline.pipeline._model import Stage
from loopline.pipeline._outputs import PathHasher, store_outputs
from loopline.pipeline._params import ParamsReader
from loopline.pipeline._repro import git_file_for

__all__ = ["CommitResult", "commit"]


def commit(root: Path, targets: Sequence[str] = (), *, force: bool = False) -> CommitResult:
    """Record the current outs of ``targets`` (default: every stage) in the lock."""
    from loopline.data.gitignore import ignore_in_git

    with Workspace(root) as ws, ws.lock():
        pipeline = load_pipeline(ws.root)
        names = select(targets, list(pipeline.stages), pipeline.upstream, single=True)
        lock = read_lock(pipeline.lock_path)
        hasher, params = PathHasher(ws), ParamsReader(ws.root)
        changed: list[str] = []
        files: list[str] = [pipeline.lock_path.name]
        for name in names:
            stage = pipeline.stages[name]
            changes = stage_changes(stage, lock.get(name), hasher, params)
            if not changes.outs and not changes.deps and not changes.command:
                continue
            if (changes.deps or changes.command) and not force:
                since = (
                    f"changed since it last ran ({changes.summary()})"
                    if name in lock
                    else "has never run"
                )
                raise Conflict(
                    f"stage '{name}' {since}; committing would record outputs that its "
                    "command did not produce from these inputs",
                    hint=f"run it with `loopline repro {name}`, or record it anyway with "
                    f"`loopline commit --force {name}`",
                )
            deps = [_present(hasher, stage, d, "depends on") for d in stage.deps]
            for out in stage.outs:
                _present(hasher, stage, out.path, "writes")
            outs = store_outputs(ws, [(o.path, o.cache) for o in stage.outs])
            for stored in outs:
                if stored.cache:
                    ignore_in_git(ws.root, stored.path)
                if git_file_for(stored) not in files:
                    files.append(git_file_for(stored))
            values = params.values(stage.params, name)
            lock[name] = LockEntry(stage.cmd, tuple(deps), values, tuple(outs))
            changed.append(name)
        if changed:
            write_lock(pipeline.lock_path, {n: lock[n] for n in pipeline.stages if n in lock})
        return CommitResult(changed, files if changed else [])


@dataclass(frozen=True)
class CommitResult:
    stages: list[str]  # the stages whose lock entry changed
    git_files: list[str]  # what to `git add` now (see ReproResult.git_files)


def _present(hasher: PathHasher, stage: Stage, path: str, verb: str) -> LockedPath:
    found = hasher(path)
    if found is None:
        raise NotFound(
            f"stage '{stage.name}' {verb} {path}, which does not exist, so it cannot be committed",
            hint=f"create it, or run the stage with `loopline repro {stage.name}`",
        )
    return found
