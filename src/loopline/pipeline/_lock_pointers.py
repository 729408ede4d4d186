"""Pipeline outs seen as tracked data: what ``checkout``, ``push``, ``pull`` and ``gc`` use.

The lock is the source of truth for the outs of pipeline stages, as pointer files are for data
added by hand. Outs with ``cache: false`` are left to git, as in DVC.
"""

from __future__ import annotations

from pathlib import Path

from loopline.core.errors import LooplineError
from loopline.data.pointer import Pointer
from loopline.pipeline._lock import read_lock
from loopline.pipeline._model import LOCK_NAME

__all__ = ["lock_pointers", "run_cache_oids", "stage_pointers"]


def lock_pointers(root: Path, *, include_uncached: bool = False) -> list[Pointer]:
    """One pointer per cached out recorded in the project's lock (none without a lock)."""
    entries = read_lock(root / LOCK_NAME)
    pointers: dict[str, Pointer] = {}
    for entry in entries.values():
        for out in entry.outs:
            if out.cache or include_uncached:
                pointers[out.path] = Pointer(
                    LOCK_NAME, out.path, out.oid, out.size, out.nfiles, out.isexec
                )
    return list(pointers.values())


def stage_pointers(root: Path, target: str) -> list[Pointer] | None:
    """The cached outs of the stage (or foreach/matrix group) ``target`` names, as the lock
    records them (``train`` or ``dvc.yaml:train``); None when ``target`` names no stage."""
    from loopline.core.errors import NotFound
    from loopline.pipeline._dag import select
    from loopline.pipeline._load import find_pipeline_file, load_pipeline
    from loopline.pipeline._model import PIPELINE_NAMES

    file, sep, name = target.rpartition(":")
    if sep and file not in PIPELINE_NAMES:
        return None
    if find_pipeline_file(root) is None:
        return None
    pipeline = load_pipeline(root)
    try:
        names = select([name], list(pipeline.stages), pipeline.upstream, single=True)
    except NotFound:
        if sep:
            raise
        return None
    entries = read_lock(root / LOCK_NAME)
    never_ran = [n for n in names if n not in entries]
    if len(never_ran) == len(names):
        raise NotFound(
            f"stage '{name}' has not run yet, so it has no outputs to check out",
            hint=f"run it with `loopline repro {name}`",
        )
    wanted = {o.path for n in names for o in pipeline.stages[n].outs if o.cache}
    return [p for p in lock_pointers(root) if p.path in wanted]


def run_cache_oids(root: Path, objects_dir: Path, *, prune: bool, dry_run: bool) -> set[str]:
    """Objects the run cache keeps alive. With ``prune``, only entries matching a stage of the
    current lock are kept and the others are deleted (unless ``dry_run``)."""
    from loopline.pipeline._run_cache import RunCache, run_key

    cache = RunCache(objects_dir)
    keep: set[str] = set()
    wanted: set[str] | None = None
    if prune:
        wanted = set()
        try:
            from loopline.pipeline._load import load_pipeline

            pipeline = load_pipeline(root)
            lock = read_lock(root / LOCK_NAME)
        except LooplineError:
            pipeline, lock = None, {}
        if pipeline is not None:
            for name, entry in lock.items():
                stage = pipeline.stages.get(name)
                if stage is not None:
                    wanted.add(run_key(entry.cmd, entry.deps, entry.params, stage.outs))
    for key in list(cache.keys()):
        if wanted is not None and key not in wanted:
            if not dry_run:
                cache.remove(key)
            continue
        keep.update(o.oid for o in cache.get(key) or [])
    return keep
