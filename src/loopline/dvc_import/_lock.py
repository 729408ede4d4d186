"""``dvc.lock`` as ``loopline.lock``: each stage's recorded deps, params and outs, rehashed.

A stage is converted only when every dep and out it records can be read back (DVC's cache or
an unchanged workspace file); otherwise it is left out and simply runs on the next ``repro``.
After writing, each converted stage is checked as ``repro`` would, and the report says which
ones will still run and why (an edited dep, a command rendered differently, ...).
"""

from __future__ import annotations

from typing import Any

from loopline.core.errors import InvalidInput, LooplineError
from loopline.data.gitignore import ignore_in_git
from loopline.data.workspace import Workspace
from loopline.dvc_import._dvc_files import DvcLockStage, read_dvc_lock
from loopline.dvc_import._objects import Md5Objects, is_executable
from loopline.dvc_import._report import ImportReport
from loopline.pipeline._lock import LockedPath, LockEntry, read_lock, write_lock
from loopline.pipeline._model import LOCK_NAME, Pipeline, Stage
from loopline.pipeline._paths import path_problem

__all__ = ["adopt_lock"]

_UP_TO_DATE = "up to date, repro skips it"


def adopt_lock(ws: Workspace, objects: Md5Objects, report: ImportReport) -> None:
    from loopline.pipeline._load import load_pipeline

    try:
        pipeline = load_pipeline(ws.root)
        existing = read_lock(ws.root / LOCK_NAME)
    except LooplineError as exc:
        report.add("file", "dvc.lock", "skipped", exc.message)
        return
    try:
        stages = read_dvc_lock(
            ws.root / "dvc.lock", {n: s.wdir for n, s in pipeline.stages.items()}
        )
    except (ValueError, OSError) as exc:
        report.add("file", "dvc.lock", "skipped", f"it cannot be read: {exc}")
        return
    except InvalidInput as exc:  # not valid YAML, or a repeated key
        report.add("file", "dvc.lock", "skipped", exc.message)
        return
    converted: dict[str, LockEntry] = {}
    for name, recorded in stages.items():
        stage = pipeline.stages.get(name)
        if stage is None:
            report.add("stage", name, "skipped", "it is no longer in dvc.yaml")
        elif name in existing:
            report.add("stage", name, "unchanged", f"already in {LOCK_NAME}; kept it")
        else:
            entry, why = _entry(ws, objects, stage, recorded)
            if entry is None:
                report.add("stage", name, "skipped", f"{why}; it runs on the next repro")
            else:
                converted[name] = entry
    if not converted:
        return
    merged = {**existing, **converted}
    write_lock(ws.root / LOCK_NAME, {n: merged[n] for n in pipeline.stages if n in merged})
    for entry in converted.values():
        for out in entry.outs:
            if out.cache:
                ignore_in_git(ws.root, out.path)
    for name, entry in converted.items():
        detail = _staleness(ws, pipeline, name, entry)
        if detail.endswith(_UP_TO_DATE):
            _remember_run(ws, pipeline.stages[name], entry)
        report.add("stage", name, "converted", detail)


def _remember_run(ws: Workspace, stage: Stage, entry: LockEntry) -> None:
    """A run-cache entry, as ``repro`` leaves one: deleted outs come back without a run."""
    from loopline.pipeline._run_cache import RunCache, run_key

    if entry.outs and not any(o.persist for o in stage.outs):
        key = run_key(entry.cmd, entry.deps, entry.params, stage.outs)
        RunCache(ws.paths.objects_dir).put(key, entry.outs)


def _entry(
    ws: Workspace, objects: Md5Objects, stage: Stage, recorded: DvcLockStage
) -> tuple[LockEntry | None, str]:
    cmd = recorded.cmd
    if not (
        isinstance(cmd, str) or (isinstance(cmd, list) and all(isinstance(c, str) for c in cmd))
    ):
        return None, f"its recorded cmd {cmd!r} is not a command"
    paths: dict[str, list[LockedPath]] = {"deps": [], "outs": []}
    for kind, rows in (("deps", recorded.deps), ("outs", recorded.outs)):
        for row in rows:
            problem = path_problem(row.path)
            if problem is not None:
                return None, f"{row.path} {problem}"
            if row.md5 is None:
                return None, f"{row.path} has no md5 in dvc.lock"
            found = objects.convert(row.md5, row.legacy, ws.root / row.path)
            if found is None:
                return None, f"{row.path}: {objects.problem}"
            declared = stage.out(row.path)
            cache = declared.cache if declared is not None else row.cache
            exec_bit = row.isexec or is_executable(ws.root / row.path)
            isexec = exec_bit and found.nfiles is None
            paths[kind].append(
                LockedPath(row.path, found.oid, found.size, found.nfiles, isexec, cache)
            )
    params: dict[str, dict[str, Any]] = dict(recorded.params)
    return LockEntry(cmd, tuple(paths["deps"]), params, tuple(paths["outs"])), ""


def _staleness(ws: Workspace, pipeline: Pipeline, name: str, entry: LockEntry) -> str:
    from loopline.pipeline._changes import stage_changes
    from loopline.pipeline._outputs import PathHasher
    from loopline.pipeline._params import ParamsReader

    try:
        changes = stage_changes(pipeline.stages[name], entry, PathHasher(ws), ParamsReader(ws.root))
    except LooplineError as exc:
        return f"recorded; checking it failed: {exc.message}"
    if changes:
        return f"recorded, but it will run on the next repro: {changes.summary()}"
    return f"recorded; {_UP_TO_DATE}"
