"""Lazy public names for package ``__init__`` modules: importing a package costs nothing until a
name is used (pydantic's and httpx's approach), which keeps ``loopline --help`` fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["import_submodule", "lazy_getattr"]


def lazy_getattr(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``names`` (public name → defining module) on first use;
    any other name is tried as a submodule (``loopline.models.sklearn`` after ``import
    loopline``), as if it had been imported."""

    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            namespace[name] = value
            return value
        submodule = import_submodule(package, name)
        if submodule is not None:
            return submodule
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def import_submodule(package: str, name: str) -> Any | None:
    """``package.name`` imported when it is a module of the package, else None."""
    if name.startswith("_") or not name.isidentifier():
        return None
    full = f"{package}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise
