"""The templating context: ``params.yaml`` plus the ``vars`` a pipeline file declares.

Entries merge in order; a mapping merges into a mapping, and defining the same value twice is
an error (as in DVC), so a name never silently means two things.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput
from loopline.pipeline._files import read_data

__all__ = ["DEFAULT_PARAMS", "build_context", "merge_into"]

DEFAULT_PARAMS = "params.yaml"


def merge_into(
    target: dict[str, Any], source: Mapping[str, Any], origin: str, path: str = ""
) -> None:
    for key, value in source.items():
        name = f"{path}.{key}" if path else str(key)
        if key in target:
            if isinstance(target[key], dict) and isinstance(value, Mapping):
                merge_into(target[key], value, origin, name)
                continue
            raise InvalidInput(
                f"'{name}' is defined twice (again in {origin})",
                hint="rename one of them; vars and params.yaml share one set of names",
            )
        target[key] = copy.deepcopy(value)


def build_context(
    root: Path, wdir: str, entries: Any, where: str
) -> tuple[dict[str, Any], list[str]]:
    """The context from ``vars`` entries (file names, ``file:key,...`` or mappings), and the
    files it read (relative to the root)."""
    context: dict[str, Any] = {}
    files: list[str] = []
    if entries is None:
        return context, files
    if not isinstance(entries, list):
        raise InvalidInput(
            f"{where}: 'vars' must be a list of file names or mappings, got {entries!r}",
            hint="write it as 'vars:' followed by '- params.yaml' or '- name: value' lines",
        )
    for entry in entries:
        if isinstance(entry, dict):
            merge_into(context, entry, f"{where} vars")
        elif isinstance(entry, str):
            relpath, data = _vars_file(root, wdir, entry, where)
            merge_into(context, data, relpath)
            files.append(relpath)
        else:
            raise InvalidInput(
                f"{where}: a 'vars' entry must be a file name or a mapping, got {entry!r}",
            )
    return context, files


def _vars_file(root: Path, wdir: str, entry: str, where: str) -> tuple[str, dict[str, Any]]:
    name, _, keys = entry.partition(":")
    relpath = _join(wdir, name)
    data = read_data(root, relpath, what="vars file")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: vars file {relpath} must hold a mapping of names")
    if not keys:
        return relpath, data
    chosen: dict[str, Any] = {}
    for key in (k.strip() for k in keys.split(",") if k.strip()):
        if key not in data:
            raise InvalidInput(
                f"{where}: vars file {relpath} has no key '{key}'",
                hint=f"keys in {relpath}: {', '.join(sorted(data)) or 'none'}",
            )
        chosen[key] = data[key]
    return relpath, chosen


def _join(wdir: str, name: str) -> str:
    import posixpath

    return (
        posixpath.normpath(posixpath.join(wdir, name)) if wdir != "." else posixpath.normpath(name)
    )
