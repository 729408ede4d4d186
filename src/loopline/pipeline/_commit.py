"""``commit`` for stages: record what the workspace holds now as the stages' last run.

The way to keep a hand edit to a stage output (``repro`` and ``checkout`` refuse to overwrite an
out whose content is not saved, and point here), or to record a command run by hand so the next
``repro`` skips the stage. The outs are stored as objects, the lock entry rewritten with the
current deps, params and outs (under the project lock) and a run-cache entry added, as
``repro`` would after running the stage.

When the command, a dep or a param changed, or the stage never ran, the lock would claim outs
that those inputs never produced, so that needs ``force`` (the CLI asks on a terminal, as
``dvc commit`` does). Changed outs alone are recorded without asking: that is a hand edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loopline.core.errors import Conflict, NotFound
from loopline.data.workspace import Workspace
from loopline.pipeline._changes import stage_changes
from loopline.pipeline._dag import select
from loopline.pipeline._edits import edited_outs
from loopline.pipeline._load import load_pipeline
from loopline.pipeline._lock import LockedPath, LockEntry, read_lock, write_lock
from loopline.pipeline._model import Pipeline, Stage
from loopline.pipeline._outputs import PathHasher, store_outputs
from loopline.pipeline._params import ParamsReader
from loopline.pipeline._paths import check_writable
from loopline.pipeline._repro import git_file_for
from loopline.pipeline._run_cache import RunCache, run_key
from loopline.pipeline._unfinished import forget_run, unfinished_runs

__all__ = ["CommitResult", "StageCommit", "commit", "commit_stages"]


@dataclass(frozen=True)
class StageCommit:
    name: str
    changes: str  # what differed from the lock, in `loopline status` words
    needs_force: bool  # its command, deps or params changed, or it never ran


@dataclass(frozen=True)
class CommitResult:
    stages: list[str]  # the stages whose lock entry changed (or would, with ``dry``)
    git_files: list[str]  # what to `git add` now (see ReproResult.git_files)
    changes: list[StageCommit] = field(default_factory=list)


def commit(root: Path, targets: Sequence[str] = (), *, force: bool = False) -> CommitResult:
    """Record the current outs of ``targets`` (default: every stage) in the lock."""
    with Workspace(root) as ws:
        return commit_stages(ws, targets, force=force)


def commit_stages(
    ws: Workspace, targets: Sequence[str] = (), *, force: bool = False, dry: bool = False
) -> CommitResult:
    """Record every changed stage among ``targets`` (default: all) in the lock.

    A stage whose command, deps or params changed, or that never ran, is a :class:`Conflict`
    without ``force``; ``dry`` only reports what would be recorded.
    """
    from loopline.data.gitignore import ignore_in_git

    with ws.lock():
        pipeline = load_pipeline(ws.root)
        names = select(targets, list(pipeline.stages), pipeline.upstream, single=True)
        lock = read_lock(pipeline.lock_path)
        hasher, params = PathHasher(ws), ParamsReader(ws.root)
        found: list[StageCommit] = []
        unfinished = unfinished_runs(ws)
        for name in names:
            changes = stage_changes(pipeline.stages[name], lock.get(name), hasher, params)
            if changes.outs or changes.deps or changes.command or name not in lock:
                # "always changed" alone is nothing to record
                ran = name in lock
                summary = changes.summary() if ran else "never ran"
                left_by = unfinished.get(name) if changes.outs else None
                if left_by is not None:  # its outs are what a killed or failed run left
                    summary = f"its last run {_ENDED[left_by]}; {summary}"
                needs = bool(changes.deps or changes.command) or not ran or left_by is not None
                found.append(StageCommit(name, summary, needs))
        if dry or not found:
            return CommitResult([c.name for c in found], [], found)
        blocked = [c for c in found if c.needs_force]
        if blocked and not force:
            raise _refusal(ws, pipeline, blocked, lock, hasher)
        for change in found:  # nothing is written before every out is known to be writable
            for out in pipeline.stages[change.name].outs:
                check_writable(ws.root, out.path, f"output of stage '{change.name}'")
        cache = RunCache(ws.paths.objects_dir)
        files: list[str] = [pipeline.lock_path.name]
        for change in found:
            stage = pipeline.stages[change.name]
            lock[stage.name] = entry = _record(ws, stage, hasher, params, cache)
            for stored in entry.outs:
                if stored.cache:
                    ignore_in_git(ws.root, stored.path)
                if git_file_for(stored) not in files:
                    files.append(git_file_for(stored))
        write_lock(pipeline.lock_path, {n: lock[n] for n in pipeline.stages if n in lock})
        for change in found:
            forget_run(ws, change.name)
        return CommitResult([c.name for c in found], files, found)


_ENDED = {"killed": "was killed before it finished", "failed": "failed"}


def _refusal(
    ws: Workspace,
    pipeline: Pipeline,
    blocked: list[StageCommit],
    lock: dict[str, LockEntry],
    hasher: PathHasher,
) -> Conflict:
    first = blocked[0]
    since = (
        f"changed since it last ran ({first.changes})" if first.name in lock else "has never run"
    )
    names = " ".join(c.name for c in blocked)
    if len(blocked) == 1:
        what = f"stage '{first.name}' {since}"
    else:
        what = f"stages {', '.join(repr(c.name) for c in blocked)} changed or never ran "
        what += f"(stage '{first.name}' {since})"
    # plain `repro` refuses to overwrite outs whose content is saved nowhere: name --force then
    edited = edited_outs(ws, pipeline, lock, hasher, [c.name for c in blocked])
    run = f"loopline repro --force -s {names}" if edited else f"loopline repro {names}"
    discards = f" (it discards the changes to {edited[0].path})" if edited else ""
    return Conflict(
        f"{what}; committing would record outputs that its command did not produce from "
        "these inputs",
        hint=f"run it with `{run}`{discards}, or record it anyway with "
        f"`loopline commit -f {names}`",
    )


def _record(
    ws: Workspace, stage: Stage, hasher: PathHasher, params: ParamsReader, cache: RunCache
) -> LockEntry:
    deps = [_present(hasher, stage, d, "depends on") for d in stage.deps]
    values = params.values(stage.params, stage.name)
    for out in stage.outs:
        _present(hasher, stage, out.path, "writes")
    outs = store_outputs(ws, [(o.path, o.cache) for o in stage.outs])
    if outs and not any(o.persist for o in stage.outs):
        cache.put(run_key(stage.cmd, deps, values, stage.outs), outs)
    return LockEntry(stage.cmd, tuple(deps), values, tuple(outs))


def _present(hasher: PathHasher, stage: Stage, path: str, verb: str) -> LockedPath:
    found = hasher(path)
    if found is None:
        raise NotFound(
            f"stage '{stage.name}' {verb} {path}, which does not exist, so it cannot be committed",
            hint=f"create it, or run the stage with `loopline repro {stage.name}`",
        )
    return found
