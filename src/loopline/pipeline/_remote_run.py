"""Running a stage away from the workspace: deps from the remote, outs back to it.

Used by executors whose workers may sit on other machines (Dask): the worker builds a scratch
copy of exactly the stage's inputs, runs the commands there, stores the outs as objects and
pushes them, and returns their ids; the caller pulls them into the workspace.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from loopline.objects.batch import store_path
from loopline.objects.checkout import materialize
from loopline.objects.odb import ObjectStore
from loopline.objects.remote import Remote
from loopline.objects.state import StateCache
from loopline.objects.transfer import pull_objects, push_objects
from loopline.pipeline._lock import LockedPath
from loopline.pipeline._task import (
    StageOutcome,
    StageTask,
    hostname,
    prepare_outs,
    run_commands,
)

__all__ = ["run_through_remote"]

_JOBS = 4


def run_through_remote(task: StageTask) -> StageOutcome:
    assert task.remote is not None
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f"loopline-{task.name.replace('@', '_')}-"))
    try:
        remote = Remote(task.remote)
        odb = ObjectStore(scratch / "objects")
        work = scratch / "work"
        work.mkdir()
        with StateCache(scratch / "state.db") as state:
            pull_objects(odb, remote, [i.oid for i in task.inputs], jobs=_JOBS)
            for item in task.inputs:
                materialize(
                    work,
                    item.path,
                    item.oid,
                    odb,
                    state,
                    link_types=("copy",),
                    isexec=item.isexec,
                    jobs=_JOBS,
                )
            prepare_outs(work, task)
            (work / task.wdir).mkdir(parents=True, exist_ok=True)
            code, tail = run_commands(task.commands, work / task.wdir, None)
            outs: list[LockedPath] = []
            missing: list[str] = []
            if code == 0:
                for relpath, cache in task.outs:
                    if not (work / relpath).exists():
                        missing.append(relpath)
                        continue
                    outs.append(_store(work, relpath, cache, odb, state))
                push_objects(odb, remote, [o.oid for o in outs], jobs=_JOBS)
        return StageOutcome(
            task.name,
            code,
            time.perf_counter() - start,
            tail,
            hostname(),
            outs=tuple(outs),
            missing=tuple(missing),
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _store(
    work: Path, relpath: str, cache: bool, odb: ObjectStore, state: StateCache
) -> LockedPath:
    built, _ = store_path(work, relpath, state, odb, jobs=_JOBS)
    return LockedPath(relpath, built.oid, built.size, built.nfiles, built.isexec, cache)
