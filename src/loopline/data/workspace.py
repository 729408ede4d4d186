"""The data workspace of a project: settings, cache, state and lock, opened once per command."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

from loopline.core.config import Settings, load_settings
from loopline.core.errors import InvalidInput, NotFound
from loopline.core.locking import ProjectLock
from loopline.core.project import find_project_root, relative_to_project
from loopline.data.pointer import POINTER_SUFFIX, Pointer, find_pointers, read_pointer
from loopline.objects.odb import ObjectStore
from loopline.objects.state import StateCache

__all__ = ["Workspace"]


class Workspace:
    """Everything a data command needs; use as a context manager to release resources."""

    def __init__(
        self, root: Path | None = None, overrides: Mapping[str, Any] | None = None
    ) -> None:
        self.root = find_project_root(root)
        self.settings: Settings = load_settings(self.root, overrides)
        self.paths = self.settings.paths

    @cached_property
    def state(self) -> StateCache:
        return StateCache(self.paths.state_db)

    @cached_property
    def odb(self) -> ObjectStore:
        """The cache; it records each object's stat in the state cache, to notice damage."""
        return ObjectStore(self.paths.objects_dir, ledger=self.state)

    def fresh_scratch(self) -> Path:
        """An empty folder for temporary names; call only while holding the project lock.

        Debris of a killed checkout lands here (never in the workspace) and is swept now.
        """
        import shutil

        scratch = self.paths.tmp_dir / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True, exist_ok=True)
        return scratch

    def lock(self) -> ProjectLock:
        self.paths.tmp_dir.mkdir(parents=True, exist_ok=True)
        return ProjectLock(self.paths.lock_file, timeout=self.settings.lock_timeout)

    def close(self) -> None:
        if "state" in self.__dict__:
            self.state.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- pointers -----------------------------------------------------------------------
    def relpath(self, path: str | os.PathLike[str]) -> str:
        return relative_to_project(self.root, Path(path))

    def pointers(
        self, targets: Iterable[str] | None = None, *, with_pipeline: bool = False
    ) -> list[Pointer]:
        """The pointers for ``targets`` (data paths or pointer files), or every pointer.

        ``with_pipeline`` adds the outs of pipeline stages, whose pointers live in the lock.
        """
        stage_outs = self.pipeline_pointers() if with_pipeline else []
        if not targets:
            found = [read_pointer(self.root, f) for f in sorted(find_pointers(self.root))]
            return found + stage_outs
        chosen: dict[str, Pointer] = {}
        for target in targets:
            rel = self.relpath(target)
            outs = [p for p in stage_outs if p.path == rel or p.path.startswith(rel + "/")]
            for pointer in outs or self._pointers_or_stage(rel, target, with_pipeline):
                chosen[pointer.path] = pointer
        return list(chosen.values())

    def pipeline_pointers(self, *, include_uncached: bool = False) -> list[Pointer]:
        """The outs of pipeline stages as the lock records them (none without a lock)."""
        from loopline.pipeline import lock_pointers  # the pipeline builds on data: import late

        return lock_pointers(self.root, include_uncached=include_uncached)

    def _pointers_or_stage(self, rel: str, original: str, with_pipeline: bool) -> list[Pointer]:
        """A data path's pointers or, failing that, the outs of the stage ``original`` names
        (``train`` or ``dvc.yaml:train``, as ``dvc checkout`` takes them)."""
        if with_pipeline and ":" in original:
            from loopline.pipeline import stage_pointers

            found = stage_pointers(self.root, original)
            if found is not None:
                return found
            self._refuse_other_pipeline_file(rel, original)
        try:
            data = self._pointers_for(rel, original)
        except NotFound:
            if not with_pipeline:
                raise
            from loopline.pipeline import stage_pointers

            found = stage_pointers(self.root, original)
            if found is None:
                raise
            return found
        if with_pipeline and not rel.endswith(POINTER_SUFFIX):
            self._refuse_ambiguous(original, data)
        return data

    def _refuse_other_pipeline_file(self, rel: str, original: str) -> None:
        """``other.yaml:gen`` when other.yaml is not a pipeline file (and no such path exists)."""
        from loopline.pipeline import find_pipeline_file

        file, _, name = original.rpartition(":")
        if os.path.lexists(self.root / rel) or not name:
            return
        pipeline = find_pipeline_file(self.root)
        where = f"stages live in {pipeline}" if pipeline else "this project has no pipeline file"
        raise NotFound(
            f"{original}: {file} is not a pipeline file, so it names no stage ({where})",
            hint=f"name the stage as {pipeline}:{name} or just {name}"
            if pipeline
            else "check the name",
        )

    def _refuse_ambiguous(self, original: str, data: list[Pointer]) -> None:
        """A target that names tracked data and a stage alike must say which it means."""
        from loopline.pipeline import find_pipeline_file

        pipeline = find_pipeline_file(self.root)
        if not data or not self.names_stage(original):
            return
        raise InvalidInput(
            f"{original} is ambiguous: it names tracked data ({data[0].file}) and a stage of "
            f"{pipeline}",
            hint=f"name the stage as {pipeline}:{original}, the data as its pointer file "
            f"{data[0].file}",
        )

    def names_stage(self, name: str) -> bool:
        """Whether ``name`` is a stage (or foreach/matrix group) of the project's pipeline."""
        from loopline.pipeline import find_pipeline_file, load_pipeline

        if find_pipeline_file(self.root) is None:
            return False
        return any(name in (s, s.split("@", 1)[0]) for s in load_pipeline(self.root).stages)

    def _pointers_for(self, rel: str, original: str) -> list[Pointer]:
        if rel.endswith(POINTER_SUFFIX):
            return [read_pointer(self.root, rel)]
        if (self.root / (rel + POINTER_SUFFIX)).is_file():
            return [read_pointer(self.root, rel + POINTER_SUFFIX)]
        owner = self.owner_of(rel)
        if owner is not None:
            raise InvalidInput(
                f"{original} is inside tracked folder {owner.path}",
                hint=f"name the whole folder ({owner.path}) instead",
            )
        if (self.root / rel).is_dir():
            inner = [
                read_pointer(self.root, f"{rel}/{f}")
                for f in sorted(find_pointers(self.root / rel))
            ]
            if inner:
                return inner
        for out in self.pipeline_pointers(include_uncached=True):
            if rel == out.path or rel.startswith(out.path + "/"):
                # Never suggest `add`: it refuses stage outputs.
                where = "" if rel == out.path else f"inside {out.path}, "
                raise InvalidInput(
                    f"{original} is {where}an output of a pipeline stage, tracked by "
                    f"{out.file} rather than a pointer file",
                    hint="`loopline status` shows stale stages (name a stage to narrow it); "
                    "`loopline repro` rebuilds outputs",
                )
        if not os.path.lexists(self.root / rel):
            raise NotFound(
                f"{original} does not exist and is not tracked by Loopline",
                hint="check the path; pointer files (*.loopline) name the tracked data",
            )
        raise NotFound(
            f"{original} is not tracked by Loopline",
            hint=f"start tracking it with `loopline add {original}`",
        )

    def owner_of(self, rel: str) -> Pointer | None:
        """The pointer of a tracked folder that contains ``rel``, if any."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            candidate = "/".join(parts[:i]) + POINTER_SUFFIX
            if (self.root / candidate).is_file():
                return read_pointer(self.root, candidate)
        return None
