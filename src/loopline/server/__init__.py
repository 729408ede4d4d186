"""The tracking server: one ASGI app with Loopline's REST API, the MLflow-compatible REST API
and the MLflow artifact proxy, so the unmodified ``mlflow`` client can log to and load from it.

Owns: request parsing and JSON shapes, error mapping to HTTP (MLflow's ``error_code`` bodies),
bearer-token auth, the app factory ``create_app(settings)``.

May import: every capability's API (tracking, registry, models). Nothing imports ``server``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopline.server._context import ServerSettings
    from loopline.server.app import create_app

_LAZY = {"ServerSettings": "loopline.server._context", "create_app": "loopline.server.app"}

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
