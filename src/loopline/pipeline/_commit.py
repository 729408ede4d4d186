"""``loopline commit`` for stages: record what the workspace holds now as the stages' last run.

For a stage whose command was run by hand (or whose lock entry is missing), the current deps,
param values and outs are written to the lock and the outs stored in the cache, as ``repro``
would have after running it, so the next ``repro`` skips the stage. Recording a stage that
differs from its lock could claim outs came from deps they did not come from, so changed
stages need ``force`` (the CLI asks on a terminal), as ``dvc commit`` asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopline.core.errors import Conflict, NotFound
from loopline.data.gitignore import ignore_in_git
from loopline.data.workspace import Workspace
from loopline.pipeline._changes import StageChanges, stage_changes
from loopline.pipeline._dag import select
from loopline.pipeline._load import load_pipeline
from loopline.pipeline._lock import LockedPath, LockEntry, read_lock, write_lock
from loopline.pipeline._model import Stage
from loopline.pipeline._outputs import PathHasher, store_outputs
from loopline.pipeline._params import ParamsReader
from loopline.pipeline._paths import check_writable
from loopline.pipeline._run_cache import RunCache, run_key

__all__ = ["StageCommit", "commit_stages"]


@dataclass(frozen=True)
class StageCommit:
    name: str
    changes: str  # what differed from the lock ("" when the stage was up to date)


def commit_stages(
    ws: Workspace, targets: Sequence[str] = (), *, force: bool = False, dry: bool = False
) -> list[StageCommit]:
    """Record every changed stage among ``targets`` (default: all) in the lock.

    Without ``force`` a changed stage is a :class:`Conflict`; ``dry`` only reports.
    """
    pipeline = load_pipeline(ws.root)
    with ws.lock():
        lock = read_lock(pipeline.lock_path)
        hasher, params = PathHasher(ws), ParamsReader(ws.root)
        changed: list[tuple[Stage, StageChanges]] = []
        for name in select(targets, list(pipeline.stages), pipeline.upstream, single=True):
            stage = pipeline.stages[name]
            changes = stage_changes(stage, lock.get(name), hasher, params)
            if changes.deps or changes.outs or changes.command:  # "always changed" alone: no
                changed.append((stage, changes))
        report = [StageCommit(s.name, c.summary()) for s, c in changed]
        if dry or not changed:
            return report
        if not force:
            raise Conflict(
                f"stage(s) {', '.join(s.name for s, _ in changed)} differ from the lock "
                f"({report[0].changes}); committing records the workspace as their result",
                hint="check with `loopline status`, then `loopline commit -f` to record it",
            )
        cache = RunCache(ws.paths.objects_dir)
        for stage, _ in changed:
            lock[stage.name] = _record(ws, stage, hasher, params, cache)
        ordered = {n: lock[n] for n in pipeline.stages if n in lock}
        write_lock(pipeline.lock_path, ordered)
    return report


def _record(
    ws: Workspace, stage: Stage, hasher: PathHasher, params: ParamsReader, cache: RunCache
) -> LockEntry:
    deps: list[LockedPath] = []
    for path in stage.deps:
        found = hasher(path)
        if found is None:
            raise NotFound(
                f"stage '{stage.name}' depends on {path}, which does not exist",
                hint="restore it, or run the stage that produces it, then commit again",
            )
        deps.append(found)
    values = params.values(stage.params, stage.name)
    for out in stage.outs:
        check_writable(ws.root, out.path, f"output of stage '{stage.name}'")
        if not (ws.root / out.path).exists():
            raise NotFound(
                f"output {out.path} of stage '{stage.name}' does not exist, so there is "
                "nothing to commit",
                hint=f"run the stage with `loopline repro {stage.name}`",
            )
    outs = store_outputs(ws, [(o.path, o.cache) for o in stage.outs])
    for stored in outs:
        if stored.cache:
            ignore_in_git(ws.root, stored.path)
    if outs and not any(o.persist for o in stage.outs):
        cache.put(run_key(stage.cmd, deps, values, stage.outs), outs)
    return LockEntry(stage.cmd, tuple(deps), values, tuple(outs))
