"""``loopline commit``: record the workspace's current tracked data in pointers, lock and cache.

Targets are stage names (or their outputs), tracked paths or pointer files; none means
everything. Tracked data is stored and its pointer rewritten as ``add`` does; stages go
through the pipeline's commit, which writes the lock under the project lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from loopline.core.errors import LooplineError, NotFound
from loopline.data.pointer import POINTER_SUFFIX, Pointer
from loopline.data.remove import tracked_pointer
from loopline.data.workspace import Workspace
from loopline.objects.build import build_object

__all__ = ["CommitResult", "commit"]


@dataclass
class CommitResult:
    data: list[str] = field(default_factory=list)  # pointer files rewritten
    stages: list[str] = field(default_factory=list)  # stages recorded in the lock
    stage_changes: dict[str, str] = field(default_factory=dict)
    needs_force: list[str] = field(default_factory=list)  # stages whose inputs changed
    git_files: list[str] = field(default_factory=list)  # what to `git add` now


def commit(
    ws: Workspace, targets: Sequence[str] = (), *, force: bool = False, dry: bool = False
) -> CommitResult:
    from loopline.pipeline import has_pipeline

    stage_names, pointers = _split(ws, targets)
    result = CommitResult()
    changed = [p for p in pointers if _differs(ws, p)]
    if has_pipeline(ws) and (stage_names or not targets):
        from loopline.pipeline import commit_stages

        recorded = commit_stages(ws, stage_names, force=force, dry=dry)
        result.stages = recorded.stages
        result.stage_changes = {c.name: c.changes for c in recorded.changes}
        result.needs_force = [c.name for c in recorded.changes if c.needs_force]
        result.git_files = list(recorded.git_files)
    if changed and not dry:
        from loopline.data.add import add

        add(ws, [p.path for p in changed])
    result.data = [p.file for p in changed]
    if not dry:
        result.git_files += [f for f in result.data if f not in result.git_files]
    return result


def _split(ws: Workspace, targets: Sequence[str]) -> tuple[list[str], list[Pointer]]:
    if not targets:
        return [], ws.pointers()
    from loopline.pipeline import has_pipeline, load_pipeline
    from loopline.pipeline._model import PIPELINE_NAMES

    stage_of: dict[str, str] = {}
    names: set[str] = set()
    try:
        defined = load_pipeline(ws.root).stages if has_pipeline(ws) else {}
    except LooplineError:
        defined = {}  # a broken pipeline file must not block committing plain data
    for name, stage in defined.items():
        names.update((name, name.split("@", 1)[0]))
        stage_of.update({o.path: name for o in stage.outs})
    stages: list[str] = []
    pointers: list[Pointer] = []
    for target in targets:
        file, sep, _ = target.rpartition(":")
        if target in names or (sep and file in PIPELINE_NAMES):  # `dvc.yaml:train` too
            stages.append(target)
            continue
        rel = ws.relpath(target).removesuffix(POINTER_SUFFIX)
        if rel in stage_of:
            stages.append(stage_of[rel])
            continue
        pointers.append(tracked_pointer(ws, target))
    return list(dict.fromkeys(stages)), pointers


def _differs(ws: Workspace, pointer: Pointer) -> bool:
    try:
        built = build_object(ws.root, pointer.path, ws.state, jobs=ws.settings.jobs)
    except NotFound:
        return False  # nothing in the workspace to record: `checkout` brings it back
    return built.oid != pointer.oid or not ws.odb.exists(pointer.oid)
