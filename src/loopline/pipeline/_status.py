"""Pipeline status: which stages are stale and why, without running anything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loopline.data.workspace import Workspace
from loopline.pipeline._changes import StageChanges, stage_changes
from loopline.pipeline._dag import select
from loopline.pipeline._edits import EditedOut, edited_outs
from loopline.pipeline._load import find_pipeline_file, load_pipeline
from loopline.pipeline._lock import read_lock
from loopline.pipeline._outputs import PathHasher
from loopline.pipeline._params import ParamsReader

__all__ = ["has_pipeline", "stage_edits", "stage_status", "stage_status_as_json"]


def has_pipeline(ws: Workspace) -> bool:
    return find_pipeline_file(ws.root) is not None


def stage_status(ws: Workspace, targets: Sequence[str] = ()) -> list[StageChanges]:
    """Stale stages (in run order) with what changed; like ``dvc status``, a stage appears only
    when it changed itself, not because something upstream will re-run."""
    pipeline = load_pipeline(ws.root)
    lock = read_lock(pipeline.lock_path)
    hasher = PathHasher(ws)
    params = ParamsReader(ws.root)
    found = []
    for name in select(targets, list(pipeline.stages), pipeline.upstream):
        changes = stage_changes(pipeline.stages[name], lock.get(name), hasher, params)
        if changes:
            found.append(changes)
    return found


def stage_edits(ws: Workspace, stale: list[StageChanges]) -> list[EditedOut]:
    """The outs of the ``stale`` stages that ``repro`` would refuse to overwrite."""
    edited = [c.name for c in stale if "modified" in c.outs.values()]
    if not edited:
        return []
    pipeline = load_pipeline(ws.root)
    return edited_outs(ws, pipeline, read_lock(pipeline.lock_path), PathHasher(ws), edited)


def stage_status_as_json(changes: list[StageChanges]) -> dict[str, list[Any]]:
    return {c.name: c.as_json() for c in changes}
