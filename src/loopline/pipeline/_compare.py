"""``params diff``, ``metrics show`` and ``metrics diff``: values in the workspace and at a git
revision, side by side, in DVC's JSON shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loopline.core.errors import LooplineError
from loopline.pipeline._context import DEFAULT_PARAMS
from loopline.pipeline._files import parse_data, read_data, read_metrics
from loopline.pipeline._load import find_pipeline_file, load_pipeline
from loopline.pipeline._params import flatten

__all__ = ["metrics_diff", "metrics_files", "metrics_show", "params_diff"]

Diff = dict[str, dict[str, dict[str, Any]]]


def _params_files(root: Path) -> dict[str, set[str] | None]:
    """Params file → the keys compared (None: every key)."""
    files: dict[str, set[str] | None] = {}
    if (root / DEFAULT_PARAMS).is_file():
        files[DEFAULT_PARAMS] = None
    if find_pipeline_file(root) is None:
        return files
    pipeline = load_pipeline(root)
    for stage in pipeline.stages.values():
        for dep in stage.params:
            if dep.file in files and files[dep.file] is None:
                continue
            keys = files.setdefault(dep.file, set())
            if not dep.keys:
                files[dep.file] = None
            elif keys is not None:
                keys.update(dep.keys)
    for name in (*pipeline.params, *pipeline.vars_files):
        files[name] = None
    return files


def params_diff(root: Path, rev: str = "HEAD", *, show_all: bool = False) -> Diff:
    files = _params_files(root)
    old = _at_revision(root, rev, list(files))
    result: Diff = {}
    for name, keys in files.items():
        new_values = _flat_or_empty(root, name)
        old_values = flatten(old.get(name) or {})
        changes = _diff(old_values, new_values, show_all, keys)
        if changes:
            result[name] = changes
    return result


def metrics_files(root: Path) -> list[str]:
    if find_pipeline_file(root) is None:
        return []
    pipeline = load_pipeline(root)
    found = [o.path for s in pipeline.stages.values() for o in s.outs if o.kind == "metrics"]
    return list(dict.fromkeys([*found, *pipeline.metrics]))


def metrics_show(root: Path) -> dict[str, Any]:
    """DVC 3's shape: ``{"": {"data": {file: {"data": {...}}}}}`` (``""`` is the workspace)."""
    data: dict[str, Any] = {}
    for name in metrics_files(root):
        try:
            data[name] = {"data": read_metrics(root, name)}
        except LooplineError as exc:
            data[name] = {"error": {"type": type(exc).__name__, "msg": exc.message}}
    return {"": {"data": data}}


def metrics_diff(root: Path, rev: str = "HEAD", *, show_all: bool = False) -> Diff:
    files = metrics_files(root)
    old = _at_revision(root, rev, files)
    result: Diff = {}
    for name in files:
        changes = _diff(
            _numbers(flatten(old.get(name) or {})),
            _numbers(_flat_or_empty(root, name)),
            show_all,
            None,
        )
        if changes:
            result[name] = changes
    return result


def _at_revision(root: Path, rev: str, names: list[str]) -> dict[str, Any]:
    from loopline.data.git import git_show_files, resolve_revision

    commit = resolve_revision(root, rev)
    found: dict[str, Any] = {}
    for name, data in git_show_files(root, commit, names).items():
        try:
            found[name] = parse_data(data.decode("utf-8", "replace"), name)
        except LooplineError:
            found[name] = None
    return found


def _flat_or_empty(root: Path, name: str) -> dict[str, Any]:
    try:
        return flatten(read_data(root, name) or {})
    except LooplineError:
        return {}


def _numbers(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if isinstance(v, int | float | str | None)}


def _diff(
    old: dict[str, Any], new: dict[str, Any], show_all: bool, keys: set[str] | None
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys([*new, *old]):
        if keys is not None and not any(key == k or key.startswith(k + ".") for k in keys):
            continue
        before, after = old.get(key), new.get(key)
        if before == after and not show_all:
            continue
        row: dict[str, Any] = {"old": before, "new": after}
        if (
            isinstance(before, int | float)
            and isinstance(after, int | float)
            and _is_number(before)
            and _is_number(after)
        ):
            row["diff"] = after - before
        found[key] = row
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
