"""The data a run read: declared with ``log_input(path)``, hashed from the workspace as it is.

Lineage must name what training actually saw, not what a pointer file says: ``log_input`` hashes
the path in the workspace (cheap when unchanged: the state cache remembers each file's hash by
its size and mtime), records that content id as the run's input, and notes whether the
workspace matched the tracked version (the pointer file or the pipeline lock). A mismatch means
the commit alone does not reproduce the run, so the run's ``loopline.git.dirty`` tag becomes
``true``. Pipeline stage runs record their deps the same way (the lock holds what they read).

Per-input facts beyond path and content id travel in one run tag, ``loopline.inputs`` (JSON:
path → ``{"workspace_matches": bool | null}`` plus ``tracked_oid`` when the workspace differed
and ``context`` when given),
so they reach a tracking server and the ``mlflow`` client unchanged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopline.core.errors import LooplineError, NotFound
from loopline.tracking.entities import DataInput

if TYPE_CHECKING:
    from loopline.data.pointer import Pointer
    from loopline.data.workspace import Workspace

__all__ = ["INPUTS_TAG", "annotate_inputs", "inputs_tag_value", "inspect_input"]

INPUTS_TAG = "loopline.inputs"


def inspect_input(
    path: str | os.PathLike[str], context: str | None = None, root: Path | None = None
) -> tuple[DataInput, str | None]:
    """``path`` as the workspace holds it now, and the content id Loopline tracks for it.

    The second value is None when Loopline does not track the path (then whether it "matches"
    is unknown: ``workspace_matches`` is None). Outside a project the path is hashed as it is
    and ``workspace_matches`` is None too (as MLflow's ``log_input`` works anywhere).
    """
    from loopline.core.project import find_project_root
    from loopline.data.workspace import Workspace
    from loopline.objects.build import build_object

    absolute = Path(path).absolute()
    try:
        project = find_project_root(root if root is not None else absolute.parent)
    except NotFound:
        return _outside_project(absolute, context), None
    with Workspace(project) as ws:
        rel = ws.relpath(absolute)
        built = build_object(ws.root, rel, ws.state, jobs=ws.settings.jobs)
        tracked = _tracked_versions(ws, rel)
        if not tracked:
            return DataInput(rel, built.oid, None, context), None
        expected = [_tracked_oid(ws, p, rel) for p in tracked]
        if any(e is None for e in expected):
            return DataInput(rel, built.oid, None, context), None
        current = [
            built.oid if p.path == rel or _inside(rel, p.path) else _current_oid(ws, p.path)
            for p in tracked
        ]
        matches = current == expected
        own = len(tracked) == 1 and (tracked[0].path == rel or _inside(rel, tracked[0].path))
        tracked_oid = expected[0] or None if own else None  # "": not in the tracked version
        return DataInput(rel, built.oid, matches, context), tracked_oid


def _outside_project(path: Path, context: str | None) -> DataInput:
    """An input outside any project: its content id, hashed without a state cache."""
    import tempfile

    from loopline.objects.build import build_object
    from loopline.objects.state import StateCache

    with tempfile.TemporaryDirectory(prefix="loopline-input-") as scratch:
        state = StateCache(Path(scratch) / "state.db")
        try:
            built = build_object(path.parent, path.name, state)
        finally:
            state.close()
    return DataInput(str(path), built.oid, None, context)


def _inside(rel: str, folder: str) -> bool:
    return rel.startswith(folder + "/")


def _tracked_versions(ws: Workspace, rel: str) -> list[Pointer]:
    """The pointers (files or pipeline lock) that cover ``rel``: its own, its folder's, or
    those of the datasets inside it."""
    try:
        outs = ws.pipeline_pointers()
    except LooplineError:
        outs = []  # a broken lock is reported by `loopline status`, not here
    for out in outs:
        if rel == out.path or _inside(rel, out.path):
            return [out]
    try:
        owner = ws.owner_of(rel)
        if owner is not None:
            return [owner]
        # Project-relative already: give it as an absolute path, or it is read from the cwd.
        found = ws.pointers([str(ws.root / rel)])
    except NotFound:
        found = []
    except LooplineError:
        return []  # a broken pointer is reported by `loopline status`, not here
    return found + [out for out in outs if _inside(out.path, rel)]


def _tracked_oid(ws: Workspace, pointer: Pointer, rel: str) -> str | None:
    """The content id ``pointer`` records for ``rel``: its own for the path itself or a
    dataset inside it; for a file or subfolder of a tracked folder, that part's entry in the
    folder's manifest (the rest of the folder may change without touching what was read);
    "" when the tracked folder has no such part. None when the manifest is not in the cache."""
    if not _inside(rel, pointer.path):
        return pointer.oid
    from loopline.objects.manifest import Manifest, ManifestEntry

    inner = rel[len(pointer.path) + 1 :]
    try:
        manifest = ws.odb.read_manifest(pointer.oid)
    except LooplineError:
        return None
    for entry in manifest.entries:
        if entry.relpath == inner:
            return entry.hash
    below = [
        ManifestEntry(e.relpath[len(inner) + 1 :], e.hash, e.size, e.isexec)
        for e in manifest.entries
        if _inside(e.relpath, inner)
    ]
    return Manifest.from_entries(below).oid if below else ""


def _current_oid(ws: Workspace, tracked_path: str) -> str | None:
    from loopline.objects.build import build_object

    try:
        return build_object(ws.root, tracked_path, ws.state, jobs=ws.settings.jobs).oid
    except NotFound:
        return None


def inputs_tag_value(existing: str | None, inputs: Iterable[tuple[DataInput, str | None]]) -> str:
    """The ``loopline.inputs`` tag with ``inputs`` added to what it ``existing``-ly says."""
    facts: dict[str, Any] = _parse(existing)
    for data, tracked_oid in inputs:
        fact: dict[str, Any] = {"workspace_matches": data.workspace_matches}
        if tracked_oid is not None and tracked_oid != data.oid:
            fact["tracked_oid"] = tracked_oid  # what the pointer names, when the run read other
        if data.context is not None:
            fact["context"] = data.context
        facts[data.path] = fact
    return json.dumps(facts, sort_keys=True, separators=(",", ":"))


def _parse(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def annotate_inputs(inputs: Iterable[DataInput], tags: Mapping[str, str]) -> tuple[DataInput, ...]:
    """``inputs`` with the per-input facts of the run's ``loopline.inputs`` tag."""
    facts = _parse(tags.get(INPUTS_TAG))
    annotated = []
    for data in inputs:
        fact = facts.get(data.path)
        if isinstance(fact, dict):
            matches = fact.get("workspace_matches")
            context = fact.get("context")
            data = DataInput(
                data.path,
                data.oid,
                matches if isinstance(matches, bool) else None,
                context if isinstance(context, str) else None,
            )
        annotated.append(data)
    return tuple(annotated)
