"""The lock file (``loopline.lock``): what each stage last ran with and produced.

::

    schema: '1.0'
    stages:
      train:
        cmd: python train.py
        deps:
        - {path: data/features, hash: blake3, oid: 3c7d...e1.dir, size: 1234, nfiles: 2}
        params:
          params.yaml: {train.lr: 0.01}
        outs:
        - {path: model.pkl, hash: blake3, oid: 9f1e..., size: 40}
        - {path: metrics.json, hash: blake3, oid: ..., size: 20, cache: false}

Paths are relative to the project root. The lock is the source of truth for pipeline outputs,
as pointer files are for added data: ``checkout``, ``push``, ``pull`` and ``gc`` read it. It is
rewritten whole and atomically after each stage, so an interrupted run never leaves half of it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from loopline.core.errors import InvalidInput
from loopline.core.hashing import HASH_NAME, is_hash
from loopline.core.yaml_loader import read_yaml_text
from loopline.objects.manifest import DIR_SUFFIX

__all__ = ["LOCK_SCHEMA", "LockEntry", "LockedPath", "read_lock", "render_lock", "write_lock"]

LOCK_SCHEMA = "1.0"


@dataclass(frozen=True, slots=True)
class LockedPath:
    path: str
    oid: str
    size: int
    nfiles: int | None = None
    isexec: bool = False
    cache: bool = True

    def to_dict(self, *, with_cache: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"path": self.path, "hash": HASH_NAME, "oid": self.oid}
        row["size"] = self.size
        if self.nfiles is not None:
            row["nfiles"] = self.nfiles
        if self.isexec:
            row["isexec"] = True
        if with_cache and not self.cache:
            row["cache"] = False
        return row


@dataclass(frozen=True)
class LockEntry:
    cmd: str | list[str]
    deps: tuple[LockedPath, ...] = ()
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    outs: tuple[LockedPath, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"cmd": self.cmd}
        if self.deps:
            entry["deps"] = [d.to_dict(with_cache=False) for d in sorted_paths(self.deps)]
        if self.params:
            entry["params"] = {f: dict(v) for f, v in sorted(self.params.items())}
        if self.outs:
            entry["outs"] = [o.to_dict(with_cache=True) for o in sorted_paths(self.outs)]
        return entry


def sorted_paths(paths: tuple[LockedPath, ...]) -> list[LockedPath]:
    return sorted(paths, key=lambda p: p.path)


def read_lock(path: Path) -> dict[str, LockEntry]:
    """Stage name → entry; an absent lock is empty, a damaged one is an error."""
    try:
        text = read_yaml_text(path, path.name)
    except FileNotFoundError:
        return {}
    return parse_lock(text, path.name, path.parent)


def parse_lock(text: str, name: str, root: Path | None = None) -> dict[str, LockEntry]:
    from loopline.pipeline._files import load_yaml

    doc = load_yaml(text, name, root) or {}
    schema = doc.get("schema", LOCK_SCHEMA) if isinstance(doc, dict) else LOCK_SCHEMA
    if str(schema) != LOCK_SCHEMA:
        raise InvalidInput(
            f"lock file {name} has schema {schema!r}, which this Loopline cannot read "
            f"(it reads and writes '{LOCK_SCHEMA}')",
            hint="upgrade Loopline if a newer one wrote it, or restore it with "
            f"`git checkout -- {name}`",
        )
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not isinstance(stages, dict):
        raise _damaged(name, "it has no 'stages' mapping")
    return {str(stage): _entry(name, str(stage), raw) for stage, raw in stages.items()}


def _entry(name: str, stage: str, raw: Any) -> LockEntry:
    if not isinstance(raw, dict):
        raise _damaged(name, f"stage '{stage}' is {raw!r}, not a mapping of fields")
    cmd = raw.get("cmd")
    if not (
        (isinstance(cmd, str) and cmd)
        or (isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd))
    ):
        raise _damaged(name, f"stage '{stage}' has no valid 'cmd' (got {cmd!r})")
    params = raw.get("params") or {}
    if not isinstance(params, dict) or not all(
        isinstance(f, str) and isinstance(v, dict) for f, v in params.items()
    ):
        raise _damaged(name, f"stage '{stage}' has malformed 'params' {params!r}")
    return LockEntry(
        cmd=cmd,
        deps=_paths(name, stage, raw, "deps"),
        params={k: dict(v) for k, v in params.items()},
        outs=_paths(name, stage, raw, "outs"),
    )


def _paths(name: str, stage: str, raw: dict[str, Any], key: str) -> tuple[LockedPath, ...]:
    rows = raw.get(key)
    if rows is None:
        return ()
    if not isinstance(rows, list):
        raise _damaged(name, f"stage '{stage}' has '{key}: {rows!r}', not a list of paths")
    return tuple(_locked(name, stage, row) for row in rows)


def _locked(name: str, stage: str, raw: Any) -> LockedPath:
    from loopline.pipeline._paths import path_problem

    if not isinstance(raw, dict):
        raise _damaged(name, f"stage '{stage}' has a malformed path entry {raw!r}")
    path, oid, size = raw.get("path"), raw.get("oid"), raw.get("size")
    nfiles, isexec, cache = raw.get("nfiles"), raw.get("isexec", False), raw.get("cache", True)
    if (
        not isinstance(path, str)
        or not isinstance(oid, str)
        or not is_hash(oid.removesuffix(DIR_SUFFIX))
        or not _is_count(size)
        or not (nfiles is None or _is_count(nfiles))
        or not isinstance(isexec, bool)
        or not isinstance(cache, bool)
    ):
        raise _damaged(name, f"stage '{stage}' has a malformed entry {raw!r}")
    problem = path_problem(path)
    if problem is None and posixpath.normpath(path) != path:
        problem = "is not a normalised path"
    if problem is not None:
        raise _damaged(name, f"stage '{stage}' has an entry for {path!r}, which {problem}")
    return LockedPath(path, oid, size, nfiles, isexec, cache)


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _damaged(name: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"lock file {name} is damaged: {why}",
        hint=f"restore it with `git checkout -- {name}`, or delete it and run `loopline repro` "
        "(every stage then re-runs)",
    )


def render_lock(entries: dict[str, LockEntry]) -> str:
    import yaml

    doc = {"schema": LOCK_SCHEMA, "stages": {n: e.to_dict() for n, e in entries.items()}}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True))


def write_lock(path: Path, entries: dict[str, LockEntry]) -> None:
    from loopline.core.atomic import atomic_write_text

    atomic_write_text(path, render_lock(entries))
