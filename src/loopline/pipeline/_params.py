"""Parameter values: reading the keys a stage depends on out of its params files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loopline.core.errors import InvalidInput, NotFound
from loopline.core.yaml_loader import describe
from loopline.pipeline._files import read_data
from loopline.pipeline._model import ParamDep
from loopline.pipeline._template import lookup

__all__ = ["ParamsReader", "flatten", "not_a_mapping"]

_MISSING_FILE = object()


def not_a_mapping(relpath: str, data: Any) -> InvalidInput:
    return InvalidInput(
        f"params file {relpath} holds {describe(data)}, not a mapping of names to values",
        hint=f"write {relpath} as 'name: value' lines (nest with indentation)",
    )


class ParamsReader:
    """Reads each params file once per command."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, Any] = {}

    def data(self, relpath: str) -> Any:
        if relpath not in self._files:
            try:
                self._files[relpath] = read_data(self.root, relpath, what="params file") or {}
            except NotFound:
                self._files[relpath] = _MISSING_FILE
        return self._files[relpath]

    def values(self, deps: Iterable[ParamDep], stage: str) -> dict[str, dict[str, Any]]:
        """File → key → value for the stage's params; a missing key or file is an error."""
        found: dict[str, dict[str, Any]] = {}
        for dep in deps:
            data = self.data(dep.file)
            if data is _MISSING_FILE:
                raise NotFound(
                    f"stage '{stage}' depends on params file {dep.file}, which does not exist",
                    hint=f"create {dep.file} with the keys the stage uses",
                )
            if not isinstance(data, dict):
                raise not_a_mapping(dep.file, data)
            if not dep.keys:
                found[dep.file] = dict(data)
                continue
            values: dict[str, Any] = {}
            for key in dep.keys:
                try:
                    values[key] = lookup(data, key)
                except KeyError:
                    raise NotFound(
                        f"stage '{stage}' uses param '{key}', which {dep.file} does not define",
                        hint=f"add '{key}' to {dep.file}, or remove it from the stage's params",
                    ) from None
            found[dep.file] = values
        return found

    def current(self, deps: Iterable[ParamDep]) -> dict[str, dict[str, Any] | None]:
        """Like :meth:`values` but tolerant (for status): None for a missing file, and a
        missing key left out."""
        found: dict[str, dict[str, Any] | None] = {}
        for dep in deps:
            data = self.data(dep.file)
            if data is _MISSING_FILE or not isinstance(data, dict):
                found[dep.file] = None
                continue
            if not dep.keys:
                found[dep.file] = dict(data)
                continue
            values: dict[str, Any] = {}
            for key in dep.keys:
                with contextlib.suppress(KeyError):
                    values[key] = lookup(data, key)
            found[dep.file] = values
        return found


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: ``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat
