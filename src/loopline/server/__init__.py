"""The tracking server: one ASGI app with Loopline's REST API, the MLflow-compatible REST API
and the MLflow artifact proxy, so the unmodified ``mlflow`` client can log to and load from it.

Owns: request parsing and JSON shapes, error mapping to HTTP (MLflow's ``error_code`` bodies),
bearer-token auth, the app factory ``create_app(settings)``.

May import: every capability's API (tracking, registry, models). Nothing imports ``server``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopline.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from loopline.server._context import ServerSettings
    from loopline.server.app import create_app

_LAZY = {"ServerSettings": "loopline.server._context", "create_app": "loopline.server.app"}

__all__ = ["ServerSettings", "create_app"]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
