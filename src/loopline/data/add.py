"""``loopline add``: store the content of files and folders and write their pointer files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loopline.core.errors import InvalidInput
from loopline.core.progress import NO_PROGRESS, Progress
from loopline.core.project import DOT_DIR
from loopline.data._git_owned import git_owned_reason
from loopline.data.gitignore import ignore_in_git
from loopline.data.pointer import POINTER_SUFFIX, Pointer, find_pointers, pointer_path_for
from loopline.data.workspace import Workspace
from loopline.objects._copy import ChangedWhileAdding
from loopline.objects.batch import ObjectBatch
from loopline.objects.build import build_object
from loopline.objects.checkout import materialize

__all__ = ["AddResult", "add"]


@dataclass(frozen=True)
class AddResult:
    pointer: Pointer
    new_objects: int
    changed: bool


def add(
    ws: Workspace,
    paths: Sequence[str],
    *,
    progress: Progress = NO_PROGRESS,
    stage_outputs: bool = False,
) -> list[AddResult]:
    """Track ``paths``: hash, copy new content into the cache, then write pointer files.

    The pointer file is written last and atomically, so an interrupted ``add`` leaves the
    previous pointer (or none) and only complete objects in the cache.
    """
    targets = [_check_target(ws, p, stage_outputs) for p in paths]
    _refuse_overlaps(targets)
    results: list[AddResult] = []
    with ws.lock():
        scratch = ws.fresh_scratch()
        ws.odb.remove_stale_tmp()  # what a killed add left behind
        for rel in targets:
            results.append(_add_one(ws, rel, progress, scratch))
    _record_versions(ws, [r.pointer for r in results])
    return results


def _check_target(ws: Workspace, path: str, stage_outputs: bool = False) -> str:
    rel = ws.relpath(path)
    real = real_relpath(ws, rel)
    if real is not None and real != rel:
        # A link inside the project: what it leads to must pass the same checks, or data
        # would be tracked twice (or git's files tracked as data) under another name.
        _check_path(ws, path, real, f" (through a symlink to {real})", stage_outputs)
    return _check_path(ws, path, rel, "", stage_outputs)


def real_relpath(ws: Workspace, rel: str) -> str | None:
    """Where ``rel`` really is, relative to the project (None when outside it or the root)."""
    real = os.path.realpath(ws.root / rel)
    root = os.path.realpath(ws.root)
    if not real.startswith(root + os.sep):
        return None
    return os.path.relpath(real, root).replace(os.sep, "/")


def _check_path(ws: Workspace, path: str, rel: str, via: str, stage_outputs: bool = False) -> str:
    if via:
        path = f"{path}{via}"
        if (ws.root / pointer_path_for(rel)).is_file():
            raise InvalidInput(
                f"{path} is already tracked as {rel}; tracking it under a second name would "
                "track it twice",
                hint=f"use {rel} itself, or replace the symlink with a copy",
            )
    refuse_never_data(ws, path, rel)
    owner = ws.owner_of(rel)
    if owner is not None:
        raise InvalidInput(
            f"{path} is inside tracked folder {owner.path}",
            hint=f"re-add the whole folder: `loopline add {owner.path}`",
        )
    for out in ws.pipeline_pointers(include_uncached=True):
        if rel == out.path or rel.startswith(out.path + "/") or out.path.startswith(rel + "/"):
            raise InvalidInput(
                f"{path} is (or holds) {out.path}, an output of a pipeline stage",
                hint="the pipeline tracks it already: change the stage and run `loopline repro`",
            )
    # A Kubeflow task hands a stage's outputs on as pointer files (the lock stays on the
    # laptop): it asks for that explicitly; anyone else is sent to `repro`.
    for out_path, stage in [] if stage_outputs else declared_outputs(ws):
        if rel == out_path or rel.startswith(out_path + "/") or out_path.startswith(rel + "/"):
            where = "" if rel == out_path else f"holds or is inside {out_path}, "
            raise InvalidInput(
                f"{path} {where}is an output of stage '{stage}' in the pipeline file",
                hint=f"the pipeline makes it: run `loopline repro {stage}`",
            )
    _refuse_tracked_inside(ws, path, rel)
    return rel


def declared_outputs(ws: Workspace) -> list[tuple[str, str]]:
    """Every (out path, stage name) the pipeline file declares, whether or not it ran yet."""
    from loopline.core.errors import LooplineError
    from loopline.pipeline import find_pipeline_file, load_pipeline

    if find_pipeline_file(ws.root) is None:
        return []
    try:
        pipeline = load_pipeline(ws.root)
    except LooplineError:
        return []  # a broken pipeline file is reported by the pipeline commands
    return [(o.path, name) for name, stage in pipeline.stages.items() for o in stage.outs]


def refuse_never_data(ws: Workspace, path: str, rel: str) -> None:
    """Refuse a path that is never data: Loopline's or git's folder, a pointer, or a file
    that belongs in git (``add`` and ``move`` share this, for sources and destinations)."""
    if rel == DOT_DIR or rel.startswith(DOT_DIR + "/"):
        raise InvalidInput(
            f"{path} is Loopline's own folder, which is never data",
            hint="track data, not .loopline",
        )
    if ".git" in rel.split("/"):
        raise InvalidInput(f"{path} is part of git's own folder", hint="track data, not .git")
    if rel.endswith(POINTER_SUFFIX):
        data = rel.removesuffix(POINTER_SUFFIX)
        if os.path.lexists(ws.root / data):
            hint = f"add the data itself: `loopline add {data}`"
        else:
            hint = (
                f"{data}, the data it names, does not exist: `loopline checkout {data}` "
                "restores it from the cache (`loopline pull` from a remote)"
            )
        raise InvalidInput(f"{path} is a pointer file", hint=hint)
    reason = git_owned_reason(ws.root, rel)
    if reason is not None:
        raise InvalidInput(
            f"{path} is {reason}: it belongs in git, not in the data cache",
            hint=f"commit it with `git add {rel}`",
        )


def _refuse_tracked_inside(ws: Workspace, path: str, rel: str) -> None:
    """A folder holding tracked data would track it twice (as DVC, refuse overlaps)."""
    if not (ws.root / rel).is_dir() or (ws.root / pointer_path_for(rel)).is_file():
        return
    inner = sorted(f"{rel}/{f}" for f in find_pointers(ws.root / rel))
    if not inner:
        return
    shown = " ".join(inner[:5]) + (" ..." if len(inner) > 5 else "")
    raise InvalidInput(
        f"{path} holds data that is already tracked on its own ({shown}); tracking the "
        "folder too would track it twice",
        hint=f"to track {rel} as one folder, untrack those first (`loopline remove {shown}`, "
        f"or delete those pointer files), then `loopline add {rel}`; or add only the new "
        f"files inside {rel}",
    )


def _refuse_overlaps(targets: list[str]) -> None:
    for a in targets:
        for b in targets:
            if b.startswith(a + "/"):
                raise InvalidInput(
                    f"{b} is inside {a}, and both were given: a path is tracked once",
                    hint=f"add either `{a}` or the paths inside it, not both",
                )


def _add_one(ws: Workspace, rel: str, progress: Progress, scratch: Path) -> AddResult:
    try:
        return _add_once(ws, rel, progress, scratch)
    except ChangedWhileAdding:
        # The memo of what the files hash to may be wrong (a checkout wrote bytes later found
        # damaged): hash everything afresh once; a file that really keeps changing fails again.
        ws.state.forget(rel)
        return _add_once(ws, rel, progress, scratch)


def _add_once(ws: Workspace, rel: str, progress: Progress, scratch: Path) -> AddResult:
    with ObjectBatch(ws.odb) as batch:
        hashing = progress.task(f"hashing {rel}", bytes=True)
        try:
            built = build_object(
                ws.root,
                rel,
                ws.state,
                odb=ws.odb,
                with_files=True,
                jobs=ws.settings.jobs,
                on_hashed=hashing.advance,
                stage=batch.add_bytes,
            )
        finally:
            hashing.close()
        copying = progress.task(f"storing {rel}", total=built.size, bytes=True)
        try:
            batch.add_files(built.files, jobs=ws.settings.jobs, on_done=copying.advance)
        finally:
            copying.close()
        new = batch.commit()
    if built.manifest is not None:
        ws.odb.add_manifest(built.manifest)
    if ws.settings.link_types[0] in ("hardlink", "symlink"):
        materialize(
            ws.root,
            rel,
            built.oid,
            ws.odb,
            ws.state,
            link_types=ws.settings.link_types,
            isexec=built.isexec,
            jobs=ws.settings.jobs,
            scratch=scratch,
            relink=True,
        )
    pointer = Pointer(pointer_path_for(rel), rel, built.oid, built.size, built.nfiles, built.isexec)
    previous = _previous_oid(ws, pointer.file)
    if previous != pointer.oid or not (ws.root / pointer.file).exists():
        from loopline.core.atomic import atomic_write_text

        atomic_write_text(ws.root / pointer.file, pointer.to_yaml())
    ignore_in_git(ws.root, rel)
    return AddResult(pointer, new, previous != pointer.oid)


def _previous_oid(ws: Workspace, pointer_file: str) -> str | None:
    from loopline.core.errors import LooplineError
    from loopline.data.pointer import read_pointer

    try:
        return read_pointer(ws.root, pointer_file).oid
    except LooplineError:
        return None


def _record_versions(ws: Workspace, pointers: list[Pointer]) -> None:
    from loopline.store import DataVersion, record_data_versions_at

    # No commit: the one holding this version does not exist yet (see ``data.versions``).
    # Pointers, cache and .gitignore are written: a store that cannot record the version warns.
    record_data_versions_at(
        ws.settings.store_url, [DataVersion(p.path, p.oid, p.size, p.nfiles) for p in pointers]
    )
