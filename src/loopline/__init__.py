"""Loopline: the production-ML lifecycle as one closed loop.

Public Python API (thin over the capability packages; nothing heavy is imported until used)::

    import loopline
    ws = loopline.Workspace()          # the project around the current folder
    loopline.add(ws, ["data/raw"])
    loopline.status(ws)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Workspace": "loopline.data",
    "add": "loopline.data",
    "status": "loopline.data",
    "checkout": "loopline.data",
    "push": "loopline.data",
    "pull": "loopline.data",
    "gc": "loopline.data",
    "diff": "loopline.data",
    "init_project": "loopline.data",
    "LooplineError": "loopline.core.errors",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'loopline' has no attribute {name!r}")
